"""Full-batch Adam, eq. (4)-(5):

    M~_{t+1} = beta1 M~_t + (1 - beta1) G_t,   V~_{t+1} = beta2 V~_t + (1 - beta2) G_t^2,
    M_t = -lr M~_{t+1} / (V~_{t+1}^{1/2} + eps)                        (bias_correction=false)
    M_t = -(lr / c1) M~_{t+1} / (V~_{t+1}^{1/2} / sqrt(c2) + eps)     (bias_correction=true)

with c1 = 1 - beta1^(t+1), c2 = 1 - beta2^(t+1).  The corrected form is, operation for
operation, torch.optim.Adam's single-tensor update (same rounding, same eps placement); its
first step is lr sign(G_0) as eps -> 0, while the printed form's is
lr (1 - beta1) / sqrt(1 - beta2) sign(G_0), eq. (9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from htsweep.models.base import Params
from htsweep.optim.base import OptimizerConfig, OptState


@dataclass
class AdamConfig(OptimizerConfig):
    """FB-Adam's moments ``beta1``, ``beta2``, ``eps`` and ``bias_correction`` (true: as
    torch.optim.Adam and the paper's code; false: eq. 4-5 as printed)."""

    OPTION = "adam"
    name: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    bias_correction: bool = True

    def check(self) -> None:
        self.require(0 <= self.beta1 < 1, "beta1", f"must be in [0, 1), got {self.beta1}")
        self.require(0 <= self.beta2 < 1, "beta2", f"must be in [0, 1), got {self.beta2}")
        self.require(self.eps >= 0, "eps", f"must be >= 0, got {self.eps}")


class FBAdam:
    """State: the update count ``t`` and, per trained parameter, ``m/<name>`` and ``v/<name>``."""

    def __init__(self, cfg: AdamConfig) -> None:
        self.beta1 = cfg.beta1
        self.beta2 = cfg.beta2
        self.eps = cfg.eps
        self.bias_correction = cfg.bias_correction

    def init(self, params: Params, names: Sequence[str]) -> OptState:
        state: OptState = {"t": 0}
        for name in names:
            state[f"m/{name}"] = torch.zeros_like(params[name])
            state[f"v/{name}"] = torch.zeros_like(params[name])
        return state

    def update(self, grads: Params, state: OptState, lr: float) -> Params:
        state["t"] = t = int(state["t"]) + 1
        if self.bias_correction:
            c1 = 1.0 - self.beta1**t
            sqrt_c2 = math.sqrt(1.0 - self.beta2**t)
            step = lr / c1
        else:
            step = lr
        out = {}
        for name, G in grads.items():
            m, v = state[f"m/{name}"], state[f"v/{name}"]
            m.lerp_(G, 1.0 - self.beta1)
            v.mul_(self.beta2).addcmul_(G, G, value=1.0 - self.beta2)
            denom = (v.sqrt() / sqrt_c2).add_(self.eps) if self.bias_correction else v.sqrt().add_(self.eps)
            out[name] = torch.div(m, denom).mul_(-step)
        return out
