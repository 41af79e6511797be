"""ESD diagnostics of one run and step, as WeightWatcher's five layer plots: (1) log-log
density with the PL_Alpha_KS fit and its xmin, (2) the linear histogram with the MP law of W_0,
(3) log-linear (log-spaced bins, linear density), (4) the KS distance D against xmin over every
candidate and (5) alpha against xmin, the chosen xmin marked in each.  The scan is recomputed
from the stored eigenvalues with the estimator the probe used (htsweep.spectral.ks_candidates),
so panel 4's minimum is the recorded pl_alpha_ks_xmin.  One row of five panels per grid point
(its lowest-seed run) at its last probed step, or at ``steps``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from htsweep.figures import _cells, style
from htsweep.figures.esd import picks
from htsweep.figures.select import choose_layer, has_esd, n_points
from htsweep.spectral import ks_candidates
from htsweep.sweep.tables import SweepTables

NAME = "esd_diagnostics"
DOC = "ESD diagnostics: log-log, linear, log-linear, D and alpha against xmin"
AUTO = False  # five panels per run: drawn when asked for (--figure esd_diagnostics)
MAX_ROWS = 8
ALPHA_VIEW = 12.0  # alpha axis upper limit: beyond it the candidates are steep, short tails


def applies(tables: SweepTables) -> Optional[str]:
    if not has_esd(tables):
        return "no eigenvalues (esd.parquet)"
    n = n_points(tables)
    return None if n <= MAX_ROWS else f"{n} grid points (> {MAX_ROWS} rows)"


def scan_rows(groups: _cells.Eigs, chosen: Sequence[_cells.Pick]) -> pd.DataFrame:
    """One row per (pick, candidate xmin): series, run_dir, step, xmin, alpha, D, chosen;
    ``groups`` from :func:`htsweep.figures._cells.load_eigs`."""
    parts: List[pd.DataFrame] = []
    for series, run_dir, step in chosen:
        e = groups.get((run_dir, step))
        if e is None:
            continue
        cand = ks_candidates(torch.from_numpy(e.copy()))
        fit = cand.fit()
        n = cand.D.numel()
        parts.append(pd.DataFrame({
            "series": series, "run_dir": run_dir, "step": step, "xmin": cand.eigs[:n].numpy(),
            "alpha": cand.alphas.numpy(), "D": cand.D.numpy(), "chosen": np.arange(n) == fit.xmin_index,
        }))  # fmt: skip
    if not parts:
        raise ValueError(f"{NAME}: no eigenvalues for the chosen runs and steps")
    return pd.concat(parts, ignore_index=True)


def _log_linear(ax, cell: pd.DataFrame, step: int) -> None:
    d = cell[cell["esd_of_step"] == step]
    edges = np.append(d["bin_lo"].to_numpy(), d["bin_hi"].to_numpy()[-1])
    ax.stairs(d["count"].to_numpy(), edges, fill=True, color="tab:blue", alpha=0.3, lw=0)
    ax.stairs(d["count"].to_numpy(), edges, color="tab:blue", lw=1.2)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xlabel(r"eigenvalue $\lambda$")
    ax.set_ylabel("count (log bins)")


def _scan(ax, s: pd.DataFrame, column: str) -> None:
    ax.plot(s["xmin"], s[column], color="0.3", lw=1)
    pick = s[s["chosen"]]
    if len(pick):
        ax.axvline(float(pick["xmin"].iloc[0]), color="tab:red", ls="--", lw=1)
        ax.scatter(pick["xmin"], pick[column], color="tab:red", zorder=3, label=rf"xmin={float(pick['xmin'].iloc[0]):.3g}")
        ax.legend(fontsize=7)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xlabel(r"candidate $\lambda_{min}$")
    if column == "alpha":
        ax.set_ylim(1.0, ALPHA_VIEW)
        ax.set_ylabel(r"$\alpha$ (MLE)")
    else:
        ax.set_ylim(0.0, min(1.0, float(s["D"].max()) * 1.05))
        ax.set_ylabel("KS distance D")


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    layer: Optional[str] = None,
    name: str = NAME,
) -> pd.DataFrame:
    """Five panels per grid point (module docstring).  Returns the histogram rows of
    :func:`htsweep.figures._cells.esd_rows` (scales log and linear) and the candidate scan of
    :func:`scan_rows`, stacked, with a ``panel`` column ("hist" or "scan")."""
    if tables.esd is None:
        raise ValueError(f"{NAME}: the sweep has no eigenvalues (esd.parquet)")
    layer = choose_layer(tables, layer)
    reps = _cells.representative_runs(tables)
    chosen = picks(tables, steps, layer)
    if steps is None:  # one step per grid point: its last probed one
        last = {p[1]: p for p in sorted(chosen, key=lambda p: p[2])}
        chosen = [last[r] for r in reps["run_dir"] if r in last]
    groups = _cells.load_eigs(tables, chosen, layer)
    hist = _cells.esd_rows(tables, chosen, ("log", "linear"), None, layer, groups)
    scan = scan_rows(groups, chosen)
    with style.style():
        fig, axes = style.new_figure(len(chosen), 5, 3.6, 3.0)
        for i, (series, run_dir, step) in enumerate(chosen):
            cell = hist[(hist["run_dir"] == run_dir) & (hist["step"] == step)]
            _cells.draw_cell(axes[i, 0], cell[cell["scale"] == "log"], "log")
            _cells.draw_cell(axes[i, 1], cell[cell["scale"] == "linear"], "linear")
            _log_linear(axes[i, 2], cell[cell["scale"] == "log"], step)
            s = scan[(scan["run_dir"] == run_dir) & (scan["step"] == step)]
            _scan(axes[i, 3], s, "D")
            _scan(axes[i, 4], s, "alpha")
            head = f"{series}: " if series else ""
            for j, what in enumerate(("log-log", "linear", "log-linear", "D vs xmin", "alpha vs xmin")):
                axes[i, j].set_title(f"{head}$t={step}$, {what}", fontsize=9)
        _cells.legend(fig, axes[:, :2])
        style.suptitle(fig, tables, _cells.title(tables, layer))
        data = pd.concat([hist.assign(panel="hist"), scan.assign(panel="scan")], ignore_index=True)
        style.save(fig, data, out_dir, name)
    return data
