"""The spectral probe: per analysed layer (the model's ``matrices``), the ESD and everything
derived from it.

* htsweep.spectral.esd_report: PL_Alpha_Hill / KS, the fitted MP bulk, norms, the phase;
* sim(W, beta) = |v1(W)^T beta| (Sec. 3.2), for a 2-D matrix acting on the inputs when the data
  have a teacher (NaN otherwise, and for convolutions);
* the spikes against the Marchenko-Pastur law of W's own initial distribution (sigma^2 = the
  model's ``init_std(name)^2``; the law's shape and scale are on every row, htsweep.probes.measure);
* given the last update M_{t-1}: the App. C singular-vector overlaps (summaries, and the full
  matrices with ``probe.overlaps=full``) and the update spectrum.

Layers.  A 2-D weight (h x d; the two-layer model's W, a Linear layer) is analysed as it is.
A 4-D Conv2d weight (out, in, k, k) is matricised by ``probe.conv_matrix``
(htsweep.spectral.conv): ``slices`` (default, WeightWatcher's) pools the eigenvalues of its
k^2 (out x in) slices into one ESD of k^2 min(out, in) eigenvalues, fitted against the MP law
of one (out x in) slice with sigma^2 = init_std^2 (``matrix_count`` = k^2 on the row);
``reshape`` analyses the (out x in k^2) matrix W.reshape(out, -1) like a 2-D weight.  The
eigenvalues are W's own, unscaled (WeightWatcher's ``analyze()`` halves a conv layer's).

Overlaps and the update spectrum (App. C) are defined for one matrix per layer: for a 4-D
layer they are computed on the ``reshape`` matricisation (out x in k^2) of W_t and M_{t-1},
whichever ``conv_matrix`` made its ESD (with ``slices`` that is one extra top-k
decomposition of each; the update probe's norms use the same reshape, so ``update_spectral``
and ``update_sv_0`` agree).

An ESD with fewer than ``probe.min_fit_eigs`` eigenvalues (a 10-class classifier has 10) keeps
its eigenvalues, norms and analytic MP columns, and gets NaN fits, a null phase and
``fit_status`` = ``too_small: <n> eigenvalues`` (``ok`` otherwise; htsweep.spectral.report).

One decomposition of W^T W serves the ESD, v1 and the overlaps of a 2-D layer, and one of
M^T M serves ||M||_2, v1(M) and the overlaps (``view.cache`` hands ||M||_2 to the update probe).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

from htsweep.probes.base import Built, analysed_matrices, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped
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
from htsweep.spectral.conv import ConvMatrix, as_matrix, matricise, pooled_eigenvalues

UPDATE_TOP_SV = "update_top_sv"  # cache key (layer) -> ||M_{t-1}||_2 from its top-k triplets
TOP_SVD = "top_svd"  # cache key (layer) -> W_t's leading singular triplets (ThinSVD, float64)


def top_block(svd: ThinSVD, k: int) -> ThinSVD:
    """The k leading singular triplets of a :class:`ThinSVD`."""
    return ThinSVD(U=svd.U[:, :k], S=svd.S[:k], V=svd.V[:, :k])


def update_matrices(model: Any, update: Optional[Mapping[str, Tensor]]) -> Dict[str, Tensor]:
    """The last update M_{t-1} of each analysed layer, keyed like ``model.matrices``: the model
    maps its update dict as it maps its parameters (a deep network's ``features.0`` reads
    ``features.0.weight``); when it cannot (an untrained tensor it reads is absent from the
    update), the update's own entries named like a layer.  Empty at t = 0."""
    if update is None:
        return {}
    try:
        return dict(model.matrices(update))
    except (KeyError, AttributeError, TypeError):
        return dict(update)


def conv_mode(cfg: Any) -> ConvMatrix:
    """``probe.conv_matrix`` as a :class:`ConvMatrix` (a config built by hand may hold its
    string value, or none: slices)."""
    value = getattr(cfg, "conv_matrix", ConvMatrix.slices)
    return value if isinstance(value, ConvMatrix) else ConvMatrix(value)


