"""Weight normalisation against the sample size (seed 003, ``conf/experiment/mh_normalisation.yaml``):
at each run's final step, against the number of training samples n (``data.n``, log x), one
line per weight normalisation (``weight_norm.name``: ``rows``, each row of W on the sphere, and
``sigma_rows``, on the Sigma-sphere), mean +- std over seeds:

* row 1: sim(W, beta) = |<v1(W), beta>| (``sim_w_beta``), the Euclidean overlap the issue asks
  for;
* row 2: the same in the inputs' geometry, |<v1(W Sigma^(1/2)), Sigma^(1/2) beta>| normalised
  (``sim_w_beta_sigma``: under a spiked Sigma the Euclidean v1(W) follows the high-variance
  direction, and Sigma-normalised rows along the spike are shorter by sqrt(1 + kappa));
* row 3: the readout's test loss (``test_loss``);

(rows whose metric has no values are left out), one column of panels per ``data.r`` (when it
varies).  Any other varied grid column joins the line labels.

Plotted data (the CSV): one row per (metric, panel, series, n) with a finite mean: ``metric``,
``panel`` (its label), ``series`` (the line's label), ``data.n``, ``step`` (the final step),
the grid columns, ``mean``, ``std``, ``count`` (over seeds).
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
METRICS = (METRIC, "sim_w_beta_sigma", "test_loss")


def applies(tables: SweepTables) -> Optional[str]:
    """None when n and the weight normalisation both vary and sim(W, beta) has values."""
    if X not in tables.grid:
        return "the sample size data.n does not vary"
    if HUE not in tables.grid:
        return "the weight normalisation does not vary"
    if al.missing_metrics(tables, (METRIC,)):
        return f"no values of {METRIC}"
    return None


def plotted_data(
    tables: SweepTables, layer: Optional[str], step: Optional[int] = None, panel: str = PANEL
) -> pd.DataFrame:
    """The table of the module docstring (panels per ``panel`` when it varies), sorted by
    panel, series and n."""
    grid = list(tables.grid)
    rows = layer_rows(final_rows(tables.aggregate, step), layer)
    panel_cols = [panel] if panel in grid else []
    series_cols = [HUE] + [c for c in grid if c not in (X, HUE, panel)]
    rows = al.with_series(rows, [c for c in series_cols if c in grid])
    rows["panel"] = [al.label(r, panel_cols) for _, r in rows.iterrows()] if panel_cols else "all runs"
    long = al.long_stats(rows, ["panel", "series", X, "step", *[c for c in grid if c != X]], METRICS)
    if long.empty or METRIC not in set(long["metric"]):
        raise ValueError(f"{NAME}: no finite {METRIC} at the final step")
    long["metric"] = pd.Categorical(long["metric"], categories=list(METRICS), ordered=True)
    sort = ["metric", *panel_cols, HUE, *[c for c in series_cols if c != HUE and c in grid], X]
    long = long.sort_values(sort, kind="stable").reset_index(drop=True)
    long["metric"] = long["metric"].astype(str)
    return long


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
    metrics = [m for m in METRICS if m in set(data["metric"])]
    ns = sorted(float(n) for n in data[X].unique())
    series = _order(data, "series", [c for c in grid if c not in (X, panel)])
    colors = dict(zip(series, style.palette(len(series))))
    with style.style():
        fig, axes = style.new_figure(len(metrics), len(panels), 4.0, 3.2)
        for i, metric in enumerate(metrics):
            for j, label in enumerate(panels):
                ax = axes[i, j]
                for s in series:
                    d = data[(data["metric"] == metric) & (data["panel"] == label) & (data["series"] == s)]
                    if d.empty:
                        continue
                    std = d["std"].fillna(0.0)
                    ax.plot(d[X], d["mean"], marker="o", ms=4, color=colors[s])
                    ax.fill_between(d[X], d["mean"] - std, d["mean"] + std, color=colors[s], alpha=0.2, lw=0)
                ax.set_xscale("log")
                ax.set_xticks(ns, [f"{n:g}" for n in ns])  # the sampled n only: no crowded minor labels
                ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
                ax.set_xlabel(r"training samples $n$" if i == len(metrics) - 1 else "")
                ax.set_ylabel(al.METRIC_LABELS.get(metric, metric) if j == 0 else "")
                if len(panels) > 1 and i == 0:
                    ax.set_title(label, fontsize=11)
        handles = [mpl.lines.Line2D([], [], color=colors[s], marker="o", label=s) for s in series]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        at = "the final step" if step is None else f"step {step}"
        style.suptitle(fig, tables, f"mean $\\pm$ std over seeds at {at}", layer_note(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
