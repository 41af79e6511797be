"""Heavy-tailed iterate noise and compressibility (seed 002: Wan, Barsbey, Zaidi & Simsekli, ICML
2024, "Implicit Compressibility of Overparametrized Neural Networks Trained with Heavy-Tailed SGD";
``conf/experiment/ht_noise.yaml``; shared/notes/ht_noise.md section 6).  The sweep injects
alpha-stable noise (``noise=alpha_stable``: ``noise.alpha``, ``noise.type``, the noise-to-weight
ratio ``noise.ratio``) into the hidden weights after every update, over the width ``model.h``,
the optimizer (``gd``, ``adam`` and the null control ``none``: no learning, only the noise) and
seeds.  One 2 x 2 figure at each run's final step, one layer (the two-layer model's W; for a deeper
network the first layer with ``compress_fraction`` values, or ``layer=``), mean +- std over seeds:

* (A) the prunable fraction of neurons ``compress_fraction`` (mce rule at ``probe.compress_rho``)
  against the width ``model.h`` (log2 x; an mlp's ``model.width``, else the layer's recorded
  ``matrix_rows``), one colour per ``noise.alpha``, one line style per ``noise.type``
  (subgaussian solid, per_entry dashed, per_neuron dotted), at the largest noise ratio; the
  noise-free baseline in black with a grey +- std band.
* (B) the ESD's PL_Alpha of W^T W (``pl_alpha_ks``: solid line, filled circles;
  ``pl_alpha_hill``: dashed line, hollow squares) against the injected ``noise.alpha``, one colour
  per ``noise.type``, at the largest ratio and the largest h; the dotted line 1 + alpha/2 is the
  notes' heavy-tail *heuristic* for noise-dominated weights (the top eigenvalues follow the
  largest squared row norms, P(> x) ~ x^(-alpha/2); not a theorem), and the noise-free
  PL_Alpha_KS is a horizontal grey band (mean +- std) with a grey line at its mean (the
  noise-free PL_Alpha_Hill: a grey dashed line).
* (C) the test loss against the fraction of neurons pruned (arrays.npz ``prune_neuron_kept``: the
  smallest-norm neurons removed, the network's own readout, no fine-tuning), at the largest h and
  ratio, one line per ``noise.alpha`` (``noise.type`` subgaussian when present, else the first),
  colours as in (A), plus the noise-free baseline (black); each line is the element-wise mean
  over seeds of the runs' curves (+- std band).
* (D) the weights' estimated tail index (Mohammadi block-sum estimator, capped at 2):
  ``tail_alpha_rows`` (solid, circles) and ``tail_alpha_entries`` (dashed, triangles) against the
  injected ``noise.alpha``, one colour per ``noise.type``, at the largest h and ratio, with the
  identity y = x (dotted); the null optimizer's runs (``optimizer.name`` none: W_0 plus the
  accumulated noise) as hollow markers, when the sweep has them.

**Held values.**  The panels use the chosen optimizer (``optimizer=``; default the first of gd,
adam present, else the first other non-null one, else the null control) and the largest noise
level among the noisy runs: ``noise.ratio``, or ``noise.sigma`` for a sweep that sets sigma
instead.  (B)-(D) use the largest width of those runs.  Any other varied grid column (e.g.
``lr``, when it varies beyond what the optimizer implies) is held at its most common value among
the chosen optimizer's rows (the null control's: among its own rows).  The panel titles name the
held values.

**Baseline.**  A noise-free run is one with ``noise.ratio`` = 0, or ``noise.name`` none, or
``noise.sigma`` = 0 with no ratio: it draws no noise, so the grid's ratio-0 points of every alpha
and type are the same run; the baseline is read from one of them per width (``noise.type``
subgaussian when present, then the largest ``noise.alpha``).  A sweep without noise-free runs,
or with one noise level, or one width, is drawn without what it lacks (no baseline, one point);
a panel without values says so.

Plotted data (the CSV), one row per plotted value: ``panel`` (A-D), ``role`` (``noise``,
``baseline``, ``null_optimizer`` or ``reference``), ``series`` (the legend label),
``metric`` (``compress_fraction``, ``pl_alpha_ks``, ``pl_alpha_hill``, ``test_loss``,
``tail_alpha_rows``, ``tail_alpha_entries``, or the reference: ``heuristic_1_plus_alpha_over_2``,
``identity``), ``x_name`` (the width column, e.g. ``model.h``; ``noise.alpha``; ``fraction_pruned``), ``x`` (the baseline
rows of B: NaN, a horizontal line), ``mean``, ``std``, ``count`` (over seeds; C: the runs whose
curves were averaged; 0 on reference rows), the row's ``noise.alpha``, ``noise.type``, ``noise.ratio``,
``noise.sigma``, ``model.h``, ``optimizer.name``, ``layer``, ``step`` and ``seeds`` (JSON list).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import matplotlib as mpl
import numpy as np
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import final_rows, layer_note, layer_rows
from htsweep.figures.subspace_angles import run_folders
from htsweep.records import ARRAYS_FILE, array_key
from htsweep.sweep.tables import SweepTables

NAME = "ht_noise"
DOC = "seed 002: heavy-tailed iterate noise: prunable fraction vs h, PL_Alpha and weight tail index vs alpha, pruning curves"

ALPHA = "noise.alpha"
TYPE = "noise.type"
RATIO = "noise.ratio"
SIGMA = "noise.sigma"
NOISE = "noise.name"
H = "model.h"
WIDTHS = (H, "model.width")  # the width's config key: two_layer, mlp; else the layer's recorded rows
ROWS_RECORDED = "matrix_rows_mean"
OPT = "optimizer.name"
LEVELS = (RATIO, SIGMA)  # the noise level column: the first with a positive value
OWN = (ALPHA, TYPE, RATIO, SIGMA, NOISE, *WIDTHS, OPT)  # grid columns the panels place themselves
PREFERRED_OPTIMIZERS = ("gd", "adam")
NULL_OPTIMIZER = "none"
TYPE_ORDER = ("subgaussian", "per_entry", "per_neuron")
TYPE_STYLES = {"subgaussian": "-", "per_entry": "--", "per_neuron": ":"}
FRACTION = "compress_fraction"
KS, HILL = "pl_alpha_ks", "pl_alpha_hill"
ROWS, ENTRIES = "tail_alpha_rows", "tail_alpha_entries"
CURVE_KIND = "prune_neuron_kept"  # htsweep.probes.compress.NEURON_KEPT
HEURISTIC = "heuristic_1_plus_alpha_over_2"
IDENTITY = "identity"
HEURISTIC_LABEL = r"$1 + \alpha/2$: heavy-tail heuristic"
NOISE_FREE = "no noise"
OPTIMIZER_NAMES = {**style.OPTIMIZER_NAMES, "sgd": "SGD", NULL_OPTIMIZER: "null (no learning)"}
RUN_COLUMNS = (ALPHA, TYPE, RATIO, SIGMA, H, OPT)
COLUMNS = ("panel", "role", "series", "metric", "x_name", "x", "mean", "std", "count", *RUN_COLUMNS, "layer", "step", "seeds")


def applies(tables: SweepTables) -> Optional[str]:
    """None when the injected noise.alpha varies, compress_fraction has values and some run
    drew noise."""
    summary = tables.summary
    if ALPHA not in summary.columns or summary[ALPHA].dropna().nunique() < 2:
        return "the injected noise.alpha does not vary"
    if not al.finite_metric(summary, FRACTION):
        return f"no values of {FRACTION} (probe.compress=true)"
    if noise_free(summary).all():
        return "no run drew noise (noise.ratio or noise.sigma is 0 in every run)"
    return None


# --------------------------------------------------------------------------------------------
# Selecting rows


def _col(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame[column]``, or an all-null column when absent."""
    return frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(_col(frame, column), errors="coerce")


