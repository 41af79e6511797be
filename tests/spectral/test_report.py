"""esd_report, the ESD-derived half of the spectral probe, against independent references
(numpy / LAPACK on W itself, closed-form estimators, known laws), and the ESD helpers
against each other."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.spectral import (
    ESDPhase,
    MarchenkoPastur,
    esd_eigenvalues,
    esd_report,
    spectrum,
    spectrum_from_svd,
    thin_svd,
)
from tests.spectral.helpers import gaussian, rank_one, single_thread  # noqa: F401


@pytest.mark.parametrize("h,d", [(90, 60), (60, 90)])
def test_spectrum_and_thin_svd_agree(h, d):
    W = gaussian(h, d, 0) + rank_one(h, d, 30.0, 0)
    a, b = spectrum(W), spectrum_from_svd(thin_svd(W))
    torch.testing.assert_close(a.eigs, b.eigs, rtol=1e-10, atol=1e-9)
    assert abs(float(torch.dot(a.v1, b.v1))) == pytest.approx(1.0, abs=1e-10)


REPORT_COLUMNS = [
    "pl_alpha_hill",
    "pl_alpha_ks",
    "pl_alpha_ks_xmin",
    "pl_alpha_ks_distance",
    "pl_alpha_ks_n_tail",
    "pl_alpha_ks_stderr",
    "mp_fit_num_spikes",
    "mp_fit_bulk_max",
    "mp_fit_spectral_gap",
    "mp_fit_ks_distance",
    "lambda_max",
    "stable_rank",
    "alpha_weighted",
    "matrix_entropy",
    "esd_phase",
]


def hill_upper_half(eigs: np.ndarray) -> float:
    """The Hill MLE on the upper half, written out: i = floor(N / 2), xmin = lambda_i,
    alpha = 1 + k / sum_{j >= i} ln(lambda_j / xmin), k = N - i (Hill 1975)."""
    e = np.sort(eigs)
    tail = e[e.size // 2 :]
    return 1.0 + tail.size / math.fsum(np.log(tail / tail[0]))


@pytest.mark.parametrize("h,d", [(300, 200), (200, 300)])
def test_esd_report_against_numpy(h, d):
    """Every number the report takes from the ESD, against numpy on W itself."""
    theta = 4 * MarchenkoPastur(h, d).bbp_threshold
    W = gaussian(h, d, 1) + rank_one(h, d, theta, 1)
    Wn = W.numpy()
    ref_eigs = np.linalg.eigvalsh(Wn.T @ Wn if d <= h else Wn @ Wn.T)  # N eigenvalues, LAPACK
    fro2 = np.linalg.norm(Wn, "fro") ** 2
    spec2 = np.linalg.norm(Wn, 2) ** 2  # largest singular value, by LAPACK's SVD
    r = esd_report(esd_eigenvalues(W), h, d)
    row = r.as_row()
    for col in REPORT_COLUMNS:
        assert col in row, col
    assert row["lambda_max"] == pytest.approx(ref_eigs[-1], rel=1e-12)
    assert row["lambda_max"] == pytest.approx(spec2, rel=1e-12)
    assert row["lambda_sum"] == pytest.approx(fro2, rel=1e-12)
    assert row["stable_rank"] == pytest.approx(fro2 / spec2, rel=1e-12)
    assert row["pl_alpha_hill"] == pytest.approx(hill_upper_half(ref_eigs), rel=1e-10)
    # PL_Alpha_KS is the MLE at the xmin it chose (an eigenvalue), alpha_weighted uses it
    xmin, n_tail = row["pl_alpha_ks_xmin"], row["pl_alpha_ks_n_tail"]
    tail = np.sort(ref_eigs)[-n_tail:]
    assert tail[0] == pytest.approx(xmin, rel=1e-12)
    assert row["pl_alpha_ks"] == pytest.approx(1 + n_tail / math.fsum(np.log(tail / tail[0])), rel=1e-9)
    assert row["alpha_weighted"] == pytest.approx(row["pl_alpha_ks"] * math.log10(spec2), rel=1e-12)
    assert row["pl_alpha_ks_stderr"] == pytest.approx((row["pl_alpha_ks"] - 1) / math.sqrt(n_tail))
    p = ref_eigs / ref_eigs.sum()
    assert row["matrix_entropy"] == pytest.approx(-np.sum(p * np.log(p)) / math.log(min(h, d)), rel=1e-10)
    # one spike, at the BBP location; the bulk's scale is the Gaussian's sigma^2 = 1
    assert row["mp_fit_num_spikes"] == 1 and row["esd_phase"] == "bulk+spikes"
    assert row["lambda_max"] == pytest.approx(MarchenkoPastur(h, d).spike_location(theta), rel=0.1)
    assert row["mp_fit_bulk_max"] == pytest.approx(ref_eigs[-2], rel=1e-12)
    assert row["mp_fit_spectral_gap"] == pytest.approx(ref_eigs[-1] / ref_eigs[-2], rel=1e-12)
    assert r.mp.sigma2 == pytest.approx(1.0, rel=0.03)


@pytest.mark.parametrize("h,d", [(300, 200), (200, 300), (250, 250)])
def test_pure_gaussian_report_is_random_like(h, d):
    """A Gaussian W over five seeds: random-like, no spike, the fitted MP scale is sigma^2 and
    lambda_max sits at the bulk edge (sqrt(h) + sqrt(d))^2 within the TW fluctuation."""
    sigma = 0.5
    law = MarchenkoPastur(h, d, sigma**2)
    for seed in range(5):
        r = esd_report(esd_eigenvalues(gaussian(h, d, 20 + seed, sigma=sigma)), h, d)
        assert r.phase.phase is ESDPhase.random_like, (seed, r.phase)
        assert r.mp.num_spikes == 0 and r.as_row()["esd_phase"] == "random-like"
        assert r.mp.sigma2 == pytest.approx(sigma**2, rel=0.03)
        assert abs(r.norms.lambda_max - law.lambda_plus) <= 6 * law.tw_scale


def test_float32_esd_is_close_enough_for_the_fits():
    h, d = 300, 200
    W = gaussian(h, d, 5) + rank_one(h, d, 4 * MarchenkoPastur(h, d).bbp_threshold, 5)
    e64 = esd_eigenvalues(W)
    e32 = esd_eigenvalues(W, torch.float32)
    assert e32.dtype == torch.float64
    torch.testing.assert_close(e32, e64, rtol=0, atol=1e-5 * float(e64[-1]))
    assert esd_report(e32, h, d).ks.alpha == pytest.approx(esd_report(e64, h, d).ks.alpha, rel=1e-3)
