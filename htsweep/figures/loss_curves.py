"""Fig. 28: train (solid) and test (dashed) loss against step t, one panel per varied n /
lambda (ridge) / rho_e / StepLR gamma, one line per value."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import matplotlib as mpl
import pandas as pd

from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_rows, nonzero_steps
from htsweep.sweep.tables import SweepTables

NAME = "loss_curves"
DOC = "Fig. 28: train/test loss vs step"
# The four one-factor studies of Fig. 28 (App. F.4).
STUDY_COLUMNS = ("data.n", "readout.reg_lambda", "data.label_noise_std", "lr_schedule.gamma")
LOSSES = (("train_loss", "-"), ("test_loss", "--"))
_VALUE_COLUMNS = ("series", "step", "panel", "loss", "mean", "std", "count")

Panel = Tuple[str, pd.DataFrame, List[str]]  # (name, aggregate rows, columns that label a line)


def applies(tables: SweepTables) -> Optional[str]:
    """None when a study column varies and at least two steps after 0 were probed."""
    if not any(c in tables.grid for c in STUDY_COLUMNS):
        return "none of n, reg_lambda, label_noise_std, StepLR gamma varies"
    if len(nonzero_steps(tables)) < 2:
        return "fewer than two probed steps after step 0"
    return None


def baseline(agg: pd.DataFrame, column: str) -> object:
    """The most common value of ``column`` over grid points (smallest on ties)."""
    per_point = agg.drop_duplicates([c for c in agg.columns if c == column or c in STUDY_COLUMNS])
    return per_point[column].mode().sort_values().iloc[0]


def panels(agg: pd.DataFrame, grid: List[str]) -> List[Panel]:
    """One panel per varied study column, holding the grid points where the other study
    columns sit at their :func:`baseline` (a one-factor-at-a-time study), its lines labelled by
    that column then any other column varying in the panel; without a study column, one
    panel of every grid point."""
    studies = [c for c in STUDY_COLUMNS if c in grid]
    if not studies:
        return [("grid", agg, list(grid))]
    out: List[Panel] = []
    for col in studies:
        d = agg
        for other in studies:
            if other != col:
                d = d[d[other] == baseline(agg, other)]
        varying = [c for c in grid if c != col and d[c].nunique(dropna=False) > 1]
        out.append((col, d, [col, *varying]))
    return out


def plotted_data(tables: SweepTables, layout: List[Panel]) -> pd.DataFrame:
    """One row per (panel, series, loss, step) with a finite mean: series, step, the grid
    columns, panel, loss, mean, std, count; panels in ``layout`` order."""
    parts = []
    for panel, d, varying in layout:
        d = style.add_series(d, varying)
        for loss, _ in LOSSES:
            if f"{loss}_mean" in d.columns:
                parts.append(
                    d[["series", "step", *tables.grid]].assign(
                        panel=panel,
                        loss=loss,
                        mean=d[f"{loss}_mean"].to_numpy(float),
                        std=d[f"{loss}_std"].to_numpy(float),
                        count=d[f"{loss}_count"].to_numpy(int),
                    )
                )
    if not parts:
        raise ValueError(f"{NAME}: no train_loss / test_loss in the aggregate table")
    long = pd.concat(parts, ignore_index=True)
    long = long[long["count"] > 0]
    if long.empty:
        raise ValueError(f"{NAME}: no finite losses")
    order = {p: i for i, (p, _, _) in enumerate(layout)}
    long = long.sort_values(
        ["panel", "series", "loss", "step"], kind="stable", key=lambda s: s.map(order) if s.name == "panel" else s
    )
    return long.reset_index(drop=True)


def sorted_series(d: pd.DataFrame) -> List[str]:
    """Series in the order of their grid values (numeric order, not text order)."""
    cols = [c for c in d.columns if c not in _VALUE_COLUMNS]
    first = d.drop_duplicates("series")
    return list((first.sort_values(cols, kind="stable") if cols else first)["series"])


def _draw_panel(ax, d: pd.DataFrame, panel: str) -> None:
    series = sorted_series(d)
    colors = dict(zip(series, style.palette(len(series))))
    for s in series:
        for loss, ls in LOSSES:
            ds = d[(d["series"] == s) & (d["loss"] == loss)]
            if ds.empty:
                continue
            ax.plot(ds["step"], ds["mean"], ls=ls, color=colors[s], marker="." if len(ds) < 30 else None)
            std = ds["std"].fillna(0.0)
            ax.fill_between(ds["step"], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.12, lw=0)
    ax.set_xlabel(r"step $t$")
    ax.set_ylabel("loss")
    ax.set_title(f"varying {style.LABELS.get(panel, panel)}" if panel != "grid" else "loss")
    handles = [mpl.lines.Line2D([], [], color=colors[s], label=s) for s in series]
    handles += [mpl.lines.Line2D([], [], color="0.3", ls=ls, label=loss.split("_")[0]) for loss, ls in LOSSES]
    ax.legend(handles=handles)


def draw(tables: SweepTables, out_dir: Path, *, name: str = NAME) -> pd.DataFrame:
    """Train (solid) and test (dashed) loss, mean +- std over seeds, against step t, one panel
    per :func:`panels` entry.  The losses are step-level (the same on every layer's row), so
    the sweep's first layer's rows are used.  Returns :func:`plotted_data`."""
    agg = layer_rows(tables.aggregate, choose_layer(tables))
    layout = panels(agg, list(tables.grid))
    long = plotted_data(tables, layout)
    with style.style():
        fig, axes = style.new_figure(1, len(layout), 4.2, 3.4)
        for ax, (panel, _, _) in zip(axes.flat, layout):
            _draw_panel(ax, long[long["panel"] == panel], panel)
        style.suptitle(fig, tables)
        style.save(fig, long, out_dir, name)
    return long
