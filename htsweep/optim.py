"""Stage-1 optimiser steps on W: full-batch GD (eq. 3), full-batch Adam (eq. 4-5), the
StepLR schedule and the Frobenius weight normalisation of App. F.4.

Each optimiser returns the update matrix M_t = W_{t+1} - W_t of App. C (eq. 35) so the probes
can measure it; the caller adds it to W.  Everything is in-place tensor arithmetic: no Python
loop over entries.
"""

from __future__ import annotations

import math
from typing import Dict, Protocol

import torch
from torch import Tensor

from htsweep.config import (
    LRScheduleConfig,
    OptimizerConfig,
    OptimizerName,
    ScheduleName,
    WeightNormConfig,
    WeightNormName,
)


class Optimizer(Protocol):
    def update(self, G: Tensor, lr: float) -> Tensor:
        """The update M_t for gradient G_t at learning rate lr (W_{t+1} = W_t + M_t)."""

    def state_dict(self) -> Dict[str, object]: ...

    def load_state_dict(self, state: Dict[str, object]) -> None: ...


class GD:
    """M_t = -lr G_t, eq. (3)."""

    def update(self, G: Tensor, lr: float) -> Tensor:
        return G.mul(-lr)

    def state_dict(self) -> Dict[str, object]:
        return {}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        pass


class FBAdam:
    """Full-batch Adam, eq. (4)-(5):

        M~_{t+1} = beta1 M~_t + (1 - beta1) G_t,   V~_{t+1} = beta2 V~_t + (1 - beta2) G_t^2,
        M_t = -lr M~_{t+1} / (V~_{t+1}^{1/2} + eps)                        (bias_correction=false)
        M_t = -(lr / c1) M~_{t+1} / (V~_{t+1}^{1/2} / sqrt(c2) + eps)     (bias_correction=true)

    with c1 = 1 - beta1^(t+1), c2 = 1 - beta2^(t+1).  The corrected form is, operation for
    operation, torch.optim.Adam's single-tensor update (same rounding, same eps placement)."""

    def __init__(self, cfg: OptimizerConfig) -> None:
        self.beta1 = cfg.beta1
        self.beta2 = cfg.beta2
        self.eps = cfg.eps
        self.bias_correction = cfg.bias_correction
        self.t = 0
        self.m: Tensor | None = None
        self.v: Tensor | None = None

    def update(self, G: Tensor, lr: float) -> Tensor:
        if self.m is None or self.v is None:
            self.m = torch.zeros_like(G)
            self.v = torch.zeros_like(G)
        self.t += 1
        self.m.lerp_(G, 1.0 - self.beta1)
        self.v.mul_(self.beta2).addcmul_(G, G, value=1.0 - self.beta2)
        if self.bias_correction:
            c1 = 1.0 - self.beta1**self.t
            c2 = 1.0 - self.beta2**self.t
            denom = (self.v.sqrt() / math.sqrt(c2)).add_(self.eps)
            step = lr / c1
        else:
            denom = self.v.sqrt().add_(self.eps)
            step = lr
        return torch.div(self.m, denom).mul_(-step)

    def state_dict(self) -> Dict[str, object]:
        return {"t": self.t, "m": self.m, "v": self.v}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        self.t = int(state["t"])  # type: ignore[arg-type]
        self.m = state["m"]  # type: ignore[assignment]
        self.v = state["v"]  # type: ignore[assignment]


def make_optimizer(cfg: OptimizerConfig) -> Optimizer:
    if cfg.name is OptimizerName.gd:
        return GD()
    return FBAdam(cfg)


def lr_at(base_lr: float, cfg: LRScheduleConfig, t: int) -> float:
    """Learning rate of update t (t = 0 is the first update): lr for ``constant``;
    lr * gamma ** floor(t / step_size) for ``step`` (torch StepLR stepped after every update)."""
    if cfg.name is ScheduleName.step:
        return base_lr * cfg.gamma ** (t // cfg.step_size)
    return base_lr


def frobenius_target(h: int, d: int, w_init_std: float) -> float:
    """sqrt(h d) * w_init_std: E||W_0||_F to leading order (App. F.4 uses sqrt(h d), ntk)."""
    return math.sqrt(h * d) * w_init_std


def normalise_(W: Tensor, cfg: WeightNormConfig, target: float) -> Tensor:
    """Weight normalisation after an update, in place: W <- target W / ||W||_F (App. F.4)."""
    if cfg.name is WeightNormName.frobenius:
        W.mul_(target / torch.linalg.matrix_norm(W, "fro"))
    return W
