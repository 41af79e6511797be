"""Norm metrics of the ESD against hand computations on matrices with known singular values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.spectral import matrix_entropy, norm_metrics, numerical_rank
from tests.spectral.helpers import esd, single_thread  # noqa: F401


def with_singular_values(s, h: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(h, len(s), generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(d, len(s), generator=g, dtype=torch.float64))[0]
    return U @ torch.diag(torch.tensor(s, dtype=torch.float64)) @ V.t()


def test_norm_metrics_on_known_spectrum():
    s = [10.0, 5.0, 2.0, 1.0, 0.5]
    W = with_singular_values(s, 40, 5)
    lam = np.array(s) ** 2
    m = norm_metrics(esd(W), alpha=2.5)
    assert m.lambda_max == pytest.approx(100.0, rel=1e-12)
    assert m.lambda_sum == pytest.approx(lam.sum(), rel=1e-12)
    assert m.frobenius_norm == pytest.approx(float(torch.linalg.matrix_norm(W, "fro")), rel=1e-12)
    assert m.spectral_norm == pytest.approx(float(torch.linalg.matrix_norm(W, 2)), rel=1e-12)
    assert m.stable_rank == pytest.approx(lam.sum() / 100.0, rel=1e-12)
    assert m.log_frobenius_norm == pytest.approx(math.log10(lam.sum()), rel=1e-12)
    assert m.log_spectral_norm == pytest.approx(2.0, rel=1e-12)
    assert m.alpha_weighted == pytest.approx(2.5 * 2.0, rel=1e-12)
    assert m.log_alpha_norm == pytest.approx(math.log10(np.sum(lam**2.5)), rel=1e-12)
    p = lam / lam.sum()
    assert m.matrix_entropy == pytest.approx(-np.sum(p * np.log(p)) / math.log(5), rel=1e-10)
    assert m.numerical_rank == 5
    row = m.as_row()
    assert row["alpha_weighted"] == m.alpha_weighted and row["frobenius_norm"] == m.frobenius_norm


def test_entropy_extremes_and_rank():
    flat = torch.full((50,), 3.0, dtype=torch.float64)
    assert matrix_entropy(flat) == pytest.approx(1.0, rel=1e-12)
    one = torch.zeros(50, dtype=torch.float64)
    one[-1] = 7.0
    assert matrix_entropy(one) == 0.0
    # round-off eigenvalues below N eps lambda_max do not count towards the rank
    noisy = one.clone()
    noisy[:10] = 1e-16
    assert numerical_rank(noisy) == 1
    W = with_singular_values([3.0, 2.0, 1.0], 30, 20)
    assert numerical_rank(esd(W)) == 3


def test_norm_metrics_without_alpha_and_bad_input():
    m = norm_metrics(torch.tensor([1.0, 4.0], dtype=torch.float64))
    assert math.isnan(m.alpha_weighted) and math.isnan(m.log_alpha_norm)
    assert m.stable_rank == pytest.approx(1.25)
    bad = norm_metrics(torch.tensor([1.0, math.nan], dtype=torch.float64))
    assert math.isnan(bad.lambda_max) and bad.numerical_rank == 0