def noise_free(frame: pd.DataFrame) -> pd.Series:
    """Rows of runs that drew no noise (module docstring, Baseline)."""
    ratio, sigma = _num(frame, RATIO), _num(frame, SIGMA)
    free = (ratio == 0) | (ratio.isna() & (sigma == 0))
    if NOISE in frame.columns:
        free |= frame[NOISE].astype(object).eq("none")
    return free.fillna(False).astype(bool)


def level_column(noisy: pd.DataFrame) -> Optional[str]:
    """The noise level column of the noisy rows: noise.ratio when set, else noise.sigma."""
    for c in LEVELS:
        if (_num(noisy, c) > 0).any():
            return c
    return None


def _equal(frame: pd.DataFrame, column: str, value: Any) -> pd.Series:
    values = _col(frame, column)
    return values.isna() if value is None or (isinstance(value, float) and math.isnan(value)) else values == value


def width_column(frame: pd.DataFrame) -> Optional[str]:
    """The column of the width: model.h (two_layer) or model.width (mlp) when recorded, else the
    layer's number of neurons (``matrix_rows``); None when none has values."""
    for c in (*WIDTHS, ROWS_RECORDED):
        if _num(frame, c).notna().any():
            return c
    return None


def _type_rank(value: Any) -> int:
    return TYPE_ORDER.index(value) if value in TYPE_ORDER else len(TYPE_ORDER)


