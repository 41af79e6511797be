"""Fig. 2 / 4 (also 10-11, 24, 31): the ESD of W_t^T W_t, linear and log-log, at step 0 and at
the chosen step(s), with the Marchenko-Pastur law of W_0 and its edge lambda_+ and the
power-law tail fitted by PL_Alpha_KS (cells: :mod:`htsweep.figures._cells`).  When a few
outliers squeeze the bulk of a linear panel into its first bins, the panel gets an inset with
the bulk alone (clipped below the outliers, as Fig. 7's middle column clips them)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import pandas as pd

from htsweep.figures import _cells, style
from htsweep.figures.select import choose_layer, has_esd, layer_rows, n_points, subsample_steps
from htsweep.sweep.tables import SweepTables

NAME = "esd"
DOC = "Fig. 2/4: ESD panels, linear and log-log, t=0 vs t"
MAX_PANELS = 8  # grid points beyond which the figure is not chosen automatically


def applies(tables: SweepTables) -> Optional[str]:
    """None when eigenvalues were stored for at most :data:`MAX_PANELS` grid points."""
    if not has_esd(tables):
        return "no eigenvalues (esd.parquet)"
    n = n_points(tables)
    return None if n <= MAX_PANELS else f"{n} grid points (> {MAX_PANELS} panels)"


def picks(tables: SweepTables, steps: Optional[Sequence[int]], layer: Optional[str]) -> List[_cells.Pick]:
    """(series, run_dir, step) per panel: for each grid point's representative run, ``steps``
    (those it probed), else every probed step > 0 (at most 6) when the sweep has one grid
    point (Fig. 4), else the run's last probed step (Fig. 2)."""
    reps = _cells.representative_runs(tables)
    probed = layer_rows(tables.summary, layer).groupby("run_dir")["step"].apply(lambda s: sorted(int(v) for v in s))
    out: List[_cells.Pick] = []
    for _, rep in reps.iterrows():
        have = [s for s in probed.get(rep["run_dir"], []) if s > 0] or [0]
        if steps is not None:
            chosen = [s for s in steps if s in have]
        elif len(reps) == 1:
            chosen = subsample_steps(have, _cells.MAX_COLUMNS)
        else:
            chosen = [have[-1]]
        out += [(rep["series"], rep["run_dir"], s) for s in chosen]
    return out


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    bins: Optional[int] = None,
    layer: Optional[str] = None,
    name: str = NAME,
    scales: Sequence[str] = _cells.SCALES,
    inset: bool = True,
) -> pd.DataFrame:
    """One row of two panels (linear, log-log) per :func:`picks` entry: the ESD of
    W_t^T W_t of ``layer`` (default: the sweep's first, named in the title when there are
    several) over the ESD of W_0, with the MP law of W_0, its edge and the PL_Alpha_KS fit.
    With ``inset`` (and a linear panel but no truncated column), a linear panel whose bulk
    the outliers squeeze (:func:`_cells.squeezed`) gets the bulk view as an inset.

    Returns the histogram rows (series, run_dir, step, esd_of_step, scale, bin_lo, bin_hi,
    count, density, n_eigs, layer) with each panel's :data:`_cells.PROBE_VALUES`; the inset's
    rows have ``scale == "bulk"`` (:func:`_cells.bulk_upper`)."""
    if tables.esd is None:
        raise ValueError(f"{NAME}: the sweep has no eigenvalues (esd.parquet)")
    layer = choose_layer(tables, layer)
    inset = inset and "linear" in scales and "truncated" not in scales
    data_scales = (*scales, "bulk") if inset else tuple(scales)
    data = _cells.esd_rows(tables, picks(tables, steps, layer), data_scales, bins, layer)
    panels = data[["series", "run_dir", "step"]].drop_duplicates().reset_index(drop=True)
    with style.style():
        fig, axes = style.new_figure(len(panels), len(scales), 4.2, 3.0)
        for i, p in panels.iterrows():
            cell = data[(data["run_dir"] == p["run_dir"]) & (data["step"] == p["step"])]
            for j, scale in enumerate(scales):
                _cells.draw_cell(axes[i, j], cell[cell["scale"] == scale], scale)
                truncated = cell[cell["scale"] == "bulk"]
                if inset and scale == "linear" and _cells.squeezed(cell[cell["scale"] == scale], truncated):
                    _cells.draw_truncated_inset(axes[i, j], truncated)
                head = f"{p['series']}: " if p["series"] else ""
                axes[i, j].set_title(f"{head}$t={int(p['step'])}$, {_cells.SCALE_NAMES[scale]}")
        _cells.legend(fig, axes)
        style.suptitle(fig, tables, _cells.title(tables, layer))
        style.save(fig, data, out_dir, name)
    return data

