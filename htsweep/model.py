"""The two-layer student of eq. (2) and its full-batch gradient, eq. (8).

    f(x) = a^T sigma(c W x) / sqrt(h),   c = 1/sqrt(d) (ntk, eq. 2) or 1 (mean_field, eq. 37)

Stage 1 minimises the mean-squared error over the n training points,

    L(W) = (1/n) sum_i (y_i - f(x_i))^2,

the loss the paper's public code minimises (mean over samples, no 1/2).  Eq. (3) writes the
risk with a factor 1/(2n); our gradient is therefore twice the gradient of that risk, and the
GD learning rate lr here equals eta / 2 there.  With this convention GD's spike threshold lands
at lr ~ 2000 as in Fig. 3.  (Eq. (8) as printed is the *negative* gradient of the 1/(2n) risk:
G = -2 * eq.(8).)  FB-Adam is invariant to the factor: it rescales the gradient away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import Tensor

from htsweep import activations
from htsweep.config import Activation, Parametrisation
from htsweep.seeding import generator


@dataclass(frozen=True)
class Student:
    """Shape and parametrisation of the student; the weights are passed separately."""

    h: int
    d: int
    act: Activation
    param: Parametrisation = Parametrisation.ntk

    @property
    def preact_scale(self) -> float:
        """c in sigma(c W x): 1/sqrt(d) for ntk (eq. 2), 1 for mean_field (eq. 37)."""
        return 1.0 / math.sqrt(self.d) if self.param is Parametrisation.ntk else 1.0

    @property
    def w_init_std(self) -> float:
        """Entry scale of W_0: 1 (ntk, Sec. 3) or 1/sqrt(d) (mean_field, App. D)."""
        return 1.0 if self.param is Parametrisation.ntk else 1.0 / math.sqrt(self.d)

    @property
    def a_init_std(self) -> float:
        """Entry scale of a: 1 (ntk) or 1/sqrt(h) (mean_field)."""
        return 1.0 if self.param is Parametrisation.ntk else 1.0 / math.sqrt(self.h)


def init_weights(student: Student, seed: int) -> Tuple[Tensor, Tensor]:
    """(W_0, a) in float64 on the CPU, a function of (shape, parametrisation, seed) only."""
    W = torch.randn(student.h, student.d, generator=generator(seed, "init/W"), dtype=torch.float64)
    a = torch.randn(student.h, generator=generator(seed, "init/a"), dtype=torch.float64)
    return W.mul_(student.w_init_std), a.mul_(student.a_init_std)


def preactivation(student: Student, W: Tensor, X: Tensor, extra_scale: float = 1.0) -> Tensor:
    """c X W^T (m x h); the scale multiplies W (h x d), not the larger product."""
    scale = student.preact_scale * extra_scale
    return torch.mm(X, W.t() if scale == 1.0 else (W * scale).t())


def features(student: Student, W: Tensor, X: Tensor, extra_scale: float = 1.0) -> Tensor:
    """Post-activation features Z = sigma(c X W^T) / sqrt(h), (m x h): the rows of Z-bar^T
    in eq. (6).  ``extra_scale`` multiplies the pre-activation (see FeatureScale)."""
    Z = activations.value_(student.act, preactivation(student, W, X, extra_scale))
    return Z.mul_(1.0 / math.sqrt(student.h))


def predict(student: Student, W: Tensor, a: Tensor, X: Tensor) -> Tensor:
    """f(x) for every row of X, eq. (2)."""
    return features(student, W, X) @ a


def mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean-squared error (1/m) sum (pred - y)^2 (no 1/2)."""
    r = pred - y
    return torch.dot(r, r) / r.numel()


def loss_and_grad(
    student: Student, W: Tensor, a: Tensor, X: Tensor, y: Tensor
) -> Tuple[Tensor, Tensor]:
    """Stage-1 loss L(W) and its gradient G = dL/dW in closed form (cf. eq. 8):

        G = (2 c / (n sqrt(h))) * diag(a) [ (f - y) 1^T  (.)  sigma'(c X W^T) ]^T X

    Two GEMMs of n*d*h multiply-adds each and a few element-wise passes over n x h."""
    n = X.shape[0]
    inv_sqrt_h = 1.0 / math.sqrt(student.h)
    Z = preactivation(student, W, X)
    if activations.grad_from_value(student.act):  # one n x h buffer: Z, then S, then dS
        S = activations.value_(student.act, Z)
        r = torch.mv(S, a).mul_(inv_sqrt_h).sub_(y)  # residual f - y, (n,)
        dS = activations.scale_by_grad_from_value_(student.act, S, r.unsqueeze(1))
    else:
        S, dS = activations.value_and_grad(student.act, Z)
        r = torch.mv(S, a).mul_(inv_sqrt_h).sub_(y)
        del S, Z
        dS.mul_(r.unsqueeze(1))  # (f - y)_i sigma'(.)_ij
    loss = torch.dot(r, r) / n
    G = torch.mm(dS.t(), X)  # (h x d)
    G.mul_((a * (2.0 * student.preact_scale * inv_sqrt_h / n)).unsqueeze(1))
    return loss, G


def loss_only(student: Student, W: Tensor, a: Tensor, X: Tensor, y: Tensor) -> Tensor:
    """Stage-1 loss L(W) without the gradient."""
    return mse(predict(student, W, a, X), y)
