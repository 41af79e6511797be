"""Principal angles between the weights of two paired runs against step (seed 001, Sonthalia,
Murray & Montufar, NeurIPS 2025: the notebook's subspace comparisons of the NTK and mean-field
students, and of the ReLU and sigmoid students; ``conf/experiment/ntk_vs_mf.yaml``,
``conf/experiment/relu_vs_sigmoid.yaml``).

**Pairs.**  Two runs are paired when they differ in exactly one grid column, a column with
exactly two values, and agree in every other grid column and in the seeds: the pairing column
is ``model.activation`` when it yields a pair (the notebook's ReLU vs sigmoid), else
``model.output_scale`` (its NTK vs MF), else the first other two-valued grid column that does
(``draw(..., column=...)`` picks it).

**Angles.**  The subspace probe (``probe.subspace_r`` = r) stores each probe step's top-r right
singular vectors V of W (d x r) in ``<run>/arrays.npz`` under ``subspace/<layer>/<step>``.  For
each pair, each step both runs stored and each k in :data:`RANKS` (k <= the stored r), the
principal angles between span V_A[:, :k] and span V_B[:, :k] are arccos of the singular values
of Q_A^T Q_B (clamped to [0, 1]), Q the float64 orthonormal basis from a QR of the stored
vectors (float32: the QR only restores their orthonormality); the figure shows their mean in
degrees.  0 deg: the same subspace; 90 deg: orthogonal ones.

**Notebook parity.**  Where both runs also saved W itself (``probe.save_weights_every``:
``weights/<layer>/<step>``, h x d), a separate panel shows the notebook's own comparison: the
mean principal angle between the column spaces of W_A and W_B, from orthonormal bases of a
float64 QR of each W (no SVD of the weights), then the singular values of Q_A^T Q_B.

Panels: with one pair, one panel of every k (one colour per k); with several pairs, one panel
per k (one colour per pair); then the column-space panel when weights were saved.

The run folders are found through the sweep's eigenvalue files (``tables.esd``), whose paths
are absolute; ``draw(..., sweep_dir=...)`` names the sweep folder instead.

Plotted data (the CSV): one row per (pair, kind, r, step): ``pair`` (its label), ``column``
(the pairing column), ``value_a``, ``value_b``, ``run_a``, ``run_b`` (run folders relative to
the sweep), ``kind`` (``top_r``: right singular subspaces; ``column_space``: the notebook's),
``r`` (k, or the column-space dimension), ``step``, ``mean_angle_deg``, ``max_angle_deg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib as mpl
import numpy as np
import pandas as pd

from htsweep.figures import _alignment as al
from htsweep.figures import style
from htsweep.figures.select import choose_layer, layer_note
from htsweep.records import ARRAYS_FILE, parse_array_key
from htsweep.sweep.tables import SEED_COLUMNS, SweepTables

NAME = "subspace_angles"
DOC = "seed 001: principal angles between paired runs' weight subspaces vs step"
RANKS = (1, 2, 5)
PREFERRED = ("model.activation", "model.output_scale")
SUBSPACE = "subspace"  # arrays.npz kinds (htsweep.probes.subspace)
WEIGHTS = "weights"
TOP_R = "top_r"
COLUMN_SPACE = "column_space"
PAIR_COLUMNS = ("pair", "column", "value_a", "value_b", "run_a", "run_b")
COLUMNS = (*PAIR_COLUMNS, "kind", "r", "step", "mean_angle_deg", "max_angle_deg")


@dataclass(frozen=True)
class Pair:
    """Two runs that differ in ``column`` only: ``value_a`` (run_a) and ``value_b`` (run_b)."""

    column: str
    value_a: object
    value_b: object
    run_a: str
    run_b: str
    label: str


# --------------------------------------------------------------------------------------------
# Angles


def orthonormal(A: np.ndarray) -> np.ndarray:
    """An orthonormal basis (float64, reduced QR) of the column space of ``A``."""
    Q, _ = np.linalg.qr(np.asarray(A, dtype=np.float64), mode="reduced")
    return Q


def principal_angles(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The principal angles (radians, ascending) between the column spaces of ``A`` and ``B``
    (same number of rows): arccos of the singular values of Q_A^T Q_B clamped to [0, 1], Q
    from a float64 QR of each."""
    s = np.linalg.svd(orthonormal(A).T @ orthonormal(B), compute_uv=False)
    return np.sort(np.arccos(np.clip(s, 0.0, 1.0)))


