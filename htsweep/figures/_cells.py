"""ESD cells, shared by the ``esd`` panels and the ``esd_grid`` table: the histogram rows of
chosen (run, step) pairs of one layer, and one axis drawing a step-t ESD over the step-0 ESD
with the Marchenko-Pastur law of W_0, its edge lambda_+ and the PL_Alpha_KS power-law tail.

The MP law is :class:`htsweep.spectral.MarchenkoPastur` with the analysed matrix's shape and
initial entry variance as the records give them (``matrix_rows``, ``matrix_cols``,
``mp_sigma2``); records without them get the edge but no curve.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from htsweep.figures import style
from htsweep.figures.select import layer_note
from htsweep.records import Status
from htsweep.spectral import MarchenkoPastur
from htsweep.sweep.tables import SweepTables

MAX_COLUMNS = 6  # steps shown per grid point unless asked for more
SCALES = ("linear", "log")
# "truncated": linear bins up to the TRUNCATE_QUANTILE of the step's ESD (at least the largest
# eigenvalue of W_0), so a few outliers far out do not squeeze the bulk into the first bin (the
# paper's Fig. 7, middle column); the eigenvalues beyond are counted, not drawn.
SCALE_NAMES = {"linear": "linear", "log": "log-log", "truncated": "truncated", "bulk": "bulk"}
TRUNCATE_QUANTILE = 0.98
# "bulk": linear bins up to BULK_MARGIN x the largest of the fitted MP bulk's own largest
# eigenvalue (`mp_fit_bulk_max`), its edge (`mp_fit_lambda_plus`) and W_0's largest eigenvalue:
# the bulk and its edge, clipped below the outliers.  The `esd` figure's linear panels get it
# as an inset when the outliers squeeze the bulk: when it ends below INSET_BELOW of the linear
# panel's range.
BULK_MARGIN = 1.05
INSET_BELOW = 0.5
INSET_BOUNDS = (0.40, 0.22, 0.56, 0.48)  # inset position in the panel's axes fraction
MP_LABEL = "MP law of $W_0$"
# Per-panel values copied from the summary row of the step shown.
PROBE_VALUES = (
    "mp_lambda_plus",
    "pl_alpha_ks",
    "pl_alpha_ks_xmin",
    "pl_alpha_ks_n_tail",
    "matrix_rows",
    "matrix_cols",
    "mp_sigma2",
    "mp_fit_bulk_max",
    "mp_fit_lambda_plus",
)
_C_INITIAL = "0.55"  # grey: the ESD of W_0
_C_MP = "tab:red"  # the Marchenko-Pastur law (the paper's "red bulk")
_C_PL = "black"
_C_STEP = "tab:blue"

Pick = Tuple[str, str, int]  # (series label, run_dir, step)


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
    return counts, counts / (max(len(values), 1) * np.diff(edges))


def bulk_upper(current: np.ndarray, initial: Optional[np.ndarray], probe: pd.Series) -> float:
    """The upper end of the "bulk" view (:data:`BULK_MARGIN` x the largest of the fitted
    bulk's largest eigenvalue and edge and of W_0's largest eigenvalue); records without the
    fitted bulk fall back to the "truncated" quantile."""
    fitted = [probe.get(c, np.nan) for c in ("mp_fit_bulk_max", "mp_fit_lambda_plus")]
    fitted = [float(v) for v in fitted if v is not None and np.isfinite(v)]
    if not fitted:
        fitted = [float(np.quantile(current, TRUNCATE_QUANTILE, method="lower"))]
    if initial is not None:
        fitted.append(float(initial.max()))
    return BULK_MARGIN * max(fitted)


def bin_edges(values: np.ndarray, scale: str, bins: int, upper: Optional[float] = None) -> np.ndarray:
    """``bins`` + 1 edges over ``values``: log-spaced over the positive ones, or linear from 0
    (to ``upper`` when given: the truncated view)."""
    if upper is not None:
        return np.linspace(0.0, (upper if upper > 0 else 1.0) * (1 + 1e-9), bins + 1)
    if scale == "log":
        pos = values[values > 0]
        lo, hi = pos.min(), pos.max()
        return np.geomspace(lo, (hi if hi > lo else lo * 1.01) * (1 + 1e-9), bins + 1)
    hi = float(values.max())
    return np.linspace(0.0, (hi if hi > 0 else 1.0) * (1 + 1e-9), bins + 1)


def n_bins(n: int) -> int:
    """2 sqrt(n) bins, between 10 and 80."""
    return int(np.clip(2 * math.sqrt(max(n, 1)), 10, 80))


def mp_law(row: pd.Series) -> Optional[MarchenkoPastur]:
    """The MP law of W_0 from a panel's ``matrix_rows``, ``matrix_cols``, ``mp_sigma2``
    (None when the records lack them)."""
    shape = [row.get(c) for c in ("matrix_rows", "matrix_cols", "mp_sigma2")]
    if any(v is None or pd.isna(v) for v in shape):
        return None
    return MarchenkoPastur(h=int(shape[0]), d=int(shape[1]), sigma2=float(shape[2]))


def representative_runs(tables: SweepTables) -> pd.DataFrame:
    """One run per grid point: its completed run with the lowest seed (any readable run when
    none completed), among runs that have eigenvalues.  Returns the grid columns, run_dir,
    seed and series label, in grid order."""
    s = tables.summary
    if tables.esd is not None:
        s = s[s["run_dir"].isin(list(tables.esd.run_dirs))]
    seed = ["seed"] if "seed" in s.columns else []
    if s.empty:
        return pd.DataFrame(columns=[*tables.grid, "run_dir", *seed, "series"])
    runs = s.drop_duplicates("run_dir").assign(_done=lambda d: (d["status"] != Status.completed.value).astype(int))
    runs = runs.sort_values([*tables.grid, "_done", *seed, "run_dir"], kind="stable")
    runs = runs.drop_duplicates(tables.grid) if tables.grid else runs.head(1)
    runs = style.add_series(runs, tables.grid, default="")
    return runs[[*tables.grid, "run_dir", *seed, "series"]].reset_index(drop=True)


def _pick_rows(
    pick: Pick, initial: Optional[np.ndarray], current: np.ndarray, probe: pd.Series, scales: Sequence[str], bins: Optional[int]
) -> List[pd.DataFrame]:
    """Histogram rows of one pick: the step-t ESD and (for t > 0) the step-0 ESD, on common
    edges per scale."""
    series, run_dir, step = pick
    both = current if initial is None else np.concatenate([initial, current])
    shown = [(step, current)] if step == 0 or initial is None else [(0, initial), (step, current)]
    out = []
    for scale in scales:
        upper = None
        if scale == "truncated":
            upper = float(np.quantile(current, TRUNCATE_QUANTILE, method="lower"))  # an eigenvalue, not an interpolation into a spike
            upper = max(upper, float(initial.max())) if initial is not None else upper
        elif scale == "bulk":
            upper = bulk_upper(current, initial, probe)
        edges = bin_edges(both, scale, bins or n_bins(len(current)), upper)
        for of_step, vals in shown:
            counts, dens = histogram(vals, edges)
            frame = pd.DataFrame(
                {"series": series, "run_dir": run_dir, "step": step, "esd_of_step": of_step, "scale": scale,
                 "bin_lo": edges[:-1], "bin_hi": edges[1:], "count": counts, "density": dens, "n_eigs": len(vals)}
            )  # fmt: skip
            out.append(frame.assign(**{c: probe.get(c, np.nan) for c in PROBE_VALUES}))
    return out


Eigs = Dict[Tuple[str, int], np.ndarray]  # (run_dir, step) -> eigenvalues of one layer


def load_eigs(tables: SweepTables, picks: Sequence[Pick], layer: Optional[str]) -> Eigs:
    """The eigenvalues of ``layer`` at each pick's step and at step 0, one read of esd.parquet."""
    if tables.esd is None:
        raise ValueError("ESD figure: the sweep has no eigenvalues (esd.parquet)")
    run_dirs = sorted({p[1] for p in picks})
    steps = sorted({0} | {p[2] for p in picks})
    eigs = tables.esd.load(run_dirs, steps, None if layer is None else [layer])
    return {k: g["eigenvalue"].to_numpy(float) for k, g in eigs.groupby(["run_dir", "step"])}


