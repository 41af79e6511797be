"""The paper's figures, drawn from a sweep's aggregated tables (never from training code).

Five kinds, each a function ``kind(tables, out_dir) -> DataFrame`` that writes
``out_dir/<kind>.png``, ``.pdf`` and ``.csv`` (the plotted data) and returns that data:

* ``lr_sweep``     Fig. 3 / 5 (also 19-20, 22-23, 30, 32): train / test loss, KTA,
                   sim(W, beta*), PL_Alpha_Hill, PL_Alpha_KS at the final step against the
                   learning rate eta (log scale), one line per optimizer (and per other varied
                   config value), mean +- std over seeds.
* ``esd``          Fig. 2 / 4 (also 10-11, 24, 31): the ESD of W_t^T W_t, linear and log-log,
                   at step 0 and at the chosen step(s), with the Marchenko-Pastur law of W_0
                   and its edge lambda_+ and the power-law tail fitted by PL_Alpha_KS.
* ``esd_grid``     Tables 1, 3, 4 (and Fig. 29): log-log ESD cells, rows = grid point (eta),
                   columns = step.
* ``loss_curves``  Fig. 28: train (solid) and test (dashed) loss against step t, one panel per
                   varied n / lambda (ridge) / rho_e / StepLR gamma, one line per value.
* ``update_norms`` Fig. 8 (Thm 4.1): ||G~_0||_F and ||G~_0||_2 = ||M_0|| / eta at step 1
                   against sqrt(h d), with the least-squares line and its R^2.

:func:`choose` picks the kinds that fit a sweep from what varies in it.  Figures use a
matplotlib ``Figure`` with the Agg canvas (no pyplot state, no display needed).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from htsweep.records import atomic_write

EXTENSIONS = ("png", "pdf")
DATA_EXTENSION = "csv"

# Paper symbols for config columns (Sec. 3, App. F).
LABELS: Dict[str, str] = {
    "lr": r"$\eta$",
    "optimizer.name": "optimizer",
    "data.n": r"$n$",
    "data.d": r"$d$",
    "model.h": r"$h$",
    "readout.reg_lambda": r"$\lambda$",
    "data.label_noise_std": r"$\rho_e$",
    "lr_schedule.gamma": r"$\gamma$",
    "lr_schedule.name": "schedule",
    "activation.name": r"$\sigma$",
    "data.teacher": r"$\sigma_*$",
    "weight_norm.name": "WN",
    "model.param": "param",
    "steps": r"$T$",
}
OPTIMIZER_NAMES = {"gd": "GD", "adam": "FB-Adam"}
METRIC_LABELS: Dict[str, str] = {
    "train_loss": "train loss",
    "test_loss": "test loss",
    "kta": "KTA",
    "sim_w_beta": r"sim$(W, \beta^*)$",
    "pl_alpha_hill": "PL_Alpha_Hill",
    "pl_alpha_ks": "PL_Alpha_KS",
}
LR_SWEEP_METRICS = ("train_loss", "test_loss", "kta", "sim_w_beta", "pl_alpha_hill", "pl_alpha_ks")
# The four one-factor studies of Fig. 28 (App. F.4).
LOSS_STUDY_COLUMNS = ("data.n", "readout.reg_lambda", "data.label_noise_std", "lr_schedule.gamma")
# Auto-selection limits: beyond them a figure is unreadable (ask for it with --figure).
MAX_ESD_PANELS = 8
MAX_ESD_GRID_ROWS = 20
MAX_ESD_COLUMNS = 6

_RC = {
    "pdf.fonttype": 42,  # embed TrueType: text stays editable / searchable in the PDF
    "ps.fonttype": 42,
    "savefig.dpi": 150,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_SAVE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}
_C_INITIAL = "0.55"  # grey: the ESD of W_0
_C_MP = "tab:red"  # the Marchenko-Pastur law (the paper's "red bulk")
_C_PL = "black"
_C_STEP = "tab:blue"


class FigureNameError(ValueError):
    """An unknown figure name (message lists the allowed ones)."""


class EsdSource(Protocol):
    """Where ESD figures read eigenvalues: ``load(run_dirs, steps)`` returns a frame with
    columns run_dir, step, eigenvalue (htsweep.aggregate.EsdStore, or :class:`FrameEsd`)."""

    run_dirs: Sequence[str]

    def load(self, run_dirs: Optional[Sequence[str]] = None, steps: Optional[Sequence[int]] = None) -> pd.DataFrame: ...


class FrameEsd:
    """An :class:`EsdSource` over a frame already in memory (run_dir, step, eigenvalue)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    @property
    def run_dirs(self) -> List[str]:
        return sorted(self.frame["run_dir"].unique())

    def load(self, run_dirs: Optional[Sequence[str]] = None, steps: Optional[Sequence[int]] = None) -> pd.DataFrame:
        df = self.frame
        if run_dirs is not None:
            df = df[df["run_dir"].isin(list(run_dirs))]
        if steps is not None:
            df = df[df["step"].isin(list(steps))]
        return df


@dataclass
class SweepTables:
    """What figures read: summary.parquet and aggregate.parquet as frames, the grid columns
    (config columns that vary, seeds excluded) and the sweep's eigenvalues."""

    summary: pd.DataFrame
    aggregate: pd.DataFrame
    grid: List[str]
    esd: Optional[EsdSource] = None