# --------------------------------------------------------------------------------------------
# Run folders and their arrays


def sweep_root(tables: SweepTables) -> Optional[Path]:
    """The sweep folder, from the absolute paths of the eigenvalue files (``tables.esd``: an
    EsdStore, or a source wrapping one); None when they do not tell."""
    source = tables.esd
    while source is not None and not hasattr(source, "files") and hasattr(source, "source"):
        source = source.source
    files = getattr(source, "files", None)
    if not isinstance(files, dict):
        return None
    for run_dir, path in files.items():
        root = Path(path).parent
        parts = [p for p in PurePosixPath(str(run_dir)).parts if p != "."]
        for _ in parts:
            root = root.parent
        return root
    return None


def run_folders(tables: SweepTables, sweep_dir: Optional[Path] = None) -> Dict[str, Path]:
    """run_dir -> folder for the summary's runs whose folder holds arrays.npz."""
    root = Path(sweep_dir) if sweep_dir is not None else sweep_root(tables)
    out = {}
    for run_dir in pd.unique(tables.summary["run_dir"].dropna()):
        p = Path(str(run_dir))
        if not p.is_absolute() and root is None:
            continue  # relative to a sweep folder the tables do not name
        folder = p if p.is_absolute() else root / p
        if (folder / ARRAYS_FILE).is_file():
            out[str(run_dir)] = folder
    return out


def array_steps(folder: Path, kind: str, layer: Optional[str]) -> Dict[int, str]:
    """step -> key of the ``kind`` arrays of ``layer`` (any layer when None) in the run's
    arrays.npz."""
    with np.load(folder / ARRAYS_FILE) as z:
        keys = list(z.files)
    out = {}
    for key in keys:
        k, lay, step = parse_array_key(key)
        if k == kind and (layer is None or lay == layer):
            out[step] = key
    return out


def load_arrays(folder: Path, keys: Sequence[str]) -> Dict[str, np.ndarray]:
    with np.load(folder / ARRAYS_FILE) as z:
        return {k: np.asarray(z[k]) for k in keys}


# --------------------------------------------------------------------------------------------
# Pairs


def _seed_columns(summary: pd.DataFrame) -> List[str]:
    return [c for c in SEED_COLUMNS if c in summary.columns]


def pairs_of(tables: SweepTables, column: str, runs: Optional[Sequence[str]] = None) -> List[Pair]:
    """The pairs of runs (among ``runs``, default all) that differ in ``column`` (exactly two
    values over the sweep) only."""
    per_run = tables.summary.drop_duplicates("run_dir")
    if runs is not None:
        per_run = per_run[per_run["run_dir"].isin(list(runs))]
    values = al.ordered(per_run[column].dropna()) if column in per_run.columns else []
    if len(values) != 2:
        return []
    others = [c for c in tables.grid if c != column]
    keys = others + _seed_columns(per_run)
    several_seeds = any(per_run[c].nunique(dropna=False) > 1 for c in _seed_columns(per_run))
    label_cols = [c for c in others if per_run[c].nunique(dropna=False) > 1]
    out = []
    per_run = per_run.sort_values(label_cols, kind="stable") if label_cols else per_run
    groups = per_run.groupby(keys, dropna=False, sort=False) if keys else [((), per_run)]
    for _, g in groups:
        a, b = g[g[column] == values[0]], g[g[column] == values[1]]
        if len(a) != 1 or len(b) != 1:
            continue
        ra = a.iloc[0]
        text = f"{style.fmt_value(column, values[0])} vs {style.fmt_value(column, values[1])}"
        rest = al.label(ra, label_cols)
        if several_seeds:
            rest = ", ".join(t for t in (rest, f"seed={ra['seed']}" if "seed" in ra else "") if t)
        label = f"{text}: {rest}" if rest else text
        out.append(Pair(column, values[0], values[1], str(ra["run_dir"]), str(b.iloc[0]["run_dir"]), label))
    return out


