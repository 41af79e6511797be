"""Fig. 27 (App. F.3): the spike over training.  Left, the k largest eigenvalues of W_t^T W_t
against step t (log scale) with the fitted bulk edge lambda_+ and the MP edge of W_0; right,
the spike gap lambda_1 / lambda_+ (fitted) with the phase rule's thresholds spike_ratio and
dominant_gap, each step marked with its ``esd_phase``.  Under GD at lr = 2000 the spike falls
back by an order of magnitude between steps 5 and 6.  One row of panels per grid point (its
lowest-seed completed run)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import pandas as pd

from htsweep.figures import _cells, style
from htsweep.figures.select import choose_layer, has_esd, nonzero_steps
from htsweep.spectral.phases import ESDPhase, PhaseThresholds
from htsweep.sweep.tables import SweepTables

NAME = "spike_track"
# Drawn when asked for (fig27, --figure spike_track), not for every sweep with eigenvalues.
AUTO = False
DOC = "Fig. 27: top eigenvalues and spike gap vs step"
TOP_K = 5
MAX_ROWS = 8
PHASE_COLORS = {p.value: c for p, c in zip(ESDPhase, ("0.5", "tab:olive", "tab:blue", "tab:orange", "tab:red", "black"))}


def applies(tables: SweepTables) -> Optional[str]:
    """None when eigenvalues were stored at >= 3 probed steps for at most MAX_ROWS grid points."""
    if not has_esd(tables):
        return "no eigenvalues (esd.parquet)"
    if len(nonzero_steps(tables)) < 2:
        return "fewer than two probed steps after step 0"
    n = len(_cells.representative_runs(tables))
    return None if n <= MAX_ROWS else f"{n} grid points (> {MAX_ROWS} rows)"


def track_rows(tables: SweepTables, layer: Optional[str], k: int = TOP_K) -> pd.DataFrame:
    """One row per (series, run_dir, step, rank): the rank-th largest eigenvalue (rank 1 =
    lambda_1) with the step's mp_fit_lambda_plus, mp_lambda_plus, esd_spike_gap and esd_phase."""
    reps = _cells.representative_runs(tables)
    eigs = tables.esd.load(list(reps["run_dir"]), None, None if layer is None else [layer])
    probes = _cells.layer_summary(tables, layer)
    parts: List[pd.DataFrame] = []
    for _, rep in reps.iterrows():
        mine = eigs[eigs["run_dir"] == rep["run_dir"]]
        for step, g in mine.groupby("step"):
            top = np.sort(g["eigenvalue"].to_numpy(float))[::-1][:k]
            key = (rep["run_dir"], int(step))
            if key not in probes.index:
                continue
            p = probes.loc[key]
            lam_plus = float(p.get("mp_fit_lambda_plus", np.nan))
            gap = p.get("esd_spike_gap", np.nan)
            if gap is None or pd.isna(gap):  # runs from before the phase columns existed
                gap = top[0] / lam_plus if lam_plus > 0 else np.nan
            parts.append(pd.DataFrame({
                "series": rep["series"], "run_dir": rep["run_dir"], "step": int(step), "rank": np.arange(1, len(top) + 1),
                "eigenvalue": top, "mp_fit_lambda_plus": lam_plus, "mp_lambda_plus": float(p.get("mp_lambda_plus", np.nan)),
                "esd_spike_gap": float(gap), "esd_phase": p.get("esd_phase", ""),
            }))  # fmt: skip
    if not parts:
        raise ValueError(f"{NAME}: no eigenvalues for the chosen runs")
    return pd.concat(parts, ignore_index=True).sort_values(["series", "step", "rank"], kind="stable").reset_index(drop=True)


def _draw_row(ax_top, ax_gap, d: pd.DataFrame, th: PhaseThresholds) -> None:
    colors = style.palette(int(d["rank"].max()))
    for r, c in zip(sorted(d["rank"].unique()), colors):
        dr = d[d["rank"] == r]
        ax_top.plot(dr["step"], dr["eigenvalue"], marker=".", color=c, label=rf"$\lambda_{{{r}}}$")
    steps = d[d["rank"] == 1]
    ax_top.plot(steps["step"], steps["mp_fit_lambda_plus"], color="0.3", ls="--", label=r"fitted edge $\lambda_+$")
    ax_top.plot(steps["step"], steps["mp_lambda_plus"], color="tab:red", ls=":", label=r"MP edge of $W_0$")
    ax_top.set_yscale("log")
    ax_top.set_xlabel(r"step $t$")
    ax_top.set_ylabel(r"top eigenvalues of $W_t^\top W_t$")
    ax_top.legend(fontsize=7)
    ax_gap.plot(steps["step"], steps["esd_spike_gap"], color="0.4", lw=1)
    for phase, g in steps.assign(esd_phase=steps["esd_phase"].fillna("").replace("", "unlabelled")).groupby("esd_phase"):
        ax_gap.scatter(g["step"], g["esd_spike_gap"], color=PHASE_COLORS.get(phase, "0.2"), label=phase, zorder=3, s=22)
    ax_gap.axhline(th.spike_ratio, color="0.5", ls=":", lw=1)
    ax_gap.axhline(th.dominant_gap, color="0.5", ls="--", lw=1)
    ax_gap.set_yscale("log")
    ax_gap.set_xlabel(r"step $t$")
    ax_gap.set_ylabel(r"spike gap $\lambda_1 / \lambda_+$")
    ax_gap.legend(fontsize=7, title="esd_phase", title_fontsize=7)


def draw(tables: SweepTables, out_dir: Path, *, layer: Optional[str] = None, name: str = NAME) -> pd.DataFrame:
    """Two panels per grid point (module docstring).  The dotted and dashed lines of the right
    panel are the default spike_ratio and dominant_gap of the phase rule.  Returns
    :func:`track_rows`."""
    if tables.esd is None:
        raise ValueError(f"{NAME}: the sweep has no eigenvalues (esd.parquet)")
    layer = choose_layer(tables, layer)
    data = track_rows(tables, layer)
    series = list(dict.fromkeys(data["series"]))
    th = PhaseThresholds()
    with style.style():
        fig, axes = style.new_figure(len(series), 2, 4.6, 3.2)
        for i, s in enumerate(series):
            _draw_row(axes[i, 0], axes[i, 1], data[data["series"] == s], th)
            if s:
                axes[i, 0].set_title(s)
                axes[i, 1].set_title(s)
        style.suptitle(fig, tables, _cells.title(tables, layer))
        style.save(fig, data, out_dir, name)
    return data
