"""Tables 1, 3, 4 (and Fig. 29, App. D): log-log ESD cells, rows = grid points (eta, ...),
columns = probed steps (cells: :mod:`htsweep.figures._cells`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from htsweep.figures import _cells, style
from htsweep.figures.select import choose_layer, has_esd, layer_rows, n_points, nonzero_steps, subsample_steps
from htsweep.sweep.tables import SweepTables

NAME = "esd_grid"
DOC = "Tables 1/3/4: ESD grid, rows eta, columns step"
MAX_ROWS = 20  # grid points beyond which the figure is not chosen automatically


def applies(tables: SweepTables) -> Optional[str]:
    """None when eigenvalues were stored, for 2 to :data:`MAX_ROWS` grid points and at least
    two probed steps after 0."""
    if not has_esd(tables):
        return "no eigenvalues (esd.parquet)"
    n = n_points(tables)
    if n < 2 or len(nonzero_steps(tables)) < 2:
        return "needs several grid points and several probed steps"
    return None if n <= MAX_ROWS else f"{n} grid points (> {MAX_ROWS} rows)"


def _draw_grid(axes: np.ndarray, reps: pd.DataFrame, cols: Sequence[int], data: pd.DataFrame, scale: str) -> None:
    """Fill row i, column j with the cell of representative run i at step cols[j]."""
    for i, rep in reps.iterrows():
        for j, s in enumerate(cols):
            ax = axes[i, j]
            cell = data[(data["run_dir"] == rep["run_dir"]) & (data["step"] == s)]
            if cell.empty:
                ax.text(0.5, 0.5, "not probed", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            _cells.draw_cell(ax, cell, scale)
            if i == 0:
                ax.set_title(rf"$t={s}$")
            ax.set_ylabel((f"{rep['series']}\ndensity" if rep["series"] else "density") if j == 0 else "")
            if i != len(reps) - 1:
                ax.set_xlabel("")


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    scale: str = "log",
    bins: Optional[int] = None,
    layer: Optional[str] = None,
    name: str = NAME,
) -> pd.DataFrame:
    """ESD cells of W_t^T W_t of ``layer`` (default: the sweep's first), one row per grid point
    (its representative run), one column per probed step > 0 (at most 6, log-spaced, unless
    ``steps`` is given), each over the ESD of W_0 with the MP law, lambda_+ and the
    PL_Alpha_KS fit.  Returns the histogram rows as :func:`htsweep.figures.esd.draw` does
    (one ``scale``)."""
    if tables.esd is None:
        raise ValueError(f"{NAME}: the sweep has no eigenvalues (esd.parquet)")
    if scale not in _cells.SCALES:
        raise ValueError(f"{NAME}: scale must be one of {_cells.SCALES}, got {scale!r}")
    layer = choose_layer(tables, layer)
    reps = _cells.representative_runs(tables)
    summary = layer_rows(tables.summary, layer)
    probed = sorted(int(s) for s in summary.loc[summary["run_dir"].isin(reps["run_dir"]), "step"].unique())
    cols = list(steps) if steps is not None else subsample_steps([s for s in probed if s > 0] or [0], _cells.MAX_COLUMNS)
    picks = [(rep["series"], rep["run_dir"], s) for _, rep in reps.iterrows() for s in cols]
    data = _cells.esd_rows(tables, picks, (scale,), bins, layer)
    with style.style():
        fig, axes = style.new_figure(len(reps), len(cols), 3.2, 2.6)
        _draw_grid(axes, reps, cols, data, scale)
        _cells.legend(fig, axes)
        style.suptitle(fig, tables, _cells.title(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
