"""Training curves of the alignment probe against step (seed 001, Sonthalia, Murray & Montufar,
NeurIPS 2025: the notebook's "ReLU vs Sigmoid" and "NTK vs Meanfield" training plots;
``conf/experiment/relu_vs_sigmoid.yaml``, ``conf/experiment/ntk_vs_mf.yaml``).

One panel per quantity, each against the probed step t, one line per series (the grid's
varied columns; seeds are averaged: mean +- std):

* ``stage1_loss``: the network's own training loss (log y; the notebook's train loss),
* ``net_test_loss``: the same loss on the test split (log y),
* ``grad_residue_align``: |<v1(G_t), X_B^T r>| / ||X_B^T r||, the gradient's residue alignment,
* ``grad_data_align``: |<v1(G_t), q>|, its alignment with the data spike q,
* ``grad_init_align``: |<v1(G_t), v1(G_0)>|, how far the top gradient direction has turned,
* ``energy``: ||W Q||_F / ||W||_F, the share of W in span(X^T y, q),
* ``w_q_align``: |<v1(W_t), q>|,
* ``sim_w_beta``: |<v1(W_t), beta>|, the weights' alignment with the teacher,
* ``grad_norm``: ||G_t||_2 (log y).

A quantity no run recorded is left out (no empty panels).  With several varied columns and
many series, the last grid column with at most four values sets the line style and the
others the colour.

Plotted data (the CSV): one row per (series, metric, step) with a finite mean: ``series``,
``step``, the grid columns, ``metric``, ``mean``, ``std``, ``count``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional, Sequence

import matplotlib as mpl
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "alignment_curves"
DOC = "seed 001: train/test loss, gradient and weight alignments vs step"
METRICS = (
    "stage1_loss",
    "net_test_loss",
    "grad_residue_align",
    "grad_data_align",
    "grad_init_align",
    "energy",
    "w_q_align",
    "sim_w_beta",
    "grad_norm",
)
LOG_Y = ("stage1_loss", "net_test_loss", "grad_norm")
# The alignment probe's own columns; the figure fits a sweep that recorded some of them.
PROBE_COLUMNS = ("grad_residue_align", "grad_data_align", "energy", "w_q_align")
_STYLES = ("-", "--", ":", "-.")
_VALUE_COLUMNS = ("series", "step", "metric", "mean", "std", "count")


def applies(tables: SweepTables) -> Optional[str]:
    """None when the alignment probe recorded values and more than one step was probed."""
    if len(al.missing_metrics(tables, PROBE_COLUMNS)) == len(PROBE_COLUMNS):
        return "no alignment-probe values (probe.alignment=true)"
    if tables.summary["step"].nunique() < 2:
        return "only one probed step"
    return None


def plotted_data(tables: SweepTables, metrics: Sequence[str], layer: Optional[str]) -> pd.DataFrame:
    """The long table of the module docstring, sorted by metric (``metrics`` order), series
    and step."""
    agg = al.with_series(layer_rows(tables.aggregate, layer), list(tables.grid))
    long = al.long_stats(agg, ["series", "step", *tables.grid], metrics)
    if long.empty:
        raise ValueError(f"{NAME}: none of {list(metrics)} has a finite value")
    order = {m: i for i, m in enumerate(metrics)}
    long = long.sort_values(
        ["metric", "series", "step"], kind="stable", key=lambda s: s.map(order) if s.name == "metric" else s
    )
    return long.reset_index(drop=True)


def style_column(d: pd.DataFrame, grid: Sequence[str]) -> Optional[str]:
    """The grid column drawn as line style: the last one with two to four values, when
    there are several varied columns and more than four series; else None."""
    if len(grid) < 2 or d["series"].nunique() <= 4:
        return None
    for c in reversed(list(grid)):
        if 2 <= d[c].nunique() <= len(_STYLES):
            return c
    return None


def _series_order(d: pd.DataFrame, grid: Sequence[str]) -> List[str]:
    first = d.drop_duplicates("series")
    return list((first.sort_values(list(grid), kind="stable") if grid else first)["series"])


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    metrics: Sequence[str] = METRICS,
    layer: Optional[str] = None,
    name: str = NAME,
) -> pd.DataFrame:
    """The panels of the module docstring for ``layer`` (default: the sweep's first; the
    losses are step-level, the same on every layer).  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    grid = list(tables.grid)
    long = plotted_data(tables, metrics, layer)
    shown = [m for m in metrics if m in set(long["metric"])]
    dashed = style_column(long, grid)
    color_cols = [c for c in grid if c != dashed]
    long_c = long.assign(_color=[al.label(r, color_cols) for _, r in long.iterrows()] if color_cols else "all runs")
    colors_order = _series_order(long_c.assign(series=long_c["_color"]), color_cols)
    colors = dict(zip(colors_order, style.palette(len(colors_order))))
    dashes = dict(zip(al.ordered(long[dashed]), _STYLES)) if dashed else {}
    many = long["step"].nunique() > 30
    with style.style():
        ncols = min(3, len(shown))
        fig, axes = style.new_figure(math.ceil(len(shown) / ncols), ncols, 3.8, 2.9)
        for ax, m in zip(axes.flat, shown):
            dm = long_c[long_c["metric"] == m]
            for s in _series_order(dm, grid):
                ds = dm[dm["series"] == s]
                c = colors[ds["_color"].iloc[0]]
                ls = dashes[ds[dashed].iloc[0]] if dashed else "-"
                ax.plot(ds["step"], ds["mean"], color=c, ls=ls, marker=None if many else ".", ms=3, lw=1.3)
                std = ds["std"].fillna(0.0)
                if (std > 0).any():
                    low = ds["mean"] - std
                    if m in LOG_Y:
                        low = low.where(low > 0, ds["mean"])
                    ax.fill_between(ds["step"], low, ds["mean"] + std, color=c, alpha=0.15, lw=0)
            if m in LOG_Y and (dm["mean"] > 0).all():
                ax.set_yscale("log")
            ax.set_xlabel(r"step $t$")
            ax.set_title(al.METRIC_LABELS.get(m, m), fontsize=10)
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        handles = [mpl.lines.Line2D([], [], color=colors[s], label=s) for s in colors_order]
        if dashed:
            handles += [
                mpl.lines.Line2D([], [], color="0.3", ls=ls, label=al.label(pd.Series({dashed: v}), [dashed]))
                for v, ls in dashes.items()
            ]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        seeds = "mean $\\pm$ std over seeds" if _several_seeds(long) else ""
        style.suptitle(fig, tables, seeds, layer_note(tables, layer))
        style.save(fig, long, out_dir, name)
    return long


def _several_seeds(long: pd.DataFrame) -> bool:
    return bool((long["count"] > 1).any())