# --------------------------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("ticks"), sns.plotting_context("paper", font_scale=1.3), mpl.rc_context(_RC):
        yield


def _figure(rows: int, cols: int, width: float, height: float) -> Tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    return fig, axes


def save(fig: Figure, data: pd.DataFrame, out_dir: Path, name: str) -> List[Path]:
    """Write ``name``.png / .pdf (deterministic bytes: no timestamps) and the plotted data as
    ``name``.csv, each atomically."""
    paths = []
    engine = fig.get_layout_engine()
    if engine is not None:  # lay the figure out once (constrained layout) and keep that
        engine.execute(fig)  # layout for both formats
        fig.set_layout_engine("none")
    for ext in EXTENSIONS:
        path = Path(out_dir) / f"{name}.{ext}"
        atomic_write(path, lambda tmp, e=ext: fig.savefig(tmp, format=e, metadata=_SAVE_METADATA[e]))
        paths.append(path)
    path = Path(out_dir) / f"{name}.{DATA_EXTENSION}"
    atomic_write(path, lambda tmp: data.to_csv(tmp, index=False))
    paths.append(path)
    return paths


def fmt_value(column: str, value: object) -> str:
    if column == "optimizer.name":
        return OPTIMIZER_NAMES.get(str(value), str(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def series_label(row: pd.Series, columns: Sequence[str]) -> str:
    """'FB-Adam, n=2000' for the given columns of one grid point ('' when none)."""
    parts = []
    for c in columns:
        v = fmt_value(c, row[c])
        parts.append(v if c == "optimizer.name" else f"{LABELS.get(c, c)}={v}")
    return ", ".join(parts)


def _add_series(df: pd.DataFrame, columns: Sequence[str], default: str = "all runs") -> pd.DataFrame:
    """``df`` with a ``series`` column: the label of each row's values of ``columns``."""
    df = df.copy()
    if not columns:
        df["series"] = default
    else:
        df["series"] = [series_label(r, columns) for _, r in df.iterrows()] if len(df) else []
    return df


# Settings named in a figure's caption line when they are the same for every run (the
# paper's captions: "n=2000, d=1000, h=1500, sigma_*=softplus, sigma=tanh, rho_e=0.3, lambda=0.01").
CAPTION_COLUMNS = (
    "optimizer.name",
    "lr",
    "data.n",
    "data.d",
    "model.h",
    "data.teacher",
    "activation.name",
    "data.label_noise_std",
    "readout.reg_lambda",
    "model.param",
    "weight_norm.name",
    "lr_schedule.gamma",
)


def caption(summary: pd.DataFrame, exclude: Sequence[str] = ()) -> str:
    """'FB-Adam, η=0.2, n=2000, d=1000, ...' for the settings every run of ``summary`` shares."""
    parts = []
    for c in CAPTION_COLUMNS:
        if c in exclude or c not in summary.columns:
            continue
        values = summary[c].drop_duplicates()
        if len(values) != 1 or pd.isna(values.iloc[0]):
            continue
        v = values.iloc[0]
        if (c, v) in (("model.param", "ntk"), ("weight_norm.name", "none")):
            continue  # the defaults of the paper's main setting go unsaid
        if c == "lr_schedule.gamma" and set(summary.get("lr_schedule.name", ["constant"])) != {"step"}:
            continue
        parts.append(series_label(pd.Series({c: v}), [c]))
    return ", ".join(parts)


def _suptitle(fig: Figure, tables: SweepTables, first_line: str = "") -> None:
    text = "\n".join(t for t in (first_line, caption(tables.summary)) if t)
    if text:
        fig.suptitle(text, fontsize=11)


def _palette(n: int) -> List[Tuple[float, float, float]]:
    return list(sns.color_palette("colorblind", max(n, 1)))


def _final_rows(agg: pd.DataFrame, step: Optional[int]) -> pd.DataFrame:
    """Rows at ``step``, or each grid point's final step (step == its ``steps`` config)."""
    if step is not None:
        return agg[agg["step"] == step]
    if "steps" in agg.columns:
        return agg[agg["step"] == agg["steps"]]
    return agg[agg["step"] == agg["step"].max()]


def _subsample_steps(steps: Sequence[int], k: int) -> List[int]:
    """At most ``k`` of ``steps`` (sorted), roughly log-spaced, always keeping the last."""
    steps = sorted(set(int(s) for s in steps))
    if len(steps) <= k:
        return steps
    targets = np.geomspace(max(steps[0], 1), steps[-1], k)
    picked = {min(steps, key=lambda s: abs(math.log(max(s, 1)) - math.log(t))) for t in targets}
    picked.add(steps[-1])
    return sorted(picked)[-k:] if len(picked) > k else sorted(picked)


# --------------------------------------------------------------------------------------------
# Fig. 3 / 5: metrics at the final step against eta


def lr_sweep(
    tables: SweepTables,
    out_dir: Path,
    *,
    step: Optional[int] = None,
    metrics: Sequence[str] = LR_SWEEP_METRICS,
    name: str = "lr_sweep",
) -> pd.DataFrame:
    """Fig. 3 / 5: each metric (mean +- std over seeds) at the final step against eta.

    Returns one row per (series, eta, metric): series, lr, metric, mean, std, count, step and
    the grid columns."""
    agg = tables.aggregate
    others = [c for c in tables.grid if c != "lr"]
    rows = _final_rows(agg, step)
    rows = _add_series(rows, others)
    metrics = [m for m in metrics if f"{m}_mean" in rows.columns]
    if not metrics:
        raise ValueError(f"lr_sweep: none of the metrics {list(LR_SWEEP_METRICS)} is in the aggregate table")
    keep = ["series", "lr", "step", *others]
    long = pd.concat(
        [
            rows[keep].assign(
                metric=m,
                mean=rows[f"{m}_mean"].to_numpy(float),
                std=rows[f"{m}_std"].to_numpy(float),
                count=rows[f"{m}_count"].to_numpy(int),
            )
            for m in metrics
        ],
        ignore_index=True,
    )
    long = long[long["count"] > 0].sort_values(["metric", "series", "lr"], kind="stable").reset_index(drop=True)
    if long.empty:
        raise ValueError("lr_sweep: no finite metric values at the chosen step")
    metrics = [m for m in metrics if m in set(long["metric"])]  # no empty panels
    series = sorted(long["series"].unique())
    colors = dict(zip(series, _palette(len(series))))
    ncols = 3
    nrows = math.ceil(len(metrics) / ncols)
    with _style():
        fig, axes = _figure(nrows, ncols, 4.0, 3.2)
        for ax, m in zip(axes.flat, metrics):
            d = long[long["metric"] == m]
            for s, ds in d.groupby("series"):
                std = ds["std"].fillna(0.0)
                ax.plot(ds["lr"], ds["mean"], marker="o", ms=4, color=colors[s])
                ax.fill_between(ds["lr"], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
            ax.set_xlabel(r"learning rate $\eta$")
            ax.set_ylabel(METRIC_LABELS.get(m, m))
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_visible(False)
        handles = [mpl.lines.Line2D([], [], color=colors[s], marker="o", label=s) for s in series]
        steps_shown = sorted(long["step"].unique())
        title = "final step" if step is None else f"step {step}"
        if len(steps_shown) == 1:
            title = rf"$t={int(steps_shown[0])}$"
        _suptitle(fig, tables, f"mean $\\pm$ std over seeds at {title}")
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(series), 4))
        save(fig, long, out_dir, name)
    return long


# --------------------------------------------------------------------------------------------
# Fig. 28: loss against step, one panel per varied study parameter


def loss_curves(tables: SweepTables, out_dir: Path, *, name: str = "loss_curves") -> pd.DataFrame:
    """Fig. 28: train (solid) and test (dashed) loss against step t.

    One panel per varied column of n / lambda / rho_e / gamma; a panel keeps the grid points
    where the other study columns sit at their most common value (the baseline of a
    one-factor-at-a-time study) and draws one line per remaining grid point.  Without a varied
    study column, one panel with one line per grid point.  Returns one row per (panel, series,
    step, loss): panel, series, step, loss, mean, std, count."""
    agg = tables.aggregate
    studies = [c for c in LOSS_STUDY_COLUMNS if c in tables.grid]
    panels: List[Tuple[str, pd.DataFrame, List[str]]] = []
    if studies:
        for col in studies:
            d = agg
            for other in studies:
                if other != col:
                    d = d[d[other] == _baseline(agg, other)]
            varying = [c for c in tables.grid if len(d[c].drop_duplicates()) > 1]
            varying = [col] + [c for c in varying if c != col]
            panels.append((col, d, varying))
    else:
        panels.append(("grid", agg, list(tables.grid)))
    parts = []
    for panel, d, varying in panels:
        d = _add_series(d, varying)
        for loss in ("train_loss", "test_loss"):
            if f"{loss}_mean" not in d.columns:
                continue
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
        raise ValueError("loss_curves: no train_loss / test_loss in the aggregate table")
    long = pd.concat(parts, ignore_index=True)
    long = long[long["count"] > 0]
    order = [p for p, _, _ in panels]
    long = long.sort_values(["panel", "series", "loss", "step"], kind="stable", key=_panel_key(order)).reset_index(drop=True)
    if long.empty:
        raise ValueError("loss_curves: no finite losses")
    with _style():
        fig, axes = _figure(1, len(panels), 4.2, 3.4)
        for ax, (panel, _, _) in zip(axes.flat, panels):
            d = long[long["panel"] == panel]
            series = _sorted_series(d)
            colors = dict(zip(series, _palette(len(series))))
            for s in series:
                for loss, ls in (("train_loss", "-"), ("test_loss", "--")):
                    ds = d[(d["series"] == s) & (d["loss"] == loss)]
                    if ds.empty:
                        continue
                    ax.plot(ds["step"], ds["mean"], ls=ls, color=colors[s], marker="." if len(ds) < 30 else None)
                    std = ds["std"].fillna(0.0)
                    ax.fill_between(ds["step"], ds["mean"] - std, ds["mean"] + std, color=colors[s], alpha=0.12, lw=0)
            ax.set_xlabel(r"step $t$")
            ax.set_ylabel("loss")
            ax.set_title(f"varying {LABELS.get(panel, panel)}" if panel != "grid" else "loss")
            handles = [mpl.lines.Line2D([], [], color=colors[s], label=s) for s in series]
            handles += [
                mpl.lines.Line2D([], [], color="0.3", ls="-", label="train"),
                mpl.lines.Line2D([], [], color="0.3", ls="--", label="test"),
            ]
            ax.legend(handles=handles)
        _suptitle(fig, tables)
        save(fig, long, out_dir, name)
    return long


def _baseline(agg: pd.DataFrame, column: str) -> object:
    """The most common value of ``column`` over grid points (smallest on ties)."""
    per_point = agg.drop_duplicates([c for c in agg.columns if c == column or c in LOSS_STUDY_COLUMNS])
    return per_point[column].mode().sort_values().iloc[0]


def _panel_key(order: Sequence[str]) -> Callable[[pd.Series], pd.Series]:
    def key(s: pd.Series) -> pd.Series:
        if s.name == "panel":
            return s.map({p: i for i, p in enumerate(order)})
        return s

    return key


def _sorted_series(d: pd.DataFrame) -> List[str]:
    """Series in the order of their grid values (numeric order, not text order)."""
    cols = [c for c in d.columns if c not in ("series", "step", "panel", "loss", "mean", "std", "count")]
    first = d.drop_duplicates("series")
    if cols:
        first = first.sort_values(cols, kind="stable")
    return list(first["series"])


# --------------------------------------------------------------------------------------------
# Fig. 8: first-update norms against sqrt(h d)


def update_norms(tables: SweepTables, out_dir: Path, *, name: str = "update_norms") -> pd.DataFrame:
    """Fig. 8 (Thm 4.1): ||G~_0||_F and ||G~_0||_2 against sqrt(h d), where G~_0 = M_0 / eta is
    the first update (row step=1: update_* / lr_t), mean +- std over seeds, with the
    least-squares line y = slope sqrt(hd) + intercept and its R^2 per series.

    Returns one row per (norm, series, grid point): norm, series, h, d, sqrt_hd, mean, std,
    count, update_mean (the norm of M_0 itself), fit, slope, intercept, r2."""
    agg = tables.aggregate
    need = ["model.h", "data.d", "lr_t_mean", "update_spectral_mean", "update_frobenius_mean"]
    missing = [c for c in need if c not in agg.columns]
    if missing:
        raise ValueError(f"update_norms: aggregate table lacks {missing}")
    d = agg[agg["step"] == 1]
    if d.empty:
        raise ValueError("update_norms: no probe at step 1 (the first update M_0)")
    others = [c for c in tables.grid if c not in ("model.h", "data.d", "data.n")]
    d = _add_series(d, others)
    sqrt_hd = np.sqrt(d["model.h"].to_numpy(float) * d["data.d"].to_numpy(float))
    parts = []
    for norm in ("frobenius", "spectral"):
        lr = d["lr_t_mean"].to_numpy(float)
        part = pd.DataFrame(
            {
                "norm": norm,
                "series": d["series"].to_numpy(),
                "n": d["data.n"].to_numpy() if "data.n" in d else np.nan,
                "h": d["model.h"].to_numpy(),
                "d": d["data.d"].to_numpy(),
                "sqrt_hd": sqrt_hd,
                "mean": d[f"update_{norm}_mean"].to_numpy(float) / lr,
                "std": d[f"update_{norm}_std"].to_numpy(float) / lr,
                "count": d[f"update_{norm}_count"].to_numpy(int),
                "update_mean": d[f"update_{norm}_mean"].to_numpy(float),
            }
        )
        parts.append(part[(part["count"] > 0) & np.isfinite(part["mean"])])
    long = pd.concat(parts, ignore_index=True).sort_values(["norm", "series", "sqrt_hd"], kind="stable")
    if long.empty:
        raise ValueError("update_norms: no finite update norm at step 1")
    fits = []
    for (norm, s), g in long.groupby(["norm", "series"], sort=False):
        slope, intercept, r2 = linear_fit(g["sqrt_hd"].to_numpy(float), g["mean"].to_numpy(float))
        fits.append(g.assign(fit=slope * g["sqrt_hd"] + intercept, slope=slope, intercept=intercept, r2=r2))
    long = pd.concat(fits).reset_index(drop=True)
    series = sorted(long["series"].unique())
    colors = dict(zip(series, _palette(len(series))))
    symbol = {"frobenius": r"$\|\widetilde{G}_0\|_F$", "spectral": r"$\|\widetilde{G}_0\|_2$"}
    with _style():
        fig, axes = _figure(1, 2, 4.2, 3.4)
        for ax, norm in zip(axes.flat, ("frobenius", "spectral")):
            dn = long[long["norm"] == norm]
            for s in series:
                g = dn[dn["series"] == s]
                if g.empty:
                    continue
                ax.errorbar(g["sqrt_hd"], g["mean"], yerr=g["std"].fillna(0.0), fmt="o", color=colors[s], capsize=3)
                r = g.iloc[0]
                label = f"{s + ': ' if len(series) > 1 else ''}slope {r['slope']:.3g}, $R^2$={r['r2']:.4f}"
                ax.plot(g["sqrt_hd"], g["fit"], color=colors[s], lw=1.2, label=label)
            ax.set_xlabel(r"$\sqrt{hd}$")
            ax.set_ylabel(symbol[norm] + r" $= \|M_0\| / \eta$")
            ax.legend()
        _suptitle(fig, tables)
        save(fig, long, out_dir, name)
    return long


def linear_fit(x: np.ndarray, y: np.ndarray) -> Tuple[float, float, float]:
    """Least squares y = slope x + intercept -> (slope, intercept, R^2 = 1 - SS_res / SS_tot).

    R^2 is nan with fewer than two distinct x, and 1 when y is exactly constant and fitted."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(np.unique(x)) < 2:
        return math.nan, math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum(resid**2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else math.nan)
    return float(slope), float(intercept), r2


# --------------------------------------------------------------------------------------------
# ESD: Fig. 2 / 4 panels and Table 1 / 3 / 4 grids


def mp_density(x: np.ndarray, lambda_plus: float, h: int, d: int) -> np.ndarray:
    """Marchenko-Pastur density (Marchenko & Pastur 1967) of the N = min(h, d) non-zero
    eigenvalues of W^T W for W (h x d) with i.i.d. entries of variance sigma^2, recovered from
    its upper edge lambda_+ = sigma^2 (sqrt(M) + sqrt(N))^2 (M = max(h, d)):

        p(x) = sqrt((lambda_+ - x)(x - lambda_-)) / (2 pi c sigma^2 M x),  c = N / M,

    on [lambda_-, lambda_+] (the law of :class:`htsweep.spectral.MarchenkoPastur`)."""
    M, N = max(h, d), min(h, d)
    sigma2 = lambda_plus / (math.sqrt(M) + math.sqrt(N)) ** 2
    lo = sigma2 * (math.sqrt(M) - math.sqrt(N)) ** 2
    x = np.asarray(x, float)
    inside = (x > lo) & (x < lambda_plus)
    num = np.sqrt(np.clip((lambda_plus - x) * (x - lo), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = num / (2.0 * math.pi * (N / M) * sigma2 * M * x)
    return np.where(inside, dens, 0.0)


def powerlaw_density(x: np.ndarray, alpha: float, xmin: float, n_tail: float, n: float) -> np.ndarray:
    """The fitted tail as a density of the whole ESD: (k / N) (alpha - 1) / xmin (x / xmin)^-alpha
    for x >= xmin (Clauset et al. 2009, eq. 2.2, weighted by the tail fraction k / N)."""
    x = np.asarray(x, float)
    dens = (n_tail / n) * (alpha - 1.0) / xmin * (x / xmin) ** (-alpha)
    return np.where(x >= xmin, dens, np.nan)


def histogram(values: np.ndarray, edges: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(counts, density) with density = count / (N * bin width): it integrates to the fraction
    of ``values`` inside the edges."""
    counts, _ = np.histogram(values, bins=edges)
    widths = np.diff(edges)
    density = counts / (max(len(values), 1) * widths)
    return counts, density


def _edges(values: np.ndarray, scale: str, bins: int) -> np.ndarray:
    if scale == "log":
        pos = values[values > 0]
        lo, hi = pos.min(), pos.max()
        if hi <= lo:
            hi = lo * 1.01
        return np.geomspace(lo, hi * (1 + 1e-9), bins + 1)
    lo, hi = 0.0, float(values.max())
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi * (1 + 1e-9), bins + 1)


