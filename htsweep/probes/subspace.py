"""The subspace probe: W_t's top-r right singular vectors (``probe.subspace_r`` = r) and, every
``probe.save_weights_every``-th probe step, W_t itself, into arrays.npz, for comparisons across
runs at aggregation (htsweep.figures.subspace_angles: principal angles between the top-r right
singular subspaces of two runs at each step, seed 001's NTK-vs-MF and ReLU-vs-sigmoid
comparisons; with saved weights also the notebook's own column-space angles).

The vectors are stored as float32 (d x r), W as float32 (h x d).  The top-r triplets reuse the
spectrum probe's decomposition of this step when it holds at least r of them.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from htsweep.spectral.conv import as_matrix
from htsweep.probes.base import Built, analysed_matrices, ProbeOutput, ProbeSetup, ProbeView, Skipped
from htsweep.probes.spectrum import TOP_SVD
from htsweep.spectral import top_svd

SUBSPACE = "subspace"  # arrays.npz kind of the top-r right singular vectors
WEIGHTS = "weights"  # arrays.npz kind of a saved matrix


class SubspaceProbe:
    name = "subspace"

    def __init__(self, setup: ProbeSetup) -> None:
        self.r = setup.probe.subspace_r
        self.every = setup.probe.save_weights_every
        self.model = setup.model

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        for layer, W in analysed_matrices(view.setup, view.params).items():
            W = as_matrix(W)  # a conv layer's (out, in k k) reshape
            if self.r > 0:
                r = min(self.r, *W.shape[-2:])
                svd = view.cache.get((TOP_SVD, layer))
                if svd is None or svd.V.shape[1] < r or svd.V.shape[0] != W.shape[-1]:
                    svd = top_svd(W, r)
                out.arrays[(SUBSPACE, layer)] = svd.V[:, :r].to(torch.float32).cpu().numpy()
            if self.every > 0 and view.step % self.every == 0:
                out.arrays[(WEIGHTS, layer)] = W.detach().to(torch.float32).cpu().numpy().astype(np.float32)
        return out


def applies(setup: ProbeSetup) -> Optional[str]:
    if setup.probe.subspace_r <= 0 and setup.probe.save_weights_every <= 0:
        return "disabled (probe.subspace_r=0 and probe.save_weights_every=0)"
    return None


def build(setup: ProbeSetup) -> Built:
    why = applies(setup)
    return Skipped(why) if why is not None else SubspaceProbe(setup)
