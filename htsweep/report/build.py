"""A sweep's report.html: aggregate (into a scratch folder), draw, render, write atomically.

:func:`report` is ``python -m htsweep.report``: it aggregates the sweep into a temporary
folder, so it writes nothing but ``report.html``.  :func:`write_report` builds the page from
an aggregation already done (``python -m htsweep.aggregate SWEEP_DIR --report``), reusing the
figures that aggregation drew.  Either way the page is the same bytes for the same sweep.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pandas as pd

import htsweep
from htsweep.records import Status, atomic_write
from htsweep.report.content import (
    SHOWN,
    Diagnostic,
    ReportContent,
    aggregate_view,
    grid_axes,
    run_table,
    shared_settings,
    status_counts,
)
from htsweep.report.draw import diagnosable, run_diagnostics, sweep_figures
from htsweep.report.images import DEFAULT_DPI
from htsweep.report.page import render
from htsweep.sweep.aggregate import AggregateResult, aggregate

REPORT_FILE = "report.html"
DEFAULT_MAX_DIAGNOSTICS = 100
UNAVAILABLE = "none: needs a readable metrics.parquet and esd.parquet"


class ReportError(ValueError):
    """A report option that cannot work (the output folder is a file, a negative cap)."""


@dataclass
class ReportResult:
    """What :func:`write_report` wrote and what the page holds."""

    path: Path
    bytes: int
    aggregate: AggregateResult
    figures: List[str]  # kinds shown
    figure_errors: Dict[str, str] = field(default_factory=dict)
    diagnostics: int = 0  # runs whose diagnostics are on the page
    diagnosable: int = 0  # runs with readable metrics and eigenvalues (the cap's ceiling)
    diagnostic_errors: Dict[str, str] = field(default_factory=dict)  # run_dir -> error

    def line(self) -> str:
        """One line for the command line: where, how big, what it holds."""
        failed = f", {len(self.figure_errors)} failed ({', '.join(self.figure_errors)})" if self.figure_errors else ""
        bad = f", {len(self.diagnostic_errors)} could not be drawn" if self.diagnostic_errors else ""
        return (
            f"wrote {self.path} ({self.bytes / 1e6:.1f} MB): {len(self.figures)} figures{failed}, "
            f"ESD diagnostics of {self.diagnostics} of {self.diagnosable} runs with eigenvalues{bad}"
        )


def check_options(out: Optional[Path], max_diagnostics: int, dpi: float) -> None:
    """ReportError when the output folder exists as something else, the cap is negative or
    the resolution not positive."""
    if out is not None and out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} exists and is not a folder")
    if max_diagnostics < 0:
        raise ReportError(f"--max-diagnostics must be >= 0, got {max_diagnostics}")
    if not dpi > 0:
        raise ReportError(f"--dpi must be > 0, got {dpi}")


def diagnostics_note(shown: int, eligible: int, cap: int) -> str:
    """What the diagnostics section holds, and what the cap left out."""
    if eligible == 0:
        return "No run has readable metrics and eigenvalues (metrics.parquet, esd.parquet): there are no ESD diagnostics."
    what = "each at its run's last probed step (htsweep.figures.esd_diagnostics); click a run to open it"
    if shown < eligible:
        return (
            f"ESD diagnostics of the first {shown} of {eligible} runs with eigenvalues, {what}. "
            f"--max-diagnostics {cap} left out the other {eligible - shown}."
        )
    return f"ESD diagnostics of all {eligible} runs with eigenvalues, {what}."


def diagnostics_column(runs: pd.DataFrame, drawn: Sequence[Diagnostic], eligible: Sequence[str], cap: int) -> pd.Series:
    """The runs table's ``esd_diagnostics`` text: :data:`~.content.SHOWN`, why it could not be
    drawn, the cap that left it out, or :data:`UNAVAILABLE`."""
    state = {d.run_dir: (SHOWN if d.uri is not None else f"could not be drawn: {d.error}") for d in drawn}
    text = runs["run_dir"].map(state).astype(object)
    text = text.where(~(text.isna() & runs["run_dir"].isin(list(eligible))), f"not drawn (--max-diagnostics {cap})")
    return text.fillna(UNAVAILABLE)


def build_content(result: AggregateResult, scratch: Path, max_diagnostics: int, dpi: float) -> ReportContent:
    """Everything the page shows; figures are drawn into ``scratch``."""
    figures, skipped = sweep_figures(result, scratch / "figures", dpi)
    runs = run_table(result)
    runs["anchor"] = "diag-" + pd.Series(range(len(runs)), index=runs.index).astype(str)
    diagnostics, eligible = run_diagnostics(result, runs, max_diagnostics, scratch / "runs", dpi)
    runs["esd_diagnostics"] = diagnostics_column(runs, diagnostics, diagnosable(result.tables), max_diagnostics)
    return ReportContent(
        sweep_dir=result.sweep_dir,
        version=htsweep.__version__,
        counts=status_counts(result.runs),
        expected_jobs=result.expected_jobs,
        grid=grid_axes(result.summary, result.grid),
        shared=shared_settings(result.summary),
        problems=result.problems.reset_index(drop=True),
        figures=figures,
        skipped_figures=skipped,
        aggregate=aggregate_view(result.aggregate, result.grid),
        aggregate_columns=len(result.aggregate.columns),
        runs=runs,
        diagnostics=diagnostics,
        diagnostics_note=diagnostics_note(len(diagnostics), eligible, max_diagnostics),
        diagnosable=eligible,
        notes=[] if len(result.summary) else ["No run could be read: the page lists what is wrong with each."],
    )


def write_report(
    result: AggregateResult,
    out: Optional[os.PathLike | str] = None,
    *,
    max_diagnostics: int = DEFAULT_MAX_DIAGNOSTICS,
    dpi: float = DEFAULT_DPI,
) -> ReportResult:
    """Write ``report.html`` for an aggregation into ``out`` (default: the aggregation's
    output folder), atomically; figures the aggregation drew are reused."""
    out_dir = Path(out).resolve() if out is not None else result.out_dir
    check_options(out_dir, max_diagnostics, dpi)
    with tempfile.TemporaryDirectory(prefix="htsweep-report-") as scratch:
        content = build_content(result, Path(scratch), max_diagnostics, dpi)
    page = render(content).encode("utf-8")
    path = out_dir / REPORT_FILE
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(page))
    return ReportResult(
        path=path,
        bytes=len(page),
        aggregate=result,
        figures=[f.kind for f in content.figures if f.uri is not None],
        figure_errors={f.kind: str(f.error) for f in content.figures if f.uri is None},
        diagnostics=sum(d.uri is not None for d in content.diagnostics),
        diagnosable=content.diagnosable,
        diagnostic_errors={d.run_dir: str(d.error) for d in content.diagnostics if d.uri is None},
    )


def report(
    sweep_dir: os.PathLike | str,
    out: Optional[os.PathLike | str] = None,
    *,
    max_diagnostics: int = DEFAULT_MAX_DIAGNOSTICS,
    dpi: float = DEFAULT_DPI,
    statuses: Sequence[str] = (Status.completed.value,),
) -> ReportResult:
    """Aggregate ``sweep_dir`` into a temporary folder and write its ``report.html`` into
    ``out`` (default: ``sweep_dir``); nothing else is written.  Raises
    :class:`~htsweep.sweep.aggregate.AggregateError` for a folder that is not a sweep and
    :class:`ReportError` for bad options, both before anything is written."""
    check_options(Path(out).resolve() if out is not None else None, max_diagnostics, dpi)
    with tempfile.TemporaryDirectory(prefix="htsweep-aggregate-") as tmp:
        result = aggregate(sweep_dir, figures=[], out=tmp, statuses=statuses)
        return write_report(result, out if out is not None else result.sweep_dir, max_diagnostics=max_diagnostics, dpi=dpi)
