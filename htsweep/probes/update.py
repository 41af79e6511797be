"""The update probe: how far each analysed matrix moved (Thm 4.1, App. C).

Per layer: ||W_t - W_0||_2 and ||W_t - W_0||_F (0 at t = 0), and the norms of the last
optimiser update M_{t-1}, ||M||_2 and ||M||_F (NaN at t = 0).  ||M||_2 comes from the spectral
probe's top-k triplets of M when it computed them this step, else by Lanczos.

A 4-D Conv2d weight (out, in, k, k) is measured as its (out x in k^2) reshape
(htsweep.spectral.conv.as_matrix), whatever ``probe.conv_matrix`` made its ESD: the Frobenius
norms are the same for every matricisation, the spectral norms are those of the reshape (the
matrix the spectral probe's overlaps and update spectrum use).

With injected noise (``noise=alpha_stable``) the layer's step is M_{t-1} + N_{t-1}:
``noise_frobenius`` is ||N||_F and ``update_noisy_spectral`` / ``update_noisy_frobenius`` the
norms of M + N (the constraint, if any, acts between them); without noise these are NaN.
"""

from __future__ import annotations

import torch

from htsweep.probes.base import Built, analysed_matrices, ProbeOutput, ProbeSetup, ProbeView
from htsweep.probes.spectrum import UPDATE_TOP_SV, update_matrices
from htsweep.spectral import spectral_norm
from htsweep.spectral.conv import as_matrix


class UpdateProbe:
    name = "update"

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        model = view.setup.model
        initial = model.matrices(view.setup.params0)
        updates = update_matrices(model, view.update)
        for layer, W in analysed_matrices(view.setup, view.params).items():
            M = updates.get(layer)
            if M is None:  # t = 0: W_t is W_0
                out.layer_values[layer] = {"delta_w_spectral": 0.0, "delta_w_frobenius": 0.0}
                continue
            delta = as_matrix((W - initial[layer]).to(torch.float64))
            M = as_matrix(M)
            top = view.cache.get((UPDATE_TOP_SV, layer))
            values = out.layer_values[layer] = {
                "update_spectral": spectral_norm(M) if top is None else top,
                "delta_w_spectral": spectral_norm(delta),
                "delta_w_frobenius": float(torch.linalg.matrix_norm(delta, "fro")),
                "update_frobenius": float(torch.linalg.matrix_norm(M.to(torch.float64), "fro")),
            }
            N = (view.noise or {}).get(layer)
            if N is not None:
                N = as_matrix(N).to(torch.float64)
                MN = M.to(torch.float64) + N
                values.update(noise_frobenius=float(torch.linalg.matrix_norm(N, "fro")),
                              update_noisy_spectral=spectral_norm(MN),
                              update_noisy_frobenius=float(torch.linalg.matrix_norm(MN, "fro")))  # fmt: skip
        return out


def build(setup: ProbeSetup) -> Built:
    return UpdateProbe()
