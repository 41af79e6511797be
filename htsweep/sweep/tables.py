"""The tables aggregation writes: ``summary`` (every run's rows), ``aggregate`` (mean / std /
count over seeds per grid point, step and layer) and ``problems`` (what went wrong, per run),
and :class:`SweepTables`, what the figures are drawn from.

Config columns are the keys of the runs' flattened run.json ``config`` (never a Python
schema: a GD run has no ``optimizer.beta1``, so that column is null on its rows).  The grid is
the config columns that vary across the runs, except the seeds (the replicate axis), the keys
that never change a run's numbers (:data:`htsweep.records.UNHASHED_KEYS`) and the option
parameters implied by another grid column (:func:`implied_columns`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pandas as pd
import pyarrow as pa

from htsweep.records import CLAIM_FILE, ESD_FILE, KEY_COLUMNS, METRICS_FILE, RUN_FILE, UNHASHED_KEYS, Problem, Status
from htsweep.sweep.discover import Run
from htsweep.sweep.read import EsdSource

# Config columns pooled over when averaging: the replicate axis.
SEED_COLUMNS = ("seed", "data_seed", "init_seed")
# Columns aggregation adds to summary.parquet from the run folder and run.json.
RUN_COLUMNS = ("run_dir", "job", "status", "steps_done", "diverged_at_step", "stopped_at_step", "config_hash")
PROBLEM_COLUMNS = ("job", "run_dir", "problem", "file", "detail", "overrides")
STATS = ("mean", "std", "count")


@dataclass
class SweepTables:
    """What figures read: summary.parquet and aggregate.parquet as frames, the grid columns
    and the sweep's eigenvalues."""

    summary: pd.DataFrame
    aggregate: pd.DataFrame
    grid: List[str]
    esd: Optional[EsdSource] = None

    @property
    def layers(self) -> List[str]:
        """The analysed matrices, in order of first appearance in the summary."""
        if "layer" not in self.summary.columns:
            return []
        return [str(v) for v in pd.unique(self.summary["layer"].dropna())]


def is_replicate_or_unhashed(column: str) -> bool:
    """A seed column, or a key of :data:`~htsweep.records.UNHASHED_KEYS` (or below one)."""
    return column in SEED_COLUMNS or any(column == k or column.startswith(f"{k}.") for k in UNHASHED_KEYS)


# --------------------------------------------------------------------------------------------
# summary


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: the :data:`RUN_COLUMNS` (status as :attr:`Run.status`)."""
    rows = [
        {
            "run_dir": r.run_dir,
            "job": r.job,
            "status": r.status,
            "steps_done": r.record.steps_done if r.record else None,
            "diverged_at_step": r.record.diverged_at_step if r.record else None,
            "stopped_at_step": r.record.stopped_at_step if r.record else None,
            "config_hash": r.record.config_hash if r.record else None,
        }
        for r in runs
    ]
    df = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    for c in ("job", "steps_done", "diverged_at_step", "stopped_at_step"):
        df[c] = pd.array(df[c].tolist(), dtype="Int64")
    return df


def config_columns(runs: Sequence[Run], columns: Sequence[str]) -> List[str]:
    """The ``columns`` (the summary's, in the metrics files' order: the run config's own key
    order) that are keys of some run's flattened run.json config."""
    keys = {key for run in runs for key in run.flat_config}
    return [c for c in columns if c in keys]