def _n_bins(n: int) -> int:
    return int(np.clip(2 * math.sqrt(max(n, 1)), 10, 80))


def representative_runs(tables: SweepTables) -> pd.DataFrame:
    """One run per grid point for the ESD figures: its completed run with the lowest seed (any
    readable run when none completed), among runs that have eigenvalues.  Returns the grid
    columns, run_dir, seed and series label, in grid order."""
    s = tables.summary
    if tables.esd is not None:
        s = s[s["run_dir"].isin(list(tables.esd.run_dirs))]
    if s.empty:
        return pd.DataFrame(columns=[*tables.grid, "run_dir", "seed", "series"])
    runs = s.drop_duplicates("run_dir").copy()
    runs["_done"] = (runs["status"] != "completed").astype(int)
    sort = [*tables.grid, "_done"] + (["seed"] if "seed" in runs else []) + ["run_dir"]
    runs = runs.sort_values(sort, kind="stable")
    runs = runs.drop_duplicates(tables.grid) if tables.grid else runs.head(1)
    runs = _add_series(runs, tables.grid, default="")
    cols = [*tables.grid, "run_dir"] + (["seed"] if "seed" in runs else []) + ["series"]
    return runs[cols].reset_index(drop=True)


def _esd_rows(
    tables: SweepTables, picks: List[Tuple[str, str, int]], scales: Sequence[str], bins: Optional[int]
) -> pd.DataFrame:
    """Histogram rows for each (series, run_dir, step) pick: the step-0 ESD and the step-t ESD
    on common bin edges per (pick, scale), with that step's MP edge and power-law fit."""
    assert tables.esd is not None
    run_dirs = sorted({p[1] for p in picks})
    steps = sorted({0} | {p[2] for p in picks})
    eigs = tables.esd.load(run_dirs, steps)
    groups = {k: g["eigenvalue"].to_numpy(float) for k, g in eigs.groupby(["run_dir", "step"])}
    summ = tables.summary.set_index(["run_dir", "step"])
    out = []
    for series, run_dir, step in picks:
        if (run_dir, step) not in groups:
            continue
        probe = summ.loc[(run_dir, step)]
        initial = groups.get((run_dir, 0))
        current = groups[(run_dir, step)]
        both = current if initial is None else np.concatenate([initial, current])
        for scale in scales:
            edges = _edges(both, scale, bins or _n_bins(len(current)))
            for which, vals in (("initial", initial), ("step", current)):
                if vals is None or (which == "initial" and step == 0):
                    continue
                counts, dens = histogram(vals, edges)
                out.append(
                    pd.DataFrame(
                        {
                            "series": series,
                            "run_dir": run_dir,
                            "step": step,
                            "esd_of_step": 0 if which == "initial" else step,
                            "scale": scale,
                            "bin_lo": edges[:-1],
                            "bin_hi": edges[1:],
                            "count": counts,
                            "density": dens,
                            "n_eigs": len(vals),
                            "mp_lambda_plus": float(probe["mp_lambda_plus"]),
                            "pl_alpha_ks": float(probe["pl_alpha_ks"]),
                            "pl_alpha_ks_xmin": float(probe["pl_alpha_ks_xmin"]),
                            "pl_alpha_ks_n_tail": float(probe["pl_alpha_ks_n_tail"]),
                            "h": int(probe["model.h"]),
                            "d": int(probe["data.d"]),
                        }
                    )
                )
    if not out:
        raise ValueError("ESD figure: no eigenvalues for the chosen runs and steps (probe.esd=false?)")
    return pd.concat(out, ignore_index=True)