def esd_rows(
    tables: SweepTables,
    picks: Sequence[Pick],
    scales: Sequence[str],
    bins: Optional[int],
    layer: Optional[str],
    groups: Optional[Eigs] = None,
) -> pd.DataFrame:
    """Histogram rows for each (series, run_dir, step) pick of ``layer``: the step-0 ESD and
    the step-t ESD on common bin edges per (pick, scale), with that step's :data:`PROBE_VALUES`
    and a ``layer`` column.  ``groups``: eigenvalues already read by :func:`load_eigs`."""
    if groups is None:
        groups = load_eigs(tables, picks, layer)
    probes = layer_summary(tables, layer)
    out: List[pd.DataFrame] = []
    for pick in picks:
        key = (pick[1], pick[2])
        if key in groups and key in probes.index:
            out += _pick_rows(pick, groups.get((pick[1], 0)), groups[key], probes.loc[key], scales, bins)
    if not out:
        raise ValueError("ESD figure: no eigenvalues for the chosen runs and steps (probe.esd=false?)")
    return pd.concat(out, ignore_index=True).assign(layer=layer)


def layer_summary(tables: SweepTables, layer: Optional[str]) -> pd.DataFrame:
    """The summary rows of ``layer`` indexed by (run_dir, step)."""
    s = tables.summary
    if layer is not None:
        s = s[s["layer"] == layer]
    return s.drop_duplicates(["run_dir", "step"]).set_index(["run_dir", "step"])


