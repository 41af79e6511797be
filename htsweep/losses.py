"""Training losses as functions of the network output f and the target y, per sample.

A loss gives its mean over the samples and its derivative with respect to f per sample,
dl/df_i; a model's gradient is the chain rule on that derivative (the two-layer closed form of
eq. 8 multiplies it into sigma'), so a new loss is one class here and never a new gradient.

``mse``: l(f, y) = (f - y)^2, the loss the paper's public code minimises (mean over samples,
no 1/2; Sec. 3.1 writes 1/(2n), so htsweep's gradient is twice that of eq. 3's risk and GD's lr
is eta / 2 there).  Its derivative is 2 (f - y).

To add a loss: a class with ``name``, ``value``, ``mean`` and ``mean_and_dvalue`` plus a config
schema (a :class:`LossConfig` subclass) in :data:`LOSSES`, and ``htsweep/conf/loss/<name>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, NamedTuple, Protocol, Tuple, Type

import torch
from torch import Tensor

from htsweep.schema import OptionConfig, lookup


@dataclass
class LossConfig(OptionConfig):
    """Base of the ``loss`` group's options."""

    GROUP = "loss"


class Loss(Protocol):
    name: str

    def value(self, f: Tensor, y: Tensor) -> Tensor:
        """l(f_i, y_i) per sample (same shape as f)."""

    def mean(self, f: Tensor, y: Tensor) -> Tensor:
        """(1/m) sum_i l(f_i, y_i), a 0-d tensor."""

    def mean_and_dvalue(self, f: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        """The mean loss and dl/df_i per sample (not divided by m).  ``f`` is consumed: it is
        the model's temporary output and may be overwritten by the derivative."""


@dataclass
class MSEConfig(LossConfig):
    """Mean-squared error (1/n) sum (f - y)^2."""

    OPTION = "mse"
    name: str = "mse"


class MSE:
    """l(f, y) = (f - y)^2, dl/df = 2 (f - y).  The mean is the dot product of the residual
    with itself divided by m (one reduction over the last axis; leading batch axes allowed)."""

    name = "mse"

    def value(self, f: Tensor, y: Tensor) -> Tensor:
        r = f - y
        return r * r

    def mean(self, f: Tensor, y: Tensor) -> Tensor:
        r = f - y
        return _mean_square(r)

    def mean_and_dvalue(self, f: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        r = f.sub_(y)  # f is the model's temporary: reuse its memory for the residual
        loss = _mean_square(r)
        return loss, r.mul_(2.0)


def _mean_square(r: Tensor) -> Tensor:
    if r.dim() == 1:
        return torch.dot(r, r) / r.numel()
    return (r * r).sum(dim=-1) / r.shape[-1]


class LossEntry(NamedTuple):
    schema: Type[LossConfig]
    build: Callable[[LossConfig], Loss]


LOSSES: Dict[str, LossEntry] = {
    "mse": LossEntry(MSEConfig, lambda cfg: MSE()),
}


def make_loss(cfg: LossConfig) -> Loss:
    """The loss of ``cfg`` (an unknown option is an error)."""
    return lookup(LOSSES, cfg.name, "loss").build(cfg)