def _draw_esd_cell(ax, cell: pd.DataFrame, scale: str) -> None:
    """One ESD axis: step-0 histogram (grey), step-t histogram (blue), MP law and edge of W_0
    (red), the PL_Alpha_KS power law from its xmin (dashed) and alpha in the corner."""
    step = int(cell["step"].iloc[0])
    r = cell.iloc[0]
    for which in (0, step):
        d = cell[cell["esd_of_step"] == which]
        if d.empty:
            continue
        edges = np.append(d["bin_lo"].to_numpy(), d["bin_hi"].to_numpy()[-1])
        dens = d["density"].to_numpy()
        if scale == "log":
            dens = np.where(dens > 0, dens, np.nan)
        if which == 0 and step != 0:
            ax.stairs(dens, edges, fill=True, color=_C_INITIAL, alpha=0.45, lw=0, label=r"ESD of $W_0^\top W_0$")
        else:
            ax.stairs(dens, edges, fill=True, color=_C_STEP, alpha=0.3, lw=0)
            ax.stairs(dens, edges, color=_C_STEP, lw=1.2, label=r"ESD of $W_t^\top W_t$")
    lo, hi = float(cell["bin_lo"].min()), float(cell["bin_hi"].max())
    x = np.geomspace(lo, hi, 400) if scale == "log" else np.linspace(lo, hi, 400)
    mp = mp_density(x, r["mp_lambda_plus"], int(r["h"]), int(r["d"]))
    ax.plot(x, np.where(mp > 0, mp, np.nan), color=_C_MP, lw=1.2, label="MP law of $W_0$")
    ax.axvline(r["mp_lambda_plus"], color=_C_MP, ls=":", lw=1.2, label=r"MP edge $\lambda_+$")
    alpha = r["pl_alpha_ks"]
    if np.isfinite(alpha) and alpha > 1 and r["pl_alpha_ks_xmin"] > 0:
        xt = np.geomspace(r["pl_alpha_ks_xmin"], hi, 200)
        pl = powerlaw_density(xt, alpha, r["pl_alpha_ks_xmin"], r["pl_alpha_ks_n_tail"], r["n_eigs"])
        ax.plot(xt, pl, color=_C_PL, ls="--", lw=1.2, label=r"PL fit ($\lambda \geq \lambda_{min}$)")
        ax.text(0.97, 0.95, rf"$\alpha_{{KS}}$={alpha:.2f}", transform=ax.transAxes, ha="right", va="top", fontsize=9)
    # the y range follows the histograms; the MP and power-law curves are clipped to it
    dens = cell["density"].to_numpy(float)
    dens = dens[np.isfinite(dens) & (dens > 0)]
    if scale == "log":
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.minorticks_off()  # decades are enough here, and minor log ticks are slow to lay out
        if dens.size:
            ax.set_ylim(dens.min() / 4.0, dens.max() * 4.0)
    elif dens.size:
        ax.set_ylim(0.0, dens.max() * 1.15)
    ax.grid(False)
    ax.set_xlabel(r"eigenvalue $\lambda$ of $W_t^\top W_t$")
    ax.set_ylabel("density")


