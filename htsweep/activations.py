"""Point-wise activations with their derivatives, as pure functions of tensors.

The student needs sigma and sigma' (eq. 8); the teacher link sigma_* of eq. (1) only needs
sigma.  For tanh and sigmoid the derivative is a function of the value, so the training step
overwrites sigma(z) with r * sigma'(z) in one fused pass (``scale_by_grad_from_value_``) and
keeps a single n x h buffer.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

from enum import Enum

import torch
from torch import Tensor


class Activation(str, Enum):
    """Point-wise non-linearities for the student (sigma) and the teacher link (sigma_*)."""

    tanh = "tanh"
    relu = "relu"
    sigmoid = "sigmoid"
    softplus = "softplus"
    identity = "identity"
    erf = "erf"
    he2 = "he2"  # probabilists' Hermite polynomial z^2 - 1 (information exponent 2)
    he3 = "he3"  # z^3 - 3 z (information exponent 3; seed 003's k* = 3 link)


def _tanh(z: Tensor) -> Tuple[Tensor, Tensor]:
    s = torch.tanh(z)
    return s, torch.mul(s, s).neg_().add_(1.0)  # 1 - tanh^2, one temporary


def _sigmoid(z: Tensor) -> Tuple[Tensor, Tensor]:
    s = torch.sigmoid(z)
    return s, s - s * s


def _softplus(z: Tensor) -> Tuple[Tensor, Tensor]:
    return torch.nn.functional.softplus(z), torch.sigmoid(z)


def _relu(z: Tensor) -> Tuple[Tensor, Tensor]:
    return torch.relu(z), (z > 0).to(z.dtype)


def _identity(z: Tensor) -> Tuple[Tensor, Tensor]:
    return z, torch.ones_like(z)


def _erf(z: Tensor) -> Tuple[Tensor, Tensor]:
    return torch.erf(z), (2.0 / math.sqrt(math.pi)) * torch.exp(-z * z)


def _he2(z: Tensor) -> Tuple[Tensor, Tensor]:
    return z * z - 1.0, 2.0 * z


def _he3(z: Tensor) -> Tuple[Tensor, Tensor]:
    z2 = z * z
    return z * (z2 - 3.0), 3.0 * z2 - 3.0


_VALUE_AND_GRAD: Dict[Activation, Callable[[Tensor], Tuple[Tensor, Tensor]]] = {
    Activation.tanh: _tanh,
    Activation.sigmoid: _sigmoid,
    Activation.softplus: _softplus,
    Activation.relu: _relu,
    Activation.identity: _identity,
    Activation.erf: _erf,
    Activation.he2: _he2,
    Activation.he3: _he3,
}

_VALUE: Dict[Activation, Callable[[Tensor], Tensor]] = {
    Activation.tanh: torch.tanh,
    Activation.sigmoid: torch.sigmoid,
    Activation.softplus: torch.nn.functional.softplus,
    Activation.relu: torch.relu,
    Activation.identity: lambda z: z,
    Activation.erf: torch.erf,
    Activation.he2: lambda z: z * z - 1.0,
    Activation.he3: lambda z: z * (z * z - 3.0),
}


_VALUE_INPLACE: Dict[Activation, Callable[[Tensor], Tensor]] = {
    Activation.tanh: torch.Tensor.tanh_,
    Activation.sigmoid: torch.Tensor.sigmoid_,
    Activation.relu: torch.Tensor.relu_,
    Activation.erf: torch.Tensor.erf_,
    Activation.identity: lambda z: z,
}


def value(act: Activation, z: Tensor) -> Tensor:
    """sigma(z), element-wise."""
    return _VALUE[act](z)


def value_(act: Activation, z: Tensor) -> Tensor:
    """sigma(z), overwriting z where the activation has an in-place kernel (a temporary's
    memory is reused: on the CPU this saves an n x h allocation and its page faults)."""
    inplace = _VALUE_INPLACE.get(act)
    return inplace(z) if inplace is not None else _VALUE[act](z)


# sigma'(z) as a function of s = sigma(z), fused with the multiplication by an upstream
# gradient g: torch's own backward kernels, g (1 - s^2) and g s (1 - s), one element-wise pass.
_BACKWARD_FROM_VALUE = {
    Activation.tanh: torch.ops.aten.tanh_backward.grad_input,
    Activation.sigmoid: torch.ops.aten.sigmoid_backward.grad_input,
}


def grad_from_value(act: Activation) -> bool:
    """Whether :func:`scale_by_grad_from_value_` applies (sigma' is a function of sigma)."""
    return act in _BACKWARD_FROM_VALUE


def grad_from_value_copy(act: Activation, s: Tensor) -> Tensor:
    """sigma'(z) from s = sigma(z) into a new tensor (tanh: 1 - s^2, sigmoid: s (1 - s)),
    leaving s as it is."""
    if act is Activation.tanh:
        return torch.mul(s, s).neg_().add_(1.0)
    if act is Activation.sigmoid:
        return torch.mul(s, s).neg_().add_(s)
    raise ValueError(f"{act.value}: sigma' is not a function of sigma")


def scale_by_grad_from_value_(act: Activation, s: Tensor, g: Tensor) -> Tensor:
    """g * sigma'(z) computed from s = sigma(z) alone, written over s (tanh and sigmoid).
    ``g`` broadcasts against s (e.g. an (n, 1) column of per-sample residuals)."""
    return _BACKWARD_FROM_VALUE[act](g.expand_as(s), s, grad_input=s)


def value_and_grad(act: Activation, z: Tensor) -> Tuple[Tensor, Tensor]:
    """(sigma(z), sigma'(z)), element-wise.  relu'(0) is taken as 0."""
    return _VALUE_AND_GRAD[act](z)


def gaussian_mean_derivative(act: Activation, std: Tensor) -> Tensor:
    """mu = E[sigma'(std xi)], xi ~ N(0, 1), for every entry of ``std`` (float64).

    The exact Gaussian integral, never a Monte Carlo mean (seed 001 estimates mu_j from 10,000
    fresh samples).  Closed forms where they exist: relu 1/2, identity 1, erf
    2 / sqrt(pi (1 + 2 std^2)), he2 0, he3 3 std^2 - 3.  Otherwise (tanh, sigmoid, softplus)
    the trapezoidal rule on xi in [-9, 9] with step dx = min(0.1, 0.3 / max std): the integrand
    sigma'(std xi) phi(xi) is analytic in the strip |Im xi| < pi / (2 std) (tanh' has poles at
    i pi / 2), where the rule's error decays like exp(-pi^2 / (std dx)) < 1e-14 (Trefethen &
    Weideman, SIAM Review 2014, "The exponentially convergent trapezoidal rule", Sec. 5); the
    truncation at |xi| = 9 costs phi(9) ~ 1e-18.  A fixed-order Gauss-Hermite rule would lose
    accuracy for large std, where sigma'(std xi) varies on the scale 1/std.  O(h K) work with
    K <= 60 max(std) + 181 nodes."""
    s = std.to(torch.float64)
    if act is Activation.relu:
        return torch.full_like(s, 0.5)
    if act is Activation.identity:
        return torch.ones_like(s)
    if act is Activation.erf:
        return 2.0 / torch.sqrt(math.pi * (1.0 + 2.0 * s * s))
    if act is Activation.he2:
        return torch.zeros_like(s)
    if act is Activation.he3:
        return 3.0 * s * s - 3.0
    top = float(s.max()) if s.numel() else 1.0
    dx = min(0.1, 0.3 / max(top, 1e-12))
    K = int(math.ceil(9.0 / dx))
    xi = torch.arange(-K, K + 1, dtype=torch.float64, device=s.device) * (9.0 / K)
    weights = torch.exp(-0.5 * xi * xi) * ((9.0 / K) / math.sqrt(2.0 * math.pi))
    _, dsigma = value_and_grad(act, s.unsqueeze(-1) * xi)
    return dsigma @ weights
