"""Marchenko-Pastur law, Tracy-Widom spike threshold, BBP transition and the bulk fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from htsweep.spectral import MarchenkoPastur, fit_mp, fit_mp_scale, ks_to_law
from tests.spectral.helpers import esd, gaussian, rank_one, single_thread, student_t  # noqa: F401

SHAPES = [(1500, 1000, 1.0), (300, 300, 2.0), (100, 400, 0.5), (400, 390, 1e-3)]


@pytest.mark.parametrize("h,d,s2", SHAPES)
def test_edges_are_the_analytic_ones(h, d, s2):
    law = MarchenkoPastur(h, d, s2)
    assert law.lambda_plus == pytest.approx(s2 * (math.sqrt(h) + math.sqrt(d)) ** 2, rel=1e-15)
    assert law.lambda_minus == pytest.approx(s2 * (math.sqrt(h) - math.sqrt(d)) ** 2, rel=1e-12, abs=1e-12)
    # Johnstone's centring uses M - 1: just below lambda_+; the threshold lies above it
    assert 0.99 * law.lambda_plus < law.tw_center < law.lambda_plus < law.spike_threshold(0.99)
    assert law.spike_threshold(0.999) > law.spike_threshold(0.99) > law.spike_threshold(0.95)


@pytest.mark.parametrize("h,d,s2", SHAPES)
def test_density_integrates_to_one_and_cdf_matches(h, d, s2):
    law = MarchenkoPastur(h, d, s2)
    a, b = law.lambda_minus, law.lambda_plus

    def f(x: float) -> float:
        return float(law.density(np.array([x]))[0])

    total, _ = quad(f, a, b, limit=400)
    assert total == pytest.approx(1.0, abs=1e-7)
    xs = a + (b - a) * np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    F = law.cdf(xs).numpy()
    numeric = np.array([quad(f, a, x, limit=400)[0] for x in xs])
    np.testing.assert_allclose(F, numeric, atol=1e-7)
    assert np.all(np.diff(F) > 0)
    # outside the support, and the quantile function inverts the CDF
    np.testing.assert_array_equal(law.cdf(np.array([a - 1.0, b + 1.0])).numpy(), [0.0, 1.0])
    p = np.linspace(0.001, 0.999, 50)
    np.testing.assert_allclose(law.cdf(law.quantile(p)).numpy(), p, atol=1e-12)


def test_bbp_location_formula():
    law = MarchenkoPastur(600, 400, 1.0)
    tc = law.bbp_threshold
    assert tc == pytest.approx((600 * 400) ** 0.25)
    assert law.spike_location(tc) == pytest.approx(law.lambda_plus, rel=1e-12)
    assert law.spike_location(0.5 * tc) == law.lambda_plus
    assert law.spike_location(3 * tc) > law.spike_location(2 * tc) > law.lambda_plus


def test_gaussian_has_no_spike_in_at_least_95_of_100_seeds():
    h, d = 300, 200
    clean = 0
    for seed in range(100):
        fit = fit_mp(esd(gaussian(h, d, seed)), h, d)
        clean += fit.num_spikes == 0
    assert clean >= 95, clean


def test_gaussian_wide_matrix_has_no_spike_either():
    h, d = 150, 250  # h < d: the ESD is that of W W^T
    clean = sum(fit_mp(esd(gaussian(h, d, seed)), h, d).num_spikes == 0 for seed in range(40))
    assert clean >= 37, clean


@pytest.mark.parametrize("h,d", [(300, 200), (200, 300), (250, 250)])
def test_rank_one_above_bbp_gives_exactly_one_spike(h, d):
    law = MarchenkoPastur(h, d)
    theta = 3.0 * law.bbp_threshold
    tops = []
    for seed in range(10):
        e = esd(gaussian(h, d, seed) + rank_one(h, d, theta, seed))
        fit = fit_mp(e, h, d)
        assert fit.num_spikes == 1, (seed, fit)
        # the outlier fluctuates by O(N^-1/2) relative around the BBP location
        assert fit.lambda_max == pytest.approx(law.spike_location(theta), rel=0.2)
        tops.append(fit.lambda_max)
        assert fit.spectral_gap == pytest.approx(fit.lambda_max / fit.bulk_max)
        assert fit.spectral_gap > 1.5
        assert fit.bulk_max < fit.threshold < fit.lambda_max
        # the analytic law of W_0 (sigma^2 = 1) agrees here
        assert law.num_spikes(e) == 1
    assert float(np.mean(tops)) == pytest.approx(law.spike_location(theta), rel=0.05)


def test_rank_one_below_bbp_gives_no_spike():
    h, d = 300, 200
    law = MarchenkoPastur(h, d)
    theta = 0.5 * law.bbp_threshold
    counts = [fit_mp(esd(gaussian(h, d, s) + rank_one(h, d, theta, s)), h, d).num_spikes for s in range(10)]
    assert sum(c == 0 for c in counts) >= 9, counts


@pytest.mark.parametrize("sigma", [0.1, 1.0, 3.0])
def test_fitted_scale_recovers_sigma2_and_resists_outliers(sigma):
    h, d = 600, 400
    W = gaussian(h, d, seed=3, sigma=sigma)
    assert fit_mp_scale(esd(W), h, d) == pytest.approx(sigma**2, rel=0.02)
    # 10 strong outliers (2.5% of N) move the quantile match by ~2%; the trace moves by 32%
    g = torch.Generator().manual_seed(4)
    U = torch.linalg.qr(torch.randn(h, 10, generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(d, 10, generator=g, dtype=torch.float64))[0]
    Wp = W + 4.0 * sigma * MarchenkoPastur(h, d).bbp_threshold * U @ V.t()
    e = esd(Wp)
    fit = fit_mp(e, h, d)
    assert fit.sigma2 == pytest.approx(sigma**2, rel=0.03)
    assert float(e.sum()) / (h * d) > 1.25 * sigma**2  # a naive trace estimate is far off
    assert fit.num_spikes == 10
    assert fit.ks_distance < 0.05


def test_bulk_ks_distance_separates_mp_from_heavy_tails():
    h, d = 300, 200
    g_fit = fit_mp(esd(gaussian(h, d, 8)), h, d)
    t_fit = fit_mp(esd(student_t(h, d, 1.5, 8)), h, d)
    assert g_fit.ks_distance < 0.03
    assert t_fit.ks_distance > 0.1
    assert g_fit.spectral_gap == 1.0 and g_fit.bulk_max == g_fit.lambda_max


def test_ks_to_law_is_the_two_sided_statistic():
    law = MarchenkoPastur(300, 200)
    x = np.sort(law.quantile(np.array([0.1, 0.4, 0.45, 0.9])).numpy())
    # empirical CDF jumps by 1/4 at each point; the law's CDF there is 0.1, 0.4, 0.45, 0.9
    expected = max(0.1, 0.25 - 0.1, 0.4 - 0.25, 0.5 - 0.4, 0.5 - 0.45, 0.75 - 0.45, 0.9 - 0.75, 1 - 0.9)
    assert ks_to_law(x, law) == pytest.approx(expected, abs=1e-9)


def test_fit_mp_input_checks():
    e = esd(gaussian(30, 20, 0))
    with pytest.raises(ValueError, match="eigs"):
        fit_mp(e[:10], 30, 20)
    with pytest.raises(ValueError, match="NaN"):
        fit_mp(torch.cat([e[:-1], torch.tensor([math.nan], dtype=torch.float64)]), 30, 20)
    with pytest.raises(ValueError, match="trim"):
        fit_mp_scale(e, 30, 20, trim=0.5)
    with pytest.raises(ValueError, match="level"):
        fit_mp(e, 30, 20, level=0.98)
    # extra eigenvalues are the structural zeros of the larger Gram matrix
    padded = torch.cat([torch.zeros(10, dtype=torch.float64), e])
    assert fit_mp(padded, 30, 20) == fit_mp(e, 30, 20)