def _esd_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend for the whole figure, below the panels, from the panel with most entries."""
    best = max(axes.flat, key=lambda a: len(a.get_legend_handles_labels()[0]))
    handles, labels = best.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 3))


def esd(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    bins: Optional[int] = None,
    name: str = "esd",
) -> pd.DataFrame:
    """Fig. 2 / 4: per grid point (one run: the lowest seed) and step, the ESD of W_t^T W_t on a
    linear and a log-log axis, over the ESD of W_0 (grey), with the MP law of W_0 and its edge
    lambda_+ (red) and the PL_Alpha_KS power law from its xmin (dashed).

    ``steps``: the steps to show; default: every probed step > 0 (at most 6) when the sweep
    has one grid point (Fig. 4), else each run's last probed step (Fig. 2).  Returns the
    histogram rows (series, run_dir, step, esd_of_step, scale, bin_lo, bin_hi, count, density,
    n_eigs) with each panel's mp_lambda_plus, pl_alpha_ks, pl_alpha_ks_xmin."""
    if tables.esd is None:
        raise ValueError("esd: the sweep has no eigenvalues (esd.parquet)")
    reps = representative_runs(tables)
    probed = tables.summary.groupby("run_dir")["step"].apply(lambda s: sorted(int(v) for v in s))
    picks = []
    for _, rep in reps.iterrows():
        have = [s for s in probed.get(rep["run_dir"], []) if s > 0] or [0]
        if steps is not None:
            chosen = [s for s in steps if s in have]
        elif len(reps) == 1:
            chosen = _subsample_steps(have, MAX_ESD_COLUMNS)
        else:
            chosen = [have[-1]]
        picks += [(rep["series"], rep["run_dir"], s) for s in chosen]
    data = _esd_rows(tables, picks, ("linear", "log"), bins)
    panels = data[["series", "run_dir", "step"]].drop_duplicates().reset_index(drop=True)
    with _style():
        fig, axes = _figure(len(panels), 2, 4.2, 3.0)
        for i, p in panels.iterrows():
            cell = data[(data["run_dir"] == p["run_dir"]) & (data["step"] == p["step"])]
            for j, scale in enumerate(("linear", "log")):
                ax = axes[i, j]
                _draw_esd_cell(ax, cell[cell["scale"] == scale], scale)
                head = f"{p['series']}: " if p["series"] else ""
                ax.set_title(f"{head}$t={int(p['step'])}$, {'log-log' if scale == 'log' else 'linear'}")
        _esd_legend(fig, axes)
        _suptitle(fig, tables)
        save(fig, data, out_dir, name)
    return data