def ordered_types(frame: pd.DataFrame) -> List[Any]:
    """The noise types present, subgaussian, per_entry, per_neuron first."""
    values = list(dict.fromkeys(_col(frame, TYPE).dropna()))
    return sorted(values, key=lambda v: (_type_rank(v), str(v))) or [None]


def pick_optimizer(frame: pd.DataFrame, optimizer: Optional[str]) -> Optional[str]:
    """``optimizer`` (it must be present), else the first of gd, adam present, else the first
    other one, else the null control; None for records without an optimizer column."""
    present = [str(v) for v in al.ordered(_col(frame, OPT).dropna())]
    if optimizer is not None:
        if optimizer not in present:
            listed = ", ".join(present) or "(none)"
            raise ValueError(f"{NAME}: optimizer {optimizer!r} is not in the sweep; its optimizers: {listed}")
        return optimizer
    for name in (*PREFERRED_OPTIMIZERS, *[p for p in present if p != NULL_OPTIMIZER], NULL_OPTIMIZER):
        if name in present:
            return name
    return None


def hold_others(frame: pd.DataFrame, grid: Sequence[str]) -> Tuple[pd.DataFrame, Dict[str, Any]]:
    """``frame`` with every varied grid column other than :data:`OWN` held at its most common
    value (ties: the first in natural order); returns the rows and the held values."""
    held: Dict[str, Any] = {}
    for c in grid:
        if c in OWN or c not in frame.columns or frame[c].nunique(dropna=False) <= 1:
            continue
        counts = frame[c].value_counts(dropna=False)
        top = [v for v in al.ordered(list(counts.index)) if counts[v] == counts.max()] or list(counts.index[:1])
        held[c] = top[0]
        frame = frame[_equal(frame, c, top[0])]
    return frame, held


