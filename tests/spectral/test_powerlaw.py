"""PL_Alpha_Hill / PL_Alpha_KS (Sec. 3.2) and the tail likelihood-ratio check.

Reference implementations are written out here, one candidate at a time, straight from the
formulas of the paper's code / Clauset et al. (2009), and compared with the vectorised code."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from htsweep.spectral import alpha_hill, alpha_ks, ks_candidates, ks_distances, tail_comparison
from tests.spectral.helpers import (  # noqa: F401  (single_thread is an autouse fixture)
    esd,
    gaussian,
    pareto_over_bulk,
    pure_pareto,
    single_thread,
    standard_error,
)


def brute_force_ks(eigs: np.ndarray, distance: str):
    """(alpha_i, D_i) for i = 0 .. N-2 by a plain loop over candidates."""
    e = np.sort(np.asarray(eigs, dtype=np.float64))
    e = e[e > 0]
    N = e.size
    alphas, Ds = [], []
    for i in range(N - 1):
        tail = e[i:]
        k = tail.size
        alpha = 1.0 + k / math.fsum(np.log(tail / e[i]))  # exactly rounded sum
        if alpha > 1.0 and math.isfinite(alpha):
            F = 1.0 - (tail / e[i]) ** (1.0 - alpha)
            j = np.arange(k)
            D = np.max(np.abs(F - j / k))
            if distance == "clauset":
                D = max(D, np.max(np.abs(F - (j + 1) / k)))
        else:
            D = 1.0
        alphas.append(alpha)
        Ds.append(D)
    return np.array(alphas), np.array(Ds)


def random_spectra():
    rng = np.random.default_rng(0)
    return {
        "gaussian_300x200": esd(gaussian(300, 200, seed=1)).numpy(),
        "pareto_a2.5": pure_pareto(2.5, 400, seed=2).numpy() * 37.0,
        "lognormal": rng.lognormal(1.0, 1.5, size=300),
        "bulk+tail": pareto_over_bulk(3.0, 500, 0.2, seed=3)[0].numpy(),
        "tiny": rng.exponential(size=5),
    }


@pytest.mark.parametrize("distance", ["paper", "clauset"])
@pytest.mark.parametrize("name", ["gaussian_300x200", "pareto_a2.5", "lognormal", "bulk+tail", "tiny"])
def test_ks_equals_brute_force_loop(name, distance):
    e = random_spectra()[name]
    alphas, D, sorted_e = ks_distances(torch.from_numpy(e), distance)
    ref_alpha, ref_D = brute_force_ks(e, distance)
    assert alphas.shape == (e.size - 1,) and D.shape == (e.size - 1,)
    np.testing.assert_allclose(alphas.numpy(), ref_alpha, rtol=1e-12, atol=0)
    np.testing.assert_allclose(D.numpy(), ref_D, rtol=0, atol=1e-12)
    # the selected candidate is identical, index for index
    i_ref = int(np.argmin(ref_D))
    fit = alpha_ks(e, distance)
    assert fit.xmin_index == i_ref
    assert fit.xmin == float(np.sort(e)[i_ref])
    assert fit.n_tail == e.size - i_ref
    assert fit.alpha == pytest.approx(ref_alpha[i_ref], rel=1e-12)
    assert fit.D == pytest.approx(ref_D[i_ref], abs=1e-12)


def test_clauset_distance_brackets_paper_distance():
    e = random_spectra()["bulk+tail"]
    _, Dp, s = ks_distances(e, "paper")
    _, Dc, _ = ks_distances(e, "clauset")
    k = torch.arange(s.numel(), 1, -1, dtype=torch.float64)
    assert bool((Dp <= Dc + 1e-12).all()) and bool((Dc <= Dp + 1.0 / k + 1e-12).all())


def powerlaw_alpha(e: np.ndarray, xmin: float, **kw) -> float:
    import powerlaw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(powerlaw.Fit(e, xmin=xmin, verbose=0, **kw).power_law.alpha)


@pytest.mark.parametrize("alpha", [1.3, 2.0, 3.0, 4.0, 6.0])
def test_alpha_matches_powerlaw_fit_at_same_xmin(alpha):
    e = pure_pareto(alpha, 600, seed=int(alpha * 10)).numpy() * 250.0
    cands = ks_candidates(e)
    fit = cands.fit()
    for i in sorted({fit.xmin_index, 0, 150, 450}):
        ours = float(cands.alphas[i])
        ref = powerlaw_alpha(e, float(cands.eigs[i]), parameter_ranges={"alpha": [1, None]})
        assert abs(ours - ref) <= 1e-6, (i, ours, ref)


def test_powerlaw_default_range_clips_steep_tails():
    """The pitfall documented in powerlaw.py: powerlaw 2.x bounds alpha to [0, 3] by default."""
    e = pure_pareto(5.0, 600, seed=5).numpy()
    fit = alpha_ks(e)
    assert fit.alpha > 4.0
    assert powerlaw_alpha(e, fit.xmin) <= 3.0 + 1e-9
    assert powerlaw_alpha(e, fit.xmin, parameter_ranges={"alpha": [1, None]}) == pytest.approx(fit.alpha, abs=1e-6)


# Recovery of a known exponent.  Stated tolerance: every fit is within 5 of its own standard
# errors (alpha_hat - 1) / sqrt(n_tail) of the truth, and the mean error over the 5 seeds of a
# cell is within 2 standard errors and 8% of alpha (no bias beyond the small one from the bulk
# touching the tail at xmin).  Measured over 30 seeds: max |z| <= 4.8 at N = 500, <= 2.9 at
# N >= 1000; mean z in [-0.7, +0.6].
@pytest.mark.parametrize("N", [500, 1000, 2000])
@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0, 4.0, 6.0])
def test_ks_recovers_pareto_tail_over_mp_bulk(N, alpha):
    z, err = [], []
    for seed in range(5):
        e, k, _ = pareto_over_bulk(alpha, N, 0.2, seed=seed + 100 * N)
        fit = alpha_ks(e)
        se = standard_error(fit.alpha, fit.n_tail)
        assert fit.standard_error == pytest.approx(se)
        assert abs(fit.alpha - alpha) <= 5 * se, (seed, fit)
        z.append((fit.alpha - alpha) / se)
        err.append(fit.alpha - alpha)
    assert abs(float(np.mean(z))) <= 2.0, z
    assert abs(float(np.mean(err))) <= 0.08 * alpha, err


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0, 4.0, 6.0])
def test_hill_recovers_alpha_on_a_pure_power_law(alpha):
    e = pure_pareto(alpha, 2000, seed=7 + int(alpha))
    fit = alpha_hill(e)
    assert fit.n_tail == 1000 and fit.xmin_index == 1000 and fit.xmin == float(e[1000])
    assert abs(fit.alpha - alpha) <= 4 * fit.standard_error
    # the closed form on the upper half
    tail = e[1000:].numpy()
    assert fit.alpha == pytest.approx(1 + tail.size / np.sum(np.log(tail / tail[0])), rel=1e-12)


def test_hill_over_a_bulk_is_compressed_towards_the_bulk():
    """Documented behaviour: with the power law holding 20% < 50% of the eigenvalues, Hill's
    median xmin lies in the MP bulk and alpha_Hill is pulled to ~1.6-2.3 whatever the tail:
    monotone in alpha, too large for alpha = 1.5, far too small for alpha >= 4."""
    means = []
    for alpha in [1.5, 2.0, 3.0, 4.0, 6.0]:
        means.append(np.mean([alpha_hill(pareto_over_bulk(alpha, 1000, 0.2, seed=s)[0]).alpha for s in range(4)]))
    assert all(a < b for a, b in zip(means, means[1:])), means
    assert means[0] > 1.55
    assert means[3] < 3.0 and means[4] < 3.0
    assert means[4] - means[0] < 1.0  # true spread is 4.5


def test_hill_position_parameter():
    e = torch.arange(1, 101, dtype=torch.float64)
    assert alpha_hill(e, xmin_pos=4).xmin_index == 25
    assert alpha_hill(e, xmin_pos=2).xmin == 51.0
    with pytest.raises(ValueError, match="xmin_pos"):
        alpha_hill(e, xmin_pos=1)


def test_input_handling():
    e = pure_pareto(2.5, 300, seed=1)
    base = alpha_ks(e)
    # zeros (structural) and tiny negative round-off are dropped; numpy and lists accepted
    padded = torch.cat([torch.zeros(50, dtype=torch.float64), -1e-12 * torch.ones(3, dtype=torch.float64), e])
    assert alpha_ks(padded).alpha == base.alpha and alpha_ks(padded).n_tail == base.n_tail
    assert alpha_ks(e.numpy()).alpha == base.alpha
    assert alpha_ks(e.tolist()).alpha == base.alpha
    # a NaN or inf poisons the fit instead of being skipped
    for bad in (math.nan, math.inf):
        f = alpha_ks(torch.cat([e, torch.tensor([bad], dtype=torch.float64)]))
        assert math.isnan(f.alpha) and f.n_tail == 0
        assert math.isnan(alpha_hill(torch.cat([e, torch.tensor([bad], dtype=torch.float64)])).alpha)
    assert math.isnan(alpha_ks([3.0]).alpha)
    with pytest.raises(ValueError, match="distance"):
        alpha_ks(e, distance="kuiper")
    with pytest.raises(ValueError, match="min_tail"):
        alpha_ks(e, min_tail=1)


def test_min_tail_restricts_candidates():
    e = pareto_over_bulk(3.0, 500, 0.2, seed=11)[0]
    full = alpha_ks(e)
    restricted = alpha_ks(e, min_tail=400)
    assert restricted.n_tail >= 400
    assert full.D <= restricted.D


def test_constant_tail_is_not_a_power_law():
    # equal eigenvalues: zero spread -> alpha = inf -> D = 1 for those candidates
    e = torch.tensor([1.0, 2.0, 5.0, 5.0, 5.0], dtype=torch.float64)
    alphas, D, _ = ks_distances(e)
    assert math.isinf(float(alphas[2])) and float(alphas[3]) == math.inf
    assert float(D[2]) == 1.0 and float(D[3]) == 1.0
    assert math.isnan(alpha_ks(torch.full((10,), 2.0, dtype=torch.float64)).alpha)


def test_tail_comparison_tells_power_laws_from_exponentials():
    pareto = pure_pareto(2.5, 500, seed=3) * 40.0
    tc = tail_comparison(pareto, float(pareto[0]))
    assert tc.n_tail == 500
    assert tc.alpha == pytest.approx(alpha_ks(pareto, min_tail=500).alpha, abs=1e-6)
    assert tc.exponential.R > 0 and tc.exponential.p < 0.01
    assert tc.exponential.verdict("exponential") == "power_law"
    assert tc.power_law_plausible

    expo = torch.from_numpy(1.0 + np.random.default_rng(4).exponential(3.0, size=500))
    te = tail_comparison(expo, float(expo.min()))
    assert te.exponential.R < 0 and te.exponential.p < 0.01
    assert te.exponential.verdict("exponential") == "exponential"
    assert not te.power_law_plausible
    row = te.as_row()
    assert set(row) >= {"tail_R_exponential", "tail_p_lognormal", "tail_R_truncated_power_law"}