class SpectrumProbe:
    name = "spectrum"

    def __init__(self, setup: ProbeSetup) -> None:
        self.cfg = setup.probe
        self.mode = conv_mode(setup.probe)
        self.min_eigs = int(getattr(setup.probe, "min_fit_eigs", 0))
        beta = setup.data.beta
        self.beta = None if beta is None else beta.to(torch.float64)

    def _beta_for(self, W: Tensor) -> Optional[Tensor]:
        """beta when W is a 2-D matrix acting on the inputs (its columns are the input dimensions)."""
        if self.beta is None or W.dim() != 2 or W.shape[-1] != self.beta.numel():
            return None
        return self.beta

    def _overlaps(
        self, view: ProbeView, layer: str, W: Tensor, M: Tensor, beta: Optional[Tensor], out: ProbeOutput, esd: bool
    ) -> Tuple[Optional[Spectrum], Row]:
        """From the top-k triplets of W and M (2-D): the overlap summaries, the update spectrum
        and ||M||_2; and, with ``esd``, the spectrum of W from the same decomposition."""
        k = self.cfg.overlap_k
        spec = None
        if self.cfg.overlaps.value == "full":  # every singular triplet of W_t and M_{t-1}
            sW, sM = thin_svd(W), thin_svd(M)
            spec = spectrum_from_svd(sW) if esd else None
            full = singular_vector_overlaps(W, M, k=k, full=True, svd_W=sW, svd_M=sM)
            out.overlaps[layer] = (full.O_U, full.O_V)
        elif esd:  # the summaries need only the top-k triplets
            spec, sW = spectrum_and_top_svd(W, k)
            sM = top_svd(M, k)
        else:
            sW, sM = top_svd(W, k), top_svd(M, k)
        view.cache[(TOP_SVD, layer)] = sW
        ov = singular_vector_overlaps(W, M, k=k, full=False, svd_W=top_block(sW, k), svd_M=top_block(sM, k))
        row: Row = dict(ov.as_row("overlap"))
        row.update(update_spectrum(None, M, beta, svd_M=sM).as_row(""))
        view.cache[(UPDATE_TOP_SV, layer)] = float(sM.S[0])
        return spec, row

    def _layer(self, view: ProbeView, layer: str, W: Tensor, M: Optional[Tensor], out: ProbeOutput) -> Row:
        with_update = M is not None and self.cfg.overlaps.value != "none"
        m = matricise(W, self.mode)
        beta = self._beta_for(W)
        v1 = None
        if m.count == 1:  # one matrix (a 2-D weight, or a convolution's reshape): one decomposition
            W2 = as_matrix(W)
            if with_update:
                spec, row = self._overlaps(view, layer, W2, as_matrix(M), beta, out, esd=True)
            else:
                spec, sW = spectrum_and_top_svd(W2, 1)  # what spectrum(W) computes, keeping v1's triplet
                view.cache[(TOP_SVD, layer)] = sW
                row = {}
            eigs = spec.eigs.cpu()  # N numbers: the fits run on the CPU whatever the device
            v1 = spec.v1
        else:  # a convolution's slices: their pooled ESD; overlaps on the reshape
            eigs = pooled_eigenvalues(m)
            row = {}
            if with_update:
                _, row = self._overlaps(view, layer, as_matrix(W), as_matrix(M), None, out, esd=False)
        report = esd_report(eigs, m.rows, m.cols, self.cfg.phase, count=m.count, min_eigs=self.min_eigs)
        row.update(report.as_row())
        row["fit_status"] = report.status
        row["sim_w_beta"] = math.nan if beta is None or v1 is None else abs(float(torch.dot(v1, beta)))
        mp = MarchenkoPastur(h=m.rows, d=m.cols, sigma2=view.setup.model.init_std(layer) ** 2)
        row["num_spikes"] = mp.num_spikes(eigs)
        row["mp_lambda_plus"] = mp.lambda_plus
        row["mp_spike_threshold"] = mp.spike_threshold()
        if self.cfg.tail_comparison and math.isfinite(report.ks.xmin):
            row.update(tail_comparison(eigs, report.ks.xmin).as_row("tail"))
        out.esd[layer] = eigs
        return row

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        model = view.setup.model
        updates = update_matrices(model, view.update)
        for layer, W in analysed_matrices(view.setup, view.params).items():
            out.layer_values[layer] = self._layer(view, layer, W, updates.get(layer), out)
        return out


def build(setup: ProbeSetup) -> Built:
    if not setup.probe.spectrum:
        return Skipped("disabled (probe.spectrum=false)")
    return SpectrumProbe(setup)
