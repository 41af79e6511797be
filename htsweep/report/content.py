"""What the report page shows, as plain tables: the run counts by status, the grid's axes and
values, the aggregate table's columns, and one row per run (status, steps, wall time, device,
its problems).  Nothing here draws or writes HTML; :mod:`.page` renders these frames.

Every frame is built from an :class:`~htsweep.sweep.aggregate.AggregateResult` and the runs'
run.json files, so the page states what aggregation found on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pandas as pd

from htsweep.figures.style import CAPTION_COLUMNS
from htsweep.records import Problem, Status, read_record
from htsweep.sweep.aggregate import AggregateResult

# Statuses in the order the counts list them: how a run ended, then what stands in for a
# status when a run has none (htsweep.sweep.discover.Run.status).
STATUS_ORDER = tuple(dict.fromkeys([*(s.value for s in Status), *(p.value for p in Problem)]))
# The metrics the aggregate table shows (mean and std over seeds); every other column is in
# aggregate.parquet.
TABLE_METRICS = (
    "train_loss",
    "test_loss",
    "kta",
    "sim_w_beta",
    "pl_alpha_hill",
    "pl_alpha_ks",
    "lambda_max",
    "stable_rank",
    "num_spikes",
)
SHOWN = "shown"  # the runs table's esd_diagnostics value of a run whose diagnostics are on the page
# run.json fields the per-run table shows: (record key, column).
RECORD_FIELDS = (("steps_requested", "steps_requested"), ("wall_seconds", "wall_s"), ("device", "device"))


@dataclass
class FigureImage:
    """One figure of the page: a kind of the registry with its image (a ``data:`` URI), or
    the error that stopped it."""

    kind: str
    doc: str
    uri: Optional[str] = None
    error: Optional[str] = None


@dataclass
class Diagnostic:
    """One run's ESD diagnostics image (a ``data:`` URI) or why it has none; ``anchor`` is the
    page id the runs table links to."""

    run_dir: str
    status: str
    anchor: str
    uri: Optional[str] = None
    error: Optional[str] = None


@dataclass
class ReportContent:
    """Everything the page shows (:func:`htsweep.report.page.render`)."""

    sweep_dir: Path
    version: str
    counts: pd.DataFrame  # status, runs
    expected_jobs: Optional[int]
    grid: pd.DataFrame  # axis, values, n_values
    shared: str  # the main settings every run shares ('data.n=200, model.h=75, ...')
    problems: pd.DataFrame  # the aggregate's problems table
    figures: List[FigureImage]
    skipped_figures: Dict[str, str]  # kind -> why it does not fit
    aggregate: pd.DataFrame  # the columns :func:`aggregate_view` keeps, every row
    aggregate_columns: int  # columns of aggregate.parquet
    runs: pd.DataFrame  # :func:`run_table`
    diagnostics: List[Diagnostic]
    diagnostics_note: str  # how many runs have diagnostics, and what the cap left out
    diagnosable: int  # runs with readable metrics and eigenvalues: those that can have diagnostics
    notes: List[str] = field(default_factory=list)


def status_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs per status (``status``, ``runs``), statuses in :data:`STATUS_ORDER` (any other
    after them, by name); statuses no run has are left out."""
    counts = runs["status"].astype(str).value_counts()
    order = [s for s in STATUS_ORDER if s in counts.index] + sorted(s for s in counts.index if s not in STATUS_ORDER)
    return pd.DataFrame({"status": order, "runs": counts.reindex(order).to_numpy(dtype="int64")})


def grid_axes(summary: pd.DataFrame, grid: Sequence[str]) -> pd.DataFrame:
    """One row per grid axis: ``axis``, ``values`` (its distinct values over the readable
    runs, sorted, comma-separated) and ``n_values``."""
    per_run = summary.drop_duplicates("run_dir") if "run_dir" in summary.columns else summary
    rows = []
    for axis in grid:
        values = pd.Series(per_run[axis].dropna().unique())
        try:
            values = values.sort_values(kind="stable")
        except TypeError:  # mixed types: keep the order of appearance
            pass
        rows.append({"axis": axis, "values": ", ".join(str(v) for v in values), "n_values": len(values)})
    return pd.DataFrame(rows, columns=["axis", "values", "n_values"])


def shared_settings(summary: pd.DataFrame) -> str:
    """'optimizer.name=gd, data.n=200, ...': the figure captions' settings
    (:data:`htsweep.figures.style.CAPTION_COLUMNS`) that take one non-null value in every
    readable run."""
    per_run = summary.drop_duplicates("run_dir") if "run_dir" in summary.columns else summary
    parts = []
    for c in CAPTION_COLUMNS:
        if c in per_run.columns and len(per_run) and per_run[c].notna().all() and per_run[c].nunique() == 1:
            parts.append(f"{c}={per_run[c].iloc[0]}")
    return ", ".join(parts)


def aggregate_view(agg: pd.DataFrame, grid: Sequence[str]) -> pd.DataFrame:
    """The aggregate table's rows with the grid, step, layer, n_runs, seeds and the mean and
    std of the :data:`TABLE_METRICS` it has (every row, these columns)."""
    stats = [f"{m}_{s}" for m in TABLE_METRICS for s in ("mean", "std")]
    keep = [c for c in (*grid, "step", "layer", "n_runs", "seeds", *stats) if c in agg.columns]
    return agg[keep].reset_index(drop=True)


def record_fields(sweep_dir: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """``run_dir`` and the :data:`RECORD_FIELDS` of each run's run.json (null where the run
    has no folder or no readable record)."""
    rows = []
    for run_dir in runs["run_dir"]:
        rec = read_record(sweep_dir / run_dir) or {}
        rows.append({"run_dir": run_dir, **{col: rec.get(key) for key, col in RECORD_FIELDS}})
    df = pd.DataFrame(rows, columns=["run_dir", *(col for _, col in RECORD_FIELDS)])
    df["steps_requested"] = pd.to_numeric(df["steps_requested"], errors="coerce").astype("Int64")
    df["wall_s"] = pd.to_numeric(df["wall_s"], errors="coerce").astype("float64")
    return df


def run_table(result: AggregateResult) -> pd.DataFrame:
    """One row per run (the aggregate's runs, job order): job, run_dir, status, the grid
    values, steps_done, steps_requested, wall_s, device and its problems (comma-separated)."""
    runs = result.runs[["job", "run_dir", "status", "steps_done"]].reset_index(drop=True)
    grid = [c for c in result.grid if c in result.summary.columns]
    values = result.summary.drop_duplicates("run_dir")[["run_dir", *grid]] if len(result.summary) else None
    problems = result.problems.groupby("run_dir", sort=False)["problem"].agg(", ".join).rename("problems")
    out = runs.merge(record_fields(result.sweep_dir, runs), on="run_dir", how="left")
    if values is not None:
        out = out.merge(values, on="run_dir", how="left")
    out = out.merge(problems, left_on="run_dir", right_index=True, how="left")
    columns = ["job", "run_dir", "status", *grid, "steps_done", "steps_requested", "wall_s", "device", "problems"]
    return out.reindex(columns=columns)
