"""Training losses as functions of the network output f and the target y, per sample.

A loss gives its mean over the samples and its derivative with respect to f per sample,
dl/df_i; a model's gradient is the chain rule on that derivative (the two-layer closed form of
eq. 8 multiplies it into sigma'), so a new loss is one class here and never a new gradient.

``mse``: l(f, y) = (f - y)^2, the loss the paper's public code minimises (mean over samples,
no 1/2; Sec. 3.1 writes 1/(2n), so htsweep's gradient is twice that of eq. 3's risk and GD's lr
is eta / 2 there).  Its derivative is 2 (f - y).

``bce``: binary cross-entropy on the logit f with targets y in [0, 1] (Bernoulli labels or soft
targets), l(f, y) = softplus(f) - y f = -y log s(f) - (1 - y) log(1 - s(f)), s the logistic
sigmoid; dl/df = s(f) - y (seed 001, ``loss_derivative`` "bce").

``hinge``: l(f, y) = max(0, 1 - y f) with sign labels y in {-1, +1}; dl/df = -y 1[y f < 1]
(the subgradient 0 at the kink y f = 1, as seed 001's ``torch.where(y * F < 1, -y, 0)``).

``cross_entropy``: softmax cross-entropy of logits f (m x C) against class indices y (float
values 0 .. C-1, cast to integers), l(f, y) = logsumexp(f) - f_y (torch's ``cross_entropy``); the
loss of the image classifiers (paper App. F.6: VGG11, ResNet18), whose gradients come from
autograd.  Its derivative is the vector softmax(f) - onehot(y) per sample (m x C), which the
two-layer closed form (scalar outputs) cannot use: the configuration allows it with the
classifier models only.

Each loss names the labels it is defined on (``LABELS``: htsweep.data.labels) and whether it is
a classification loss (runs then also report the readout's 0-1 error).

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
    classification: bool  # labels are classes: the readout reports a 0-1 error too

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
    classification = False

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


@dataclass
class BCEConfig(LossConfig):
    """Binary cross-entropy on the logit f, targets in [0, 1]."""

    OPTION = "bce"
    name: str = "bce"


class BCE:
    """l(f, y) = softplus(f) - y f, dl/df = sigmoid(f) - y (module docstring).  softplus is
    evaluated stably (torch's threshold form), so large |f| neither overflows nor loses the
    linear tail."""

    name = "bce"
    classification = True

    def value(self, f: Tensor, y: Tensor) -> Tensor:
        return torch.nn.functional.softplus(f) - y * f

    def mean(self, f: Tensor, y: Tensor) -> Tensor:
        return self.value(f, y).mean(dim=-1)

    def mean_and_dvalue(self, f: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        loss = self.mean(f, y)
        return loss, torch.sigmoid_(f).sub_(y)


@dataclass
class HingeConfig(LossConfig):
    """Hinge loss max(0, 1 - y f), sign labels."""

    OPTION = "hinge"
    name: str = "hinge"


class Hinge:
    """l(f, y) = max(0, 1 - y f), dl/df = -y 1[y f < 1] (module docstring)."""

    name = "hinge"
    classification = True

    def value(self, f: Tensor, y: Tensor) -> Tensor:
        return torch.relu(1.0 - y * f)

    def mean(self, f: Tensor, y: Tensor) -> Tensor:
        return self.value(f, y).mean(dim=-1)

    def mean_and_dvalue(self, f: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        margin = y * f
        loss = torch.relu(1.0 - margin).mean(dim=-1)
        active = (margin < 1.0).to(f.dtype)
        return loss, active.mul_(y).neg_()


@dataclass
class CrossEntropyConfig(LossConfig):
    """Softmax cross-entropy of logits (m x C) against class indices."""

    OPTION = "cross_entropy"
    name: str = "cross_entropy"


class CrossEntropy:
    """l(f, y) = logsumexp(f) - f_y for logits f (m x C) and class indices y (module
    docstring); dl/df = softmax(f) - onehot(y), a row per sample."""

    name = "cross_entropy"
    classification = True

    @staticmethod
    def _classes(y: Tensor) -> Tensor:
        return y.to(torch.long) if y.is_floating_point() else y

    def value(self, f: Tensor, y: Tensor) -> Tensor:
        """l per sample (m,)."""
        return torch.nn.functional.cross_entropy(f, self._classes(y), reduction="none")

    def mean(self, f: Tensor, y: Tensor) -> Tensor:
        return torch.nn.functional.cross_entropy(f, self._classes(y))

    def mean_and_dvalue(self, f: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        """The mean and softmax(f) - onehot(y) (m x C)."""
        loss = self.mean(f, y)
        dvalue = torch.softmax(f, dim=-1)
        dvalue[torch.arange(f.shape[0], device=f.device), self._classes(y)] -= 1.0
        return loss, dvalue


class LossEntry(NamedTuple):
    schema: Type[LossConfig]
    build: Callable[[LossConfig], Loss]


LOSSES: Dict[str, LossEntry] = {
    "mse": LossEntry(MSEConfig, lambda cfg: MSE()),
    "bce": LossEntry(BCEConfig, lambda cfg: BCE()),
    "hinge": LossEntry(HingeConfig, lambda cfg: Hinge()),
    "cross_entropy": LossEntry(CrossEntropyConfig, lambda cfg: CrossEntropy()),
}


def make_loss(cfg: LossConfig) -> Loss:
    """The loss of ``cfg`` (an unknown option is an error)."""
    return lookup(LOSSES, cfg.name, "loss").build(cfg)
