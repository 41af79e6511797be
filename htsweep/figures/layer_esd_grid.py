"""Fig. 33-37 (App. F.6; issue 11): the layer-wise ESD grid of a deep network.

One column per chosen layer, one row per probed step; each cell is the log-log histogram of
that layer's ESD at that step (blue) over the same layer's ESD at step 0 (grey), with the
Marchenko-Pastur law of the layer's initialisation and its edge (red, as in the ``esd`` cells:
``matrix_rows`` x ``matrix_cols``, ``mp_sigma2`` - one slice of a convolution with
``conv_matrix=slices``) and the PL_Alpha_KS power law from its xmin (dashed); the cell title
names the layer, the step and its PL_Alpha_KS and PL_Alpha_Hill (or why the ESD was not
fitted: ``fit_status``).  Cells are drawn by :func:`htsweep.figures._cells.draw_cell`.

Which rows and cells:

* runs: each grid point's representative run (its completed run with the lowest seed,
  :func:`htsweep.figures._cells.representative_runs`), one block of rows per grid point, at
  most ``max_points`` (:data:`MAX_POINTS`) of them, the first in grid order (the title says
  how many there are); each block has its own layers (a sweep over architectures has
  different ones per grid point);
* layers (``layers=[...]``, module names, or by default :func:`choose_layers`): the paper's
  three (:data:`PAPER_LAYERS`) for VGG11 and ResNet18, else up to
  :data:`MAX_LAYERS` of the run's layers spread evenly over its depth (``layer_index``),
  first and last included, among those whose ESD was fitted (``fit_status == "ok"``; all of
  them when none was);
* steps (``steps=[...]``, or by default): the first and the last step the run probed.

The x range: a square matrix's ESD (a convolution's square slices) reaches down to ~0 (the MP
law with c = 1 has density ~ lambda^(-1/2) there), which would spread a log axis over ten
decades of which the bulk and the tail take the last two.  Bins therefore span ``decades``
(:data:`DECADES`) decades below the cell's largest eigenvalue (the largest of its step-t and
step-0 ESDs); the eigenvalues below are not drawn (1.3% of a square MP bulk at 4 decades),
counted in ``n_below`` and in the cell.  ``decades=None``: every positive eigenvalue.
Densities are count / (N x bin width) with N all of the ESD's eigenvalues, so the PL and MP
curves keep their scale.

CSV columns (one row per histogram bin): ``series``, ``run_dir``, ``layer``, ``step``,
``esd_of_step`` (0: the grey step-0 underlay of a cell at step > 0, else the cell's own
step), ``scale`` (``log``), ``bin_lo``, ``bin_hi``, ``count``, ``density``, ``n_eigs`` (N),
``n_below`` (eigenvalues of that ESD below ``bin_lo`` of the first bin), then the summary
values of that run, step and layer: :data:`htsweep.figures._cells.PROBE_VALUES`
(``mp_lambda_plus``, ``pl_alpha_ks``, ``pl_alpha_ks_xmin``, ``pl_alpha_ks_n_tail``,
``matrix_rows``, ``matrix_cols``, ``mp_sigma2``, ``mp_fit_bulk_max``, ``mp_fit_lambda_plus``)
and :data:`LAYER_VALUES` (``layer_index``, ``matrix_count``, ``conv_matrix``, ``fit_status``,
``pl_alpha_hill``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from htsweep.figures import _cells, style
from htsweep.figures.select import has_esd
from htsweep.sweep.tables import SweepTables

NAME = "layer_esd_grid"
DOC = "Fig. 33-37: layer-wise ESDs, columns layer, rows step"
MAX_LAYERS = 4  # layers chosen by default
# The layers the paper shows (Fig. 6, 33-37: "VGG11 Layer 2 / 4 / 7", "ResNet18 Layer 5 / 8 /
# 10"), read as 1-based positions among the Conv2d / Linear layers in module order (the row order
# of WeightWatcher and TempBalance; the paper does not say which convention it used, see the
# README "Deeper networks"): chosen by default when a run has all three.
PAPER_LAYERS = (
    ("features.3", "features.8", "features.16"),  # VGG11 2 / 4 / 7
    ("layer1.1.conv2", "layer2.0.downsample.0", "layer2.1.conv2"),  # ResNet18 5 / 8 / 10
)
MAX_POINTS = 4  # grid points drawn (blocks of rows)
DECADES = 4.0  # bins span this many decades below a cell's largest eigenvalue
LAYER_VALUES = ("layer_index", "matrix_count", "conv_matrix", "fit_status", "pl_alpha_hill")
FIT_OK = "ok"


def _rows_of(tables: SweepTables, run_dir: Optional[str]) -> pd.DataFrame:
    s = tables.summary
    if run_dir is not None:
        s = s[s["run_dir"] == run_dir]
    return s


def layer_order(tables: SweepTables, run_dir: Optional[str] = None) -> List[str]:
    """The analysed layers (of ``run_dir``, else of the sweep) in depth order: by
    ``layer_index`` where recorded, else in order of first appearance."""
    s = _rows_of(tables, run_dir)
    if "layer" not in s.columns:
        return []
    layers = [str(v) for v in pd.unique(s["layer"].dropna())]
    if "layer_index" not in s.columns:
        return layers
    first = s.drop_duplicates("layer").set_index("layer")["layer_index"]
    index = pd.to_numeric(first, errors="coerce")
    key = {name: (float(index[name]) if pd.notna(index.get(name)) else np.inf, i) for i, name in enumerate(layers)}
    return sorted(layers, key=key.__getitem__)


def fitted_layers(tables: SweepTables, run_dir: Optional[str] = None) -> List[str]:
    """:func:`layer_order`'s layers whose ESD was fitted at least once (``fit_status ==
    "ok"``); all of them when the records have no ``fit_status`` or none was fitted."""
    order = layer_order(tables, run_dir)
    s = _rows_of(tables, run_dir)
    if "fit_status" not in s.columns:
        return order
    ok = set(s.loc[s["fit_status"].astype(str) == FIT_OK, "layer"].astype(str))
    return [name for name in order if name in ok] or order


def choose_layers(
    tables: SweepTables, layers: Optional[Sequence[str]] = None, k: int = MAX_LAYERS, run_dir: Optional[str] = None
) -> List[str]:
    """``layers`` when given (each must be one of the sweep's), else up to ``k`` of
    :func:`fitted_layers` (of ``run_dir``, else of the sweep) evenly spaced over the depth,
    the first and the last included."""
    if layers is not None:
        unknown = [name for name in layers if name not in tables.layers]
        if unknown:
            raise ValueError(f"{NAME}: no layer {unknown[0]!r} in the sweep; its layers: {', '.join(tables.layers)}")
        return list(dict.fromkeys(layers))
    pool = fitted_layers(tables, run_dir)
    for paper in PAPER_LAYERS:
        if set(paper) <= set(layer_order(tables, run_dir)):
            return list(paper)
    if len(pool) <= k:
        return pool
    picks = np.unique(np.round(np.linspace(0, len(pool) - 1, k)).astype(int))
    return [pool[i] for i in picks]


def choose_steps(tables: SweepTables, run_dir: str, steps: Optional[Sequence[int]] = None) -> List[int]:
    """``steps`` when given, else the first and the last step ``run_dir`` probed."""
    if steps is not None:
        return list(dict.fromkeys(int(s) for s in steps))
    probed = sorted(int(s) for s in _rows_of(tables, run_dir)["step"].unique())
    return sorted({probed[0], probed[-1]}) if probed else []


def applies(tables: SweepTables) -> Optional[str]:
    """None when eigenvalues were stored and the sweep analyses more than one layer."""
    if not has_esd(tables):
        return "no eigenvalues (esd.parquet)"
    if len(tables.layers) < 2:
        return "one analysed layer (a deep network has several)"
    return None


def log_edges(values: np.ndarray, bins: int, decades: Optional[float]) -> np.ndarray:
    """``bins`` + 1 log-spaced edges from max(smallest positive value, largest / 10^decades)
    to just above the largest value."""
    pos = values[values > 0]
    if pos.size == 0:
        return np.geomspace(1e-12, 1.0, bins + 1)
    hi = float(pos.max())
    lo = float(pos.min()) if decades is None else max(float(pos.min()), hi * 10.0 ** (-decades))
    return np.geomspace(lo, (hi if hi > lo else lo * 1.01) * (1 + 1e-9), bins + 1)


Block = Tuple[pd.Series, List[int], List[str]]  # (representative run, its steps, its layers)


def cell_rows(
    rep: pd.Series, layer: str, step: int, eigs: Dict[Tuple[int, str], np.ndarray], probe: pd.Series,
    bins: Optional[int], decades: Optional[float],
) -> pd.DataFrame:  # fmt: skip
    """The histogram rows of one cell: the step's ESD and (step > 0) step 0's, on common
    log-spaced edges (:func:`log_edges`), with the probe values of the cell's summary row."""
    current = eigs[(step, layer)]
    initial = eigs.get((0, layer)) if step != 0 else None
    shown = [(step, current)] if initial is None else [(0, initial), (step, current)]
    both = current if initial is None else np.concatenate([initial, current])
    edges = log_edges(both, bins or _cells.n_bins(len(current)), decades)
    out = []
    for of_step, vals in shown:
        counts, dens = _cells.histogram(vals, edges)
        out.append(pd.DataFrame({
            "series": rep["series"], "run_dir": rep["run_dir"], "layer": layer, "step": step, "esd_of_step": of_step,
            "scale": "log", "bin_lo": edges[:-1], "bin_hi": edges[1:], "count": counts, "density": dens,
            "n_eigs": len(vals), "n_below": int((vals < edges[0]).sum()),
        }))  # fmt: skip
    frame = pd.concat(out, ignore_index=True)
    return frame.assign(**{c: probe.get(c, np.nan) for c in (*_cells.PROBE_VALUES, *LAYER_VALUES)})


def _cell_title(layer: str, step: int, cell: pd.DataFrame) -> str:
    r = cell.iloc[0]
    alpha = r["pl_alpha_ks"]
    if pd.notna(alpha) and np.isfinite(float(alpha)):
        fit = rf"$\alpha_{{KS}}$={float(alpha):.2f}"
        hill = r.get("pl_alpha_hill", np.nan)
        if pd.notna(hill) and np.isfinite(float(hill)):
            fit += rf", $\alpha_{{Hill}}$={float(hill):.2f}"
    else:
        status = r.get("fit_status", None)
        fit = f"not fitted ({status})" if isinstance(status, str) and status != FIT_OK else r"$\alpha_{KS}$ n/a"
    return f"{layer}, $t={step}$\n{fit}"


def _draw(ax, cell: pd.DataFrame) -> None:
    """One cell through :func:`htsweep.figures._cells.draw_cell` (log-log).  A step-0 cell is
    its own ESD only: draw_cell draws the rows of step 0 as the underlay and again as the
    step's own (the same histogram twice, at double opacity), so its rows go in under a step
    label no row has - drawn once, as the step's ESD.  The alpha goes to the title (the corner
    label draw_cell adds is dropped); eigenvalues left of the bins are counted in the corner."""
    step = int(cell["step"].iloc[0])
    if step == 0:
        cell = cell.assign(step=-1, esd_of_step=-1)
    _cells.draw_cell(ax, cell, "log")
    for text in list(ax.texts):
        if text.get_text().startswith(r"$\alpha_{KS}$"):
            text.remove()
    below = cell.loc[cell["esd_of_step"] == cell["step"], "n_below"]
    if len(below) and int(below.iloc[0]) > 0:
        ax.text(0.03, 0.03, rf"{int(below.iloc[0])} $\lambda$ < {float(cell['bin_lo'].min()):.1e}", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=7, color="0.3")  # fmt: skip


def _legend(fig, axes: np.ndarray) -> None:
    """One legend below the panels: every label any cell drew, once, in order of appearance."""
    seen: Dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=min(len(seen), 3))


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    layers: Optional[Sequence[str]] = None,
    steps: Optional[Sequence[int]] = None,
    bins: Optional[int] = None,
    decades: Optional[float] = DECADES,
    max_points: int = MAX_POINTS,
    name: str = NAME,
) -> pd.DataFrame:
    """The grid of the module docstring; returns its histogram rows (the CSV)."""
    if tables.esd is None:
        raise ValueError(f"{NAME}: the sweep has no eigenvalues (esd.parquet)")
    if layers is not None:
        choose_layers(tables, layers)  # unknown names are an error
    reps_all = _cells.representative_runs(tables)
    reps = reps_all.head(max_points).reset_index(drop=True)
    if reps.empty:
        raise ValueError(f"{NAME}: no run with eigenvalues")
    blocks: List[Block] = []
    parts: List[pd.DataFrame] = []
    for _, rep in reps.iterrows():
        run_dir = rep["run_dir"]
        have = layer_order(tables, run_dir)
        chosen = [n for n in layers if n in have] if layers is not None else choose_layers(tables, run_dir=run_dir)
        at = choose_steps(tables, run_dir, steps)
        blocks.append((rep, at, chosen))
        if not chosen or not at:
            continue
        frame = tables.esd.load([run_dir], sorted({0, *at}), chosen)
        eigs = {(int(s), str(la)): g["eigenvalue"].to_numpy(float) for (s, la), g in frame.groupby(["step", "layer"])}
        probes = tables.summary[tables.summary["run_dir"] == run_dir].drop_duplicates(["step", "layer"]).set_index(["step", "layer"])
        for s in at:
            for layer in chosen:
                if (s, layer) in eigs and (s, layer) in probes.index:
                    parts.append(cell_rows(rep, layer, s, eigs, probes.loc[(s, layer)], bins, decades))
    if not parts:
        raise ValueError(f"{NAME}: no eigenvalues for the chosen layers and steps")
    data = pd.concat(parts, ignore_index=True)
    n_rows = sum(len(at) for _, at, _ in blocks)
    n_cols = max(len(chosen) for _, _, chosen in blocks)
    with style.style():
        fig, axes = style.new_figure(max(n_rows, 1), max(n_cols, 1), 3.3, 2.7)
        i = 0
        for rep, at, chosen in blocks:
            for step in at:
                for j in range(n_cols):
                    ax = axes[i, j]
                    layer = chosen[j] if j < len(chosen) else None
                    cell = data[(data["run_dir"] == rep["run_dir"]) & (data["step"] == step) & (data["layer"] == layer)]
                    if cell.empty:
                        if layer is not None:
                            ax.text(0.5, 0.5, f"{layer}, t={step}:\nnot probed", ha="center", va="center", transform=ax.transAxes)
                        ax.set_axis_off()
                        continue
                    _draw(ax, cell)
                    ax.set_title(_cell_title(layer, step, cell), fontsize=10)
                    if i != n_rows - 1:
                        ax.set_xlabel("")
                    ax.set_ylabel((f"{rep['series']}\ndensity" if rep["series"] else "density") if j == 0 else "")
                i += 1
        _legend(fig, axes)
        note = f"first {len(reps)} of {len(reps_all)} grid points" if len(reps_all) > len(reps) else ""
        style.suptitle(fig, tables, "layer-wise ESDs (grey: the same layer at $t=0$)", note)
        style.save(fig, data, out_dir, name)
    return data
