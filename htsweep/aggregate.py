"""``python -m htsweep.aggregate SWEEP_DIR``: one sweep's runs -> tables, a problem list, figures.

A sweep is the folder Hydra writes for ``python -m htsweep.train -m ...``: one run folder per
job (``<job num>/`` by default) holding ``metrics.parquet``, ``esd.parquet`` and ``run.json``
(see :mod:`htsweep.train`), plus ``multirun.yaml``.  Aggregation writes, next to the sweep
(or into ``--out``):

* ``summary.parquet``   - one row per run and probe step: ``run_dir``, ``job``, the run's
  ``status`` / ``steps_done`` / ``diverged_at_step`` / ``config_hash`` from run.json, every
  metric column and every config column of metrics.parquet;
* ``aggregate.parquet`` - one row per grid point and step: the grid columns (every config
  column that varies across the sweep, except the seeds), ``step``, ``n_runs``, ``seeds``, then
  ``<metric>_mean``, ``<metric>_std`` (sample std, ddof=1) and ``<metric>_count`` (non-missing
  values) for every numeric metric, then the config columns that are constant in the sweep;
* ``problems.csv`` / ``problems.parquet`` - one row per run that is missing (a job number
  without results: a gap, a job folder without files, or fewer jobs than multirun.yaml
  expands to), failed, diverged, incomplete (metrics without run.json), empty or corrupted (an
  unreadable parquet file), with its overrides so it can be relaunched;
* ``figures/<kind>.png|pdf|csv`` - the figures that fit the sweep (:mod:`htsweep.figures`).

All metrics files are read in one pass through a pyarrow dataset; each file's footer is
checked first (cheap), so an unreadable file is reported instead of failing the scan.  Every
output is written to a temporary file and renamed over its final name, and the outputs are a
pure function of the run folders, so re-running gives the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml
from hydra.experimental.callback import Callback

from htsweep import figures as figs
from htsweep import records
from htsweep.records import atomic_write

SUMMARY_FILE = "summary.parquet"
AGGREGATE_FILE = "aggregate.parquet"
PROBLEMS_CSV = "problems.csv"
PROBLEMS_PARQUET = "problems.parquet"
FIGURES_DIR = "figures"
MULTIRUN_FILE = "multirun.yaml"

# Config columns pooled over when averaging (the replicate axis) ...
SEED_COLUMNS = ("seed", "data_seed", "init_seed")
# ... and config columns that never define a grid point (they do not change a run's numbers;
# htsweep.train leaves them out of the config hash).
NON_GRID_COLUMNS = ("progress",)
# Columns aggregation adds to summary.parquet from the run folder and run.json.
RUN_COLUMNS = ("run_dir", "job", "status", "steps_done", "diverged_at_step", "config_hash")

COMPLETED, DIVERGED, FAILED = "completed", "diverged", "failed"
# Problem kinds, in the order the table lists them.
MISSING, CORRUPTED, INCOMPLETE, EMPTY = "missing", "corrupted", "incomplete", "empty"
PROBLEM_KINDS = (MISSING, CORRUPTED, INCOMPLETE, EMPTY, FAILED, DIVERGED)
PROBLEM_COLUMNS = ("job", "run_dir", "problem", "file", "detail", "overrides")

_RUN_MARKERS = (records.METRICS_FILE, records.ESD_FILE, records.RUN_FILE, ".hydra")
_SKIP_DIRS = (FIGURES_DIR, "__pycache__", ".submitit")
_MAX_DEPTH = 4


class AggregateError(RuntimeError):
    """The sweep cannot be aggregated at all (no folder, no runs, nothing readable)."""


# --------------------------------------------------------------------------------------------
# Writing


def _write_frame(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


# --------------------------------------------------------------------------------------------
# Finding the runs


@dataclass
class Run:
    """One run folder of the sweep (or one job that should exist and does not)."""

    run_dir: str  # relative to the sweep folder, POSIX separators; "." for a single run
    job: Optional[int]
    path: Optional[Path]
    record: Optional[Dict[str, Any]] = None  # run.json
    record_error: Optional[str] = None
    metrics_rows: Optional[int] = None  # from the footer; None when absent or unreadable
    metrics_error: Optional[str] = None
    esd_rows: Optional[int] = None
    esd_error: Optional[str] = None
    overrides: Optional[str] = None

    @property
    def status(self) -> str:
        if self.path is None:
            return MISSING
        if self.metrics_error is not None:
            return CORRUPTED
        if self.record is not None:
            return str(self.record.get("status", FAILED))
        if self.metrics_rows is None:
            return MISSING
        return INCOMPLETE


def _is_run_dir(path: Path) -> bool:
    return any((path / marker).exists() for marker in _RUN_MARKERS)


def find_run_dirs(sweep_dir: Path) -> List[Path]:
    """Every folder under ``sweep_dir`` holding run outputs or a ``.hydra`` folder (a folder
    that is a run is not searched further); ``sweep_dir`` itself when it is a single run."""
    if (sweep_dir / records.METRICS_FILE).exists() or (sweep_dir / records.RUN_FILE).exists():
        return [sweep_dir]
    found: List[Path] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith(".") or entry.name in _SKIP_DIRS:
                continue
            sub = Path(entry.path)
            if _is_run_dir(sub):
                found.append(sub)
            elif depth < _MAX_DEPTH:
                walk(sub, depth + 1)

    walk(sweep_dir, 1)
    return found


def _hydra_yaml(run_path: Path, name: str) -> Any:
    path = run_path / ".hydra" / name
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return None


def _job_number(run_path: Path, run_dir: str) -> Optional[int]:
    """The Hydra job number: the folder name when it is one (Hydra's default subdir), else
    ``hydra.job.num`` from ``.hydra/hydra.yaml``."""
    name = run_path.name
    if name.isdigit():
        return int(name)
    cfg = _hydra_yaml(run_path, "hydra.yaml")
    try:
        return int(cfg["hydra"]["job"]["num"])
    except (TypeError, KeyError, ValueError):
        return None


def _run_overrides(run_path: Path) -> Optional[str]:
    overrides = _hydra_yaml(run_path, "overrides.yaml")
    if isinstance(overrides, list):
        return " ".join(str(o) for o in overrides)
    return None


def _footer(path: Path) -> Tuple[Optional[pa.Schema], Optional[int], Optional[str]]:
    """(arrow schema, row count, error) from the parquet footer alone; the pages are not read."""
    if not path.exists():
        return None, None, None
    try:
        meta = pq.read_metadata(path)
        return meta.schema.to_arrow_schema(), meta.num_rows, None
    except Exception as ex:  # pyarrow raises ArrowInvalid / OSError on a bad footer
        return None, None, f"unreadable parquet: {_one_line(ex)}"


def _one_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return f"{type(ex).__name__}: {text[0] if text else ''}"


def _read_record(path: Path) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    if not path.exists():
        return None, None
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        if not isinstance(rec, dict):
            raise ValueError("not a JSON object")
        return rec, None
    except (OSError, ValueError) as ex:
        return None, f"unreadable run.json: {_one_line(ex)}"


def inspect_run(sweep_dir: Path, run_path: Path) -> Tuple[Run, Optional[pa.Schema]]:
    """Read run.json and the two parquet footers of one run folder (no data pages)."""
    rel = run_path.relative_to(sweep_dir).as_posix()
    run = Run(run_dir=rel, job=_job_number(run_path, rel), path=run_path)
    run.record, run.record_error = _read_record(run_path / records.RUN_FILE)
    schema, run.metrics_rows, run.metrics_error = _footer(run_path / records.METRICS_FILE)
    if schema is not None and "step" not in schema.names:
        run.metrics_error = f"not a metrics table: no 'step' column in {schema.names[:5]}..."
        schema, run.metrics_rows = None, None
    _, run.esd_rows, run.esd_error = _footer(run_path / records.ESD_FILE)
    return run, schema


# --------------------------------------------------------------------------------------------
# Jobs the sweep should have: multirun.yaml


def expected_jobs(sweep_dir: Path) -> Optional[List[str]]:
    """The override list of every job Hydra's basic sweeper launches for this sweep, in job
    number order, from ``multirun.yaml`` (its ``hydra.sweeper.params`` then the command-line
    task overrides, expanded as a cartesian product).  None when there is no multirun.yaml,
    another sweeper made the sweep, or its overrides cannot be expanded here."""
    path = sweep_dir / MULTIRUN_FILE
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
        hydra_cfg = cfg["hydra"]
        sweeper = hydra_cfg.get("sweeper") or {}
        if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
            return None
        args = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
        args += [str(o) for o in (hydra_cfg.get("overrides") or {}).get("task") or []]
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(args)
        batches = BasicSweeper.split_arguments(parsed, None)
        return [" ".join(job) for job in batches[0]]
    except Exception:  # an unparsable or hand-edited multirun.yaml: fall back to gaps only
        return None


def add_missing_jobs(runs: List[Run], expected: Optional[List[str]]) -> List[Run]:
    """Runs for the job numbers that have no folder: gaps below the largest job number found,
    and jobs past it when ``expected`` (from multirun.yaml) lists more."""
    have = {r.job for r in runs if r.job is not None}
    numbered = bool(have)
    top = max(have) + 1 if numbered else 0
    if expected is not None:
        top = max(top, len(expected))
    elif not numbered:
        return runs
    missing = [
        Run(
            run_dir=str(job),
            job=job,
            path=None,
            overrides=expected[job] if expected is not None and job < len(expected) else None,
        )
        for job in range(top)
        if job not in have
    ]
    return sorted(runs + missing, key=_run_order)


def _run_order(run: Run) -> Tuple[int, int, str]:
    return (0 if run.job is not None else 1, run.job if run.job is not None else 0, run.run_dir)


# --------------------------------------------------------------------------------------------
# Reading all metrics at once


def config_columns(runs: Iterable[Run]) -> List[str]:
    """Flattened config keys: those of the typed schema (:class:`htsweep.config.Config`) and
    any other key found in a run.json ``config`` (order: schema first)."""
    from omegaconf import OmegaConf

    from htsweep.config import Config

    base = OmegaConf.to_container(OmegaConf.structured(Config), enum_to_str=True)
    names = list(records.flatten(base))
    seen = set(names)
    for run in runs:
        if run.record and isinstance(run.record.get("config"), Mapping):
            for key in records.flatten(run.record["config"]):
                if key not in seen:
                    seen.add(key)
                    names.append(key)
    return names


def unify_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """One schema for every metrics file: missing columns become null, ints widen to floats,
    all-null columns take the other files' type; a column whose types cannot be reconciled
    (e.g. int in one run, string in another) is read as string."""
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    fields: Dict[str, List[pa.Field]] = {}
    for schema in schemas:
        for f in schema:
            fields.setdefault(f.name, []).append(f)
    out = []
    for name, fs in fields.items():
        try:
            out.append(
                pa.unify_schemas([pa.schema([f]) for f in fs], promote_options="permissive")
                .field(name)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            out.append(pa.field(name, pa.string()))
    return pa.schema(out)


def parquet_dataset(
    files: Mapping[str, Path], schema: pa.Schema, key: str = "run_dir"
) -> ds.FileSystemDataset:
    """A pyarrow dataset of ``files`` (run_dir -> parquet path) with a ``key`` column holding
    each file's run_dir (a partition expression: filtering on it skips whole files)."""
    full = schema.append(pa.field(key, pa.string())) if key not in schema.names else schema
    return ds.FileSystemDataset.from_paths(
        [str(p) for p in files.values()],
        schema=full,
        format=ds.ParquetFileFormat(),
        filesystem=pafs.LocalFileSystem(),
        partitions=[ds.field(key) == rd for rd in files],
    )


def scan_metrics(
    files: Mapping[str, Path], schema: pa.Schema
) -> Tuple[pa.Table, Dict[str, str]]:
    """All rows of every file in one dataset scan -> (table, {run_dir: error}).

    Files whose footer was fine but whose data pages are not fail the scan; then each file is
    scanned alone to name the bad ones, and the rest are read again."""
    if not files:
        return parquet_dataset({}, schema).to_table(), {}
    try:
        return parquet_dataset(files, schema).to_table(), {}
    except (pa.ArrowException, OSError):
        pass
    bad: Dict[str, str] = {}
    for run_dir, path in files.items():
        try:
            parquet_dataset({run_dir: path}, schema).to_table()
        except (pa.ArrowException, OSError) as ex:
            bad[run_dir] = f"unreadable parquet data: {_one_line(ex)}"
    good = {k: v for k, v in files.items() if k not in bad}
    return parquet_dataset(good, schema).to_table(), bad


class EsdStore:
    """The eigenvalues of W^T W of the sweep's runs, read on demand from their esd.parquet files
    through one pyarrow dataset; ``load(run_dirs, steps)`` -> (run_dir, step, index, eigenvalue)."""

    _SCHEMA = pa.schema(
        [("step", pa.int64()), ("index", pa.int64()), ("eigenvalue", pa.float64())]
    )

    def __init__(self, files: Mapping[str, Path]) -> None:
        self.files = dict(files)

    @property
    def run_dirs(self) -> List[str]:
        return list(self.files)

    def load(
        self, run_dirs: Optional[Sequence[str]] = None, steps: Optional[Sequence[int]] = None
    ) -> pd.DataFrame:
        chosen = {k: v for k, v in self.files.items() if run_dirs is None or k in set(run_dirs)}
        dataset = parquet_dataset(chosen, self._SCHEMA)
        filt = None
        if steps is not None:
            filt = ds.field("step").isin([int(s) for s in steps])
        table = dataset.to_table(filter=filt)
        return table.to_pandas().sort_values(["run_dir", "step", "index"], kind="stable")


# --------------------------------------------------------------------------------------------
# Tables


def varying_columns(df: pd.DataFrame, columns: Sequence[str]) -> List[str]:
    """Columns of ``df`` (in ``columns`` order) that take more than one value (None/NaN count
    as a value)."""
    out = []
    for c in columns:
        if c in df.columns and len(df[c].drop_duplicates()) > 1:
            out.append(c)
    return out


def _runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    rows = []
    for r in runs:
        rec = r.record or {}
        rows.append(
            {
                "run_dir": r.run_dir,
                "job": r.job,
                "status": r.status,
                "steps_done": rec.get("steps_done"),
                "diverged_at_step": rec.get("diverged_at_step"),
                "config_hash": rec.get("config_hash"),
            }
        )
    df = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    for c in ("job", "steps_done", "diverged_at_step"):
        df[c] = pd.array(df[c].tolist(), dtype="Int64")
    return df


def build_summary(table: pa.Table, runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run and probe step: run columns, then the metrics file's columns."""
    metrics = table.to_pandas()
    run_info = _runs_frame(runs)
    df = run_info.merge(metrics, on="run_dir", how="inner", validate="one_to_many")
    df = df.sort_values(["job", "run_dir", "step"], kind="stable", na_position="last")
    return df.reset_index(drop=True)


def metric_columns(summary: pd.DataFrame, config_cols: Sequence[str]) -> List[str]:
    """Numeric columns that are neither config nor bookkeeping: what gets averaged."""
    skip = set(config_cols) | set(RUN_COLUMNS) | {"step"}
    return [
        c
        for c in summary.columns
        if c not in skip
        and (pd.api.types.is_numeric_dtype(summary[c]) and not pd.api.types.is_bool_dtype(summary[c]))
    ]


def grid_columns(summary: pd.DataFrame, config_cols: Sequence[str]) -> List[str]:
    """Config columns that vary across the sweep's runs, except seeds and non-grid keys."""
    candidates = [c for c in config_cols if c not in SEED_COLUMNS and c not in NON_GRID_COLUMNS]
    per_run = summary.drop_duplicates("run_dir")
    return varying_columns(per_run, candidates)


def build_aggregate(
    summary: pd.DataFrame,
    grid: Sequence[str],
    metrics: Sequence[str],
    config_cols: Sequence[str],
    statuses: Sequence[str] = (COMPLETED,),
) -> pd.DataFrame:
    """Mean, sample std (ddof=1) and count of every metric over the runs (seeds) of each grid
    point and step, over runs whose status is in ``statuses``."""
    keep = summary[summary["status"].isin(list(statuses))]
    keys = [*grid, "step"]
    stat_cols = [f"{m}_{s}" for m in metrics for s in ("mean", "std", "count")]
    constant = [
        c
        for c in config_cols
        if c in summary.columns and c not in grid and c not in SEED_COLUMNS and c not in NON_GRID_COLUMNS
    ]
    if keep.empty:
        return pd.DataFrame(columns=[*keys, "n_runs", "seeds", *stat_cols, *constant])
    grouped = keep.groupby(keys, dropna=False, sort=True)
    stats = grouped[list(metrics)].agg(["mean", "std", "count"])
    stats.columns = [f"{m}_{s}" for m, s in stats.columns]
    counts = {f"{m}_count": stats[f"{m}_count"].astype("int64") for m in metrics}
    stats = pd.concat(
        [grouped["run_dir"].nunique().rename("n_runs"), stats.drop(columns=list(counts)), pd.DataFrame(counts)],
        axis=1,
    )
    out = stats.reset_index()
    # seeds per grid point, as JSON text (one value per run)
    per_run = keep.drop_duplicates("run_dir")
    if grid:
        seeds = per_run.groupby(list(grid), dropna=False, sort=True)["seed"].agg(_seed_list)
        out = out.merge(seeds.rename("seeds").reset_index(), on=list(grid), how="left")
    else:
        out["seeds"] = _seed_list(per_run["seed"]) if "seed" in per_run else "[]"
    if constant:
        const = pd.DataFrame({c: [keep[c].iloc[0]] * len(out) for c in constant}, index=out.index)
        out = pd.concat([out, const], axis=1)
    ordered = [*keys, "n_runs", "seeds", *stat_cols, *constant]
    return out[ordered].sort_values(keys, kind="stable").reset_index(drop=True)


def _seed_list(values: pd.Series) -> str:
    return json.dumps(sorted(int(v) for v in pd.unique(values.dropna())))


def build_problems(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per problem (a run can have two: e.g. diverged and a corrupted esd.parquet)."""
    rows: List[Dict[str, Any]] = []

    def add(run: Run, kind: str, file: str, detail: str) -> None:
        rows.append(
            {
                "job": run.job,
                "run_dir": run.run_dir,
                "problem": kind,
                "file": file,
                "detail": detail,
                "overrides": run.overrides,
            }
        )

    for run in runs:
        rec = run.record or {}
        if run.path is None:
            add(run, MISSING, "", "no run folder for this job number")
            continue
        if run.metrics_error is not None:
            add(run, CORRUPTED, records.METRICS_FILE, run.metrics_error)
        elif run.metrics_rows is None and run.record is None:
            add(run, MISSING, records.METRICS_FILE, "run folder without results (crashed, killed or still running)")
        elif run.metrics_rows is None:
            add(run, MISSING, records.METRICS_FILE, f"run.json says {rec.get('status')!r} but there is no metrics.parquet")
        elif run.record is None:
            add(run, INCOMPLETE, records.RUN_FILE, run.record_error or "metrics.parquet without run.json (killed while writing?)")
        elif run.metrics_rows == 0:
            add(run, EMPTY, records.METRICS_FILE, "no probe rows")
        if run.esd_error is not None:
            add(run, CORRUPTED, records.ESD_FILE, run.esd_error)
        status = rec.get("status")
        if status == FAILED:
            add(run, FAILED, records.RUN_FILE, str(rec.get("error") or "failed"))
        elif status == DIVERGED:
            add(
                run,
                DIVERGED,
                records.RUN_FILE,
                f"non-finite loss or weights at step {rec.get('diverged_at_step')} "
                f"(of {rec.get('steps_requested')})",
            )
        elif status is not None and status != COMPLETED:
            add(run, FAILED, records.RUN_FILE, f"unknown status {status!r}")
    df = pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
    df["job"] = pd.array(df["job"].tolist(), dtype="Int64")
    order = {k: i for i, k in enumerate(PROBLEM_KINDS)}
    df["_order"] = df["problem"].map(order)
    df = df.sort_values(["job", "run_dir", "_order"], kind="stable", na_position="last")
    return df.drop(columns="_order").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The whole aggregation


@dataclass
class AggregateResult:
    """What :func:`aggregate` read, computed, drew and wrote."""

    sweep_dir: Path
    out_dir: Path
    runs: pd.DataFrame  # one row per run folder or expected job: run_dir, job, status, ...
    summary: pd.DataFrame
    aggregate: pd.DataFrame
    problems: pd.DataFrame
    grid: List[str]
    metrics: List[str]
    config: List[str]
    expected_jobs: Optional[int]
    tables: Optional[figs.SweepTables] = None  # what the figures are drawn from
    figures: Dict[str, pd.DataFrame] = field(default_factory=dict)
    figure_errors: Dict[str, str] = field(default_factory=dict)
    skipped_figures: Dict[str, str] = field(default_factory=dict)
    written: List[Path] = field(default_factory=list)

    def report(self) -> str:
        """The text the CLI prints."""
        counts = self.runs["status"].value_counts()
        parts = [f"{n} {s}" for s, n in counts.items()]
        lines = [
            f"sweep {self.sweep_dir}: {len(self.runs)} runs"
            + (f" ({self.expected_jobs} expected from {MULTIRUN_FILE})" if self.expected_jobs is not None else "")
            + f": {', '.join(parts)}",
            f"grid: {', '.join(self.grid) if self.grid else '(one point)'}; "
            f"{self.summary['run_dir'].nunique() if len(self.summary) else 0} runs in summary, "
            f"{len(self.aggregate)} aggregate rows",
        ]
        if len(self.problems):
            lines.append(f"problems ({len(self.problems)}):")
            shown = self.problems.assign(
                job=self.problems["job"].astype("string").fillna("-"),
                detail=self.problems["detail"].str.slice(0, 70),
                overrides=self.problems["overrides"].fillna("").str.slice(0, 60),
            )
            lines.append(shown.to_string(index=False))
        else:
            lines.append("problems: none")
        if self.skipped_figures:
            lines.append(
                "figures not drawn: "
                + "; ".join(f"{name} ({why})" for name, why in self.skipped_figures.items())
            )
        for name, err in self.figure_errors.items():
            lines.append(f"figure {name}: FAILED: {err}")
        lines.append("wrote: " + ", ".join(str(p) for p in self.written))
        return "\n".join(lines)


def aggregate(
    sweep_dir: os.PathLike | str,
    figures: Optional[Sequence[str]] = None,
    out: Optional[os.PathLike | str] = None,
    statuses: Sequence[str] = (COMPLETED,),
) -> AggregateResult:
    """Aggregate the sweep in ``sweep_dir`` and write its tables and figures.

    ``figures``: None picks them (:func:`htsweep.figures.choose`: the paper figure of the
    sweep's ``experiment`` tag when it fits, else every kind that fits what varies); a list of
    kinds or paper names (``fig3``, ``table1``, ...) draws those; ``["all"]`` every kind that
    fits; ``[]`` none.  A figure that cannot be drawn is reported in ``figure_errors``.
    ``out``: folder for the outputs (default: ``sweep_dir``).  ``statuses``: the run statuses
    averaged in aggregate.parquet (summary.parquet keeps every readable run)."""
    sweep = Path(sweep_dir).resolve()
    if not sweep.is_dir():
        raise AggregateError(f"sweep folder {sweep_dir} does not exist or is not a folder")
    out_dir = Path(out).resolve() if out is not None else sweep
    kinds = None
    if figures is not None:
        kinds = list(dict.fromkeys(k for f in figures for k in figs.resolve_name(f)))

    found = [inspect_run(sweep, p) for p in find_run_dirs(sweep)]
    expected = expected_jobs(sweep)
    if not found and expected is None:
        raise AggregateError(
            f"no runs under {sweep}: expected run folders (e.g. <job>/{records.METRICS_FILE}) "
            f"or a {MULTIRUN_FILE}"
        )
    schemas = {run.run_dir: schema for run, schema in found if schema is not None}
    runs = add_missing_jobs([run for run, _ in found], expected)
    by_dir = {r.run_dir: r for r in runs}
    for run in runs:  # how to relaunch a run that went wrong
        if run.status != COMPLETED and run.overrides is None:
            if run.path is not None:
                run.overrides = _run_overrides(run.path)
            if run.overrides is None and expected is not None and run.job is not None and run.job < len(expected):
                run.overrides = expected[run.job]

    files = {rd: by_dir[rd].path / records.METRICS_FILE for rd in schemas}  # type: ignore[operator]
    schema = unify_schemas(list(schemas.values())) if schemas else pa.schema([("step", pa.int64())])
    table, bad = scan_metrics(files, schema)
    for run_dir, err in bad.items():
        by_dir[run_dir].metrics_error = err
        by_dir[run_dir].metrics_rows = None

    cfg_cols = config_columns(runs)
    summary = build_summary(table, runs)
    cfg_cols = [c for c in cfg_cols if c in summary.columns]
    metrics = metric_columns(summary, cfg_cols)
    grid = grid_columns(summary, cfg_cols)
    agg = build_aggregate(summary, grid, metrics, cfg_cols, statuses)
    problems = build_problems(runs)
    runs_df = _runs_frame(runs)

    written: List[Path] = []
    for df, name in ((summary, SUMMARY_FILE), (agg, AGGREGATE_FILE), (problems, PROBLEMS_PARQUET)):
        _write_frame(df, out_dir / name)
        written.append(out_dir / name)
    _write_csv(problems, out_dir / PROBLEMS_CSV)
    written.append(out_dir / PROBLEMS_CSV)

    result = AggregateResult(
        sweep_dir=sweep,
        out_dir=out_dir,
        runs=runs_df,
        summary=summary,
        aggregate=agg,
        problems=problems,
        grid=grid,
        metrics=metrics,
        config=cfg_cols,
        expected_jobs=len(expected) if expected is not None else None,
    )
    esd_files = {
        r.run_dir: r.path / records.ESD_FILE  # type: ignore[operator]
        for r in runs
        if r.path is not None and r.esd_rows and r.esd_error is None and r.metrics_error is None
    }
    tables = figs.SweepTables(
        summary=summary, aggregate=agg, grid=grid, esd=EsdStore(esd_files)
    )
    result.tables = tables
    if kinds is None:
        chosen, result.skipped_figures = figs.choose(tables)
    elif figs.ALL in kinds:
        chosen, result.skipped_figures = figs.applicable(tables)
    else:
        chosen = kinds
    fig_dir = out_dir / FIGURES_DIR
    for name in chosen:
        try:
            data = figs.draw(name, tables, fig_dir)
        except Exception as ex:  # one figure failing must not lose the tables or the others
            result.figure_errors[name] = _one_line(ex)
            continue
        result.figures[name] = data
        written += [fig_dir / f"{name}.{ext}" for ext in (*figs.EXTENSIONS, figs.DATA_EXTENSION)]
    result.written = written
    return result


# --------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m htsweep.aggregate",
        description=(
            "Aggregate a sweep of htsweep.train runs: summary.parquet, aggregate.parquet "
            "(mean/std/count over seeds), problems.csv/.parquet (missing, failed, diverged, "
            "corrupted runs) and the figures that fit the sweep (figures/*.png|pdf)."
        ),
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun folder, e.g. multirun/2025-01-01/12-00-00")
    p.add_argument(
        "--figure",
        metavar="NAME",
        nargs="+",
        action="extend",
        help=(
            "draw these figures instead of the ones chosen from what varies; kinds: "
            + ", ".join(figs.KINDS)
            + "; paper names: "
            + ", ".join(sorted(figs.ALIASES))
            + "; all: every kind that fits. Default: the figure of the sweep's experiment "
            "tag, else every kind that fits what varies"
        ),
    )
    p.add_argument("--no-figures", action="store_true", help="write the tables only")
    p.add_argument("--out", metavar="DIR", help="output folder (default: SWEEP_DIR)")
    p.add_argument(
        "--include-diverged",
        action="store_true",
        help="average diverged runs' rows (their steps before divergence) too",
    )
    return p


class AggregateCallback(Callback):
    """Optional Hydra callback: aggregate the sweep when the multirun ends.

        python -m htsweep.train -m ... +hydra.callbacks.aggregate._target_=htsweep.aggregate.AggregateCallback

    Hydra 1.3 calls ``on_multirun_end`` only when every job succeeded, so this is a convenience;
    ``python -m htsweep.aggregate SWEEP_DIR`` stays the way to aggregate a sweep with failed,
    missing or still-running points.  An aggregation error is logged, never raised."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            result = aggregate(sweep_dir)
            print(result.report(), file=sys.stderr)
        except Exception as ex:  # the sweep's results are safe; only the summary is missing
            print(f"htsweep.aggregate: could not aggregate {sweep_dir}: {ex}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.no_figures and args.figure:
        print("htsweep.aggregate: error: --figure and --no-figures exclude each other", file=sys.stderr)
        return 2
    statuses = (COMPLETED, DIVERGED) if args.include_diverged else (COMPLETED,)
    try:
        result = aggregate(
            args.sweep_dir,
            figures=[] if args.no_figures else args.figure,
            out=args.out,
            statuses=statuses,
        )
    except (AggregateError, figs.FigureNameError) as ex:
        print(f"htsweep.aggregate: error: {ex}", file=sys.stderr)
        return 2
    print(result.report())
    if result.summary.empty:
        print("htsweep.aggregate: no readable run in the sweep", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
