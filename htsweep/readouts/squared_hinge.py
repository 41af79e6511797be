"""The squared-hinge readout: an L2-regularised, L2-loss linear SVM on the hold-out features.

With Z the (n x h) features and sign labels y in {-1, +1},

    a_hat = argmin_a J(a),  J(a) = (1/n) sum_i max(0, 1 - y_i z_i^T a)^2 + (lambda / h) ||a||^2,

eq. (6)'s regulariser on the squared hinge.  J is strictly convex and piecewise quadratic; on the
active set A = {i : y_i z_i^T a < 1} (using y_i^2 = 1)

    g = (2/n) Z_A^T (Z_A a - y_A) + (2 lambda / h) a,   H = (2/n) Z_A^T Z_A + (2 lambda / h) I.

Finite Newton (Keerthi and DeCoste, JMLR 2005) from a = 0: each step goes to the minimiser
a_bar = H^{-1} (2/n) Z_A^T y_A of the quadratic that A defines (Cholesky, float64), backtracking
on J (htsweep.readouts.newton); when the full step keeps A unchanged, a_bar is J's minimiser
exactly (the gradient of J at a_bar is the quadratic's, zero), and the solve stops there.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from htsweep.linalg import gram
from htsweep.readouts.newton import backtrack
from htsweep.readouts.solve import require_finite, spd_solve

MAX_ITER = 200


def squared_hinge_objective(Z: Tensor, y: Tensor, a: Tensor, reg_lambda: float) -> float:
    """J(a) of the module docstring."""
    slack = torch.relu(1.0 - y * torch.mv(Z, a))
    return float(torch.dot(slack, slack)) / Z.shape[0] + reg_lambda / a.shape[0] * float(torch.dot(a, a))


def squared_hinge_gradient(Z: Tensor, y: Tensor, a: Tensor, reg_lambda: float) -> Tensor:
    """g = -(2/n) Z^T (y max(0, 1 - y Z a)) + (2 lambda / h) a (= the active-set form above)."""
    n, h = Z.shape
    return torch.mv(Z.t(), y * torch.relu(1.0 - y * torch.mv(Z, a))) * (-2.0 / n) + (2.0 * reg_lambda / h) * a


def _active_minimiser(Z: Tensor, y: Tensor, active: Tensor, reg_lambda: float) -> Tensor:
    """a_bar = ((2/n) Z_A^T Z_A + (2 lambda / h) I)^{-1} (2/n) Z_A^T y_A."""
    n, h = Z.shape
    ZA = Z[active]
    H = gram(ZA) if ZA.shape[0] > 0 else torch.zeros(h, h, dtype=Z.dtype, device=Z.device)
    H.mul_(2.0 / n).diagonal().add_(2.0 * reg_lambda / h)
    return spd_solve(H, torch.mv(ZA.t(), y[active]) * (2.0 / n), "squared-hinge readout")


def squared_hinge_solve(Z: Tensor, y: Tensor, reg_lambda: float, max_iter: int = MAX_ITER) -> Tensor:
    """a_hat of the squared-hinge readout (module docstring), float64 on Z's device.

    Non-finite features or labels raise FloatingPointError; a solve whose active set still
    changes after ``max_iter`` steps, or whose line search stalls, warns and returns its iterate."""
    require_finite(Z, y, "squared-hinge readout")
    Z64, y64 = Z.to(torch.float64), y.to(torch.float64)

    def objective(x: Tensor) -> float:
        return squared_hinge_objective(Z64, y64, x, reg_lambda)

    a = torch.zeros(Z64.shape[1], dtype=torch.float64, device=Z64.device)
    value = objective(a)
    active = y64 * torch.mv(Z64, a) < 1.0
    for _ in range(max_iter):
        d = _active_minimiser(Z64, y64, active, reg_lambda) - a
        slope = float(torch.dot(squared_hinge_gradient(Z64, y64, a, reg_lambda), d))
        if slope >= 0.0:  # a already minimises J (d = 0 up to rounding)
            return a
        a, t, value = backtrack(objective, a, value, slope, d)
        new_active = y64 * torch.mv(Z64, a) < 1.0
        if t == 1.0 and torch.equal(new_active, active):
            return a
        if t == 0.0:
            break
        active = new_active
    warnings.warn("squared-hinge readout: the active set did not settle", RuntimeWarning, stacklevel=2)
    return a
