"""Ridge readout (eq. 6) against numpy least squares; KTA (eq. 7) against the n x n formula.
(The Gram matrix it is built on is tested in tests/test_linalg.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep import readout


def _features(n=120, h=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    Z = torch.tanh(torch.randn(n, h, generator=g, dtype=torch.float64)) / math.sqrt(h)
    y = torch.randn(n, generator=g, dtype=torch.float64) + Z.sum(1)
    return Z, y


@pytest.mark.parametrize("n,h", [(120, 40), (30, 80)])
@pytest.mark.parametrize("reg_lambda", [1e-4, 0.01, 3.0])
def test_ridge_equals_lstsq_of_augmented_system(n, h, reg_lambda):
    """argmin (1/n)||y - Z a||^2 + (lambda/h)||a||^2 = lstsq([Z; sqrt(lambda n / h) I], [y; 0])."""
    Z, y = _features(n, h)
    a_hat = readout.ridge_solve(readout.moments(Z, y), reg_lambda)
    Zn, yn = Z.numpy(), y.numpy()
    aug = np.vstack([Zn, math.sqrt(reg_lambda * n / h) * np.eye(h)])
    rhs = np.concatenate([yn, np.zeros(h)])
    ref, *_ = np.linalg.lstsq(aug, rhs, rcond=None)
    np.testing.assert_allclose(a_hat.numpy(), ref, rtol=1e-8, atol=1e-10)


def test_ridge_float32_features_close_to_float64():
    Z, y = _features(400, 60)
    a64 = readout.ridge_solve(readout.moments(Z, y), 0.01)
    a32 = readout.ridge_solve(readout.moments(Z.float(), y.float()), 0.01)
    assert torch.allclose(a32, a64, rtol=1e-3, atol=1e-4)


def test_kta_equals_naive_kernel_formula():
    Z, y = _features(150, 30)
    K = Z @ Z.T  # the n x n conjugate kernel, only in the test
    Y = torch.outer(y, y)
    naive = float((K * Y).sum() / (torch.linalg.matrix_norm(K) * torch.linalg.matrix_norm(Y)))
    assert readout.kta(readout.moments(Z, y)) == pytest.approx(naive, rel=1e-12)


def test_kta_is_one_for_a_rank_one_kernel_aligned_with_y():
    y = torch.linspace(-1, 1, 50, dtype=torch.float64)
    Z = y.unsqueeze(1) * torch.ones(1, 7, dtype=torch.float64)
    assert readout.kta(readout.moments(Z, y)) == pytest.approx(1.0, rel=1e-12)


def test_readout_mse():
    Z, y = _features(80, 20)
    a = torch.randn(20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert readout.readout_mse(Z, a, y) == pytest.approx(float(((Z @ a - y) ** 2).mean()), rel=1e-12)


def test_non_finite_features_raise_floating_point_error():
    Z, y = _features(50, 10)
    Z[3, 4] = float("nan")
    with pytest.raises(FloatingPointError):
        readout.ridge_solve(readout.moments(Z, y), 0.01)
