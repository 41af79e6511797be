"""Small dense linear-algebra helpers shared by the readout and the spectral probes."""

from __future__ import annotations

import torch
from scipy.linalg import blas
from torch import Tensor

_SYRK = {torch.float32: blas.ssyrk, torch.float64: blas.dsyrk}


def gram(A: Tensor) -> Tensor:
    """A^T A in A's dtype.

    On the CPU a BLAS symmetric rank-k update (?syrk: n k^2 multiply-adds, half a general
    product's work) fills one triangle, mirrored here; on other devices a matrix product."""
    if A.device.type == "cpu" and A.dtype in _SYRK and A.is_contiguous():
        # A is row-major (m x k): its memory is the column-major (k x m) matrix A^T, so
        # ?syrk(trans=0) forms A^T A without a copy.
        upper = torch.from_numpy(_SYRK[A.dtype](1.0, A.numpy().T, lower=0, trans=0))
        full = upper + upper.t()  # ?syrk leaves the strict lower triangle zero
        full.diagonal().mul_(0.5)  # (x + x) / 2 == x exactly
        return full
    return torch.mm(A.t(), A)