def esd_grid(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    scale: str = "log",
    bins: Optional[int] = None,
    name: str = "esd_grid",
) -> pd.DataFrame:
    """Tables 1, 3, 4: ESD cells of W_t^T W_t, rows = grid points (eta, ...; one run each),
    columns = probed steps > 0 (at most 6, log-spaced, unless ``steps`` is given), each over
    the ESD of W_0 with lambda_+ and the PL_Alpha_KS fit.  Returns the histogram rows as
    :func:`esd` does (one ``scale``)."""
    if tables.esd is None:
        raise ValueError("esd_grid: the sweep has no eigenvalues (esd.parquet)")
    if scale not in ("log", "linear"):
        raise ValueError(f"esd_grid: scale must be 'log' or 'linear', got {scale!r}")
    reps = representative_runs(tables)
    probed = sorted(int(s) for s in tables.summary.loc[tables.summary["run_dir"].isin(reps["run_dir"]), "step"].unique())
    cols = list(steps) if steps is not None else _subsample_steps([s for s in probed if s > 0] or [0], MAX_ESD_COLUMNS)
    picks = [(rep["series"], rep["run_dir"], s) for _, rep in reps.iterrows() for s in cols]
    data = _esd_rows(tables, picks, (scale,), bins)
    with _style():
        fig, axes = _figure(len(reps), len(cols), 3.2, 2.6)
        for i, rep in reps.iterrows():
            for j, s in enumerate(cols):
                ax = axes[i, j]
                cell = data[(data["run_dir"] == rep["run_dir"]) & (data["step"] == s)]
                if cell.empty:
                    ax.text(0.5, 0.5, "not probed", ha="center", va="center", transform=ax.transAxes)
                    ax.set_axis_off()
                    continue
                _draw_esd_cell(ax, cell, scale)
                if i == 0:
                    ax.set_title(rf"$t={s}$")
                if j == 0:
                    ax.set_ylabel(f"{rep['series']}\ndensity" if rep["series"] else "density")
                else:
                    ax.set_ylabel("")
                if i != len(reps) - 1:
                    ax.set_xlabel("")
        _esd_legend(fig, axes)
        _suptitle(fig, tables)
        save(fig, data, out_dir, name)
    return data


