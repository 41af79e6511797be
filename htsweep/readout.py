"""Stage 2: the ridge readout of eq. (6) and the kernel-target alignment of eq. (7).

With Z the (n x h) feature matrix of the hold-out set (row i = sigma(c W x_i) / sqrt(h)),

    a_hat = argmin_a (1/n) ||y - Z a||^2 + (lambda / h) ||a||^2
          = (Z^T Z + (lambda n / h) I_h)^{-1} Z^T y                                   (eq. 6)

    KTA   = <K, y y^T> / (||K||_F ||y y^T||_F),  K = Z Z^T                            (eq. 7)
          = ||Z^T y||^2 / (||Z^T Z||_F ||y||^2)

because <Z Z^T, y y^T> = ||Z^T y||^2 and ||Z Z^T||_F = ||Z^T Z||_F.  Both use the h x h Gram
matrix Z^T Z and the h-vector Z^T y, computed once; the n x n kernel is never formed.  The
Gram is accumulated in the run's dtype (one symmetric rank-n update) and the solve is a float64 Cholesky.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import lapack
from torch import Tensor

from htsweep.linalg import gram


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of (Z, y) for both the ridge solve and KTA."""

    gram: Tensor  # Z^T Z, (h x h), float64
    zy: Tensor  # Z^T y, (h,), float64
    yy: float  # ||y||^2
    n: int


def moments(Z: Tensor, y: Tensor) -> Moments:
    gram_ = gram(Z).to(torch.float64)
    zy = torch.mv(Z.t(), y).to(torch.float64)
    y64 = y.to(torch.float64)
    return Moments(gram=gram_, zy=zy, yy=float(torch.dot(y64, y64)), n=Z.shape[0])


def ridge_solve(mom: Moments, reg_lambda: float) -> Tensor:
    """a_hat of eq. (6), float64, by Cholesky on Z^T Z + (lambda n / h) I."""
    h = mom.gram.shape[0]
    A = mom.gram.clone()
    A.diagonal().add_(reg_lambda * mom.n / h)
    if A.device.type == "cpu":  # LAPACK ?potrf/?potrs on the BLAS that formed the Gram
        # A is symmetric, so its row-major buffer is the column-major A: no copy.  ?potrf
        # need not notice a NaN off its diagonal blocks, hence the explicit check.
        c, info = lapack.dpotrf(A.numpy().T, lower=0, clean=0, overwrite_a=1)
        if info == 0:
            x, info = lapack.dpotrs(c, mom.zy.numpy(), lower=0)
            if info == 0 and np.isfinite(x).all():
                return torch.from_numpy(x)
    else:
        L, info = torch.linalg.cholesky_ex(A)
        if int(info) == 0:
            x = torch.cholesky_solve(mom.zy.unsqueeze(1), L).squeeze(1)
            if bool(torch.isfinite(x).all()):
                return x
    raise FloatingPointError(
        "ridge readout: Z^T Z + (reg_lambda n / h) I is not positive definite "
        "(non-finite features?)"
    )


def kta(mom: Moments) -> float:
    """Kernel-target alignment, eq. (7), from the h x h moments."""
    num = float(torch.dot(mom.zy, mom.zy))
    den = float(torch.linalg.matrix_norm(mom.gram, "fro")) * mom.yy
    return num / den if den > 0 else float("nan")


def readout_mse(Z: Tensor, a_hat: Tensor, y: Tensor) -> float:
    """(1/m) ||Z a_hat - y||^2: the product in Z's dtype, the residual sum in float64."""
    r = torch.mv(Z, a_hat.to(Z.dtype)).to(torch.float64) - y.to(torch.float64)
    return float(torch.dot(r, r)) / r.numel()
