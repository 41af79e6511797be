"""Shared pieces of the structured-input figures (grad_anatomy, alignment_curves,
subspace_angles, bbp, normalisation): labels of the config columns these sweeps vary, the
alignment probe's columns, and the long (metric, mean, std, count) form of aggregate rows."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from htsweep.figures import style
from htsweep.sweep.tables import SweepTables

# Labels of the config columns the structured-input experiments vary (style.LABELS has the
# paper's own).
LABELS: Dict[str, str] = {
    **style.LABELS,
    "loss.name": "loss",
    "model.output_scale": "scale",
    "data.nu": r"$\nu$",
    "data.r": r"$r$",
    "data.alpha": r"$\alpha$",
    "data.labels": "labels",
    "data.name": "data",
}
# Metric labels of the alignment probe (htsweep.probes.alignment) and the columns these
# figures read beside them.
METRIC_LABELS: Dict[str, str] = {
    **style.METRIC_LABELS,
    "stage1_loss": "train loss",
    "net_test_loss": "test loss",
    "grad_residue_align": r"$|\langle v_1(G), X_B^\top r\rangle|$ (residue)",
    "grad_data_align": r"$|\langle v_1(G), q\rangle|$ (data)",
    "grad_init_align": r"$|\langle v_1(G_t), v_1(G_0)\rangle|$",
    "energy": r"$\|WQ\|_F / \|W\|_F$",
    "w_q_align": r"$|\langle v_1(W), q\rangle|$",
    "sim_w_beta": r"$|\langle v_1(W), \beta\rangle|$",
    "sim_w_beta_sigma": r"$|\langle v_1(W\Sigma^{1/2}), \Sigma^{1/2}\beta\rangle|$",
    "test_loss": "readout test loss",
    "grad_norm": r"$\|G\|_2$",
    "decomp_s1": r"$\|S_1\|_2$",
    "decomp_s1p": r"$\|S_1'\|_2$",
    "decomp_s2": r"$\|S_2\|_2$",
    "decomp_e": r"$\|E\|_2$",
    "lambda_max": r"$\lambda_{\max}(W^\top W)$",
}


def label(values: pd.Series, columns: Sequence[str]) -> str:
    """'loss=mse, scale=ntk' for ``columns`` of one row (null values left out)."""
    parts = []
    for c in columns:
        v = values[c]
        if pd.isna(v):
            continue
        text = style.fmt_value(c, v)
        parts.append(text if c == "optimizer.name" else f"{LABELS.get(c, c)}={text}")
    return ", ".join(parts)


def with_series(df: pd.DataFrame, columns: Sequence[str], default: str = "all runs") -> pd.DataFrame:
    """``df`` with a ``series`` column labelling each row's values of ``columns``."""
    df = df.copy()
    df["series"] = [label(r, columns) for _, r in df.iterrows()] if columns else default
    return df


def finite_metric(frame: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` is in ``frame`` with at least one finite value."""
    if column not in frame.columns:
        return False
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    return bool(np.isfinite(values).any())


def missing_metrics(tables: SweepTables, columns: Sequence[str]) -> List[str]:
    """The ``columns`` the summary lacks or holds no finite value of."""
    return [c for c in columns if not finite_metric(tables.summary, c)]


def long_stats(rows: pd.DataFrame, keep: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per (aggregate row, metric with a ``<metric>_mean`` column and a positive count):
    ``keep`` columns, metric, mean, std, count."""
    parts = [
        rows[list(keep)].assign(
            metric=m,
            mean=rows[f"{m}_mean"].to_numpy(float),
            std=rows[f"{m}_std"].to_numpy(float),
            count=rows[f"{m}_count"].to_numpy(int),
        )
        for m in metrics
        if f"{m}_mean" in rows.columns
    ]
    if not parts:
        return pd.DataFrame(columns=[*keep, "metric", "mean", "std", "count"])
    long = pd.concat(parts, ignore_index=True)
    return long[(long["count"] > 0) & np.isfinite(long["mean"].to_numpy(float))].reset_index(drop=True)


def ordered(values: Sequence[object]) -> List[object]:
    """Distinct ``values`` in their natural order (numbers numerically, then text)."""
    distinct = list(dict.fromkeys(v for v in values if not (isinstance(v, float) and math.isnan(v))))
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=str)


def constant(frame: pd.DataFrame, column: str) -> Optional[object]:
    """The one value of ``column`` in ``frame`` (None when absent or not unique)."""
    if column not in frame.columns:
        return None
    values = frame[column].dropna().unique()
    return values[0] if len(values) == 1 else None
