"""Weight normalisation against the sample size (seed 003, ``conf/experiment/mh_normalisation.yaml``):
sim(W, beta) = |<v1(W), beta>| (``sim_w_beta``) at each run's final step against the number of
training samples n (``data.n``, log x), one line per weight normalisation
(``weight_norm.name``: e.g. ``rows``, each row of W on the sphere, and ``sigma_rows``), one
panel per ``data.r`` (when it varies), mean +- std over seeds.  Any other varied grid column
joins the line labels.

Plotted data (the CSV): one row per (panel, series, n) with a finite mean: ``panel`` (its
label), ``series`` (the line's label), ``data.n``, ``step`` (the final step), the grid
columns, ``mean``, ``std``, ``count`` (of ``sim_w_beta`` over seeds).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import matplotlib as mpl
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import choose_layer, final_rows, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "normalisation"
DOC = "seed 003: sim(W, beta) at the final step vs n, per weight normalisation"
X = "data.n"
HUE = "weight_norm.name"
PANEL = "data.r"
METRIC = "sim_w_beta"


def applies(tables: SweepTables) -> Optional[str]:
    """None when n and the weight normalisation both vary and sim(W, beta) has values."""
    if X not in tables.grid:
        return "the sample size data.n does not vary"
    if HUE not in tables.grid:
        return "the weight normalisation does not vary"
    if al.missing_metrics(tables, (METRIC,)):
        return f"no values of {METRIC}"
    return None


def plotted_data(tables: SweepTables, layer: Optional[str], step: Optional[int] = None, panel: str = PANEL) -> pd.DataFrame:
    """The table of the module docstring (panels per ``panel`` when it varies), sorted by
    panel, series and n."""
    grid = list(tables.grid)
    rows = layer_rows(final_rows(tables.aggregate, step), layer)
    panel_cols = [panel] if panel in grid else []
    series_cols = [HUE] + [c for c in grid if c not in (X, HUE, panel)]
    rows = al.with_series(rows, [c for c in series_cols if c in grid])
    rows["panel"] = [al.label(r, panel_cols) for _, r in rows.iterrows()] if panel_cols else "all runs"
    long = al.long_stats(rows, ["panel", "series", X, "step", *[c for c in grid if c != X]], (METRIC,))
    if long.empty:
        raise ValueError(f"{NAME}: no finite {METRIC} at the final step")
    long = long.drop(columns="metric")
    sort = [*panel_cols, HUE, *[c for c in series_cols if c != HUE and c in grid], X]
    return long.sort_values(sort, kind="stable").reset_index(drop=True)


def _order(data: pd.DataFrame, column: str, by: List[str]) -> List[str]:
    first = data.drop_duplicates(column)
    return list(first.sort_values(by, kind="stable")[column]) if by else list(first[column])


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    layer: Optional[str] = None,
    step: Optional[int] = None,
    panel: str = PANEL,
    name: str = NAME,
) -> pd.DataFrame:
    """The figure of the module docstring for ``layer`` (default: the sweep's first) at
    ``step`` (default: each run's final step), one panel per value of ``panel`` (default
    ``data.r``) when it varies.  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    data = plotted_data(tables, layer, step, panel)
    grid = list(tables.grid)
    panels = _order(data, "panel", [panel] if panel in grid else [])
    series = _order(data, "series", [c for c in grid if c not in (X, panel)])
    colors = dict(zip(series, style.palette(len(series))))
    ncols = min(len(panels), 3)
    with style.style():
        fig, axes = style.new_figure(math.ceil(len(panels) / ncols), ncols, 4.0, 3.2)
        for ax, label in zip(axes.flat, panels):
            for s in series:
                d = data[(data["panel"] == label) & (data["series"] == s)]
                if d.empty:
                    continue
                std = d["std"].fillna(0.0)
                ax.plot(d[X], d["mean"], marker="o", ms=4, color=colors[s])
                ax.fill_between(d[X], d["mean"] - std, d["mean"] + std, color=colors[s], alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.set_xlabel(r"training samples $n$")
            ax.set_ylabel(al.METRIC_LABELS[METRIC] if ax is axes.flat[0] else "")
            if len(panels) > 1:
                ax.set_title(label, fontsize=11)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        handles = [mpl.lines.Line2D([], [], color=colors[s], marker="o", label=s) for s in series]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        at = "the final step" if step is None else f"step {step}"
        style.suptitle(fig, tables, f"mean $\\pm$ std over seeds at {at}", layer_note(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
