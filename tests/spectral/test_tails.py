"""Tail indices of the weights (htsweep.spectral.tails): the Mohammadi et al. block-sum estimator
and Hill's, against symmetric alpha-stable samples of known index, sub-Gaussian stable vectors,
Gaussian data, Pareto samples and closed forms.

Tolerances are about twice the worst error measured over the seeds 0-4 (numpy RandomState) at
the sizes used here: Mohammadi on 10^5 scalars 0.025 (tolerance 0.05); on 2000 sub-Gaussian
stable vectors in R^100 0.056 (tolerance 0.11); Hill with k = ceil(sqrt(N)) on 10^5 scalars at
alpha <= 1.75 0.092 (tolerance 0.2: its standard error alpha / sqrt(k) is ~0.08 at k = 317).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import levy_stable

from htsweep.spectral.tails import hill_alpha, hill_k, k1_grid, mohammadi_alpha, mohammadi_inverse

ALPHAS = (1.2, 1.5, 1.75, 2.0)
N_SCALAR = 100_000


def sas(alpha: float, n: int, seed: int) -> np.ndarray:
    """n i.i.d. symmetric alpha-stable samples (scipy's default parametrisation, scale 1)."""
    return levy_stable.rvs(alpha, 0.0, size=n, random_state=np.random.RandomState(seed))


def sub_gaussian(alpha: float, n: int, p: int, seed: int) -> np.ndarray:
    """n sub-Gaussian alpha-stable vectors sqrt(A) g in R^p: A positive (alpha/2)-stable with
    scale 2 cos(pi alpha / 4)^(2 / alpha) (alpha = 2: A = 2, the Gaussian N(0, 2 I))."""
    rs = np.random.RandomState(seed)
    if alpha < 2.0:
        scale = 2.0 * math.cos(math.pi * alpha / 4.0) ** (2.0 / alpha)
        A = levy_stable.rvs(alpha / 2.0, 1.0, scale=scale, size=n, random_state=rs)
    else:
        A = np.full(n, 2.0)
    return np.sqrt(A)[:, None] * rs.standard_normal((n, p))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mohammadi_recovers_the_index_of_symmetric_stable_scalars(alpha):
    x = sas(alpha, N_SCALAR, seed=0)
    assert mohammadi_alpha(x) == pytest.approx(alpha, abs=0.05)
    assert mohammadi_alpha(x[:, None]) == mohammadi_alpha(x)  # (N,) and (N, 1) are the same samples


@pytest.mark.parametrize("alpha", ALPHAS)
def test_mohammadi_rows_recover_the_index_of_sub_gaussian_stable_vectors(alpha):
    X = sub_gaussian(alpha, 2000, 100, seed=0)
    assert mohammadi_alpha(X) == pytest.approx(alpha, abs=0.11)


def test_gaussian_data_reads_two():
    rs = np.random.RandomState(3)
    assert 1.95 <= mohammadi_alpha(rs.standard_normal(N_SCALAR)) <= 2.0
    assert 1.95 <= mohammadi_alpha(rs.standard_normal((1500, 200))) <= 2.0
    assert mohammadi_alpha(rs.standard_normal(N_SCALAR), cap=math.inf) == pytest.approx(2.0, abs=0.05)


def test_estimators_are_scale_invariant():
    x = sas(1.5, 20_000, seed=1)
    X = sub_gaussian(1.5, 1000, 20, seed=1)
    for c in (1e-3, 7.0, 1e3):
        assert mohammadi_alpha(c * x) == pytest.approx(mohammadi_alpha(x), rel=1e-9)
        assert mohammadi_alpha(c * X) == pytest.approx(mohammadi_alpha(X), rel=1e-9)
        assert hill_alpha(c * x) == pytest.approx(hill_alpha(x), rel=1e-12)
        assert hill_alpha(-c * x) == pytest.approx(hill_alpha(x), rel=1e-12)  # of |x|


def test_k1_grid_and_truncation():
    assert k1_grid(1500) == [2, 5, 10, 20, 38, 50, 100, 500]
    assert k1_grid(100_000) == [2, 5, 10, 20, 50, 100, 316, 500, 1000]
    assert k1_grid(4) == [2] and k1_grid(3) == []
    assert math.isnan(mohammadi_alpha(np.ones(3)))
    # a prime N: every K1 keeps its value and the sample is truncated to floor(N / K1) K1
    x = sas(1.5, 1499, seed=2)
    assert mohammadi_inverse(x, 10) == mohammadi_inverse(x[:1490], 10)
    assert math.isfinite(mohammadi_alpha(x))
    # the formula by hand for K1 = 2 on four samples
    y = np.array([1.0, -3.0, 2.0, 2.0])
    eps = np.finfo(np.float64).eps
    by_hand = (np.mean(np.log([2.0 + eps, 4.0 + eps])) - np.mean(np.log(np.abs(y) + eps))) / math.log(2)
    assert mohammadi_inverse(y, 2) == pytest.approx(by_hand, rel=1e-14)
    assert mohammadi_alpha(y, k1=2, cap=math.inf) == pytest.approx(1.0 / by_hand, rel=1e-14)
    assert math.isnan(mohammadi_alpha(np.array([1.0, np.nan, 2.0, 3.0])))


def test_hill_closed_form_and_pareto():
    e = math.e
    # top k = 2 of {1, e, e^2} over the threshold 1: mean log-excess (1 + 2) / 2, alpha = 2/3
    assert hill_alpha(np.array([1.0, e, e * e]), k=2) == pytest.approx(2.0 / 3.0, rel=1e-14)
    alpha, n = 1.5, 50_000
    x = np.random.RandomState(4).uniform(size=n) ** (-1.0 / alpha)  # Pareto(alpha), x_min = 1
    s = np.sort(x)
    k = n - 1  # every sample above the smallest: the Pareto MLE with x_min = min(x)
    mle = k / np.sum(np.log(s[1:] / s[0]))
    assert hill_alpha(x, k=k) == pytest.approx(mle, rel=1e-12)
    assert mle == pytest.approx(alpha, abs=5 * alpha / math.sqrt(k))
    k = hill_k(n)
    assert k == 224
    assert hill_alpha(x) == pytest.approx(k / np.sum(np.log(s[-k:] / s[-k - 1])), rel=1e-12)
    assert hill_alpha(x) == pytest.approx(alpha, abs=5 * alpha / math.sqrt(k))
    assert math.isnan(hill_alpha(np.zeros(10)))
    with pytest.raises(ValueError):
        hill_alpha(x, k=n)


@pytest.mark.parametrize("alpha", (1.2, 1.5, 1.75))
def test_hill_on_symmetric_stable_scalars(alpha):
    assert hill_alpha(sas(alpha, N_SCALAR, seed=0)) == pytest.approx(alpha, abs=0.2)