# --------------------------------------------------------------------------------------------
# Registry and automatic choice


@dataclass(frozen=True)
class Kind:
    draw: Callable[[SweepTables, Path], pd.DataFrame]
    applies: Callable[[SweepTables], Optional[str]]  # None if it fits, else why not
    doc: str


def _n_points(tables: SweepTables) -> int:
    if not tables.grid:
        return 1 if len(tables.summary) else 0
    return len(tables.summary.drop_duplicates(tables.grid))


def _has_esd(tables: SweepTables) -> bool:
    return tables.esd is not None and len(tables.esd.run_dirs) > 0


def _nonzero_steps(tables: SweepTables) -> List[int]:
    return sorted(int(s) for s in tables.summary["step"].unique() if s > 0)


def _applies_lr_sweep(t: SweepTables) -> Optional[str]:
    return None if "lr" in t.grid else "the learning rate does not vary"


def _applies_loss_curves(t: SweepTables) -> Optional[str]:
    if not any(c in t.grid for c in LOSS_STUDY_COLUMNS):
        return "none of n, reg_lambda, label_noise_std, StepLR gamma varies"
    if len(_nonzero_steps(t)) < 2:
        return "fewer than two probed steps after step 0"
    return None


def _applies_update_norms(t: SweepTables) -> Optional[str]:
    if "model.h" not in t.grid and "data.d" not in t.grid:
        return "neither h nor d varies"
    agg = t.aggregate
    if "update_frobenius_count" not in agg or not (agg.loc[agg["step"] == 1, "update_frobenius_count"] > 0).any():
        return "no update norm at step 1"
    return None


