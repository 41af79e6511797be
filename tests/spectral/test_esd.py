"""The eigensolver paths behind the ESD: the shared tridiagonal reduction (all eigenvalues and
the top-k vectors from one ?sytrd) and the Lanczos spectral norm, against LAPACK's own dense
drivers (numpy.linalg.eigh) and the SVD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from htsweep.linalg import gram
from htsweep.spectral import spectral_norm, spectrum_and_top_svd
from htsweep.spectral.esd import eigvalsh_and_top_eigh, top_eigenvalue


def spiked(h: int, d: int, strength: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(h, d, generator=g, dtype=torch.float64)
    u = torch.randn(h, generator=g, dtype=torch.float64)
    v = torch.randn(d, generator=g, dtype=torch.float64)
    return W + strength * torch.outer(u, v) / (h * d) ** 0.25


@pytest.mark.parametrize("n", [1, 2, 3, 7, 60, 300])
@pytest.mark.parametrize("k", [1, 4, 10])
def test_shared_reduction_equals_dense_eigh(n, k):
    W = spiked(n + 5, n, 3.0, seed=n * 31 + k)
    G = gram(W)
    vals, top_vals, top_vecs = eigvalsh_and_top_eigh(G, k)
    ref_vals, ref_vecs = np.linalg.eigh(G.numpy())
    scale = ref_vals[-1]
    k_eff = min(k, n)
    assert vals.shape == (n,) and top_vals.shape == (k_eff,) and top_vecs.shape == (n, k_eff)
    assert np.all(np.diff(vals.numpy()) >= 0)  # ascending
    np.testing.assert_allclose(vals.numpy(), ref_vals, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(top_vals.numpy(), ref_vals[::-1][:k_eff], rtol=0, atol=1e-13 * scale)
    # Eigenvectors: orthonormal, residual at machine precision, and equal to LAPACK's up to sign
    # wherever the eigenvalue is simple (random spectra: all gaps >> eps).
    Q = top_vecs.numpy()
    np.testing.assert_allclose(Q.T @ Q, np.eye(k_eff), atol=1e-12)
    resid = G.numpy() @ Q - Q * top_vals.numpy()
    assert np.abs(resid).max() <= 1e-12 * scale
    overlaps = np.abs(np.sum(Q * ref_vecs[:, ::-1][:, :k_eff], axis=0))
    np.testing.assert_allclose(overlaps, 1.0, atol=1e-9)


def test_shared_reduction_with_a_repeated_eigenvalue():
    """G = diag(5, 5, 3, 1, ...) rotated: the two top vectors span the right plane."""
    g = torch.Generator().manual_seed(3)
    n = 50
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    lam = torch.linspace(0.1, 1.0, n, dtype=torch.float64)
    lam[-2:] = 5.0
    G = (Q * lam) @ Q.T
    G = (G + G.T) / 2
    vals, top_vals, top_vecs = eigvalsh_and_top_eigh(G, 2)
    np.testing.assert_allclose(top_vals.numpy(), [5.0, 5.0], atol=1e-13)
    P_ref = Q[:, -2:] @ Q[:, -2:].T
    P = top_vecs @ top_vecs.T
    assert float((P - P_ref).abs().max()) < 1e-10


@pytest.mark.parametrize("h, d", [(300, 200), (200, 300), (150, 150)])
def test_spectrum_and_top_svd_match_the_svd(h, d):
    W = spiked(h, d, 4.0, seed=h + d)
    spec, svd = spectrum_and_top_svd(W, 5)
    S = torch.linalg.svdvals(W)
    np.testing.assert_allclose(spec.eigs.numpy(), torch.flip(S, [0]).square().numpy(), rtol=1e-11)
    np.testing.assert_allclose(svd.S.numpy(), S[:5].numpy(), rtol=1e-12)
    # A V = U S for the returned triplets
    np.testing.assert_allclose((W @ svd.V).numpy(), (svd.U * svd.S).numpy(), atol=1e-10 * float(S[0]))


@pytest.mark.parametrize("case", ["spiked", "bulk", "small", "rank_one"])
def test_lanczos_top_eigenvalue_equals_dense(case):
    g = torch.Generator().manual_seed(11)
    if case == "spiked":
        A = spiked(400, 300, 5.0, seed=1)
    elif case == "bulk":  # no outlier: the top of an MP bulk, tiny relative gaps
        A = torch.randn(400, 300, generator=g, dtype=torch.float64)
    elif case == "small":  # below the Lanczos size threshold: dense path
        A = torch.randn(30, 20, generator=g, dtype=torch.float64)
    else:
        A = torch.outer(torch.randn(500, generator=g, dtype=torch.float64),
                        torch.randn(200, generator=g, dtype=torch.float64))
    ref = float(torch.linalg.matrix_norm(A, 2))
    assert spectral_norm(A) == pytest.approx(ref, rel=1e-12)
    G = gram(A)
    assert top_eigenvalue(G) == pytest.approx(ref**2, rel=1e-12)


def test_lanczos_is_deterministic():
    A = torch.randn(500, 400, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert len({spectral_norm(A) for _ in range(3)}) == 1


def test_degenerate_matrices():
    """A zero matrix (W_t - W_0 when updates underflow), a scaled partial identity (every
    singular value repeated) and a matrix with zero columns go through both solvers."""
    zero = torch.zeros(300, 200, dtype=torch.float64)
    assert spectral_norm(zero) == 0.0
    spec, svd = spectrum_and_top_svd(zero, 5)
    assert float(spec.eigs.abs().max()) == 0.0 and float(svd.S.abs().max()) == 0.0
    assert float(svd.U.abs().max()) == 0.0  # direction undetermined: zero vectors, not noise

    eye = 3.0 * torch.eye(300, dtype=torch.float64)[:, :200]
    assert spectral_norm(eye) == pytest.approx(3.0, rel=1e-14)
    spec, svd = spectrum_and_top_svd(eye, 5)
    np.testing.assert_allclose(spec.eigs.numpy(), 9.0, rtol=1e-14)
    np.testing.assert_allclose((eye @ svd.V).numpy(), (svd.U * svd.S).numpy(), atol=1e-13)

    A = spiked(300, 200, 2.0, seed=9)
    A[:, 150:] = 0.0  # rank 150: the Gram splits into blocks
    S = torch.linalg.svdvals(A)
    assert spectral_norm(A) == pytest.approx(float(S[0]), rel=1e-12)
    spec, svd = spectrum_and_top_svd(A, 5)
    np.testing.assert_allclose(svd.S.numpy(), S[:5].numpy(), rtol=1e-12)
    assert float(spec.eigs[:50].max()) <= 1e-12 * float(spec.eigs[-1])  # the 50 zero columns
