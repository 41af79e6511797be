"""The update probe: how far each analysed matrix moved (Thm 4.1, App. C).

Per layer: ||W_t - W_0||_2 and ||W_t - W_0||_F (0 at t = 0), and the norms of the last
optimiser update M_{t-1}, ||M||_2 and ||M||_F (NaN at t = 0).  ||M||_2 comes from the spectral
probe's top-k triplets of M when it computed them this step, else by Lanczos.
"""

from __future__ import annotations

import torch

from htsweep.probes.base import Built, ProbeOutput, ProbeSetup, ProbeView
from htsweep.probes.spectrum import UPDATE_TOP_SV
from htsweep.spectral import spectral_norm


class UpdateProbe:
    name = "update"

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        model = view.setup.model
        initial = model.matrices(view.setup.params0)
        for layer, W in model.matrices(view.params).items():
            M = None if view.update is None else view.update.get(layer)
            if M is None:  # t = 0: W_t is W_0
                out.layer_values[layer] = {"delta_w_spectral": 0.0, "delta_w_frobenius": 0.0}
                continue
            delta = (W - initial[layer]).to(torch.float64)
            top = view.cache.get((UPDATE_TOP_SV, layer))
            out.layer_values[layer] = {
                "update_spectral": spectral_norm(M) if top is None else top,
                "delta_w_spectral": spectral_norm(delta),
                "delta_w_frobenius": float(torch.linalg.matrix_norm(delta, "fro")),
                "update_frobenius": float(torch.linalg.matrix_norm(M.to(torch.float64), "fro")),
            }
        return out


def build(setup: ProbeSetup) -> Built:
    return UpdateProbe()