def _draw_histograms(ax: Axes, cell: pd.DataFrame, scale: str, step: int) -> None:
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


def _draw_mp_curve(ax: Axes, r: pd.Series, lo: float, hi: float, scale: str, lw: float, label: Optional[str] = None) -> None:
    """The MP law of W_0 (red) over [lo, hi], NaN outside its support; nothing for records
    without the law's parameters.  ``label=None``: left out of the legend."""
    law = mp_law(r)
    if law is None:
        return
    x = np.geomspace(lo, hi, 400) if scale == "log" else np.linspace(lo, hi, 400)
    mp = law.density(x).numpy()
    ax.plot(x, np.where(mp > 0, mp, np.nan), color=_C_MP, lw=lw, label=label if label is not None else "_nolegend_")


def _draw_laws(ax: Axes, r: pd.Series, lo: float, hi: float, scale: str) -> None:
    """The MP law of W_0 and its edge (red), and the PL_Alpha_KS tail from its xmin (dashed)."""
    _draw_mp_curve(ax, r, lo, hi, scale, lw=1.2, label=MP_LABEL)
    ax.axvline(r["mp_lambda_plus"], color=_C_MP, ls=":", lw=1.2, label=r"MP edge $\lambda_+$")
    alpha, xmin = r["pl_alpha_ks"], r["pl_alpha_ks_xmin"]
    if np.isfinite(alpha) and alpha > 1 and 0 < xmin < hi:
        xt = np.geomspace(xmin, hi, 200)
        pl = powerlaw_density(xt, alpha, xmin, r["pl_alpha_ks_n_tail"], r["n_eigs"])
        ax.plot(xt, pl, color=_C_PL, ls="--", lw=1.2, label=r"PL fit ($\lambda \geq \lambda_{min}$)")
        ax.text(0.97, 0.95, rf"$\alpha_{{KS}}$={alpha:.2f}", transform=ax.transAxes, ha="right", va="top", fontsize=9)


