"""Singular-vector overlaps (App. C), the update spectrum, and Theorem 4.1 (App. B.2, Fig. 8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.activations import Activation
from htsweep.data import make_data
from htsweep.data.single_index import SingleIndexConfig
from htsweep.losses import MSE
from htsweep.models.two_layer import TwoLayer, TwoLayerConfig
from htsweep.optim.adam import AdamConfig, FBAdam
from htsweep.spectral import (
    MarchenkoPastur,
    first_adam_update,
    overlap_matrix,
    singular_vector_overlaps,
    summarize_overlap,
    thin_svd,
    thm41_norms,
    top_right_singular_vector,
    top_singular_values,
    update_spectrum,
)
from tests.spectral.helpers import gaussian, rank_one, single_thread, unit  # noqa: F401


@pytest.mark.parametrize("h,d", [(60, 40), (40, 60), (50, 50)])
def test_thin_svd_matches_torch_svd(h, d):
    A = gaussian(h, d, seed=1)
    s = thin_svd(A)
    b = min(h, d)
    assert s.U.shape == (h, b) and s.S.shape == (b,) and s.V.shape == (d, b)
    ref = torch.linalg.svdvals(A)
    torch.testing.assert_close(s.S, ref, rtol=1e-10, atol=0)
    torch.testing.assert_close(s.U @ torch.diag(s.S) @ s.V.t(), A, rtol=0, atol=1e-10)
    torch.testing.assert_close(s.U.t() @ s.U, torch.eye(b, dtype=torch.float64), rtol=0, atol=1e-9)
    torch.testing.assert_close(s.V.t() @ s.V, torch.eye(b, dtype=torch.float64), rtol=0, atol=1e-9)
    torch.testing.assert_close(s.eigs, torch.flip(ref, [0]) ** 2, rtol=1e-10, atol=0)


def test_overlap_matrix_properties():
    A, B = gaussian(50, 30, 2), gaussian(50, 30, 3)
    sa, sb = thin_svd(A), thin_svd(B)
    O = overlap_matrix(sa.V, sb.V)  # square factor: rows and columns sum to 1
    assert O.shape == (30, 30) and bool((O >= 0).all()) and bool((O <= 1 + 1e-12).all())
    torch.testing.assert_close(O.sum(0), torch.ones(30, dtype=torch.float64), rtol=0, atol=1e-10)
    torch.testing.assert_close(O.sum(1), torch.ones(30, dtype=torch.float64), rtol=0, atol=1e-10)
    OU = overlap_matrix(sa.U, sb.U)  # tall factor: sums <= 1
    assert bool((OU.sum(0) <= 1 + 1e-10).all()) and bool((OU.sum(1) <= 1 + 1e-10).all())
    eye = torch.eye(30, dtype=torch.float64)
    torch.testing.assert_close(overlap_matrix(sa.U, sa.U), eye, rtol=0, atol=1e-10)
    # sign flips of singular vectors do not change overlaps
    torch.testing.assert_close(overlap_matrix(-sa.U, sb.U), OU)
    with pytest.raises(ValueError, match="rows"):
        overlap_matrix(sa.U, sb.V)


def test_summary_on_a_known_matrix():
    O = torch.zeros(4, 4, dtype=torch.float64)
    O[0, 0], O[1, 1], O[2, 3], O[3, 2] = 0.9, 0.2, 0.7, 0.6
    s = summarize_overlap(O, k=3)
    assert s.top_pair == 0.9
    assert s.top_k_diag == (0.9, 0.2, 0.0)
    assert s.max_offdiag == 0.7 and s.max_offdiag_index == (2, 3)
    assert s.max == 0.9 and s.max_index == (0, 0)
    row = s.as_row("ov")
    assert row["ov_top_pair"] == 0.9 and row["ov_diag_1"] == 0.2 and row["ov_max_offdiag_col"] == 3


def test_spiked_update_aligns_top_singular_pair():
    """W_1 = W_0 + M_0 with a strong rank-one M_0: the top singular vectors of W_1 and M_0
    coincide (overlap ~ 1, Fig. 9a-b); an update in an unrelated random direction does not."""
    h, d = 300, 200
    W0 = gaussian(h, d, 0)
    M = rank_one(h, d, 4.0 * MarchenkoPastur(h, d).bbp_threshold, 0) + 0.01 * gaussian(h, d, 1)
    theta = 4.0 * MarchenkoPastur(h, d).bbp_threshold
    ov = singular_vector_overlaps(W0 + M, M, k=5)
    assert ov.O_U is None and ov.O_V is None
    assert len(ov.left.top_k_diag) == 5 and ov.left.top_k_diag[0] == ov.left.top_pair
    # M's top singular vectors are the planted u, v up to an angle ~0.005 (its 0.01 G part), so
    # the top pairs are the BBP overlaps of W_0 + theta u v^T: 0.925 (left), 0.948 (right) here.
    # One draw: the fluctuation is ~0.006 (sd over seeds), so 0.03 is ~5 sd.
    bbp_u, bbp_v = bbp_overlaps(theta, h, d)
    assert ov.left.top_pair == pytest.approx(bbp_u, abs=0.03)
    assert ov.right.top_pair == pytest.approx(bbp_v, abs=0.03)
    R = gaussian(h, d, 2)
    ov_rand = singular_vector_overlaps(W0 + R, rank_one(h, d, 1.0, 5), k=5, full=True)
    assert ov_rand.right.top_pair < 0.1
    assert ov_rand.O_U.shape == (200, 200) and ov_rand.O_V.shape == (200, 200)
    assert ov.as_row()["overlap_u_top_pair"] == ov.left.top_pair


def bbp_overlaps(theta: float, h: int, d: int, sigma2: float = 1.0) -> tuple[float, float]:
    """Limits of (u_1(W)^T u)^2 and (v_1(W)^T v)^2 for W = sigma G + theta u v^T, G (h x d)
    i.i.d. N(0, 1), |u| = |v| = 1 (Benaych-Georges & Nadakuditi 2012, Sec. 3.1, "Gaussian
    rectangular random matrices with non-zero mean").

    Their normalisation: X = G / sqrt(M) (entries of variance 1/M), M = max(h, d),
    N = min(h, d), c = N / M, perturbation t u v^T with t = theta / (sigma sqrt(M)).  For
    t > c^(1/4) the singular vector on the N-dimensional side has squared overlap
    1 - c (1 + t^2) / (t^2 (t^2 + c)), the one on the M-dimensional side
    1 - (c + t^2) / (t^2 (t^2 + 1)); both are 0 for t <= c^(1/4).  (Their limits c -> 0 fix
    the sides: the N-side vector is then u exactly, the M-side one has overlap t^2 / (1 + t^2).)
    With T = theta^2 both reduce to one expression in the dimension K of the vector's side:

        (T^2 - sigma^4 h d) / (T (T + sigma^2 K)),

    zero at theta = theta_c = sigma (h d)^(1/4), MarchenkoPastur.bbp_threshold, where the
    outlier MarchenkoPastur.spike_location(theta) = (T + sigma^2 M)(T + sigma^2 N) / T leaves
    the bulk; for h = d it is 1 - theta_c^2 / theta^2."""
    T = theta * theta
    num = T * T - sigma2 * sigma2 * h * d
    if num <= 0:
        return 0.0, 0.0
    return num / (T * (T + sigma2 * h)), num / (T * (T + sigma2 * d))


def planted(h: int, d: int, sigma: float, theta: float, seed: int):
    """(sigma G + theta u v^T, u, v) with G, u, v from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    G = torch.randn(h, d, generator=g, dtype=torch.float64)
    u, v = unit(h, g), unit(d, g)
    return sigma * G + theta * torch.outer(u, v), u, v


def test_bbp_overlap_closed_form_limits():
    """The closed form against its own limits: 0 at the BBP threshold, 1 - (theta_c/theta)^2
    for a square W (the square case of Benaych-Georges & Nadakuditi), -> 1 as theta grows, and
    the same threshold as MarchenkoPastur (where its outlier reaches lambda_+)."""
    for h, d, s2 in [(300, 200, 1.0), (200, 300, 4.0), (250, 250, 0.25)]:
        law = MarchenkoPastur(h, d, s2)
        tc = law.bbp_threshold
        assert bbp_overlaps(tc, h, d, s2) == (0.0, 0.0)
        assert bbp_overlaps(0.5 * tc, h, d, s2) == (0.0, 0.0)
        assert law.spike_location(tc * (1 + 1e-9)) == pytest.approx(law.lambda_plus, rel=1e-6)
        ou, ov = bbp_overlaps(100 * tc, h, d, s2)
        assert 0.999 < ou < 1 and 0.999 < ov < 1
        if h == d:
            for r in (1.5, 2.0, 4.0):
                assert bbp_overlaps(r * tc, h, d, s2) == pytest.approx((1 - r**-2, 1 - r**-2), rel=1e-12)
        else:  # the vector on the larger side (dimension M) is the less aligned one
            ou, ov = bbp_overlaps(2 * tc, h, d, s2)
            assert (ou < ov) == (h > d)


# The BBP overlap, measured.  Tolerance: the mean over 20 seeds within 0.02 of the limit, and
# every draw within 0.1.  Measured (10 seeds, these shapes): the sd of one draw is <= 0.03 at
# 2 theta_c and <= 0.007 at 4 theta_c, the mean within 0.015 of the limit; the left and right
# limits differ by 0.06-0.1 at 2 theta_c (c = 2/3, 1/2), so a swapped formula fails.
@pytest.mark.parametrize("h,d,sigma", [(300, 200, 1.0), (200, 300, 1.0), (600, 300, 0.5), (250, 250, 2.0)])
@pytest.mark.parametrize("ratio", [2.0, 4.0])
def test_top_singular_vectors_follow_the_bbp_overlap(h, d, sigma, ratio):
    law = MarchenkoPastur(h, d, sigma**2)
    theta = ratio * law.bbp_threshold
    want_u, want_v = bbp_overlaps(theta, h, d, sigma**2)
    got_u, got_v = [], []
    for seed in range(20):
        W, u, v = planted(h, d, sigma, theta, seed)
        ov = singular_vector_overlaps(W, theta * torch.outer(u, v), k=1)
        got_u.append(ov.left.top_pair)
        got_v.append(ov.right.top_pair)
        if seed == 0:  # the package's top pair against LAPACK's SVD
            U, _, Vh = np.linalg.svd(W.numpy(), full_matrices=False)
            assert ov.left.top_pair == pytest.approx(float(U[:, 0] @ u.numpy()) ** 2, abs=1e-9)
            assert ov.right.top_pair == pytest.approx(float(Vh[0] @ v.numpy()) ** 2, abs=1e-9)
    got_u, got_v = np.array(got_u), np.array(got_v)
    assert abs(got_u.mean() - want_u) <= 0.02, (got_u.mean(), want_u)
    assert abs(got_v.mean() - want_v) <= 0.02, (got_v.mean(), want_v)
    assert np.abs(got_u - want_u).max() <= 0.1 and np.abs(got_v - want_v).max() <= 0.1


@pytest.mark.parametrize("h,d", [(300, 200), (200, 300), (250, 250)])
def test_below_the_bbp_threshold_the_top_vectors_miss_the_spike(h, d):
    """theta = theta_c / 2: the limit overlap is 0; at this size the top vectors lie in the
    bulk's edge and overlap the planted ones by O(1/N) (measured <= 0.033, mean <= 0.007)."""
    theta = 0.5 * MarchenkoPastur(h, d).bbp_threshold
    got = []
    for seed in range(20):
        W, u, v = planted(h, d, 1.0, theta, seed)
        ov = singular_vector_overlaps(W, theta * torch.outer(u, v), k=1)
        got.append((ov.left.top_pair, ov.right.top_pair))
    got = np.array(got)
    assert got.max() <= 0.06, got.max()
    assert got.mean(axis=0).max() <= 0.02, got.mean(axis=0)


def test_reused_svds_give_identical_overlaps():
    W, M = gaussian(80, 60, 3), gaussian(80, 60, 4)
    a = singular_vector_overlaps(W, M, full=True)
    b = singular_vector_overlaps(W, M, full=True, svd_W=thin_svd(W), svd_M=thin_svd(M))
    assert a.left == b.left and a.right == b.right
    torch.testing.assert_close(a.O_V, b.O_V, rtol=0, atol=0)


def test_update_spectrum_alignment_with_beta():
    h, d = 120, 80
    g = torch.Generator().manual_seed(0)
    beta = unit(d, g)
    M = 5.0 * torch.outer(unit(h, g), beta) + 0.01 * gaussian(h, d, 9)
    G = gaussian(h, d, 10)
    us = update_spectrum(G, M, beta, k=3)
    assert us.update_beta_alignment > 0.99
    assert us.update_top[0] == pytest.approx(5.0, rel=0.02)
    assert us.grad_top == pytest.approx(tuple(torch.linalg.svdvals(G)[:3].tolist()), rel=1e-10)
    assert us.update_top == pytest.approx(tuple(torch.linalg.svdvals(M)[:3].tolist()), rel=1e-10)
    # orthogonal teacher direction: no alignment
    beta_perp = beta - torch.dot(beta, top_right_singular_vector(M)) * top_right_singular_vector(M)
    beta_perp = beta_perp / beta_perp.norm()
    assert update_spectrum(G, M, beta_perp).update_beta_alignment < 1e-6
    # wide matrices take the other Gram route
    torch.testing.assert_close(top_singular_values(M.t(), 3), top_singular_values(M, 3))


def test_first_adam_update_is_fbadam_with_eps_to_zero():
    G0 = gaussian(30, 20, 4)
    for bc in (False, True):
        opt = FBAdam(AdamConfig(eps=0.0, bias_correction=bc))
        state = opt.init({"W": G0}, ["W"])
        M0 = opt.update({"W": G0.clone()}, state, lr=1.0)["W"]
        expected = first_adam_update(G0, 0.9, 0.999, bias_correction=bc)
        torch.testing.assert_close(-M0, expected, rtol=1e-12, atol=0)
    assert float(first_adam_update(G0).abs().max()) == pytest.approx(0.1 / math.sqrt(0.001))


def g0_tilde(n: int, h: int, d: int, seed: int = 0) -> torch.Tensor:
    """G~_0 of eq. (9) for the paper's model: tanh student, softplus teacher, noise 0.3."""
    data = make_data(SingleIndexConfig(n=n, n_test=1, d=d, teacher=Activation.softplus), seed)
    student = TwoLayer(TwoLayerConfig(h=h, activation=Activation.tanh), d)
    _, grads = student.loss_and_grad(student.init(seed), data.train, MSE())
    G0 = grads["W"]
    assert bool((G0 != 0).all())  # the proof's first step: no zero entry a.s.
    return first_adam_update(G0, 0.9, 0.999, bias_correction=False)


def test_theorem_4_1_norms_grow_linearly_in_sqrt_hd():
    """Table 2 scaled down by 5 (n : h : d = 4 : 3 : 2, eight sizes): ||G~_0||_2 and
    ||G~_0||_F are linear in sqrt(h d) with R^2 > 0.99 (Fig. 8), and their ratio stays
    bounded away from 0 (the spectral norm carries a constant share of the Frobenius norm)."""
    grid = [(200 * k, 150 * k, 100 * k) for k in range(1, 9)]
    x, spec, fro, ratio = [], [], [], []
    for n, h, d in grid:
        t = thm41_norms(g0_tilde(n, h, d))
        x.append(t.sqrt_hd)
        spec.append(t.spectral)
        fro.append(t.frobenius)
        ratio.append(t.ratio)
        assert t.frobenius == pytest.approx(0.1 / math.sqrt(0.001) * math.sqrt(h * d), rel=1e-12)
    x, spec, fro = map(np.asarray, (x, spec, fro))

    def r2(y: np.ndarray) -> float:
        A = np.vstack([x, np.ones_like(x)]).T
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        resid = y - A @ coef
        return 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())

    assert r2(spec) > 0.99, (spec, ratio)
    assert r2(fro) > 0.99
    assert min(ratio) > 0.3, ratio
    slope = np.polyfit(x, spec, 1)[0]
    assert slope > 0.3 * 0.1 / math.sqrt(0.001)
