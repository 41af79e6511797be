"""What a probe measures on W_t: the stage-2 readout losses and KTA (eq. 6-7), the alignment
sim(W, beta) (Sec. 3.2), the ESD of W_t^T W_t with its power-law and Marchenko-Pastur
summaries, and the norms of W_t - W_0 and of the last update M_{t-1} (Thm 4.1, App. C).

A probe is a pure function of (W_t, last update, fixed context); it returns one metrics row
and the eigenvalues, and never changes the training state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep import model, readout
from htsweep.config import FeatureScale
from htsweep.data import SingleIndexData
from htsweep.spectral import MarchenkoPastur, alpha_hill, alpha_ks, spectral_norm, spectrum

# Columns of metrics.parquet written by a probe, in order (the README documents each).
PROBE_COLUMNS = (
    "step",
    "train_loss",
    "test_loss",
    "kta",
    "sim_w_beta",
    "pl_alpha_hill",
    "pl_alpha_hill_xmin",
    "pl_alpha_ks",
    "pl_alpha_ks_xmin",
    "pl_alpha_ks_distance",
    "pl_alpha_ks_n_tail",
    "lambda_max",
    "frobenius_norm",
    "stable_rank",
    "num_spikes",
    "mp_lambda_plus",
    "mp_spike_threshold",
    "delta_w_spectral",
    "delta_w_frobenius",
    "update_spectral",
    "update_frobenius",
)


@dataclass(frozen=True)
class ProbeContext:
    student: model.Student
    data: SingleIndexData  # on the run's device and dtype
    W0: Tensor
    reg_lambda: float
    feature_scale: FeatureScale
    mp: MarchenkoPastur  # the i.i.d. law of W_0^T W_0

    @property
    def feature_extra_scale(self) -> float:
        """1 for the paper's equations; 1/sqrt(d) to reproduce the public code (its probes
        feed sigma(X W^T / d) to the readout and KTA)."""
        if self.feature_scale is FeatureScale.paper_code:
            return 1.0 / math.sqrt(self.student.d)
        return 1.0


def readout_metrics(ctx: ProbeContext, W: Tensor) -> Dict[str, float]:
    """train_loss (hold-out set, ridge a_hat of eq. 6), test_loss and KTA (eq. 7)."""
    scale = ctx.feature_extra_scale
    Z = model.features(ctx.student, W, ctx.data.probe.X, scale)
    mom = readout.moments(Z, ctx.data.probe.y)
    a_hat = readout.ridge_solve(mom, ctx.reg_lambda)
    train_loss = readout.readout_mse(Z, a_hat, ctx.data.probe.y)
    del Z
    Z_test = model.features(ctx.student, W, ctx.data.test.X, scale)
    return {
        "train_loss": train_loss,
        "test_loss": readout.readout_mse(Z_test, a_hat, ctx.data.test.y),
        "kta": readout.kta(mom),
    }


def spectral_metrics(ctx: ProbeContext, W: Tensor) -> Tuple[Dict[str, float], Tensor]:
    """ESD summaries of W^T W and sim(W, beta) = |v1^T beta|; returns (row, eigenvalues)."""
    spec = spectrum(W)
    eigs = spec.eigs
    hill = alpha_hill(eigs)
    ks = alpha_ks(eigs)
    lam_max = float(eigs[-1])
    total = float(eigs.sum())
    beta = ctx.data.beta.to(torch.float64)
    row = {
        "sim_w_beta": abs(float(torch.dot(spec.v1, beta))),
        "pl_alpha_hill": hill.alpha,
        "pl_alpha_hill_xmin": hill.xmin,
        "pl_alpha_ks": ks.alpha,
        "pl_alpha_ks_xmin": ks.xmin,
        "pl_alpha_ks_distance": ks.D,
        "pl_alpha_ks_n_tail": ks.n_tail,
        "lambda_max": lam_max,
        "frobenius_norm": math.sqrt(total),
        "stable_rank": total / lam_max if lam_max > 0 else math.nan,
        "num_spikes": ctx.mp.num_spikes(eigs),
        "mp_lambda_plus": ctx.mp.lambda_plus,
        "mp_spike_threshold": ctx.mp.spike_threshold(),
    }
    return row, eigs


def norm_metrics(ctx: ProbeContext, W: Tensor, update: Optional[Tensor]) -> Dict[str, float]:
    """||W_t - W_0||_{2,F} and ||M_{t-1}||_{2,F} (nan before the first update)."""
    delta = W - ctx.W0
    row = {
        "delta_w_spectral": spectral_norm(delta),
        "delta_w_frobenius": float(torch.linalg.matrix_norm(delta.to(torch.float64), "fro")),
        "update_spectral": math.nan,
        "update_frobenius": math.nan,
    }
    if update is not None:
        row["update_spectral"] = spectral_norm(update)
        row["update_frobenius"] = float(torch.linalg.matrix_norm(update.to(torch.float64), "fro"))
    return row


def probe(
    ctx: ProbeContext,
    W: Tensor,
    step: int,
    update: Optional[Tensor],
    with_readout: bool = True,
    with_spectrum: bool = True,
) -> Tuple[Dict[str, float], Optional[Tensor]]:
    """All metrics of W_t at step t: (row with every PROBE_COLUMNS key, eigenvalues or None).

    ``with_readout=False`` / ``with_spectrum=False`` skip the stage-2 readout or the ESD (their
    columns are NaN): the norm metrics alone are what Fig. 8 needs at large (h, d)."""
    row: Dict[str, float] = {key: math.nan for key in PROBE_COLUMNS}
    row["step"] = step
    eigs = None
    if with_readout:
        row.update(readout_metrics(ctx, W))
    if with_spectrum:
        spec_row, eigs = spectral_metrics(ctx, W)
        row.update(spec_row)
    row.update(norm_metrics(ctx, W, update))
    return row, eigs
