"""The logistic, squared-hinge and pinv readouts against reference solvers on small random
problems, and the optimality condition of the two Newton solvers.

Tolerances: coefficients agree with the reference to 1e-6 of max |a| (scikit-learn's and scipy's
solvers stop at their own tolerance; measured differences are below 1e-7); the objective's
gradient at the returned a is below 1e-9 of the gradient at a = 0 (logistic: its stopping rule,
1e-10; squared hinge: exact up to rounding); pinv agrees with numpy's SVD pinv to 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from htsweep.readouts import logistic_solve, pinv_solve, squared_hinge_solve
from htsweep.readouts.logistic import logistic_gradient, logistic_objective
from htsweep.readouts.squared_hinge import squared_hinge_gradient, squared_hinge_objective

# (n, h, lambda): n > h, n < h (separable: the regulariser alone bounds a), a strong lambda
CASES = [(150, 30, 0.01), (60, 40, 1e-3), (200, 10, 1.0), (40, 80, 0.01)]
COEF_RTOL = 1e-6


def _problem(n, h, seed=0):
    """Features like the probe's (tanh / sqrt(h), scaled up so the classes separate partly) and
    p = sigmoid(teacher logit): soft targets p, Bernoulli labels in {0, 1}, sign labels."""
    g = torch.Generator().manual_seed(seed + 1000 * n + h)
    Z = 3.0 * torch.tanh(torch.randn(n, h, generator=g, dtype=torch.float64)) / math.sqrt(h)
    p = torch.sigmoid(2.0 * Z.sum(1) + 0.5 * torch.randn(n, generator=g, dtype=torch.float64))
    bern = (torch.rand(n, generator=g, dtype=torch.float64) < p).to(torch.float64)
    return Z, p, bern, 2.0 * bern - 1.0


def _close(a, ref, rtol=COEF_RTOL):
    a = a.numpy() if isinstance(a, torch.Tensor) else a
    assert np.max(np.abs(a - ref)) <= rtol * np.max(np.abs(ref)), np.max(np.abs(a - ref)) / np.max(np.abs(ref))


def _sklearn_c(n, h, reg_lambda):
    """(1/n) sum l + (lambda/h)||a||^2  =  (1 / (C n)) [C sum l + ||a||^2 / 2] with C = h / (2 lambda n)."""
    return h / (2.0 * reg_lambda * n)


@pytest.mark.parametrize("n,h,reg_lambda", CASES)
def test_logistic_equals_sklearn(n, h, reg_lambda):
    Z, _, y, _ = _problem(n, h)
    a = logistic_solve(Z, y, reg_lambda)
    ref = LogisticRegression(C=_sklearn_c(n, h, reg_lambda), fit_intercept=False, tol=1e-12, max_iter=10000,
                             solver="newton-cg").fit(Z.numpy(), y.numpy()).coef_[0]  # fmt: skip
    _close(a, ref)


@pytest.mark.parametrize("n,h,reg_lambda", CASES)
def test_logistic_gradient_vanishes_with_soft_and_hard_targets(n, h, reg_lambda):
    Z, p, bern, _ = _problem(n, h)
    for y in (p, bern):
        a = logistic_solve(Z, y, reg_lambda)
        g0 = logistic_gradient(Z, y, torch.zeros(h, dtype=torch.float64), reg_lambda)
        assert float(logistic_gradient(Z, y, a, reg_lambda).norm()) <= 1e-9 * float(g0.norm())


def test_logistic_soft_targets_equal_a_brute_force_minimiser():
    n, h, lam = 120, 20, 0.01
    Z, p, _, _ = _problem(n, h)
    a = logistic_solve(Z, p, lam)

    def fun(x):
        t = torch.from_numpy(x)
        return logistic_objective(Z, p, t, lam), logistic_gradient(Z, p, t, lam).numpy()

    ref = scipy.optimize.minimize(fun, np.zeros(h), jac=True, method="BFGS", options={"gtol": 1e-13, "maxiter": 10000}).x
    _close(a, ref)


def test_logistic_float32_features_give_float64_coefficients():
    Z, _, y, _ = _problem(100, 20)
    a32, a64 = logistic_solve(Z.float(), y.float(), 0.01), logistic_solve(Z, y, 0.01)
    assert a32.dtype == torch.float64
    _close(a32, a64.numpy(), rtol=1e-5)


@pytest.mark.parametrize("n,h,reg_lambda", CASES)
def test_squared_hinge_equals_linear_svc(n, h, reg_lambda):
    Z, _, _, y = _problem(n, h)
    a = squared_hinge_solve(Z, y, reg_lambda)
    svc = LinearSVC(loss="squared_hinge", C=_sklearn_c(n, h, reg_lambda), fit_intercept=False, dual=False, tol=1e-12,
                    max_iter=100000).fit(Z.numpy(), y.numpy())  # fmt: skip
    _close(a, svc.coef_[0])


@pytest.mark.parametrize("n,h,reg_lambda", CASES)
def test_squared_hinge_is_exact_on_its_active_set(n, h, reg_lambda):
    """The gradient vanishes to rounding, and a is the closed-form minimiser of the quadratic
    that its own active set A = {y z^T a < 1} defines."""
    Z, _, _, y = _problem(n, h)
    a = squared_hinge_solve(Z, y, reg_lambda)
    g0 = squared_hinge_gradient(Z, y, torch.zeros(h, dtype=torch.float64), reg_lambda)
    assert float(squared_hinge_gradient(Z, y, a, reg_lambda).norm()) <= 1e-12 * float(g0.norm())
    A = (y * (Z @ a) < 1).numpy()
    ZA, yA = Z.numpy()[A], y.numpy()[A]
    closed = np.linalg.solve(2.0 / n * ZA.T @ ZA + 2.0 * reg_lambda / h * np.eye(h), 2.0 / n * ZA.T @ yA)
    _close(a, closed, rtol=1e-10)


def test_squared_hinge_equals_a_brute_force_minimiser():
    n, h, lam = 100, 15, 0.05
    Z, _, _, y = _problem(n, h)
    a = squared_hinge_solve(Z, y, lam)

    def fun(x):
        t = torch.from_numpy(x)
        return squared_hinge_objective(Z, y, t, lam), squared_hinge_gradient(Z, y, t, lam).numpy()

    ref = scipy.optimize.minimize(fun, np.zeros(h), jac=True, method="BFGS", options={"gtol": 1e-13, "maxiter": 10000}).x
    _close(a, ref)


@pytest.mark.parametrize("n,h", [(120, 30), (30, 120)])
def test_pinv_equals_numpy_pinv(n, h):
    Z, p, _, _ = _problem(n, h)
    a = pinv_solve(Z, p)
    _close(a, np.linalg.pinv(Z.numpy()) @ p.numpy(), rtol=1e-10)


def test_pinv_of_a_rank_deficient_z_is_the_minimum_norm_solution():
    rng = np.random.default_rng(0)
    n, h, r = 80, 40, 10
    Z = rng.standard_normal((n, r)) @ rng.standard_normal((r, h))
    y = rng.standard_normal(n)
    a = pinv_solve(torch.from_numpy(Z), torch.from_numpy(y))
    _close(a, np.linalg.pinv(Z, rcond=max(n, h) * np.finfo(float).eps) @ y, rtol=1e-10)


def test_pinv_interpolates_when_h_exceeds_n():
    Z, p, _, _ = _problem(30, 90)
    a = pinv_solve(Z, p)
    np.testing.assert_allclose((Z @ a).numpy(), p.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("solve", [logistic_solve, squared_hinge_solve])
def test_newton_solvers_use_the_features_gram_convention(solve):
    """A huge lambda shrinks a to ~ (h / (2 lambda)) Z^T (target at f = 0) / n: both objectives
    share eq. (6)'s (lambda / h) ||a||^2."""
    n, h, lam = 100, 20, 1e6
    Z, _, bern, sign = _problem(n, h)
    y, slope0 = (bern, bern - 0.5) if solve is logistic_solve else (sign, 2.0 * sign)
    a = solve(Z, y, lam)
    _close(a, (h / (2.0 * lam)) * (Z.T @ slope0).numpy() / n, rtol=1e-4)


@pytest.mark.parametrize("solve", [logistic_solve, squared_hinge_solve, lambda Z, y, lam: pinv_solve(Z, y)])
def test_non_finite_input_raises_floating_point_error(solve):
    Z, _, bern, _ = _problem(50, 10)
    Z[3, 4] = float("nan")
    with pytest.raises(FloatingPointError):
        solve(Z, bern, 0.01)
    Z[3, 4] = 0.0
    bern[0] = float("inf")
    with pytest.raises(FloatingPointError):
        solve(Z, bern, 0.01)
