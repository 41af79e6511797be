"""Fig. 8 (Thm 4.1): ||G~_0||_F and ||G~_0||_2 = ||M_0|| / eta at step 1 against sqrt(h d),
with the least-squares line and its R^2 per series.  h x d is the shape of the analysed matrix
as the records give it (``matrix_rows`` x ``matrix_cols``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pandas as pd

from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_note, layer_rows
from htsweep.sweep.tables import SweepTables

NAME = "update_norms"
DOC = "Fig. 8: ||G~_0|| vs sqrt(hd)"
NORMS = ("frobenius", "spectral")
# Grid columns that set the matrix shape (Table 2 scales n with h and d): not a series.
SHAPE_COLUMNS = ("model.h", "data.d", "data.n")
_NEEDED = ("matrix_rows_mean", "matrix_cols_mean", "lr_t_mean", *(f"update_{n}_mean" for n in NORMS))
_SYMBOL = {"frobenius": r"$\|\widetilde{G}_0\|_F$", "spectral": r"$\|\widetilde{G}_0\|_2$"}


def _first_update(tables: SweepTables, layer: Optional[str]) -> pd.DataFrame:
    """The aggregate rows of ``layer`` at step 1 (the first update M_0)."""
    return layer_rows(tables.aggregate[tables.aggregate["step"] == 1], layer)


def applies(tables: SweepTables) -> Optional[str]:
    """None when step 1 has an update norm and the matrix shape varies across grid points."""
    missing = [c for c in _NEEDED if c not in tables.aggregate.columns]
    if missing:
        return f"the aggregate table lacks {missing}"
    d = _first_update(tables, choose_layer(tables))
    if not (d["update_frobenius_count"] > 0).any():
        return "no update norm at step 1"
    if (d["matrix_rows_mean"] * d["matrix_cols_mean"]).nunique() < 2:
        return "the matrix shape h x d does not vary"
    return None


def linear_fit(x: np.ndarray, y: np.ndarray) -> Tuple[float, float, float]:
    """Least squares y = slope x + intercept -> (slope, intercept, R^2 = 1 - SS_res / SS_tot).

    R^2 is nan with fewer than two distinct x, and 1 when y is constant (the least-squares
    line, slope 0, fits it exactly; the float residuals are rounding)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(np.unique(x)) < 2:
        return math.nan, math.nan, math.nan
    slope, intercept = np.polyfit(x, y, 1)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return float(slope), float(intercept), r2


def plotted_data(tables: SweepTables, layer: Optional[str]) -> pd.DataFrame:
    """One row per (norm, series, grid point) with a finite norm: norm, series, n,
    matrix_rows, matrix_cols, sqrt_hd, mean, std, count (of ||M_0|| / lr_t), update_mean (the
    norm of M_0 itself), then the series' fit, slope, intercept and r2."""
    missing = [c for c in _NEEDED if c not in tables.aggregate.columns]
    if missing:
        raise ValueError(f"{NAME}: aggregate table lacks {missing}")
    d = _first_update(tables, layer)
    if d.empty:
        raise ValueError(f"{NAME}: no probe at step 1 (the first update M_0)")
    d = style.add_series(d, [c for c in tables.grid if c not in SHAPE_COLUMNS])
    rows, cols, lr = (d[c].to_numpy(float) for c in ("matrix_rows_mean", "matrix_cols_mean", "lr_t_mean"))
    base = pd.DataFrame(
        {
            "series": d["series"].to_numpy(),
            "n": d["data.n"].to_numpy() if "data.n" in d else np.nan,
            "matrix_rows": rows,
            "matrix_cols": cols,
            "sqrt_hd": np.sqrt(rows * cols),
        }
    )
    parts = [
        base.assign(
            norm=norm,
            mean=d[f"update_{norm}_mean"].to_numpy(float) / lr,
            std=d[f"update_{norm}_std"].to_numpy(float) / lr,
            count=d[f"update_{norm}_count"].to_numpy(int),
            update_mean=d[f"update_{norm}_mean"].to_numpy(float),
        )
        for norm in NORMS
    ]
    long = pd.concat(parts, ignore_index=True)
    long = long[(long["count"] > 0) & np.isfinite(long["mean"])]
    if long.empty:
        raise ValueError(f"{NAME}: no finite update norm at step 1")
    long = long[["norm", *base.columns, "mean", "std", "count", "update_mean"]]
    fits = []
    for _, g in long.sort_values(["norm", "series", "sqrt_hd"], kind="stable").groupby(["norm", "series"], sort=False):
        slope, intercept, r2 = linear_fit(g["sqrt_hd"].to_numpy(float), g["mean"].to_numpy(float))
        fits.append(g.assign(fit=slope * g["sqrt_hd"] + intercept, slope=slope, intercept=intercept, r2=r2))
    return pd.concat(fits).reset_index(drop=True)


def draw(tables: SweepTables, out_dir: Path, *, layer: Optional[str] = None, name: str = NAME) -> pd.DataFrame:
    """Both norms of G~_0 = M_0 / eta (``update_*`` / ``lr_t`` at step 1, mean +- std over
    seeds) of ``layer`` (default: the sweep's first) against sqrt(h d), with each series'
    least-squares line.  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    long = plotted_data(tables, layer)
    series = sorted(long["series"].unique())
    colors = dict(zip(series, style.palette(len(series))))
    with style.style():
        fig, axes = style.new_figure(1, len(NORMS), 4.2, 3.4)
        for ax, norm in zip(axes.flat, NORMS):
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
            ax.set_ylabel(_SYMBOL[norm] + r" $= \|M_0\| / \eta$")
            ax.legend()
        style.suptitle(fig, tables, layer_note(tables, layer))
        style.save(fig, long, out_dir, name)
    return long