def candidate_columns(tables: SweepTables) -> List[str]:
    """Grid columns with exactly two values, :data:`PREFERRED` first."""
    per_run = tables.summary.drop_duplicates("run_dir")
    two = [c for c in tables.grid if per_run[c].dropna().nunique() == 2]
    return [c for c in PREFERRED if c in two] + [c for c in two if c not in PREFERRED]


def choose_pairs(
    tables: SweepTables, folders: Dict[str, Path], layer: Optional[str], column: Optional[str] = None
) -> Tuple[Optional[str], List[Pair]]:
    """(pairing column, its pairs) among the runs with stored subspaces: ``column`` when
    given, else the first of :func:`candidate_columns` that yields a pair."""
    with_subspaces = [r for r, f in folders.items() if array_steps(f, SUBSPACE, layer)]
    for c in [column] if column is not None else candidate_columns(tables):
        pairs = pairs_of(tables, c, with_subspaces)
        if pairs:
            return c, pairs
    return column, []


def applies(tables: SweepTables) -> Optional[str]:
    """None when some run stored subspaces (probe.subspace_r > 0) and two such runs differ in
    one two-valued grid column only."""
    folders = run_folders(tables)
    if not folders:
        return "no run folder with arrays.npz (probe.subspace_r > 0)"
    _, pairs = choose_pairs(tables, folders, choose_layer(tables))
    if not pairs:
        return "no pair of runs with stored subspaces differing in one two-valued grid column"
    return None


# --------------------------------------------------------------------------------------------
# Data and drawing


def pair_angles(pair: Pair, folders: Dict[str, Path], layer: Optional[str], ranks: Sequence[int]) -> List[dict]:
    """The rows of :data:`COLUMNS` of one pair."""
    fa, fb = folders[pair.run_a], folders[pair.run_b]
    base = dict(zip(PAIR_COLUMNS, (pair.label, pair.column, pair.value_a, pair.value_b, pair.run_a, pair.run_b)))

    def row(kind: str, r: int, step: int, angles: np.ndarray) -> dict:
        deg = np.degrees(angles)
        stats = {"mean_angle_deg": float(deg.mean()), "max_angle_deg": float(deg.max())}
        return {**base, "kind": kind, "r": r, "step": step, **stats}
    rows = []
    for kind, stored in ((TOP_R, SUBSPACE), (COLUMN_SPACE, WEIGHTS)):
        sa, sb = array_steps(fa, stored, layer), array_steps(fb, stored, layer)
        steps = sorted(set(sa) & set(sb))
        if not steps:
            continue
        arrays_a = load_arrays(fa, [sa[t] for t in steps])
        arrays_b = load_arrays(fb, [sb[t] for t in steps])
        for t in steps:
            A, B = arrays_a[sa[t]], arrays_b[sb[t]]
            if A.shape[0] != B.shape[0] or not (np.isfinite(A).all() and np.isfinite(B).all()):
                continue
            if kind == TOP_R:
                for k in ranks:
                    if k <= min(A.shape[1], B.shape[1]):
                        rows.append(row(kind, k, t, principal_angles(A[:, :k], B[:, :k])))
            else:
                angles = principal_angles(A, B)
                rows.append(row(kind, len(angles), t, angles))
    return rows


