"""What a probe measures on W_t: the stage-2 readout losses and KTA (eq. 6-7), the alignment
sim(W, beta) (Sec. 3.2), the ESD of W_t^T W_t with its power-law and Marchenko-Pastur
summaries, and the norms of W_t - W_0 and of the last update M_{t-1} (Thm 4.1, App. C).

A probe is a pure function of (W_t, last update, fixed context); it returns one metrics row
and the eigenvalues, and never changes the training state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import torch
from torch import Tensor

from htsweep import model, readout
from htsweep.config import FeatureScale, OverlapMode
from htsweep.data import SingleIndexData
from htsweep.spectral import (
    MarchenkoPastur,
    PhaseThresholds,
    esd_report,
    singular_vector_overlaps,
    ThinSVD,
    spectral_norm,
    spectrum,
    spectrum_and_top_svd,
    spectrum_from_svd,
    tail_comparison,
    thin_svd,
    top_svd,
    update_spectrum,
)

# The columns every probe row has, in order (the README documents each).  Rows also carry the
# spectral module's further columns (fitted MP bulk, norms, phase, overlaps, ...), appended
# after these in the order they first appear.
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
    phase: PhaseThresholds = field(default_factory=PhaseThresholds)
    overlaps: OverlapMode = OverlapMode.summary
    overlap_k: int = 10
    tail_comparison: bool = False

    @property
    def feature_extra_scale(self) -> float:
        """1 for the paper's equations; 1/sqrt(d) to reproduce the public code (its probes
        feed sigma(X W^T / d) to the readout and KTA)."""
        if self.feature_scale is FeatureScale.paper_code:
            return 1.0 / math.sqrt(self.student.d)
        return 1.0


@dataclass
class ProbeResult:
    row: Dict[str, Any]
    eigs: Optional[Tensor] = None  # the ESD of W_t^T W_t (ascending, float64)
    overlap_u: Optional[Tensor] = None  # O(U_{W_t}, U_{M_{t-1}}) when probe.overlaps=full
    overlap_v: Optional[Tensor] = None


def top_block(svd: ThinSVD, k: int) -> ThinSVD:
    """The k leading singular triplets of a :class:`ThinSVD`."""
    return ThinSVD(U=svd.U[:, :k], S=svd.S[:k], V=svd.V[:, :k])


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


def spectral_metrics(ctx: ProbeContext, W: Tensor, update: Optional[Tensor]) -> ProbeResult:
    """The ESD of W^T W and everything derived from it (htsweep.spectral.esd_report: power-law
    fits, fitted MP bulk, norms, phase), sim(W, beta) = |v1^T beta|, the spikes against W_0's MP
    law, and - given the last update M_{t-1} - its norms, its alignment with beta and the
    singular-vector overlaps of App. C.  One eigendecomposition of W^T W serves the ESD, v1
    and the overlaps; one of M^T M serves ||M||_2, v1(M) and the overlaps."""
    beta = ctx.data.beta.to(torch.float64)
    out = ProbeResult(row={})
    row = out.row
    if update is not None and ctx.overlaps is not OverlapMode.none:
        k = ctx.overlap_k
        if ctx.overlaps is OverlapMode.full:  # every singular triplet of W_t and M_{t-1}
            sW, sM = thin_svd(W), thin_svd(update)
            spec = spectrum_from_svd(sW)
            full = singular_vector_overlaps(W, update, k=k, full=True, svd_W=sW, svd_M=sM)
            out.overlap_u, out.overlap_v = full.O_U, full.O_V
        else:  # the summaries need only the top-k triplets
            spec, sW = spectrum_and_top_svd(W, k)
            sM = top_svd(update, k)
        # Summaries of the leading k x k block of O (the same numbers in both modes).
        top = top_block(sW, k), top_block(sM, k)
        ov = singular_vector_overlaps(W, update, k=k, full=False, svd_W=top[0], svd_M=top[1])
        row.update(ov.as_row("overlap"))
        row.update(update_spectrum(None, update, beta, svd_M=sM).as_row(""))
        row["update_spectral"] = float(sM.S[0])
    else:
        spec = spectrum(W)
        if update is not None:
            row["update_spectral"] = spectral_norm(update)
    eigs = spec.eigs.cpu()  # N numbers: the fits run on the CPU whatever the device
    report = esd_report(eigs, ctx.student.h, ctx.student.d, ctx.phase)
    row.update(report.as_row())
    row["sim_w_beta"] = abs(float(torch.dot(spec.v1, beta)))
    row["num_spikes"] = ctx.mp.num_spikes(eigs)
    row["mp_lambda_plus"] = ctx.mp.lambda_plus
    row["mp_spike_threshold"] = ctx.mp.spike_threshold()
    if ctx.tail_comparison and math.isfinite(report.ks.xmin):
        row.update(tail_comparison(eigs, report.ks.xmin).as_row("tail"))
    out.eigs = eigs
    return out


def norm_metrics(ctx: ProbeContext, W: Tensor, update: Optional[Tensor]) -> Dict[str, float]:
    """||W_t - W_0||_{2,F} and ||M_{t-1}||_F (nan before the first update)."""
    if update is None:  # t = 0: W_t is W_0
        return {"delta_w_spectral": 0.0, "delta_w_frobenius": 0.0}
    delta = (W - ctx.W0).to(torch.float64)
    row = {
        "delta_w_spectral": spectral_norm(delta),
        "delta_w_frobenius": float(torch.linalg.matrix_norm(delta, "fro")),
    }
    row["update_frobenius"] = float(torch.linalg.matrix_norm(update.to(torch.float64), "fro"))
    return row


def probe(
    ctx: ProbeContext,
    W: Tensor,
    step: int,
    update: Optional[Tensor],
    with_readout: bool = True,
    with_spectrum: bool = True,
) -> ProbeResult:
    """All metrics of W_t at step t: a row with every PROBE_COLUMNS key (and the spectral
    module's extra columns), the eigenvalues and, with probe.overlaps=full, the overlap
    matrices.

    ``with_readout=False`` / ``with_spectrum=False`` skip the stage-2 readout or the ESD (their
    columns are NaN): the norm metrics alone are what Fig. 8 needs at large (h, d)."""
    if with_spectrum:
        out = spectral_metrics(ctx, W, update)
    else:
        out = ProbeResult(row={})
        if update is not None:
            out.row["update_spectral"] = spectral_norm(update)
    row: Dict[str, Any] = {key: math.nan for key in PROBE_COLUMNS}
    row["step"] = step
    if with_readout:
        row.update(readout_metrics(ctx, W))
    row.update(out.row)
    row.update(norm_metrics(ctx, W, update))
    out.row = row
    return out
