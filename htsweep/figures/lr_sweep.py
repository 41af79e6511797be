"""Fig. 3 / 5 (also 19-20, 22-23, 30, 32): train / test loss, KTA, sim(W, beta*),
PL_Alpha_Hill and PL_Alpha_KS at the final step against the learning rate eta (log scale),
one line per optimizer (and per other varied config value), mean +- std over seeds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import matplotlib as mpl
import pandas as pd

from htsweep.figures import style
from htsweep.figures.select import choose_layer, final_rows, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "lr_sweep"
DOC = "Fig. 3/5: metrics at the final step vs eta"
METRICS = ("train_loss", "test_loss", "kta", "sim_w_beta", "pl_alpha_hill", "pl_alpha_ks")


def applies(tables: SweepTables) -> Optional[str]:
    """None when the learning rate varies, else why the figure does not fit."""
    return None if "lr" in tables.grid else "the learning rate does not vary"


def plotted_data(
    tables: SweepTables, step: Optional[int], metrics: Sequence[str], layer: Optional[str]
) -> pd.DataFrame:
    """One row per (metric, series, eta) with a finite value: series, lr, step, the other grid
    columns, metric, mean, std, count."""
    others = [c for c in tables.grid if c != "lr"]
    rows = style.add_series(layer_rows(final_rows(tables.aggregate, step), layer), others)
    present = [m for m in metrics if f"{m}_mean" in rows.columns]
    if not present:
        raise ValueError(f"{NAME}: none of the metrics {list(metrics)} is in the aggregate table")
    keep = ["series", "lr", "step", *others]
    long = pd.concat(
        [
            rows[keep].assign(
                metric=m,
                mean=rows[f"{m}_mean"].to_numpy(float),
                std=rows[f"{m}_std"].to_numpy(float),
                count=rows[f"{m}_count"].to_numpy(int),
            )
            for m in present
        ],
        ignore_index=True,
    )
    long = long[long["count"] > 0].sort_values(["metric", "series", "lr"], kind="stable").reset_index(drop=True)
    if long.empty:
        raise ValueError(f"{NAME}: no finite metric values at the chosen step")
    return long


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    step: Optional[int] = None,
    metrics: Sequence[str] = METRICS,
    layer: Optional[str] = None,
    name: str = NAME,
) -> pd.DataFrame:
    """Each metric (mean +- std over seeds) at ``step`` (default: each grid point's final
    step) against eta, one panel per metric with a finite value; per-layer metrics are those
    of ``layer`` (default: the sweep's first).  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    long = plotted_data(tables, step, metrics, layer)
    shown = [m for m in metrics if m in set(long["metric"])]  # no empty panels
    series = sorted(long["series"].unique())
    colors = dict(zip(series, style.palette(len(series))))
    with style.style():
        fig, axes = style.new_figure(math.ceil(len(shown) / 3), 3, 4.0, 3.2)
        for ax, m in zip(axes.flat, shown):
            for s, ds in long[long["metric"] == m].groupby("series"):
                std = ds["std"].fillna(0.0)
                ax.plot(ds["lr"], ds["mean"], marker="o", ms=4, color=colors[s])
                ax.fill_between(ds["lr"], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
            ax.set_xlabel(r"learning rate $\eta$")
            ax.set_ylabel(style.METRIC_LABELS.get(m, m))
        for ax in list(axes.flat)[len(shown):]:
            ax.set_visible(False)
        steps_shown = sorted(long["step"].unique())
        at = rf"$t={int(steps_shown[0])}$" if len(steps_shown) == 1 else ("final step" if step is None else f"step {step}")
        style.suptitle(fig, tables, f"mean $\\pm$ std over seeds at {at}", layer_note(tables, layer))
        handles = [mpl.lines.Line2D([], [], color=colors[s], marker="o", label=s) for s in series]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(series), 4))
        style.save(fig, long, out_dir, name)
    return long
