"""Gradient anatomy at initialisation against the spike exponent nu (seed 001, Sonthalia, Murray
& Montufar, "Low Rank Gradients and Where to Find Them", NeurIPS 2025, its figures of the
gradient's alignment and of the decomposition G = S1 + S1' + S2 + E against nu;
``conf/experiment/grad_anatomy.yaml``).

One row of panels per combination of the grid's other columns (the loss and the output scale:
3 losses x 2 scales = 6 rows), the row's settings in its first panel's title:

* first panel: where the top right singular vector v1(G_0) of the first gradient points, against
  nu = ``data.nu``: ``grad_residue_align`` |<v1(G), X_B^T r>| (solid) and ``grad_data_align``
  |<v1(G), q>| (dashed), one colour per student activation (``model.activation``).  The
  residue direction wins for small nu, the data spike q for large nu.
* one panel per activation: the operator norms of the four parts, ``decomp_s1`` ||S1||,
  ``decomp_s1p`` ||S1'||, ``decomp_s2`` ||S2||, ``decomp_e`` ||E|| (log y, one colour per
  part; the norm panels of a row share their y range).

Values are at step 0 (G_0, the gradient at initialisation), mean +- std over seeds.

Plotted data (the CSV): one row per (grid point, metric) with a finite mean: ``row`` (the
panel row's label), ``series`` (the activation's label), ``step``, the grid columns,
``metric`` (one of :data:`ALIGNMENTS` and :data:`NORMS`), ``mean``, ``std``, ``count``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "grad_anatomy"
DOC = "seed 001: gradient anatomy at init (alignments, ||S1||, ||S1'||, ||S2||, ||E||) vs nu"
X = "data.nu"
HUE = "model.activation"
ALIGNMENTS = (("grad_residue_align", "-"), ("grad_data_align", "--"))
NORMS = ("decomp_s1", "decomp_s1p", "decomp_s2", "decomp_e")
NEEDED = (*(m for m, _ in ALIGNMENTS), *NORMS)
_NORM_COLORS = ("tab:red", "tab:purple", "tab:brown", "0.2")  # apart from the activation colours
# Rows: the loss first, then the output scale, then any other grid column.
ROW_FIRST = ("loss.name", "model.output_scale")


def applies(tables: SweepTables) -> Optional[str]:
    """None when nu varies and the alignment probe's columns hold values."""
    if X not in tables.grid:
        return "the spike exponent data.nu does not vary"
    missing = al.missing_metrics(tables, NEEDED)
    if missing:
        return f"no alignment-probe values of {missing} (probe.alignment=true)"
    return None


def plotted_data(tables: SweepTables, step: int, layer: Optional[str]) -> pd.DataFrame:
    """The long table of the module docstring, rows in grid order."""
    agg = layer_rows(tables.aggregate[tables.aggregate["step"] == step], layer)
    if agg.empty:
        raise ValueError(f"{NAME}: no aggregate rows at step {step}")
    hue = [HUE] if HUE in tables.grid else []
    row_cols = row_columns(tables.grid)
    agg = agg.copy()
    agg["row"] = [al.label(r, row_cols) for _, r in agg.iterrows()] if row_cols else "all runs"
    if hue:
        agg = al.with_series(agg, hue)
    else:
        act = al.constant(tables.summary, HUE)
        agg["series"] = al.label(pd.Series({HUE: act}), [HUE]) if act is not None else "all runs"
    long = al.long_stats(agg, ["row", "series", "step", *tables.grid], NEEDED)
    if long.empty:
        raise ValueError(f"{NAME}: no finite alignment values at step {step}")
    return long


def row_columns(grid: Sequence[str]) -> List[str]:
    """The grid columns that make the panel rows: every one but nu and the activation, the
    loss and the output scale first."""
    rest = [c for c in grid if c not in (X, HUE)]
    return [c for c in ROW_FIRST if c in rest] + [c for c in rest if c not in ROW_FIRST]


def _row_order(long: pd.DataFrame, grid: List[str]) -> List[str]:
    cols = row_columns(grid)
    first = long.drop_duplicates("row")
    return list((first.sort_values(cols, kind="stable") if cols else first)["row"])


def draw(
    tables: SweepTables, out_dir: Path, *, step: int = 0, layer: Optional[str] = None, name: str = NAME
) -> pd.DataFrame:
    """The figure of the module docstring at ``step`` (default 0: the gradient at
    initialisation) for ``layer`` (default: the sweep's first).  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    long = plotted_data(tables, step, layer)
    rows = _row_order(long, list(tables.grid))
    series = al.ordered(long["series"])
    colors = dict(zip(series, style.palette(len(series))))
    with style.style():
        fig, axes = style.new_figure(len(rows), 1 + len(series), 3.3, 2.5)
        for i, row in enumerate(rows):
            d = long[long["row"] == row]
            ax = axes[i, 0]
            for s in series:
                for metric, ls in ALIGNMENTS:
                    ds = d[(d["series"] == s) & (d["metric"] == metric)].sort_values(X)
                    if ds.empty:
                        continue
                    ax.plot(ds[X], ds["mean"], ls=ls, marker="o", ms=3, color=colors[s])
                    std = ds["std"].fillna(0.0)
                    ax.fill_between(ds[X], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.15, lw=0)
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel("alignment of $v_1(G_0)$")
            ax.set_title(row, fontsize=10)
            norm_axes = axes[i, 1:]
            for ax_n, s in zip(norm_axes, series):
                for metric, color in zip(NORMS, _NORM_COLORS):
                    ds = d[(d["series"] == s) & (d["metric"] == metric)].sort_values(X)
                    ds = ds[ds["mean"] > 0]
                    if ds.empty:
                        continue
                    ax_n.plot(ds[X], ds["mean"], marker="s", ms=3, color=color)
                ax_n.set_yscale("log")
                ax_n.set_title(f"{s}: operator norms", fontsize=10)
            _share_y(norm_axes)
            for a in axes[i]:
                a.set_xlabel(r"$\nu$" if i == len(rows) - 1 else "")
        handles = [mpl.lines.Line2D([], [], color=colors[s], label=s) for s in series]
        handles += [mpl.lines.Line2D([], [], color="0.3", ls=ls, label=al.METRIC_LABELS[m]) for m, ls in ALIGNMENTS]
        handles += [
            mpl.lines.Line2D([], [], color=c, marker="s", ms=3, label=al.METRIC_LABELS[m])
            for m, c in zip(NORMS, _NORM_COLORS)
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5))
        style.suptitle(fig, tables, f"gradient anatomy at step {step}, mean over seeds", layer_note(tables, layer))
        style.save(fig, long, out_dir, name)
    return long


def _share_y(axes: np.ndarray) -> None:
    """One y range (the union of their own) for the log-scale norm panels of a row."""
    used = [a for a in axes if a.lines]
    if not used:
        return
    lows, highs = zip(*(a.get_ylim() for a in used))
    for a in axes:
        a.set_ylim(min(lows), max(highs))
