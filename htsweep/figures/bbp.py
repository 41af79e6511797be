"""One GD step against the rank-one BBP predictions (the notes' section 3; Benaych-Georges &
Nadakuditi 2012, "The singular values and vectors of low rank perturbations of large
rectangular random matrices"; ``conf/experiment/one_step_bbp.yaml``), against the learning
rate eta (log x):

* left: the measured top eigenvalue ``lambda_max`` of W_1^T W_1 after one step (markers, mean
  +- std over seeds) and the prediction ``bbp_lambda_max_pred`` from G_0 (line), with the MP
  edge of W_0's law ``mp_lambda_plus`` (horizontal dotted line; log y);
* right: the measured sim(W_1, beta) = |<v1(W_1), beta>| (``sim_w_beta``, markers) and the
  prediction ``bbp_overlap_pred`` (line).

Both panels mark the threshold lr_c where the spike strength ``bbp_theta`` reaches
``bbp_theta_c`` = c_r^(1/4) (vertical dashed line): the median over the series' runs of each
run's own ``bbp_lr_c`` (the probe solves theta_eff(lr) = theta_c exactly from G_0 and W_0);
for records without that column, of lr * ``bbp_theta_c`` / ``bbp_theta`` (exact when theta
is linear in eta, theta = lr s1(G_0) / (sigma_W sqrt(m)): the notes' first-order strength),
over the runs with theta > 0.  One colour per series (the grid's columns other than eta).

Plotted data (the CSV): one row per (series, eta) at step 1: ``series``, ``lr``, ``step``,
the other grid columns, ``lambda_max_mean``, ``lambda_max_std``, ``lambda_max_count``,
``lambda_max_pred``, ``mp_lambda_plus`` (median over the series' step-1 rows),
``sim_w_beta_mean``, ``sim_w_beta_std``, ``sim_w_beta_count``, ``overlap_pred``, ``theta``,
``theta_c`` (means over seeds) and ``lr_c`` (the series' threshold, the same on its rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import matplotlib as mpl
import numpy as np
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "bbp"
DOC = "notes sec. 3: one GD step, lambda_max and sim(W, beta) vs eta against the BBP predictions"
STEP = 1
# aggregate column -> CSV column
_MEANS = {
    "lambda_max_mean": "lambda_max_mean",
    "lambda_max_std": "lambda_max_std",
    "lambda_max_count": "lambda_max_count",
    "bbp_lambda_max_pred_mean": "lambda_max_pred",
    "sim_w_beta_mean": "sim_w_beta_mean",
    "sim_w_beta_std": "sim_w_beta_std",
    "sim_w_beta_count": "sim_w_beta_count",
    "bbp_overlap_pred_mean": "overlap_pred",
    "bbp_theta_mean": "theta",
    "bbp_theta_c_mean": "theta_c",
}


def applies(tables: SweepTables) -> Optional[str]:
    """None when eta varies, step 1 was probed and the BBP constants are finite."""
    if "lr" not in tables.grid:
        return "the learning rate does not vary"
    if not (tables.summary["step"] == STEP).any():
        return "step 1 was not probed"
    missing = al.missing_metrics(tables, ("bbp_theta", "bbp_theta_c", "bbp_lambda_max_pred", "bbp_overlap_pred"))
    if missing:
        return f"no BBP predictions {missing} (probe.alignment=true, GD)"
    return None


def threshold(summary: pd.DataFrame) -> float:
    """The threshold learning rate of the module docstring: the median over runs of
    ``bbp_lr_c``, else of lr * theta_c / theta (NaN when neither is finite)."""
    runs = summary.drop_duplicates("run_dir")
    if "bbp_lr_c" in runs.columns:
        lr_c = pd.to_numeric(runs["bbp_lr_c"], errors="coerce").to_numpy(float)
        lr_c = lr_c[np.isfinite(lr_c)]
        if len(lr_c):
            return float(np.median(lr_c))
    theta = pd.to_numeric(runs["bbp_theta"], errors="coerce").to_numpy(float)
    theta_c = pd.to_numeric(runs["bbp_theta_c"], errors="coerce").to_numpy(float)
    lr = runs["lr"].to_numpy(float)
    ok = np.isfinite(theta) & np.isfinite(theta_c) & (theta > 0)
    return float(np.median(lr[ok] * theta_c[ok] / theta[ok])) if ok.any() else float("nan")


def plotted_data(tables: SweepTables, layer: Optional[str]) -> pd.DataFrame:
    """The table of the module docstring, sorted by series and eta."""
    others = [c for c in tables.grid if c != "lr"]
    agg = layer_rows(tables.aggregate[tables.aggregate["step"] == STEP], layer)
    if agg.empty:
        raise ValueError(f"{NAME}: no aggregate rows at step {STEP}")
    agg = al.with_series(agg, others)
    summary = al.with_series(layer_rows(tables.summary, layer), others)
    data = agg[["series", "lr", "step", *others]].copy()
    for src, dst in _MEANS.items():
        if src.endswith("_count"):
            data[dst] = agg[src].to_numpy(int) if src in agg.columns else 0
        else:
            data[dst] = agg[src].to_numpy(float) if src in agg.columns else np.nan
    step_rows = summary[summary["step"] == STEP]
    data["mp_lambda_plus"] = data["series"].map(step_rows.groupby("series")["mp_lambda_plus"].median())
    data["lr_c"] = data["series"].map({s: threshold(g) for s, g in summary.groupby("series")})
    cols = ["series", "lr", "step", *others, "lambda_max_mean", "lambda_max_std", "lambda_max_count", "lambda_max_pred",
            "mp_lambda_plus", "sim_w_beta_mean", "sim_w_beta_std", "sim_w_beta_count", "overlap_pred", "theta",
            "theta_c", "lr_c"]  # fmt: skip
    data = data[cols].sort_values(["series", "lr"], kind="stable").reset_index(drop=True)
    if not np.isfinite(data["lambda_max_mean"].to_numpy(float)).any():
        raise ValueError(f"{NAME}: no measured lambda_max at step {STEP}")
    return data


def _series_order(data: pd.DataFrame, others: List[str]) -> List[str]:
    first = data.drop_duplicates("series")
    return list((first.sort_values(others, kind="stable") if others else first)["series"])


def draw(tables: SweepTables, out_dir: Path, *, layer: Optional[str] = None, name: str = NAME) -> pd.DataFrame:
    """The two panels of the module docstring for ``layer`` (default: the sweep's first).
    Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    data = plotted_data(tables, layer)
    others = [c for c in tables.grid if c != "lr"]
    series = _series_order(data, others)
    colors = dict(zip(series, style.palette(len(series))))
    panels = (
        ("lambda_max", "lambda_max_pred", r"$\lambda_{\max}(W_1^\top W_1)$"),
        ("sim_w_beta", "overlap_pred", r"sim$(W_1, \beta^*)$"),
    )
    with style.style():
        fig, axes = style.new_figure(1, 2, 4.6, 3.6)
        for ax, (measured, predicted, ylabel) in zip(axes.flat, panels):
            for s in series:
                d = data[data["series"] == s]
                c = colors[s]
                std = d[f"{measured}_std"].fillna(0.0)
                yerr = std if (std > 0).any() else None
                ax.errorbar(d["lr"], d[f"{measured}_mean"], yerr=yerr, ls="none", marker="o", ms=4, color=c, capsize=2)
                ax.plot(d["lr"], d[predicted], color=c, lw=1.5)
                lr_c = d["lr_c"].iloc[0]
                if np.isfinite(lr_c):
                    ax.axvline(lr_c, color=c, ls="--", lw=1)
                if measured == "lambda_max":
                    edge = d["mp_lambda_plus"].iloc[0]
                    if np.isfinite(edge):
                        ax.axhline(edge, color=c, ls=":", lw=1.2)
            ax.set_xscale("log")
            if measured == "lambda_max" and (data[["lambda_max_mean", "lambda_max_pred"]] > 0).all(axis=None):
                ax.set_yscale("log")
            ax.set_xlabel(r"learning rate $\eta$")
            ax.set_ylabel(ylabel)
        handles = []
        if len(series) > 1:
            handles += [mpl.lines.Line2D([], [], color=colors[s], marker="o", ls="none", label=s) for s in series]
        handles += [
            mpl.lines.Line2D([], [], color="0.3", marker="o", ls="none", label="measured (step 1)"),
            mpl.lines.Line2D([], [], color="0.3", lw=1.5, label="BBP prediction"),
            mpl.lines.Line2D([], [], color="0.3", ls=":", label=r"MP edge $\lambda_+$ of $W_0$"),
            mpl.lines.Line2D([], [], color="0.3", ls="--", label=r"threshold $\eta_c$ ($\theta=\theta_c$)"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        lr_cs = [f"{v:.3g}" for v in data.drop_duplicates("series")["lr_c"] if np.isfinite(v)]
        note = rf"$\eta_c$ = {', '.join(lr_cs)}" if lr_cs else ""
        heading = f"one GD step: measured vs rank-one BBP prediction; {note}".rstrip("; ")
        style.suptitle(fig, tables, heading, layer_note(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