def draw_cell(ax: Axes, cell: pd.DataFrame, scale: str) -> None:
    """One ESD axis: step-0 histogram (grey), step-t histogram (blue), MP law and edge of W_0
    (red), the PL_Alpha_KS power law from its xmin (dashed) and alpha in the corner; the y
    range follows the histograms (the curves are clipped to it)."""
    step = int(cell["step"].iloc[0])
    _draw_histograms(ax, cell, scale, step)
    _draw_laws(ax, cell.iloc[0], float(cell["bin_lo"].min()), float(cell["bin_hi"].max()), scale)
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
    if scale == "truncated":
        hi = float(cell["bin_hi"].max())
        ax.set_xlim(0.0, hi)
        shown = cell[cell["esd_of_step"] == step]
        beyond = int(shown["n_eigs"].iloc[0] - shown["count"].sum()) if len(shown) else 0
        ax.text(0.97, 0.80, f"{beyond} eigenvalues > {hi:.3g} not shown", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)  # fmt: skip
    ax.grid(False)
    ax.set_xlabel(r"eigenvalue $\lambda$ of $W_t^\top W_t$")
    ax.set_ylabel("density")


def squeezed(linear: pd.DataFrame, truncated: pd.DataFrame) -> bool:
    """Whether the linear view of a cell hides its bulk: the "bulk" view ends below
    :data:`INSET_BELOW` of the linear range."""
    if linear.empty or truncated.empty:
        return False
    return float(truncated["bin_hi"].max()) < INSET_BELOW * float(linear["bin_hi"].max())


def draw_truncated_inset(ax: Axes, truncated: pd.DataFrame) -> Axes:
    """The "bulk" view of a cell (:func:`bulk_upper`) as an inset of its linear panel: both
    histograms, the MP law of W_0 and its edge, and the count of eigenvalues beyond the inset's
    range.  Unlabelled artists, so the figure legend is unchanged."""
    inset = ax.inset_axes(INSET_BOUNDS)
    step = int(truncated["step"].iloc[0])
    for which in (0, step):
        d = truncated[truncated["esd_of_step"] == which]
        if d.empty:
            continue
        edges = np.append(d["bin_lo"].to_numpy(), d["bin_hi"].to_numpy()[-1])
        color, alpha = (_C_INITIAL, 0.45) if which == 0 and step != 0 else (_C_STEP, 0.35)
        inset.stairs(d["density"].to_numpy(), edges, fill=True, color=color, alpha=alpha, lw=0)
    hi = float(truncated["bin_hi"].max())
    r = truncated.iloc[0]
    _draw_mp_curve(inset, r, 0.0, hi, "linear", lw=1.0)
    if np.isfinite(r["mp_lambda_plus"]) and r["mp_lambda_plus"] <= hi:
        inset.axvline(r["mp_lambda_plus"], color=_C_MP, ls=":", lw=1.0)
    # the y range follows the step-t histogram: a bulk that moved away from W_0's stays visible
    # (W_0's grey histogram is clipped instead)
    dens = truncated.loc[truncated["esd_of_step"] == step, "density"].to_numpy(float)
    dens = dens[np.isfinite(dens) & (dens > 0)]
    if dens.size:
        inset.set_ylim(0.0, dens.max() * 1.15)
    inset.set_xlim(0.0, hi)
    shown = truncated[truncated["esd_of_step"] == step]
    beyond = int(shown["n_eigs"].iloc[0] - shown["count"].sum()) if len(shown) else 0
    inset.set_title(rf"bulk ($\lambda \leq$ {hi:.3g}; {beyond} beyond)", fontsize=7, pad=2)
    inset.tick_params(labelsize=6, length=2, pad=1)
    inset.tick_params(axis="y", labelleft=False)  # the same density axis as the panel's; no clutter
    inset.grid(False)
    return inset


def legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend for the whole figure, below the panels, from the panel with most entries."""
    best = max(axes.flat, key=lambda a: len(a.get_legend_handles_labels()[0]))
    handles, labels = best.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 3))


def title(tables: SweepTables, layer: Optional[str]) -> str:
    """'ESD of layer <name>' for the figure title when the sweep has several layers, else ''."""
    note = layer_note(tables, layer)
    return f"ESD of {note}" if note else ""
