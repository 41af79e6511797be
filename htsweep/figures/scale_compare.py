"""The published code's readout scaling against the paper's equations (README, the erratum).

Drawn from a sweep run with ``probe.feature_scale=both`` (``fig3_compare``, ``fig5_compare``):
every run holds the readout losses and KTA under the paper's eq. (6)-(7), pre-activation
W x / sqrt(d) (plain columns), and under the public code's W x / d (``*_paper_code``).

Top row: train loss, test loss and KTA at the final step against eta, one colour per series
(optimizer), solid for the equations and dashed for the code, mean +- std over seeds.
Bottom row, one panel per scaling: test loss against PL_Alpha_Hill at the final step for the
grid points with ``lr_range[0] <= eta <= lr_range[1]`` (Sec. 5.2's "benign" range of FB-Adam,
0.01 <= eta <= 1), one marker per run, each grid point's mean labelled with its eta.  Sec. 5.2
reads "a decrease in [PL_Alpha_Hill] (a heavier-tailed ESD) improves generalization" there: a
positive rank correlation between PL_Alpha_Hill and the test loss.  The panel titles give
Spearman's rho over the runs (scipy.stats.spearmanr) per series, each value centred on its
seed's mean (a paired comparison of learning rates: a sweep's points of one seed share data and
initial weights); the CSV has them as rows with ``panel == "correlation"`` (rho, p_value and
the uncentred rho_raw, p_value_raw, n_runs), next to the plotted points.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Tuple

import matplotlib as mpl
import numpy as np
import pandas as pd
from scipy import stats

from htsweep.figures import style
from htsweep.figures.select import choose_layer, final_rows, layer_note, layer_rows
from htsweep.records import Status
from htsweep.records.schema import PAPER_CODE_SUFFIX
from htsweep.sweep.tables import SweepTables

NAME = "scale_compare"
DOC = "published code vs the paper's equations: readout losses, KTA, and test loss vs PL_Alpha_Hill"
SUFFIX = PAPER_CODE_SUFFIX
METRICS = ("train_loss", "test_loss", "kta")
SCALINGS = {"": "equations (W x / sqrt(d))", SUFFIX: "published code (W x / d)"}
LR_RANGE = (0.01, 1.0)  # Sec. 5.2's benign range of FB-Adam
TAIL = "pl_alpha_hill"


def applies(tables: SweepTables) -> Optional[str]:
    """None when eta varies and the runs recorded both scalings (probe.feature_scale=both)."""
    if "lr" not in tables.grid:
        return "the learning rate does not vary"
    if f"test_loss{SUFFIX}_mean" not in tables.aggregate.columns:
        return "the runs did not record the code's scaling (probe.feature_scale=both)"
    return None


def _curves(tables: SweepTables, layer: Optional[str], step: Optional[int]) -> pd.DataFrame:
    """Top-row data: one row per (metric, scaling, series, eta) with a finite mean."""
    others = [c for c in tables.grid if c != "lr"]
    rows = style.add_series(layer_rows(final_rows(tables.aggregate, step), layer), others)
    parts = []
    for suffix in SCALINGS:
        for m in METRICS:
            col = f"{m}{suffix}"
            if f"{col}_mean" not in rows.columns:
                continue
            parts.append(
                rows[["series", "lr", "step"]].assign(
                    panel="curve", metric=m, scaling=suffix or "equations",
                    mean=rows[f"{col}_mean"].to_numpy(float), std=rows[f"{col}_std"].to_numpy(float),
                    count=rows[f"{col}_count"].to_numpy(int),
                )  # fmt: skip
            )
    out = pd.concat(parts, ignore_index=True)
    out["scaling"] = out["scaling"].replace({SUFFIX: "paper_code"})
    return out[out["count"] > 0].sort_values(["metric", "scaling", "series", "lr"], kind="stable")


def _final_run_rows(tables: SweepTables, layer: Optional[str], step: Optional[int]) -> pd.DataFrame:
    """One row per completed run at its final step (or ``step``), with its series label."""
    runs = layer_rows(tables.summary, layer)
    if "status" in runs.columns:
        runs = runs[runs["status"] == Status.completed.value]
    runs = final_rows(runs, step)
    others = [c for c in tables.grid if c != "lr"]
    return style.add_series(runs, others)


def in_range(runs: pd.DataFrame, lr_range: Tuple[float, float]) -> pd.DataFrame:
    """The rows with ``lr_range[0] <= eta <= lr_range[1]`` (ends included, to 1e-9 relative)."""
    lo, hi = lr_range
    return runs[(runs["lr"] >= lo * (1 - 1e-9)) & (runs["lr"] <= hi * (1 + 1e-9))]


def span_label(lr_range: Tuple[float, float]) -> str:
    """'lo <= eta <= hi' for titles."""
    return f"{style.fmt_value('lr', lr_range[0])} $\\leq \\eta \\leq$ {style.fmt_value('lr', lr_range[1])}"


def correlations(runs: pd.DataFrame, lr_range: Tuple[float, float]) -> pd.DataFrame:
    """Spearman's rho between PL_Alpha_Hill and the test loss over the runs with eta in
    ``lr_range``, per series and scaling.  ``rho`` / ``p_value``: both values centred on their
    seed's mean first (the points of one seed share data and initial weights, so this compares
    learning rates within a seed and leaves out how hard each seed's data are); ``rho_raw`` /
    ``p_value_raw``: uncentred.  Columns panel, series, scaling, rho, p_value, rho_raw,
    p_value_raw, n_runs, lr_min, lr_max."""
    lo, hi = lr_range
    inside = in_range(runs, lr_range)
    seed = ["seed"] if "seed" in inside.columns and inside["seed"].nunique() > 1 else []
    out = []
    for suffix, _ in SCALINGS.items():
        col = f"test_loss{suffix}"
        if col not in inside.columns:
            continue
        for s, ds in inside.groupby("series", sort=True):
            ok = ds[[TAIL, col, *seed]].dropna()
            ok = ok[np.isfinite(ok[[TAIL, col]].to_numpy(float)).all(axis=1)]
            raw = _spearman(ok[TAIL], ok[col])
            centred = ok[[TAIL, col]] - ok.groupby(seed)[[TAIL, col]].transform("mean") if seed else ok[[TAIL, col]]
            rho = _spearman(centred[TAIL], centred[col])
            out.append({"panel": "correlation", "series": s, "scaling": suffix.lstrip("_") or "equations",
                        "rho": rho[0], "p_value": rho[1], "rho_raw": raw[0], "p_value_raw": raw[1],
                        "n_runs": len(ok), "lr_min": lo, "lr_max": hi})  # fmt: skip
    return pd.DataFrame(out)


def _spearman(x: pd.Series, y: pd.Series) -> Tuple[float, float]:
    """(rho, p) of scipy.stats.spearmanr; NaN for fewer than 3 points or a constant input."""
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return math.nan, math.nan
    res = stats.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def _scatter(runs: pd.DataFrame, lr_range: Tuple[float, float]) -> pd.DataFrame:
    """Bottom-row data: per run in ``lr_range``, PL_Alpha_Hill and the test loss per scaling."""
    inside = in_range(runs, lr_range)
    parts = []
    for suffix in SCALINGS:
        col = f"test_loss{suffix}"
        if col in inside.columns:
            parts.append(
                inside[["series", "lr", "step", "run_dir"]].assign(
                    panel="scatter", scaling=suffix.lstrip("_") or "equations",
                    pl_alpha_hill=inside[TAIL].to_numpy(float), test_loss=inside[col].to_numpy(float),
                )  # fmt: skip
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _correlation_table(ax, corr: pd.DataFrame, lr_range: Tuple[float, float]) -> None:
    """The rank correlations as a text panel: per series and scaling, the seed-centred rho
    (its p-value) and the raw rho."""
    ax.axis("off")
    lines = [f"Spearman $\\rho$(PL_Alpha_Hill, test loss), {span_label(lr_range)}", "seed-centred (p) / raw", ""]
    for (s, scaling), c in corr.groupby(["series", "scaling"], sort=True):
        r = c.iloc[0]
        name = "equations" if scaling == "equations" else "published code"
        lines.append(f"{s}, {name}: {r['rho']:+.2f} ({r['p_value']:.1g}) / {r['rho_raw']:+.2f}, n={int(r['n_runs'])}")
    lines += ["", "$\\rho > 0$: a lower PL_Alpha_Hill goes with a lower", "test loss (Sec. 5.2's claim)"]
    ax.text(0.0, 1.0, "\n".join(lines), transform=ax.transAxes, ha="left", va="top", fontsize=9)


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    step: Optional[int] = None,
    layer: Optional[str] = None,
    lr_range: Sequence[float] = LR_RANGE,
    name: str = NAME,
) -> pd.DataFrame:
    """Both scalings' readout metrics against eta, and test loss against PL_Alpha_Hill inside
    ``lr_range`` with the rank correlations.  Returns the plotted data (panels ``curve``,
    ``scatter``, ``correlation``)."""
    layer = choose_layer(tables, layer)
    lr_range = (float(lr_range[0]), float(lr_range[1]))
    curves = _curves(tables, layer, step)
    if curves.empty:
        raise ValueError(f"{NAME}: no finite readout metric at the chosen step")
    runs = _final_run_rows(tables, layer, step)
    scatter = _scatter(runs, lr_range)
    corr = correlations(runs, lr_range)
    series = sorted(curves["series"].unique())
    colors = dict(zip(series, style.palette(len(series))))
    dashes = {"equations": "-", "paper_code": "--"}
    with style.style():
        fig, axes = style.new_figure(2, 3, 4.0, 3.3)
        for ax, m in zip(axes[0], METRICS):
            for (s, scaling), ds in curves[curves["metric"] == m].groupby(["series", "scaling"]):
                std = ds["std"].fillna(0.0)
                ax.plot(ds["lr"], ds["mean"], dashes[scaling], marker="o", ms=3.5, color=colors[s])
                ax.fill_between(ds["lr"], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.15, lw=0)
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
            ax.set_xlabel(r"learning rate $\eta$")
            ax.set_ylabel(style.METRIC_LABELS.get(m, m))
        for ax, (suffix, title) in zip(axes[1][:2], SCALINGS.items()):
            key = suffix.lstrip("_") or "equations"
            ds_all = scatter[scatter["scaling"] == key] if not scatter.empty else scatter
            for s, ds in (ds_all.groupby("series") if not ds_all.empty else []):
                ax.scatter(ds[TAIL], ds["test_loss"], s=14, color=colors.get(s, "k"), alpha=0.6, lw=0)
                means = ds.groupby("lr")[[TAIL, "test_loss"]].mean()
                for lr, r in means.iterrows():
                    ax.annotate(style.fmt_value("lr", lr), (r[TAIL], r["test_loss"]), fontsize=8,
                                xytext=(3, 3), textcoords="offset points", color=colors.get(s, "k"))  # fmt: skip
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(style.METRIC_LABELS[TAIL])
            ax.set_ylabel("test loss")
        _correlation_table(axes[1][2], corr, lr_range)
        steps_shown = sorted(curves["step"].unique())
        at = rf"$t={int(steps_shown[0])}$" if len(steps_shown) == 1 else "final step"
        style.suptitle(fig, tables, f"readout under both feature scalings at {at}; bottom: runs with {span_label(lr_range)}",
                       layer_note(tables, layer))  # fmt: skip
        handles = [mpl.lines.Line2D([], [], color=colors[s], marker="o", label=s) for s in series]
        handles += [mpl.lines.Line2D([], [], color="k", ls=dashes[k], label=SCALINGS[suf])
                    for k, suf in (("equations", ""), ("paper_code", SUFFIX))]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        data = pd.concat([curves, scatter, corr], ignore_index=True)
        style.save(fig, data, out_dir, name)
    return data
