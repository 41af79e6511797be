"""The report's images, drawn through the figures registry (:mod:`htsweep.figures`): every
kind that fits the sweep, the sweep's own first, and one ``esd_diagnostics`` figure per run.

Kinds the aggregation just drew (``AggregateResult.figures``, their PNGs in the aggregate's
``figures/`` folder) are reused; the others are drawn into a scratch folder, with the same
draw functions, so the page is the same either way.  Each image is embedded shrunk
(:mod:`.images`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pandas as pd

from htsweep import figures as figs
from htsweep.report.content import Diagnostic, FigureImage
from htsweep.report.images import embed
from htsweep.sweep.aggregate import AggregateResult
from htsweep.sweep.discover import FIGURES_DIR
from htsweep.sweep.read import EsdSource, one_line
from htsweep.sweep.tables import SweepTables

DIAGNOSTICS = "esd_diagnostics"  # the kind drawn once per run


def figure_kinds(tables: SweepTables) -> Tuple[List[str], Dict[str, str]]:
    """The kinds the page shows: the sweep's own (:func:`htsweep.figures.choose`), then every
    other kind that fits (:func:`htsweep.figures.applicable`), in registry order; and for each
    kind that does not fit, why."""
    own, _ = figs.choose(tables)
    fits, skipped = figs.applicable(tables)
    return list(dict.fromkeys([*own, *fits])), skipped


def sweep_figures(result: AggregateResult, scratch: Path, dpi: float) -> Tuple[List[FigureImage], Dict[str, str]]:
    """Every kind of :func:`figure_kinds` as an embedded image (or its error), and the kinds
    left out with why.  A kind the aggregation drew is read from its ``figures/`` folder; the
    others are drawn into ``scratch``."""
    tables = result.tables
    if tables is None:
        return [], {}
    if tables.summary.empty:
        return [], {k: "no run could be read" for k in figs.KINDS}
    kinds, skipped = figure_kinds(tables)
    drawn_dir = result.out_dir / FIGURES_DIR
    reused = {k for k in kinds if k in result.figures and (drawn_dir / f"{k}.png").is_file()}
    drawn = figs.draw_all(tables, [k for k in kinds if k not in reused], scratch)
    images = []
    for kind in kinds:
        doc = figs.FIGURES[kind].doc
        if kind in drawn.errors:
            images.append(FigureImage(kind, doc, error=drawn.errors[kind]))
            continue
        png = (drawn_dir if kind in reused else scratch) / f"{kind}.png"
        images.append(_image(kind, doc, png, dpi))
    return images, skipped


def _image(kind: str, doc: str, png: Path, dpi: float) -> FigureImage:
    try:
        return FigureImage(kind, doc, uri=embed(png, dpi))
    except (OSError, ValueError) as ex:  # an unreadable PNG: say so on the page
        return FigureImage(kind, doc, error=f"{png.name}: {one_line(ex)}")


class OneRun:
    """An :class:`~htsweep.sweep.read.EsdSource` restricted to one run of another source."""

    def __init__(self, source: EsdSource, run_dir: str) -> None:
        self.source, self.run_dir = source, run_dir

    @property
    def run_dirs(self) -> List[str]:
        return [self.run_dir]

    def load(
        self,
        run_dirs: Optional[Sequence[str]] = None,
        steps: Optional[Sequence[int]] = None,
        layers: Optional[Sequence[str]] = None,
    ) -> pd.DataFrame:
        return self.source.load([self.run_dir], steps, layers)


def diagnosable(tables: Optional[SweepTables]) -> List[str]:
    """The runs that can have diagnostics: eigenvalues and metrics rows (the fitted xmin and
    the MP law come from the metrics), in the eigenvalue source's order."""
    if tables is None or tables.esd is None:
        return []
    with_rows = set(tables.summary["run_dir"]) if "run_dir" in tables.summary.columns else set()
    return [r for r in tables.esd.run_dirs if r in with_rows]


def run_tables(tables: SweepTables, run_dir: str) -> SweepTables:
    """The tables of one run alone: its summary rows, no grid, its eigenvalues."""
    if tables.esd is None:
        raise ValueError("the sweep has no eigenvalues (esd.parquet)")
    summary = tables.summary[tables.summary["run_dir"] == run_dir]
    return SweepTables(summary=summary, aggregate=tables.aggregate.iloc[:0], grid=[], esd=OneRun(tables.esd, run_dir))


def run_diagnostic(tables: SweepTables, target: Diagnostic, scratch: Path, dpi: float) -> Diagnostic:
    """``target`` with its run's ``esd_diagnostics`` image (at the run's last probed step), or
    the error that stopped the drawing."""
    name = f"run-{target.anchor}"
    try:
        figs.FIGURES[DIAGNOSTICS].draw(run_tables(tables, target.run_dir), scratch, name=name)
        target.uri = embed(scratch / f"{name}.png", dpi)
    except Exception as ex:  # one run's figure failing must not lose the page
        target.error = one_line(ex)
    return target


def run_diagnostics(result: AggregateResult, runs: pd.DataFrame, cap: int, scratch: Path, dpi: float) -> Tuple[List[Diagnostic], int]:
    """The diagnostics of the first ``cap`` runs (in ``runs`` order, its ``anchor`` column)
    that can have them (:func:`diagnosable`), and how many can."""
    tables = result.tables
    if tables is None:
        return [], 0
    eligible = runs[runs["run_dir"].isin(diagnosable(tables))]
    chosen = [Diagnostic(r.run_dir, r.status, r.anchor) for r in eligible.head(cap).itertuples(index=False)]
    return [run_diagnostic(tables, d, scratch, dpi) for d in chosen], len(eligible)