def plotted_data(
    tables: SweepTables,
    layer: Optional[str],
    sweep_dir: Optional[Path] = None,
    column: Optional[str] = None,
    ranks: Sequence[int] = RANKS,
) -> pd.DataFrame:
    """The table of the module docstring, sorted by pair, kind, r and step."""
    folders = run_folders(tables, sweep_dir)
    if not folders:
        raise ValueError(f"{NAME}: no run folder with {ARRAYS_FILE} (probe.subspace_r > 0; sweep_dir=...)")
    column, pairs = choose_pairs(tables, folders, layer, column)
    if not pairs:
        what = column or "a two-valued grid column"
        raise ValueError(f"{NAME}: no pair of runs with stored subspaces differing only in {what}")
    rows = [row for p in pairs for row in pair_angles(p, folders, layer, ranks)]
    if not rows:
        raise ValueError(f"{NAME}: the paired runs share no step with stored subspaces")
    data = pd.DataFrame(rows, columns=list(COLUMNS))
    order = {"pair": {p.label: i for i, p in enumerate(pairs)}, "kind": {TOP_R: 0, COLUMN_SPACE: 1}}
    data = data.sort_values(
        ["pair", "kind", "r", "step"], kind="stable", key=lambda s: s.map(order[s.name]) if s.name in order else s
    )
    return data.reset_index(drop=True)


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    layer: Optional[str] = None,
    sweep_dir: Optional[Path] = None,
    column: Optional[str] = None,
    ranks: Sequence[int] = RANKS,
    name: str = NAME,
) -> pd.DataFrame:
    """The panels of the module docstring for ``layer`` (default: the sweep's first), runs
    paired by ``column`` (default: see the module docstring), their folders under
    ``sweep_dir`` (default: found from the tables).  Returns :func:`plotted_data`."""
    layer = choose_layer(tables, layer)
    data = plotted_data(tables, layer, sweep_dir, column, ranks)
    top = data[data["kind"] == TOP_R]
    cols = data[data["kind"] == COLUMN_SPACE]
    pairs = list(dict.fromkeys(data["pair"]))
    ks = sorted(int(k) for k in top["r"].unique())
    one = len(pairs) == 1
    panels: List[Tuple[str, pd.DataFrame]] = []
    if not top.empty:
        if one:
            panels.append(("top-$r$ right singular subspaces", top))
        else:
            panels += [(f"top-{k} right singular subspace", top[top["r"] == k]) for k in ks]
    if not cols.empty:
        panels.append(("notebook parity: column spaces of $W$", cols))
    pair_colors = dict(zip(pairs, style.palette(len(pairs))))
    k_colors = dict(zip(ks, style.palette(len(ks))))
    many = data["step"].nunique() > 30
    with style.style():
        fig, axes = style.new_figure(1, len(panels), 4.0, 3.2)
        for ax, (title, d) in zip(axes.flat, panels):
            for (p, kind, k), g in d.groupby(["pair", "kind", "r"], sort=False):
                color = k_colors.get(k, "0.2") if one and kind == TOP_R else ("0.2" if one else pair_colors[p])
                ax.plot(g["step"], g["mean_angle_deg"], color=color, marker=None if many else ".", ms=4)
            ax.set_ylim(0, 90)
            ax.set_yticks([0, 15, 30, 45, 60, 75, 90])
            ax.set_xlabel(r"step $t$")
            ax.set_ylabel("mean angle (deg)" if ax is axes.flat[0] else "")
            ax.set_title(title, fontsize=10)
        if one:
            handles = [mpl.lines.Line2D([], [], color=k_colors[k], marker=".", label=f"$r={k}$") for k in ks]
            if not cols.empty:
                dim = int(cols["r"].iloc[0])
                handles.append(mpl.lines.Line2D([], [], color="0.2", marker=".", label=f"column space (dim {dim})"))
            heading = pairs[0]
        else:
            handles = [mpl.lines.Line2D([], [], color=pair_colors[p], label=p.split(": ", 1)[-1]) for p in pairs]
            first = data.iloc[0]
            a, b = (style.fmt_value(first["column"], first[v]) for v in ("value_a", "value_b"))
            heading = f"pairs: {a} vs {b}"
        longest = max(len(h.get_label()) for h in handles)
        ncols = max(1, min(len(handles), len(panels) * 60 // max(longest, 1), 4))  # long labels: fewer columns
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
        style.suptitle(fig, tables, heading, layer_note(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
