"""Symmetric positive-definite h x h solves shared by the readouts (float64, no explicit inverse)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import lapack
from torch import Tensor


def cholesky_solve(A: Tensor, b: Tensor) -> Optional[Tensor]:
    """x with A x = b by Cholesky, or None when A is not numerically positive definite."""
    if A.device.type == "cpu":  # LAPACK ?potrf/?potrs on the BLAS that formed the Gram
        # A is symmetric, so its row-major buffer is the column-major A: no copy.  ?potrf
        # need not notice a NaN off its diagonal blocks, hence the callers' finiteness checks.
        c, info = lapack.dpotrf(A.clone().numpy().T, lower=0, clean=0, overwrite_a=1)
        if info != 0:
            return None
        x, info = lapack.dpotrs(c, b.numpy(), lower=0)
        return torch.from_numpy(x) if info == 0 else None
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        return None
    return torch.cholesky_solve(b.unsqueeze(1), L).squeeze(1)


def symmetric_solve(A: Tensor, b: Tensor) -> Optional[Tensor]:
    """x with A x = b for a symmetric, possibly ill-conditioned A (LDL^T, ?sysv), or None."""
    try:
        if A.device.type == "cpu":
            return torch.from_numpy(scipy.linalg.solve(A.numpy(), b.numpy(), assume_a="sym", check_finite=False))
        return torch.linalg.solve(A, b)
    except (np.linalg.LinAlgError, RuntimeError):
        return None


def spd_solve(A: Tensor, b: Tensor, what: str) -> Tensor:
    """x with A x = b, A symmetric positive definite in exact arithmetic: Cholesky, LDL^T when
    rounding defeats it; FloatingPointError (naming ``what``) when both fail or x is not finite."""
    x = cholesky_solve(A, b)
    if x is None:
        x = symmetric_solve(A, b)
    if x is None or not bool(torch.isfinite(x).all()):
        raise FloatingPointError(f"{what}: the h x h system is numerically singular")
    return x


def require_finite(Z: Tensor, y: Tensor, what: str) -> None:
    """FloatingPointError unless every feature and target is finite."""
    if not (bool(torch.isfinite(Z).all()) and bool(torch.isfinite(y).all())):
        raise FloatingPointError(f"{what}: non-finite features or targets")
