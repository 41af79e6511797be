"""The logistic readout: ridge-regularised logistic regression on the hold-out features.

With Z the (n x h) features and targets y in [0, 1] (Bernoulli labels or soft targets),

    a_hat = argmin_a J(a),  J(a) = (1/n) sum_i [softplus(z_i^T a) - y_i z_i^T a] + (lambda / h) ||a||^2,

the mean binary cross-entropy of the logits f = Z a (htsweep.losses.BCE) plus eq. (6)'s
regulariser.  J is strictly convex; its gradient and Hessian are

    g = Z^T (p - y) / n + (2 lambda / h) a,   H = Z^T diag(p (1 - p)) Z / n + (2 lambda / h) I,

p = sigmoid(Z a).  Newton's method from a = 0: each step solves H d = -g (Cholesky on the h x h
H, float64), backtracks on J (htsweep.readouts.newton) and stops when ||g|| <= rtol ||g(0)||.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from htsweep.linalg import gram
from htsweep.readouts.newton import backtrack
from htsweep.readouts.solve import require_finite, spd_solve

RTOL = 1e-10
MAX_ITER = 200


def logistic_objective(Z: Tensor, y: Tensor, a: Tensor, reg_lambda: float) -> float:
    """J(a) of the module docstring (softplus as logaddexp(0, f): exact for any f)."""
    f = torch.mv(Z, a)
    h = a.shape[0]
    return float((torch.logaddexp(torch.zeros_like(f), f) - y * f).mean()) + reg_lambda / h * float(torch.dot(a, a))


def logistic_gradient(Z: Tensor, y: Tensor, a: Tensor, reg_lambda: float) -> Tensor:
    """g = Z^T (sigmoid(Z a) - y) / n + (2 lambda / h) a."""
    n, h = Z.shape
    return torch.mv(Z.t(), torch.sigmoid(torch.mv(Z, a)) - y) / n + (2.0 * reg_lambda / h) * a


def logistic_solve(Z: Tensor, y: Tensor, reg_lambda: float, rtol: float = RTOL, max_iter: int = MAX_ITER) -> Tensor:
    """a_hat of the logistic readout (module docstring), float64 on Z's device.

    Non-finite features or targets raise FloatingPointError; a solve that reaches ``max_iter``
    or stalls in the line search before ||g|| <= rtol ||g(0)|| warns and returns its iterate."""
    require_finite(Z, y, "logistic readout")
    Z64, y64 = Z.to(torch.float64), y.to(torch.float64)
    n, h = Z64.shape

    def objective(x: Tensor) -> float:
        return logistic_objective(Z64, y64, x, reg_lambda)

    a = torch.zeros(h, dtype=torch.float64, device=Z64.device)
    value = objective(a)
    g = logistic_gradient(Z64, y64, a, reg_lambda)
    target = rtol * float(torch.linalg.vector_norm(g))
    for _ in range(max_iter):
        if float(torch.linalg.vector_norm(g)) <= target:
            return a
        p = torch.sigmoid(torch.mv(Z64, a))
        H = gram(Z64 * torch.sqrt(p * (1.0 - p)).unsqueeze(1)).div_(n)
        H.diagonal().add_(2.0 * reg_lambda / h)
        d = spd_solve(H, -g, "logistic readout")
        a, t, value = backtrack(objective, a, value, float(torch.dot(g, d)), d)
        g = logistic_gradient(Z64, y64, a, reg_lambda)
        if t == 0.0:
            break
    norm = float(torch.linalg.vector_norm(g))
    if norm > target:
        warnings.warn(f"logistic readout: stopped at ||g|| = {norm:.3g} > {target:.3g}", RuntimeWarning, stacklevel=2)
    return a
