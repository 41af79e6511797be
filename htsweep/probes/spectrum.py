"""The spectral probe: per analysed matrix W (the model's ``matrices``), the ESD of W^T W and
everything derived from it.

* htsweep.spectral.esd_report: PL_Alpha_Hill / KS, the fitted MP bulk, norms, the phase;
* sim(W, beta) = |v1(W)^T beta| (Sec. 3.2), for a matrix acting on the inputs when the data
  have a teacher (NaN otherwise);
* the spikes against the Marchenko-Pastur law of W's own initial distribution (sigma^2 = the
  model's ``init_std(name)^2``; the law's shape and scale are on every row, htsweep.probes.measure);
* given the last update M_{t-1}: the App. C singular-vector overlaps (summaries, and the full
  matrices with ``probe.overlaps=full``) and the update spectrum.

One decomposition of W^T W serves the ESD, v1 and the overlaps, and one of M^T M serves
||M||_2, v1(M) and the overlaps (``view.cache`` hands ||M||_2 to the update probe).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from htsweep.probes.base import Built, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped
from htsweep.spectral import (
    MarchenkoPastur,
    Spectrum,
    ThinSVD,
    esd_report,
    singular_vector_overlaps,
    spectrum_and_top_svd,
    spectrum_from_svd,
    tail_comparison,
    thin_svd,
    top_svd,
    update_spectrum,
)

UPDATE_TOP_SV = "update_top_sv"  # cache key (layer) -> ||M_{t-1}||_2 from its top-k triplets
TOP_SVD = "top_svd"  # cache key (layer) -> W_t's leading singular triplets (ThinSVD, float64)


def top_block(svd: ThinSVD, k: int) -> ThinSVD:
    """The k leading singular triplets of a :class:`ThinSVD`."""
    return ThinSVD(U=svd.U[:, :k], S=svd.S[:k], V=svd.V[:, :k])


class SpectrumProbe:
    name = "spectrum"

    def __init__(self, setup: ProbeSetup) -> None:
        self.cfg = setup.probe
        beta = setup.data.beta
        self.beta = None if beta is None else beta.to(torch.float64)

    def _beta_for(self, W: Tensor) -> Optional[Tensor]:
        """beta when W acts on the inputs (its columns are the input dimensions)."""
        if self.beta is None or W.shape[-1] != self.beta.numel():
            return None
        return self.beta

    def _with_update(
        self, view: ProbeView, layer: str, W: Tensor, M: Tensor, beta: Optional[Tensor], out: ProbeOutput
    ) -> Tuple[Spectrum, Row]:
        """The spectrum of W and, from the top-k triplets of W and M, the overlap summaries,
        the update spectrum and ||M||_2."""
        k = self.cfg.overlap_k
        if self.cfg.overlaps.value == "full":  # every singular triplet of W_t and M_{t-1}
            sW, sM = thin_svd(W), thin_svd(M)
            spec = spectrum_from_svd(sW)
            full = singular_vector_overlaps(W, M, k=k, full=True, svd_W=sW, svd_M=sM)
            out.overlaps[layer] = (full.O_U, full.O_V)
        else:  # the summaries need only the top-k triplets
            spec, sW = spectrum_and_top_svd(W, k)
            sM = top_svd(M, k)
        view.cache[(TOP_SVD, layer)] = sW
        ov = singular_vector_overlaps(W, M, k=k, full=False, svd_W=top_block(sW, k), svd_M=top_block(sM, k))
        row: Row = dict(ov.as_row("overlap"))
        row.update(update_spectrum(None, M, beta, svd_M=sM).as_row(""))
        view.cache[(UPDATE_TOP_SV, layer)] = float(sM.S[0])
        return spec, row

    def _layer(self, view: ProbeView, layer: str, W: Tensor, out: ProbeOutput) -> Row:
        M = None if view.update is None else view.update.get(layer)
        beta = self._beta_for(W)
        if M is not None and self.cfg.overlaps.value != "none":
            spec, row = self._with_update(view, layer, W, M, beta, out)
        else:
            spec, sW = spectrum_and_top_svd(W, 1)  # what spectrum(W) computes, keeping v1's triplet
            view.cache[(TOP_SVD, layer)] = sW
            row = {}
        eigs = spec.eigs.cpu()  # N numbers: the fits run on the CPU whatever the device
        rows, cols = int(W.shape[-2]), int(W.shape[-1])
        report = esd_report(eigs, rows, cols, self.cfg.phase)
        row.update(report.as_row())
        row["sim_w_beta"] = math.nan if beta is None else abs(float(torch.dot(spec.v1, beta)))
        mp = MarchenkoPastur(h=rows, d=cols, sigma2=view.setup.model.init_std(layer) ** 2)
        row["num_spikes"] = mp.num_spikes(eigs)
        row["mp_lambda_plus"] = mp.lambda_plus
        row["mp_spike_threshold"] = mp.spike_threshold()
        if self.cfg.tail_comparison and math.isfinite(report.ks.xmin):
            row.update(tail_comparison(eigs, report.ks.xmin).as_row("tail"))
        out.esd[layer] = eigs
        return row

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        for layer, W in view.setup.model.matrices(view.params).items():
            out.layer_values[layer] = self._layer(view, layer, W, out)
        return out


def build(setup: ProbeSetup) -> Built:
    if not setup.probe.spectrum:
        return Skipped("disabled (probe.spectrum=false)")
    return SpectrumProbe(setup)
