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


def scale_by_grad_from_value_(act: Activation, s: Tensor, g: Tensor) -> Tensor:
    """g * sigma'(z) computed from s = sigma(z) alone, written over s (tanh and sigmoid).
    ``g`` broadcasts against s (e.g. an (n, 1) column of per-sample residuals)."""
    return _BACKWARD_FROM_VALUE[act](g.expand_as(s), s, grad_input=s)


def value_and_grad(act: Activation, z: Tensor) -> Tuple[Tensor, Tensor]:
    """(sigma(z), sigma'(z)), element-wise.  relu'(0) is taken as 0."""
    return _VALUE_AND_GRAD[act](z)
