"""Point-wise activations with their derivatives, as pure functions of tensors.

The student needs sigma and sigma' (eq. 8); the teacher link sigma_* of eq. (1) only needs
sigma.  ``value_and_grad`` returns both from one pass where the derivative is cheap to derive
from the value (tanh, sigmoid), which keeps the training step's element-wise work low.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Tuple

import torch
from torch import Tensor

from htsweep.config import Activation

def _tanh(z: Tensor) -> Tuple[Tensor, Tensor]:
    s = torch.tanh(z)
    return s, torch.mul(s, s).neg_().add_(1.0)  # 1 - tanh^2, one temporary


def _tanh_(z: Tensor) -> Tuple[Tensor, Tensor]:
    s = z.tanh_()
    return s, torch.mul(s, s).neg_().add_(1.0)


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


_VALUE_AND_GRAD: Dict[Activation, Callable[[Tensor], Tuple[Tensor, Tensor]]] = {
    Activation.tanh: _tanh,
    Activation.sigmoid: _sigmoid,
    Activation.softplus: _softplus,
    Activation.relu: _relu,
    Activation.identity: _identity,
    Activation.erf: _erf,
}

_VALUE: Dict[Activation, Callable[[Tensor], Tensor]] = {
    Activation.tanh: torch.tanh,
    Activation.sigmoid: torch.sigmoid,
    Activation.softplus: torch.nn.functional.softplus,
    Activation.relu: torch.relu,
    Activation.identity: lambda z: z,
    Activation.erf: torch.erf,
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


def value_and_grad_(act: Activation, z: Tensor) -> Tuple[Tensor, Tensor]:
    """:func:`value_and_grad` that may overwrite z (for tanh, the only activation whose
    derivative is computed from the value alone among those with an in-place kernel)."""
    return _tanh_(z) if act is Activation.tanh else _VALUE_AND_GRAD[act](z)


def value_and_grad(act: Activation, z: Tensor) -> Tuple[Tensor, Tensor]:
    """(sigma(z), sigma'(z)), element-wise.  relu'(0) is taken as 0."""
    return _VALUE_AND_GRAD[act](z)