def one_copy(base: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One noise-free grid point per value of ``by``: noise.type subgaussian when present, then
    the largest noise.alpha (the ratio-0 points of every alpha and type are the same run)."""
    if base.empty:
        return base
    type_key = np.array([_type_rank(v) for v in _col(base, TYPE)], dtype=float)
    alpha_key = -_num(base, ALPHA).fillna(-np.inf).to_numpy(float)
    ranked = base.iloc[np.lexsort((alpha_key, type_key))]  # type first, then the largest alpha
    return ranked.groupby(list(by), dropna=False, sort=False).head(1) if by else ranked.head(1)


def choose_layer(tables: SweepTables, layer: Optional[str]) -> Optional[str]:
    """``layer`` (it must be one of the sweep's), else the first layer with compress_fraction
    values (the first hidden layer), else the sweep's first layer."""
    layers = tables.layers
    if layer is not None:
        if layer not in layers:
            raise ValueError(f"layer {layer!r} is not in the sweep; its layers: {', '.join(layers) or '(none)'}")
        return layer
    for name in layers:
        if al.finite_metric(layer_rows(tables.summary, name), FRACTION):
            return name
    return layers[0] if layers else None


@dataclass
class Selection:
    """The rows each panel draws from and the values the other grid columns are held at."""

    layer: Optional[str]
    optimizer: Optional[str]
    level: Optional[str]  # noise.ratio or noise.sigma
    level_value: Optional[float]  # its largest value among the noisy rows
    width: Optional[str]  # the width column (width_column)
    h: Optional[float]  # the largest width of the noisy rows (panels B-D)
    noisy: pd.DataFrame  # chosen optimizer, largest level, every h
    base: pd.DataFrame  # chosen optimizer, noise-free, one copy per h
    null: pd.DataFrame  # the null optimizer at the largest level and h
    held: Dict[str, Any] = field(default_factory=dict)


def select(tables: SweepTables, layer: Optional[str], step: Optional[int], optimizer: Optional[str]) -> Selection:
    """The rows of the module docstring's panels."""
    rows = layer_rows(final_rows(tables.aggregate, step), layer)
    grid = list(tables.grid)
    free = noise_free(rows)
    chosen = pick_optimizer(rows[~free] if (~free).any() else rows, optimizer)
    mine, held = hold_others(rows[_equal(rows, OPT, chosen)] if chosen is not None else rows, grid)
    mine_free = noise_free(mine)
    noisy, base = mine[~mine_free], mine[mine_free]
    level = level_column(noisy)
    level_value = None
    if level is not None:
        level_value = float(_num(noisy, level).max())
        noisy = noisy[_num(noisy, level) == level_value]
    width = width_column(mine)
    widths = _num(noisy, width).dropna() if width is not None else pd.Series(dtype=float)
    h = float(widths.max()) if len(widths) else None
    base = one_copy(base, [width] if width is not None else [])
    null = rows.iloc[0:0]
    if chosen != NULL_OPTIMIZER and OPT in rows.columns:
        null, _ = hold_others(rows[rows[OPT].astype(object).eq(NULL_OPTIMIZER) & ~free], grid)
        if level is not None:
            null = null[_num(null, level) == level_value]
        if h is not None:
            null = null[_num(null, width) == h]
    return Selection(layer, chosen, level, level_value, width, h, noisy, base, null, held)


def at_width(frame: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """The rows of ``frame`` at the selection's largest width."""
    return frame if sel.h is None or sel.width is None else frame[_num(frame, sel.width) == sel.h]


# --------------------------------------------------------------------------------------------
# The long table


def fmt_alpha(value: Any) -> str:
    return r"$\alpha$=" + (f"{float(value):g}" if pd.notna(value) else "?")


def fmt_type(value: Any) -> str:
    return str(value) if value is not None and pd.notna(value) else "noise"


def _base_row(r: pd.Series, layer: Optional[str]) -> Dict[str, Any]:
    out = {c: (r[c] if c in r.index else None) for c in RUN_COLUMNS}
    out.update(layer=layer, step=r.get("step"), seeds=r.get("seeds"))
    return out


def stat_rows(
    frame: pd.DataFrame, panel: str, role: str, metric: str, x_name: Optional[str], series: Callable[[pd.Series], str],
    layer: Optional[str],
) -> List[dict]:
    """One row per aggregate row of ``frame`` with a finite ``metric`` mean; ``series(row)`` is its
    label, ``x_name`` the column plotted on x (None: a horizontal line)."""
    out = []
    if f"{metric}_mean" not in frame.columns:
        return out
    for _, r in frame.iterrows():
        mean = float(r[f"{metric}_mean"])
        if not math.isfinite(mean) or int(r[f"{metric}_count"]) == 0:
            continue
        x = float(r[x_name]) if x_name is not None and x_name in r.index else math.nan
        out.append({"panel": panel, "role": role, "series": series(r), "metric": metric, "x_name": x_name or "", "x": x,
                    "mean": mean, "std": float(r[f"{metric}_std"]), "count": int(r[f"{metric}_count"]),
                    **_base_row(r, layer)})  # fmt: skip
    return out


def runs_of(tables: SweepTables, row: pd.Series, layer: Optional[str]) -> List[str]:
    """The run folders (relative run_dir) averaged in one aggregate row: the summary's runs at its
    grid point, step and layer whose seed is in the row's ``seeds``."""
    s = layer_rows(tables.summary[tables.summary["step"] == row["step"]], layer)
    for c in tables.grid:
        if c in row.index:
            s = s[_equal(s, c, row[c] if pd.notna(row[c]) else None)]
    if "seed" in s.columns and isinstance(row.get("seeds"), str):
        s = s[s["seed"].isin(json.loads(row["seeds"]))]
    return [str(v) for v in pd.unique(s["run_dir"])]


def mean_curve(
    folders: Dict[str, Path], runs: Sequence[str], layer: Optional[str], step: int
) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """(fraction, mean test loss, its std, runs) of the runs' ``prune_neuron_kept`` curves at
    ``step`` (element-wise over seeds); None when no run stored one."""
    key = array_key(CURVE_KIND, str(layer), int(step))
    curves = []
    for run in runs:
        folder = folders.get(run)
        if folder is None:
            continue
        with np.load(folder / ARRAYS_FILE) as z:
            if key in z.files:
                curves.append(np.asarray(z[key], dtype=np.float64))
    if not curves:
        return None
    stack = np.stack(curves)  # (runs, ratios, [fraction, test_loss, test_accuracy])
    std = stack[:, :, 1].std(axis=0, ddof=1) if len(curves) > 1 else np.full(stack.shape[1], np.nan)
    return stack[:, :, 0].mean(axis=0), stack[:, :, 1].mean(axis=0), std, len(curves)


def curve_rows(
    tables: SweepTables, frame: pd.DataFrame, folders: Dict[str, Path], role: str, series: Callable[[pd.Series], str],
    layer: Optional[str],
) -> List[dict]:
    """Panel C's rows: per aggregate row of ``frame``, the mean curve of its runs (:func:`mean_curve`)."""
    out = []
    for _, r in frame.iterrows():
        curve = mean_curve(folders, runs_of(tables, r, layer), layer, int(r["step"]))
        if curve is None:
            continue
        fraction, mean, std, n = curve
        for x, m, s in zip(fraction, mean, std):
            if math.isfinite(m):
                out.append({"panel": "C", "role": role, "series": series(r), "metric": "test_loss", "x_name": "fraction_pruned",
                            "x": float(x), "mean": float(m), "std": float(s), "count": n, **_base_row(r, layer)})  # fmt: skip
    return out


def reference_rows(panel: str, metric: str, label: str, alphas: Sequence[float], fn: Callable[[float], float]) -> List[dict]:
    return [{"panel": panel, "role": "reference", "series": label, "metric": metric, "x_name": ALPHA, "x": float(a),
             "mean": float(fn(a)), "std": math.nan, "count": 0} for a in alphas]  # fmt: skip


def plotted_data(
    tables: SweepTables,
    layer: Optional[str] = None,
    step: Optional[int] = None,
    optimizer: Optional[str] = None,
    sweep_dir: Optional[Path] = None,
) -> Tuple[pd.DataFrame, Selection]:
    """The table of the module docstring and the selection it came from."""
    layer = choose_layer(tables, layer)
    sel = select(tables, layer, step, optimizer)
    if sel.noisy.empty:
        raise ValueError(f"{NAME}: no noisy run at the final step (optimizer {sel.optimizer})")
    several_types = _col(sel.noisy, TYPE).dropna().nunique() > 1
    rows: List[dict] = []

    def by_alpha_type(r: pd.Series) -> str:
        return fmt_alpha(r.get(ALPHA)) + (f", {fmt_type(r.get(TYPE))}" if several_types else "")

    # (A) prunable fraction against h
    rows += stat_rows(sel.noisy, "A", "noise", FRACTION, sel.width, by_alpha_type, layer)
    rows += stat_rows(sel.base, "A", "baseline", FRACTION, sel.width, lambda r: NOISE_FREE, layer)
    # (B) PL_Alpha against alpha, at the largest h
    top, base_top, null_top = at_width(sel.noisy, sel), at_width(sel.base, sel), sel.null
    alphas = sorted(float(a) for a in _num(top, ALPHA).dropna().unique())
    for metric, short in ((KS, "KS"), (HILL, "Hill")):
        rows += stat_rows(top, "B", "noise", metric, ALPHA, lambda r, s=short: f"{fmt_type(r.get(TYPE))}: PL_Alpha_{s}", layer)
        rows += stat_rows(base_top, "B", "baseline", metric, None, lambda r, s=short: f"{NOISE_FREE}: PL_Alpha_{s}", layer)
    if any(r["panel"] == "B" for r in rows):
        rows += reference_rows("B", HEURISTIC, HEURISTIC_LABEL, alphas, lambda a: 1.0 + a / 2.0)
    # (C) pruning curves at the largest h, one noise type
    types = ordered_types(top)
    curve_type = types[0]
    curves = top[_equal(top, TYPE, curve_type)] if TYPE in top.columns else top
    folders = run_folders(tables, sweep_dir)
    rows += curve_rows(tables, curves, folders, "noise", lambda r: fmt_alpha(r.get(ALPHA)), layer)
    rows += curve_rows(tables, base_top, folders, "baseline", lambda r: NOISE_FREE, layer)
    # (D) tail indices against alpha, at the largest h
    for metric, short in ((ROWS, "rows"), (ENTRIES, "entries")):
        rows += stat_rows(top, "D", "noise", metric, ALPHA, lambda r, s=short: f"{fmt_type(r.get(TYPE))}: {s}", layer)
        rows += stat_rows(null_top, "D", "null_optimizer", metric, ALPHA,
                          lambda r, s=short: f"{fmt_type(r.get(TYPE))}: {s}, null optimizer", layer)  # fmt: skip
    if any(r["panel"] == "D" for r in rows):
        rows += reference_rows("D", IDENTITY, "identity $y = x$", alphas, lambda a: a)
    data = pd.DataFrame(rows, columns=list(COLUMNS))
    data["step"] = pd.array(data["step"].tolist(), dtype="Int64")
    widths = pd.to_numeric(data[H], errors="coerce")
    if (widths.dropna() % 1 == 0).all():
        data[H] = pd.array([None if pd.isna(v) else int(v) for v in widths], dtype="Int64")
    if not (data["panel"] == "A").any():
        raise ValueError(f"{NAME}: no finite {FRACTION} at the final step")
    roles = {"noise": 0, "null_optimizer": 1, "baseline": 2, "reference": 3}
    order = {"panel": {p: i for i, p in enumerate("ABCD")}, "role": roles}
    data = data.sort_values(
        ["panel", "role", "metric", TYPE, ALPHA, "x"], kind="stable", na_position="last",
        key=lambda s: s.map(order[s.name]) if s.name in order else (s.map(_type_rank) if s.name == TYPE else s),
    )  # fmt: skip
    return data.reset_index(drop=True), sel


# --------------------------------------------------------------------------------------------
# Drawing


def _std(d: pd.DataFrame) -> np.ndarray:
    return d["std"].fillna(0.0).to_numpy(float)


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")


def _opt_name(optimizer: Optional[str]) -> str:
    return OPTIMIZER_NAMES.get(str(optimizer), str(optimizer)) if optimizer is not None else "all runs"


def _level_text(sel: Selection) -> str:
    if sel.level is None:
        return ""
    symbol = "$r$" if sel.level == RATIO else r"$\sigma$"
    return f"{symbol}={sel.level_value:g}"


def _h_text(sel: Selection) -> str:
    return f"$h$={sel.h:g}" if sel.h is not None else ""


def _join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def _alpha_colors(data: pd.DataFrame) -> Dict[float, Any]:
    alphas = sorted(float(a) for a in data.loc[data["role"] == "noise", ALPHA].dropna().unique())
    return dict(zip(alphas, style.palette(len(alphas))))


def _type_colors(data: pd.DataFrame) -> Dict[Any, Any]:
    types = ordered_types(data[data["role"].isin(["noise", "null_optimizer"])])
    return dict(zip(types, style.palette(len(types))))


def _panel_a(ax: Any, d: pd.DataFrame, sel: Selection, alpha_colors: Dict[float, Any], rho: Optional[float]) -> None:
    noisy, base = d[d["role"] == "noise"], d[d["role"] == "baseline"]
    types = ordered_types(noisy)
    for (a, t), g in _groups(noisy, [ALPHA, TYPE]):
        g = g.sort_values("x")
        color = alpha_colors.get(float(a), "0.3")
        ax.plot(g["x"], g["mean"], color=color, ls=TYPE_STYLES.get(t, "-."), marker="o", ms=4)
        ax.fill_between(g["x"], g["mean"] - _std(g), g["mean"] + _std(g), color=color, alpha=0.15, lw=0)
    if not base.empty:
        base = base.sort_values("x")
        ax.plot(base["x"], base["mean"], color="black", marker="o", ms=4)
        ax.fill_between(base["x"], base["mean"] - _std(base), base["mean"] + _std(base), color="0.6", alpha=0.3, lw=0)
    hs = sorted(float(h) for h in d["x"].dropna().unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(hs, [f"{h:g}" for h in hs])
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_xlabel(r"width $h$" if sel.width != ROWS_RECORDED else "neurons in the layer")
    ax.set_ylabel("prunable fraction of neurons")
    rho_text = rf" ($\rho$={rho:g})" if rho is not None else ""
    ax.set_title(f"(A) {_opt_name(sel.optimizer)}: prunable neurons{rho_text}\n" + _level_text(sel), fontsize=10)
    handles = [mpl.lines.Line2D([], [], color=c, marker="o", ms=4, label=fmt_alpha(a)) for a, c in alpha_colors.items()]
    if len(types) > 1:
        handles += [mpl.lines.Line2D([], [], color="0.4", ls=TYPE_STYLES.get(t, "-."), label=fmt_type(t)) for t in types]
    if not base.empty:
        handles.append(mpl.lines.Line2D([], [], color="black", marker="o", ms=4, label=NOISE_FREE))
    ax.legend(handles=handles, fontsize=7, loc="best")


def _groups(frame: pd.DataFrame, columns: Sequence[str]) -> List[Tuple[Tuple[Any, ...], pd.DataFrame]]:
    """(values of ``columns``, rows) in order of first appearance; null values kept."""
    keys = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    tuples = [tuple(v) for v in keys.itertuples(index=False)]
    out: Dict[Tuple[Any, ...], List[int]] = {}
    for i, k in enumerate(tuples):
        out.setdefault(k, []).append(i)
    return [(k, frame.iloc[idx]) for k, idx in out.items()]


def _dodge(groups: Sequence[Tuple[Any, pd.DataFrame]], xs: Sequence[float]) -> List[float]:
    """A small horizontal offset per series (1.2% of the x span each) so that error bars at the
    same alpha do not hide one another; the CSV keeps the true x."""
    values = sorted(set(float(x) for x in xs))
    span = (values[-1] - values[0]) if len(values) > 1 else 1.0
    n = len(groups)
    return [(i - (n - 1) / 2) * 0.012 * span for i in range(n)]


def _panel_b(ax: Any, d: pd.DataFrame, sel: Selection, type_colors: Dict[Any, Any]) -> None:
    noisy, base, ref = (d[d["role"] == r] for r in ("noise", "baseline", "reference"))
    marks = {KS: dict(ls="-", marker="o", mfc=None), HILL: dict(ls="--", marker="s", mfc="white")}
    groups = _groups(noisy, [TYPE, "metric"])
    for ((t, metric), g), dx in zip(groups, _dodge(groups, noisy["x"])):
        g = g.sort_values("x")
        m = marks[metric]
        ax.errorbar(g["x"] + dx, g["mean"], yerr=_std(g), color=type_colors.get(t, "0.3"), ls=m["ls"], marker=m["marker"],
                    mfc=m["mfc"] or type_colors.get(t, "0.3"), ms=5, capsize=2, lw=1.3)  # fmt: skip
    for metric in (KS, HILL):
        b = base[base["metric"] == metric]
        if b.empty:
            continue
        mean, std = float(b["mean"].iloc[0]), float(np.nan_to_num(b["std"].iloc[0]))
        if metric == KS:
            ax.axhspan(mean - std, mean + std, color="0.5", alpha=0.2, lw=0)
            ax.axhline(mean, color="0.45", lw=1.2)
        else:
            ax.axhline(mean, color="0.45", lw=1.2, ls="--")
    if not ref.empty:
        ax.plot(ref["x"], ref["mean"], color="black", ls=":", lw=1.5)
    ax.set_xticks(sorted(noisy["x"].unique()))
    ax.set_xlabel(r"injected noise $\alpha$")
    ax.set_ylabel(r"PL_Alpha of ESD($W^\top W$)")
    ax.set_title(f"(B) {_opt_name(sel.optimizer)}: ESD PL_Alpha\n" + _join(_h_text(sel), _level_text(sel)), fontsize=10)
    types = ordered_types(noisy)
    handles = [mpl.lines.Line2D([], [], color=type_colors[t], lw=2, label=fmt_type(t)) for t in types] if len(types) > 1 else []
    handles += [mpl.lines.Line2D([], [], color="0.2", marker="o", label="PL_Alpha_KS"),
                mpl.lines.Line2D([], [], color="0.2", ls="--", marker="s", mfc="white", label="PL_Alpha_Hill"),
                mpl.lines.Line2D([], [], color="black", ls=":", label=HEURISTIC_LABEL)]  # fmt: skip
    if not base.empty:
        handles.append(mpl.patches.Patch(color="0.5", alpha=0.35, label=f"{NOISE_FREE} (KS $\\pm$ std; Hill dashed)"))
    ax.legend(handles=handles, fontsize=7, loc="best")


def _panel_c(ax: Any, d: pd.DataFrame, sel: Selection, alpha_colors: Dict[float, Any], curve_type: Any) -> None:
    for (role, a), g in _groups(d, ["role", ALPHA]):
        color = "black" if role == "baseline" else alpha_colors.get(float(a), "0.3")
        label = NOISE_FREE if role == "baseline" else fmt_alpha(a)
        g = g.sort_values("x")
        ax.plot(g["x"], g["mean"], color=color, marker=".", ms=5, label=label)
        band = color if role != "baseline" else "0.6"
        ax.fill_between(g["x"], g["mean"] - _std(g), g["mean"] + _std(g), color=band, alpha=0.15, lw=0)
    ax.set_xlabel("fraction of neurons pruned")
    ax.set_ylabel("test loss (own readout, no fine-tuning)")
    kind = fmt_type(curve_type) if curve_type is not None else ""
    held = _join(kind, _h_text(sel), _level_text(sel))
    ax.set_title(f"(C) {_opt_name(sel.optimizer)}: smallest-norm neurons pruned\n{held}", fontsize=10)
    ax.legend(fontsize=7, loc="best")


def _panel_d(ax: Any, d: pd.DataFrame, sel: Selection, type_colors: Dict[Any, Any]) -> None:
    marks = {ROWS: ("-", "o"), ENTRIES: ("--", "^")}
    groups = _groups(d[d["role"].isin(["noise", "null_optimizer"])], ["role", TYPE, "metric"])
    for ((role, t, metric), g), dx in zip(groups, _dodge(groups, d["x"].dropna())):
        g = g.sort_values("x").assign(x=lambda f: f["x"] + dx)
        ls, marker = marks[metric]
        color = type_colors.get(t, "0.3")
        if role == "noise":
            ax.errorbar(g["x"], g["mean"], yerr=_std(g), color=color, ls=ls, marker=marker, ms=5, capsize=2, lw=1.3)
        else:
            ax.errorbar(g["x"], g["mean"], yerr=_std(g), color=color, ls="none", marker=marker, ms=8, mfc="none",
                        capsize=2, lw=1.0)  # fmt: skip
    ref = d[d["role"] == "reference"]
    if not ref.empty:
        ax.plot(ref["x"], ref["mean"], color="black", ls=":", lw=1.5)
    ax.set_xticks(sorted(d.loc[d["role"] != "reference", "x"].unique()))
    ax.set_xlabel(r"injected noise $\alpha$")
    ax.set_ylabel(r"estimated tail index $\hat\alpha$ of $W$")
    held = _join(_h_text(sel), _level_text(sel))
    ax.set_title(f"(D) {_opt_name(sel.optimizer)}: weight tail index (Mohammadi)\n{held}", fontsize=10)
    types = ordered_types(d[d["role"] == "noise"])
    handles = [mpl.lines.Line2D([], [], color=type_colors[t], lw=2, label=fmt_type(t)) for t in types] if len(types) > 1 else []
    handles += [mpl.lines.Line2D([], [], color="0.2", marker="o", label=r"rows ($\hat\alpha$ of neurons)"),
                mpl.lines.Line2D([], [], color="0.2", ls="--", marker="^", label="entries")]  # fmt: skip
    if (d["role"] == "null_optimizer").any():
        null = mpl.lines.Line2D([], [], color="0.2", ls="none", marker="o", mfc="none", ms=8, label="null optimizer (noise only)")
        handles.append(null)
    if not ref.empty:
        handles.append(mpl.lines.Line2D([], [], color="black", ls=":", label="identity $y = x$"))
    ax.legend(handles=handles, fontsize=7, loc="best")


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    layer: Optional[str] = None,
    step: Optional[int] = None,
    optimizer: Optional[str] = None,
    sweep_dir: Optional[Path] = None,
    name: str = NAME,
) -> pd.DataFrame:
    """The 2 x 2 figure of the module docstring for ``layer`` (default: the first with
    compress_fraction values) at ``step`` (default: each run's final step) for ``optimizer``
    (default: the first of gd, adam present); the runs' arrays.npz are found from the tables'
    eigenvalue files, or under ``sweep_dir``.  Returns :func:`plotted_data`."""
    data, sel = plotted_data(tables, layer, step, optimizer, sweep_dir)
    alpha_colors, type_colors = _alpha_colors(data), _type_colors(data)
    rho = al.constant(tables.summary, "probe.compress_rho")
    curve_type = al.constant(data[(data["panel"] == "C") & (data["role"] == "noise")], TYPE)
    with style.style():
        fig, axes = style.new_figure(2, 2, 4.6, 3.7)
        panels = {p: data[data["panel"] == p] for p in "ABCD"}
        _panel_a(axes[0, 0], panels["A"], sel, alpha_colors, None if rho is None else float(rho))
        if panels["B"].empty:
            _empty(axes[0, 1], "no PL_Alpha values (too few eigenvalues?)")
        else:
            _panel_b(axes[0, 1], panels["B"], sel, type_colors)
        if panels["C"].empty:
            _empty(axes[1, 0], f"no {CURVE_KIND} curves in arrays.npz\n(probe.compress_curves=true)")
        else:
            _panel_c(axes[1, 0], panels["C"], sel, alpha_colors, curve_type)
        if panels["D"].empty:
            _empty(axes[1, 1], "no tail index values")
        else:
            _panel_d(axes[1, 1], panels["D"], sel, type_colors)
        at = "the final step" if step is None else f"step {step}"
        held = ", ".join(f"{al.LABELS.get(c, c)}={style.fmt_value(c, v)}" for c, v in sel.held.items())
        style.suptitle(
            fig, tables, f"heavy-tailed iterate noise (Wan et al. 2024): mean $\\pm$ std over seeds at {at}",
            _join(held and f"held: {held}", layer_note(tables, sel.layer)),
        )  # fmt: skip
        style.save(fig, data, out_dir, name)
    return data
