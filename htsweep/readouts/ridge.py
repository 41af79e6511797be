"""The ridge readout of eq. (6) and the kernel-target alignment of eq. (7).

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

import torch
from torch import Tensor

from htsweep.linalg import gram
from htsweep.readouts.solve import cholesky_solve, symmetric_solve


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
    """a_hat of eq. (6), float64, by Cholesky on Z^T Z + (lambda n / h) I.

    When the regulariser is below the Gram's rounding (features so large that lambda n / h <
    eps ||Z^T Z||: a blown-up but finite state), Cholesky can fail on a matrix that is positive
    definite in exact arithmetic; the solve then falls back to a symmetric LDL^T factorisation.
    Non-finite moments, or a non-finite solution, raise FloatingPointError."""
    h = mom.gram.shape[0]
    if not (bool(torch.isfinite(mom.gram).all()) and bool(torch.isfinite(mom.zy).all())):
        raise FloatingPointError("ridge readout: non-finite features (Z^T Z or Z^T y)")
    A = mom.gram.clone()
    A.diagonal().add_(reg_lambda * mom.n / h)
    x = cholesky_solve(A, mom.zy)
    if x is None:
        x = symmetric_solve(A, mom.zy)
    if x is None or not bool(torch.isfinite(x).all()):
        raise FloatingPointError("ridge readout: Z^T Z + (reg_lambda n / h) I is numerically singular")
    return x


def kta(mom: Moments) -> float:
    """Kernel-target alignment, eq. (7), from the h x h moments."""
    num = float(torch.dot(mom.zy, mom.zy))
    den = float(torch.linalg.matrix_norm(mom.gram, "fro")) * mom.yy
    return num / den if den > 0 else float("nan")


def outputs(Z: Tensor, a_hat: Tensor) -> Tensor:
    """The readout's outputs f = Z a_hat: the product in Z's dtype, returned in float64."""
    return torch.mv(Z, a_hat.to(Z.dtype)).to(torch.float64)


def readout_mse(Z: Tensor, a_hat: Tensor, y: Tensor) -> float:
    """(1/m) ||Z a_hat - y||^2: the product in Z's dtype, the residual sum in float64."""
    r = outputs(Z, a_hat) - y.to(torch.float64)
    return float(torch.dot(r, r)) / r.numel()