def build_summary(table: pa.Table, runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run, probe step and layer: the run columns, then the metrics file's
    columns (metrics and flattened config); ``layer`` is null for records without one."""
    metrics = table.to_pandas()
    if "layer" not in metrics.columns:
        metrics.insert(1, "layer", pd.Series([None] * len(metrics), dtype="string"))
    df = runs_frame(runs).merge(metrics, on="run_dir", how="inner", validate="one_to_many")
    df = df.sort_values(["job", "run_dir", "step"], kind="stable", na_position="last")
    return df.reset_index(drop=True)


def metric_columns(summary: pd.DataFrame, config_cols: Sequence[str]) -> List[str]:
    """Numeric columns that are neither config, key nor bookkeeping: what gets averaged."""
    skip = set(config_cols) | set(RUN_COLUMNS) | set(KEY_COLUMNS)
    return [
        c
        for c in summary.columns
        if c not in skip and pd.api.types.is_numeric_dtype(summary[c]) and not pd.api.types.is_bool_dtype(summary[c])
    ]


# --------------------------------------------------------------------------------------------
# the grid


def varying_columns(df: pd.DataFrame, columns: Sequence[str]) -> List[str]:
    """Columns of ``df`` (in ``columns`` order) that take more than one value (null counts
    as a value)."""
    return [c for c in columns if c in df.columns and df[c].nunique(dropna=False) > 1]


def _is_function_of(df: pd.DataFrame, column: str, others: Sequence[str]) -> bool:
    """Whether ``column`` takes one value (null included) for each combination of ``others``."""
    return bool(df.groupby(list(others), dropna=False)[column].nunique(dropna=False).le(1).all())


def implied_columns(per_run: pd.DataFrame, varying: Sequence[str]) -> List[str]:
    """The varying columns that only restate another grid column: an option's parameter whose
    values are a function of the other varying columns.  A column counts as an option
    parameter when it is null in some runs (a key of only some options: ``optimizer.beta1`` is
    null for GD and 0.9 for Adam) or when it sits beside a varying ``<group>.name``.

    Other functionally dependent columns stay on the grid: (n, h, d) = k (1000, 750, 500) in
    Table 2 are one axis, and each is a value worth labelling."""
    kept = list(varying)
    for c in reversed(varying):
        group = c.rpartition(".")[0]
        beside_name = bool(group) and c != f"{group}.name" and f"{group}.name" in kept
        others = [k for k in kept if k != c]
        if others and (beside_name or per_run[c].isna().any()) and _is_function_of(per_run, c, others):
            kept.remove(c)
    return [c for c in varying if c not in kept]


def grid_columns(summary: pd.DataFrame, config_cols: Sequence[str]) -> List[str]:
    """The sweep's grid: config columns that vary across its runs, except seeds, unhashed keys
    and the option parameters implied by another grid column (:func:`implied_columns`).
    Grouping by the grid gives one group per grid point."""
    per_run = summary.drop_duplicates("run_dir")
    varying = varying_columns(per_run, [c for c in config_cols if not is_replicate_or_unhashed(c)])
    implied = set(implied_columns(per_run, varying))
    return [c for c in varying if c not in implied]


# --------------------------------------------------------------------------------------------
# aggregate


def _seed_list(values: pd.Series) -> str:
    return json.dumps(sorted(int(v) for v in pd.unique(values.dropna())))


def _status_values(statuses: Sequence[str]) -> List[str]:
    return [Status(s).value for s in statuses]


def build_aggregate(
    summary: pd.DataFrame,
    grid: Sequence[str],
    metrics: Sequence[str],
    config_cols: Sequence[str],
    statuses: Sequence[str] = (Status.completed.value,),
) -> pd.DataFrame:
    """Mean, sample std (ddof=1) and count (non-missing values) of every metric over the runs
    whose status is in ``statuses``, per grid point, step and layer.

    Columns: the grid, step, layer, ``n_runs``, ``seeds`` (JSON list of the seeds averaged in
    the row), ``<metric>_mean|std|count``, then the other config columns (each constant
    within a grid point: constant in the sweep, or implied by a grid column)."""
    keep = summary[summary["status"].isin(_status_values(statuses))]
    keys = [*grid, *KEY_COLUMNS]
    carried = [c for c in config_cols if c in summary.columns and c not in grid and not is_replicate_or_unhashed(c)]
    stat_cols = [f"{m}_{s}" for m in metrics for s in STATS]
    columns = [*keys, "n_runs", "seeds", *stat_cols, *carried]
    if keep.empty:
        return pd.DataFrame(columns=columns)
    grouped = keep.groupby([*keys, *carried], dropna=False, sort=False)
    stats = grouped[list(metrics)].agg(list(STATS))
    stats.columns = [f"{m}_{s}" for m, s in stats.columns]
    stats = stats.astype({f"{m}_count": "int64" for m in metrics})
    seeds = grouped["seed"].agg(_seed_list) if "seed" in keep.columns else grouped["run_dir"].agg(lambda _: "[]")
    out = pd.concat([grouped["run_dir"].nunique().rename("n_runs"), seeds.rename("seeds"), stats], axis=1)
    out = pd.concat([out.index.to_frame(index=False), out.reset_index(drop=True)], axis=1)[columns]
    layer_order = {layer: i for i, layer in enumerate(pd.unique(summary["layer"]))}
    out = out.sort_values(
        keys, kind="stable", na_position="last", key=lambda s: s.map(layer_order) if s.name == "layer" else s
    )
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# problems


def run_problems(run: Run) -> List[Tuple[Problem, str, str]]:
    """(problem, file, detail) for each thing wrong with one run (a run can have two: e.g.
    diverged and a corrupted esd.parquet); [] for a clean completed run."""
    if run.path is None:
        return [(Problem.missing, "", "no run folder for this job number")]
    if run.claim is not None:  # a launch is computing it: earlier attempts' files are not its result
        return [(Problem.running, CLAIM_FILE, run.claim)]
    out: List[Tuple[Problem, str, str]] = []
    rec = run.record
    if run.metrics_error is not None:
        out.append((Problem.corrupted, METRICS_FILE, run.metrics_error))
    elif run.metrics_rows is None and rec is None:
        out.append((Problem.missing, METRICS_FILE, "run folder without results (crashed, killed or still running)"))
    elif run.metrics_rows is None and rec is not None:
        out.append((Problem.missing, METRICS_FILE, f"{RUN_FILE} says {rec.status.value!r} but there is no {METRICS_FILE}"))
    elif rec is None:
        out.append((Problem.incomplete, RUN_FILE, run.record_error or f"{METRICS_FILE} without {RUN_FILE} (killed while writing?)"))
    elif run.metrics_rows == 0:
        out.append((Problem.empty, METRICS_FILE, "no probe rows"))
    if run.esd_error is not None:
        out.append((Problem.corrupted, ESD_FILE, run.esd_error))
    if rec is not None:
        out += _status_problems(rec.status, rec.error, rec.diverged_at_step, rec.steps_done, rec.steps_requested)
    return out


def _status_problems(
    status: Status, error: Optional[str], diverged_at: Optional[int], done: int, requested: int
) -> List[Tuple[Problem, str, str]]:
    if status is Status.failed:
        return [(Problem.failed, RUN_FILE, str(error or "failed"))]
    if status is Status.diverged:
        return [(Problem.diverged, RUN_FILE, f"non-finite loss or weights at step {diverged_at} (of {requested})")]
    if status is Status.interrupted:
        return [(Problem.incomplete, RUN_FILE, f"interrupted after step {done} of {requested} (relaunch to resume)")]
    return []


def build_problems(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per problem (:data:`PROBLEM_COLUMNS`), by job, run_dir and problem kind in
    the order of :class:`~htsweep.records.Problem`."""
    rows: List[Dict[str, Any]] = [
        {"job": run.job, "run_dir": run.run_dir, "problem": p.value, "file": f, "detail": d, "overrides": run.overrides}
        for run in runs
        for p, f, d in run_problems(run)
    ]
    df = pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
    df["job"] = pd.array(df["job"].tolist(), dtype="Int64")
    order = {p.value: i for i, p in enumerate(Problem)}
    df = df.sort_values(
        ["job", "run_dir", "problem"],
        kind="stable",
        na_position="last",
        key=lambda s: s.map(order) if s.name == "problem" else s,
    )
    return df.reset_index(drop=True)