def _applies_esd(t: SweepTables) -> Optional[str]:
    if not _has_esd(t):
        return "no eigenvalues (esd.parquet)"
    n = _n_points(t)
    return None if n <= MAX_ESD_PANELS else f"{n} grid points (> {MAX_ESD_PANELS} panels)"


def _applies_esd_grid(t: SweepTables) -> Optional[str]:
    if not _has_esd(t):
        return "no eigenvalues (esd.parquet)"
    n = _n_points(t)
    if n < 2 or len(_nonzero_steps(t)) < 2:
        return "needs several grid points and several probed steps"
    return None if n <= MAX_ESD_GRID_ROWS else f"{n} grid points (> {MAX_ESD_GRID_ROWS} rows)"


FIGURES: Dict[str, Kind] = {
    "lr_sweep": Kind(lr_sweep, _applies_lr_sweep, "Fig. 3/5: metrics at the final step vs eta"),
    "esd": Kind(esd, _applies_esd, "Fig. 2/4: ESD panels, linear and log-log, t=0 vs t"),
    "esd_grid": Kind(esd_grid, _applies_esd_grid, "Tables 1/3/4: ESD grid, rows eta, columns step"),
    "loss_curves": Kind(loss_curves, _applies_loss_curves, "Fig. 28: train/test loss vs step"),
    "update_norms": Kind(update_norms, _applies_update_norms, "Fig. 8: ||G~_0|| vs sqrt(hd)"),
}
KINDS = tuple(FIGURES)
# Paper figure / experiment names (conf/experiment/*.yaml) -> figure kinds.
ALIASES: Dict[str, Tuple[str, ...]] = {
    "fig2": ("esd",),
    "fig3": ("lr_sweep",),
    "fig4": ("esd",),
    "fig5": ("lr_sweep",),
    "fig8": ("update_norms",),
    "fig28": ("loss_curves",),
    "fig28_n": ("loss_curves",),
    "fig28_lambda": ("loss_curves",),
    "fig28_noise": ("loss_curves",),
    "fig28_gamma": ("loss_curves",),
    "fig29": ("esd_grid",),
    "fig30": ("lr_sweep",),
    "fig29_30": ("esd_grid", "lr_sweep"),
    "fig31": ("esd",),
    "fig32": ("lr_sweep",),
    "table1": ("esd_grid",),
    "table3": ("esd_grid",),
    "table4": ("esd_grid",),
    "appd": ("esd_grid",),
}
ALL = "all"


def resolve_name(name: str) -> List[str]:
    """A kind, paper name or ``all`` -> the kinds it draws; FigureNameError lists the names."""
    key = name.strip().lower().replace("-", "_")
    if key in FIGURES:
        return [key]
    if key in ALIASES:
        return list(ALIASES[key])
    if key == ALL:
        return [ALL]
    raise FigureNameError(
        f"--figure: unknown figure {name!r}; kinds: {', '.join(KINDS)}; "
        f"paper names: {', '.join(sorted(ALIASES))}; or {ALL}"
    )


def applicable(tables: SweepTables) -> Tuple[List[str], Dict[str, str]]:
    """Every kind that fits what varies in the sweep, and for each other kind why not."""
    chosen, skipped = [], {}
    for name, kind in FIGURES.items():
        why = kind.applies(tables)
        if why is None:
            chosen.append(name)
        else:
            skipped[name] = why
    return chosen, skipped


def experiment_tag(tables: SweepTables) -> Optional[str]:
    """The sweep's ``experiment`` config value when it is one known name, else None."""
    if "experiment" not in tables.summary.columns:
        return None
    tags = tables.summary["experiment"].dropna().unique()
    if len(tags) == 1 and str(tags[0]).lower() in ALIASES:
        return str(tags[0]).lower()
    return None


def choose(tables: SweepTables) -> Tuple[List[str], Dict[str, str]]:
    """The kinds to draw when none is named: the paper figure of the sweep's ``experiment``
    tag (conf/experiment/<name>.yaml sets it) when that fits, else every kind that fits what
    varies (:func:`applicable`).  Returns (kinds, {kind not drawn: why})."""
    fits, skipped = applicable(tables)
    tag = experiment_tag(tables)
    if tag is not None:
        wanted = [k for k in ALIASES[tag] if k in fits]
        if wanted:
            others = {k: f"not part of {tag} (draw it with --figure {k})" for k in fits if k not in wanted}
            return wanted, {**skipped, **others}
    return fits, skipped


def draw(name: str, tables: SweepTables, out_dir: Path) -> pd.DataFrame:
    """Draw one kind into ``out_dir``; returns its plotted data."""
    if name not in FIGURES:
        resolve_name(name)  # raises with the allowed names
    return FIGURES[name].draw(tables, Path(out_dir))
