"""One sweep's runs -> tables, a problem list and figures: :func:`aggregate`.

Aggregation writes, next to the sweep (or into ``out``):

* ``summary.parquet``   - one row per run, probe step and layer (:func:`~.tables.build_summary`);
* ``aggregate.parquet`` - one row per grid point, step and layer: mean / std / count over seeds
  (:func:`~.tables.build_aggregate`);
* ``problems.csv`` / ``problems.parquet`` - one row per thing wrong with a run
  (:func:`~.tables.build_problems`), with its overrides so it can be relaunched;
* ``figures/<kind>.png|pdf|csv`` - the figures (:func:`htsweep.figures.draw_all`).

Every output is written to a temporary file and renamed over its final name, and the outputs
are a pure function of the run folders, so re-running gives the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pandas as pd
import pyarrow as pa

from htsweep import figures as figs
from htsweep.records import ESD_FILE, METRICS_FILE, Status, atomic_write, write_table
from htsweep.sweep.discover import FIGURES_DIR, MULTIRUN_FILE, Discovery, Run, discover
from htsweep.sweep.read import EsdStore, scan_metrics, unify_schemas
from htsweep.sweep.tables import (
    SweepTables,
    build_aggregate,
    build_problems,
    build_summary,
    config_columns,
    grid_columns,
    metric_columns,
    runs_frame,
)

SUMMARY_FILE = "summary.parquet"
AGGREGATE_FILE = "aggregate.parquet"
PROBLEMS_CSV = "problems.csv"
PROBLEMS_PARQUET = "problems.parquet"


class AggregateError(RuntimeError):
    """The sweep cannot be aggregated at all (no folder, no runs, nothing readable)."""


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
    tables: Optional[SweepTables] = None  # what the figures are drawn from
    figures: Dict[str, pd.DataFrame] = field(default_factory=dict)
    figure_errors: Dict[str, str] = field(default_factory=dict)
    skipped_figures: Dict[str, str] = field(default_factory=dict)
    written: List[Path] = field(default_factory=list)

    def _problem_lines(self) -> List[str]:
        if not len(self.problems):
            return ["problems: none"]
        shown = self.problems.assign(
            job=self.problems["job"].astype("string").fillna("-"),
            detail=self.problems["detail"].str.slice(0, 70),
            overrides=self.problems["overrides"].fillna("").str.slice(0, 60),
        )
        return [f"problems ({len(self.problems)}):", shown.to_string(index=False)]

    def report(self) -> str:
        """The text the command line prints: run counts by status, the grid, the problems,
        the figures not drawn or failed, the files written."""
        counts = ", ".join(f"{n} {s}" for s, n in self.runs["status"].value_counts().items())
        expected = f" ({self.expected_jobs} expected from {MULTIRUN_FILE})" if self.expected_jobs is not None else ""
        n_summary = self.summary["run_dir"].nunique() if len(self.summary) else 0
        lines = [
            f"sweep {self.sweep_dir}: {len(self.runs)} runs{expected}: {counts}",
            f"grid: {', '.join(self.grid) if self.grid else '(one point)'}; "
            f"{n_summary} runs in summary, {len(self.aggregate)} aggregate rows",
            *self._problem_lines(),
        ]
        if self.skipped_figures:
            lines.append("figures not drawn: " + "; ".join(f"{k} ({why})" for k, why in self.skipped_figures.items()))
        lines += [f"figure {name}: FAILED: {err}" for name, err in self.figure_errors.items()]
        lines.append("wrote: " + ", ".join(str(p) for p in self.written))
        return "\n".join(lines)


def read_metrics(found: Discovery) -> pa.Table:
    """Every readable metrics.parquet of the sweep in one scan; a file whose data pages fail
    is marked corrupted on its run."""
    by_dir = {r.run_dir: r for r in found.runs}
    files = {rd: by_dir[rd].path / METRICS_FILE for rd in found.schemas}  # type: ignore[operator]
    schemas = list(found.schemas.values())
    table, bad = scan_metrics(files, unify_schemas(schemas) if schemas else pa.schema([("step", pa.int64())]))
    for run_dir, err in bad.items():
        by_dir[run_dir].metrics_error, by_dir[run_dir].metrics_rows = err, None
    return table


def esd_store(runs: Sequence[Run]) -> EsdStore:
    """The esd.parquet files of the runs whose metrics and eigenvalues are both readable."""
    return EsdStore(
        {
            r.run_dir: r.path / ESD_FILE
            for r in runs
            if r.path is not None and r.esd_rows and r.esd_error is None and r.metrics_error is None
        }
    )


def write_tables(out_dir: Path, summary: pd.DataFrame, agg: pd.DataFrame, problems: pd.DataFrame) -> List[Path]:
    """Write the four table files atomically; returns their paths."""
    frames = {SUMMARY_FILE: summary, AGGREGATE_FILE: agg, PROBLEMS_PARQUET: problems}
    for name, df in frames.items():
        write_table(pa.Table.from_pandas(df, preserve_index=False), out_dir / name)
    atomic_write(out_dir / PROBLEMS_CSV, lambda tmp: problems.to_csv(tmp, index=False))
    return [out_dir / name for name in (*frames, PROBLEMS_CSV)]


def aggregate(
    sweep_dir: os.PathLike | str,
    figures: Optional[Sequence[str]] = None,
    out: Optional[os.PathLike | str] = None,
    statuses: Sequence[str] = (Status.completed.value,),
) -> AggregateResult:
    """Aggregate the sweep in ``sweep_dir`` and write its tables and figures.

    ``figures``: None picks them (:func:`htsweep.figures.choose`); a list of kinds or
    experiment names (``fig3``, ``table1``, ...) draws those; ``["all"]`` every kind that fits;
    ``[]`` none.  A figure that cannot be drawn is reported in ``figure_errors``.  ``out``:
    folder for the outputs (default: ``sweep_dir``).  ``statuses``: the run statuses averaged
    in aggregate.parquet (summary.parquet keeps every readable run)."""
    sweep = Path(sweep_dir).resolve()
    if not sweep.is_dir():
        raise AggregateError(f"sweep folder {sweep_dir} does not exist or is not a folder")
    out_dir = Path(out).resolve() if out is not None else sweep
    kinds = figs.resolve_names(figures)
    found = discover(sweep)
    if not found.runs:
        raise AggregateError(f"no runs under {sweep}: expected run folders (e.g. <job>/{METRICS_FILE}) or a {MULTIRUN_FILE}")
    summary = build_summary(read_metrics(found), found.runs)
    config = config_columns(found.runs, list(summary.columns))
    metrics, grid = metric_columns(summary, config), grid_columns(summary, config)
    agg = build_aggregate(summary, grid, metrics, config, statuses)
    problems = build_problems(found.runs)
    written = write_tables(out_dir, summary, agg, problems)
    tables = SweepTables(summary=summary, aggregate=agg, grid=grid, esd=esd_store(found.runs))
    drawn = figs.draw_all(tables, kinds, out_dir / FIGURES_DIR)
    return AggregateResult(
        sweep_dir=sweep, out_dir=out_dir, runs=runs_frame(found.runs), summary=summary, aggregate=agg,
        problems=problems, grid=grid, metrics=metrics, config=config, expected_jobs=found.expected_jobs,
        tables=tables, figures=drawn.figures, figure_errors=drawn.errors, skipped_figures=drawn.skipped,
        written=written + drawn.written,
    )  # fmt: skip
