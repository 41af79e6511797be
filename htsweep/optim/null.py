"""``optimizer=none``: no learning, M_t = 0 (the gradient is not even computed).

The null control of the heavy-tailed-noise experiments (seed 002; notes ht_noise.md sec. 6):
with ``noise=alpha_stable`` the iterate is W_0 plus the accumulated injected noise,
W_t = W_0 + sum_s N_s, so comparing a run with its null twin (same seed, same noise streams)
separates what learning does to the spectrum from what noise accumulation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from htsweep.models.base import Params
from htsweep.optim.base import OptimizerConfig, OptState


@dataclass
class NullConfig(OptimizerConfig):
    """No update (no options)."""

    OPTION = "none"
    name: str = "none"


class Null:
    needs_gradient = False  # the loop evaluates the loss only and passes zero gradients

    def __init__(self, cfg: NullConfig) -> None:
        del cfg

    def init(self, params: Params, names: Sequence[str]) -> OptState:
        return {}

    def update(self, grads: Params, state: OptState, lr: float) -> Params:
        return {name: torch.zeros_like(G) for name, G in grads.items()}
