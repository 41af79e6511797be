"""Singular-vector overlaps (App. C), the update spectrum, and Theorem 4.1 (App. B.2, Fig. 8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep import model
from htsweep.config import Activation, DataConfig, OptimizerConfig
from htsweep.data import make_data
from htsweep.optim import FBAdam
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
from spectral_helpers import gaussian, rank_one, single_thread, unit  # noqa: F401


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
    ov = singular_vector_overlaps(W0 + M, M, k=5)
    assert ov.left.top_pair > 0.8 and ov.right.top_pair > 0.8
    assert ov.O_U is None and ov.O_V is None
    # BBP theory for the overlap of the top right vector: (1 - c/t^4) / (1 + c/t^2)... > 0.9 here
    assert len(ov.left.top_k_diag) == 5
    R = gaussian(h, d, 2)
    ov_rand = singular_vector_overlaps(W0 + R, rank_one(h, d, 1.0, 5), k=5, full=True)
    assert ov_rand.right.top_pair < 0.1
    assert ov_rand.O_U.shape == (200, 200) and ov_rand.O_V.shape == (200, 200)
    assert ov.as_row()["overlap_u_top_pair"] == ov.left.top_pair


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
        opt = FBAdam(OptimizerConfig(eps=0.0, bias_correction=bc))
        M0 = opt.update(G0.clone(), lr=1.0)
        expected = first_adam_update(G0, 0.9, 0.999, bias_correction=bc)
        torch.testing.assert_close(-M0, expected, rtol=1e-12, atol=0)
    assert float(first_adam_update(G0).abs().max()) == pytest.approx(0.1 / math.sqrt(0.001))


def g0_tilde(n: int, h: int, d: int, seed: int = 0) -> torch.Tensor:
    """G~_0 of eq. (9) for the paper's model: tanh student, softplus teacher, noise 0.3."""
    data = make_data(DataConfig(n=n, n_test=1, d=d), seed)
    student = model.Student(h, d, Activation.tanh)
    W0, a = model.init_weights(student, seed)
    _, G0 = model.loss_and_grad(student, W0, a, data.train.X, data.train.y)
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
