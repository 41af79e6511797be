"""Fig. 6 (Sec. 5.3; issue 11): per-layer power-law exponents of a deep network, for the
paper's "heavy tails without gradient noise" claim (full-batch training makes the layers'
ESDs heavy-tailed too).

Per grid point (one row of panels; at most ``max_points`` (:data:`MAX_POINTS`), the first in
grid order):

* PL_Alpha_Hill and PL_Alpha_KS against the step, one line per layer, coloured by its depth
  in that network (viridis: the first layer dark, the last yellow-green; ``layer_index`` over
  the grid point's largest ``layer_index``);
* PL_Alpha_Hill and PL_Alpha_KS against the layer's depth (``layer_index``) at the first and
  the last probed step (``steps=[...]`` to choose), one line per step, with +- std error bars.

Every value is the mean over the grid point's seeds from the aggregate table
(``pl_alpha_hill_mean``, ``_std``, ``_count``; ``layer_index_mean`` for the depth, the
summary's ``layer_index`` for records without it).  A layer whose ESD was not fitted
(``fit_status`` not ``ok``, e.g. a 10-class classifier) has no value and no point.
``layers=[...]`` restricts the layers (module names).

CSV columns (one row per plotted value): ``panel`` (``step``: against the step; ``depth``:
against the layer index), ``series`` (the grid point's label), the grid columns, ``layer``,
``layer_index``, ``depth`` (layer_index / the grid point's largest; the line's colour),
``step``, ``metric`` (``pl_alpha_hill`` or ``pl_alpha_ks``), ``mean``, ``std``, ``count``
(seeds with a value) - each the aggregate table's value at that grid point, step and layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.sweep.tables import SweepTables

NAME = "layer_alpha"
DOC = "Fig. 6: per-layer PL_Alpha_Hill / KS vs step and vs depth"
METRICS = ("pl_alpha_hill", "pl_alpha_ks")
MAX_POINTS = 4  # grid points drawn (rows of panels)
LEGEND_LAYERS = 8  # more layers than this: a depth colour bar instead of a legend
# viridis without its last tenth: the deepest layer stays visible on white
DEPTH_CMAP = mpl.colors.ListedColormap(mpl.colormaps["viridis"](np.linspace(0.0, 0.9, 256)), name="depth")


def applies(tables: SweepTables) -> Optional[str]:
    """None when the sweep analyses more than one layer and recorded a power-law exponent."""
    if len(tables.layers) < 2:
        return "one analysed layer (a deep network has several)"
    if not any(f"{m}_mean" in tables.aggregate.columns for m in METRICS):
        return "no power-law exponents in the aggregate table"
    return None


def summary_indices(tables: SweepTables) -> Dict[str, float]:
    """Each layer's ``layer_index`` from the summary (its order of first appearance when the
    records lack it)."""
    s = tables.summary
    out: Dict[str, float] = {}
    if "layer_index" in s.columns:
        first = s.drop_duplicates("layer").set_index("layer")["layer_index"]
        out = {str(k): float(v) for k, v in first.items() if pd.notna(v)}
    return {name: out.get(name, float(i)) for i, name in enumerate(tables.layers)}


def plotted_data(
    tables: SweepTables, layers: Optional[Sequence[str]] = None, steps: Optional[Sequence[int]] = None,
    max_points: int = MAX_POINTS,
) -> pd.DataFrame:  # fmt: skip
    """The rows of the module docstring's CSV."""
    agg = tables.aggregate
    present = [m for m in METRICS if f"{m}_mean" in agg.columns]
    if not present:
        raise ValueError(f"{NAME}: none of {list(METRICS)} is in the aggregate table")
    if layers is not None:
        unknown = [name for name in layers if name not in tables.layers]
        if unknown:
            raise ValueError(f"{NAME}: no layer {unknown[0]!r} in the sweep; its layers: {', '.join(tables.layers)}")
    rows = agg if layers is None else agg[agg["layer"].isin(list(layers))]
    rows = style.add_series(rows, tables.grid, default="")
    if tables.grid:
        points = rows.drop_duplicates(tables.grid)[tables.grid]
        if len(points) > max_points:
            rows = rows.merge(points.head(max_points), on=tables.grid, how="inner")
    fallback = rows["layer"].map(summary_indices(tables))
    if "layer_index_mean" in rows.columns:
        rows = rows.assign(layer_index=rows["layer_index_mean"].fillna(fallback))
    else:
        rows = rows.assign(layer_index=fallback)
    deepest = rows.groupby("series", sort=False)["layer_index"].transform("max")
    rows = rows.assign(depth=np.where(deepest > 0, rows["layer_index"] / deepest.where(deepest > 0, 1.0), 0.0))
    keep_cols = ["series", *tables.grid, "layer", "layer_index", "depth", "step"]
    long = al.long_stats(rows, keep_cols, present)  # rows with a value: a positive count
    if long.empty:
        raise ValueError(f"{NAME}: no layer has a fitted power-law exponent")
    depth = []
    for _, g in long.groupby("series", sort=False):
        probed = sorted(int(s) for s in g["step"].unique())
        at = list(dict.fromkeys(int(s) for s in steps)) if steps is not None else sorted({probed[0], probed[-1]})
        depth.append(g[g["step"].isin(at)].assign(panel="depth"))
    out = pd.concat([long.assign(panel="step"), *depth], ignore_index=True)
    out = out[["panel", *keep_cols, "metric", "mean", "std", "count"]]
    series_order = {s: i for i, s in enumerate(dict.fromkeys(rows["series"]))}
    out = out.assign(_s=out["series"].map(series_order), _p=(out["panel"] == "depth").astype(int))
    out = out.sort_values(["_s", "_p", "metric", "layer_index", "step"], kind="stable")
    return out.drop(columns=["_s", "_p"]).reset_index(drop=True)


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    layers: Optional[Sequence[str]] = None,
    steps: Optional[Sequence[int]] = None,
    max_points: int = MAX_POINTS,
    name: str = NAME,
) -> pd.DataFrame:
    """The panels of the module docstring; returns :func:`plotted_data`."""
    data = plotted_data(tables, layers, steps, max_points)
    metrics = [m for m in METRICS if m in set(data["metric"])]
    series = list(dict.fromkeys(data["series"]))
    shown_layers = list(dict.fromkeys(data.sort_values("layer_index", kind="stable")["layer"]))
    n_cols = 2 * len(metrics)
    with style.style():
        fig, axes = style.new_figure(len(series), n_cols, 3.8, 3.0)
        for i, s in enumerate(series):
            ds = data[data["series"] == s]
            for j, m in enumerate(metrics):
                label = style.METRIC_LABELS.get(m, m)
                ax = axes[i, j]
                d = ds[(ds["panel"] == "step") & (ds["metric"] == m)]
                for layer, g in d.groupby("layer", sort=False):
                    ax.plot(g["step"], g["mean"], marker="o", ms=3, lw=1.3, color=DEPTH_CMAP(float(g["depth"].iloc[0])), label=layer)
                ax.set_xlabel(r"step $t$")
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
                ax.set_ylabel(f"{s}\n{label}" if s and j == 0 else label)
                ax.set_title(f"{label} per layer", fontsize=10)
                ax = axes[i, len(metrics) + j]
                d = ds[(ds["panel"] == "depth") & (ds["metric"] == m)]
                at = sorted(int(v) for v in d["step"].unique())
                for k, t in enumerate(at):
                    g = d[d["step"] == t].sort_values("layer_index")
                    shade = str(0.6 - 0.6 * k / max(len(at) - 1, 1))
                    ax.errorbar(g["layer_index"], g["mean"], yerr=g["std"].fillna(0.0), marker="o", ms=4, lw=1.3, capsize=2,
                                color=shade, ls="--" if k == 0 and len(at) > 1 else "-", label=rf"$t={t}$")  # fmt: skip
                ax.set_xlabel("layer index (depth)")
                ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
                ax.set_ylabel(label)
                ax.set_title(f"{label} against depth", fontsize=10)
                ax.legend(fontsize=8, loc="best")
        if len(shown_layers) <= LEGEND_LAYERS:
            first = data.drop_duplicates("layer").set_index("layer")["depth"]
            handles = [mpl.lines.Line2D([], [], color=DEPTH_CMAP(float(first[n])), marker="o", ms=3, label=n) for n in shown_layers]
            fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), title="layer (colour: depth)")
        else:
            sm = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0.0, 1.0), cmap=DEPTH_CMAP)
            fig.colorbar(sm, ax=axes[:, : len(metrics)].ravel().tolist(), location="bottom", shrink=0.6,
                         label="layer depth: layer index / the last layer's (first layer 0)")  # fmt: skip
        style.suptitle(fig, tables, "per-layer power-law exponents, mean over seeds")
        style.save(fig, data, out_dir, name)
    return data
