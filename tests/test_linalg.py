"""htsweep.linalg.gram: A^T A in A's dtype, on the BLAS ?syrk path (contiguous CPU float32 /
float64) and the matrix-product fallback (any other layout), against a float64 reference and
a rigorous rounding-error bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from htsweep.linalg import gram, lanczos_svd


def reference_and_bound(A: torch.Tensor):
    """(A^T A in float64 from A's values, the bound gamma_m |A|^T |A| on any summation order's
    error in A's precision; Higham, Accuracy and Stability of Numerical Algorithms, Sec. 3.1,
    gamma_m = m u / (1 - m u), u = eps / 2), doubled to cover the reference's own rounding."""
    A64 = A.detach().to(torch.float64).numpy()
    m = A64.shape[0]
    u = torch.finfo(A.dtype).eps / 2
    gamma = m * u / (1 - m * u)
    absA = np.abs(A64)
    return A64.T @ A64, 2.0 * gamma * (absA.T @ absA) + np.finfo(np.float64).tiny


def layouts(m: int, k: int, dtype: torch.dtype, seed: int):
    """The same kind of m x k matrix, contiguous and in three non-contiguous layouts."""
    g = torch.Generator().manual_seed(seed)
    n = 3 * max(m, k)
    base = torch.randn(n, n, generator=g, dtype=torch.float64).to(dtype)
    return {
        "contiguous": base[:m, :k].contiguous(),
        "transposed_view": base[:k, :m].contiguous().t(),  # k x m storage seen as m x k
        "row_stride": base[: 2 * m : 2, :k],  # every other row
        "col_stride": base[:m, : 3 * k : 3],  # every third column
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("m,k", [(300, 70), (70, 300), (50, 50), (200, 1), (1, 40)])
@pytest.mark.parametrize(
    "layout", ["contiguous", "transposed_view", "row_stride", "col_stride"]
)
def test_gram_equals_a_transpose_a(dtype, m, k, layout):
    A = layouts(m, k, dtype, seed=m * 7 + k)[layout]
    assert A.shape == (m, k)
    if min(m, k) > 1:  # (a single row or column is contiguous in any layout)
        assert A.is_contiguous() == (layout == "contiguous")
    before = A.clone()
    G = gram(A)
    assert G.shape == (k, k) and G.dtype == dtype and G.device == A.device
    ref, bound = reference_and_bound(A)
    err = np.abs(G.to(torch.float64).numpy() - ref)
    assert (err <= bound).all(), float((err / bound).max())
    # also against torch's own product in the input dtype (same precision, different kernel)
    torch.testing.assert_close(G, A.t() @ A, rtol=0, atol=float(bound.max()))
    assert torch.equal(A, before)  # the input is not overwritten


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_syrk_path_is_exactly_symmetric_with_an_exact_diagonal(dtype):
    """?syrk fills one triangle; the mirror must not double or change the diagonal."""
    A = layouts(400, 90, dtype, seed=1)["contiguous"]
    G = gram(A)
    assert torch.equal(G, G.t())
    diag_ref = (A.to(torch.float64) ** 2).sum(0)
    u = torch.finfo(dtype).eps / 2
    torch.testing.assert_close(G.diagonal().to(torch.float64), diag_ref, rtol=4 * 400 * u, atol=0)
    # positive semi-definite up to rounding (a Gram matrix)
    evals = np.linalg.eigvalsh(G.to(torch.float64).numpy())
    assert evals.min() >= -400 * u * evals.max()


def test_known_small_gram():
    A = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    expected = torch.tensor([[35.0, 44.0], [44.0, 56.0]], dtype=torch.float64)
    assert torch.equal(gram(A), expected)
    assert torch.equal(gram(A.float()), expected.float())
    assert torch.equal(gram(A.t().contiguous().t()), expected)  # non-contiguous route


@pytest.mark.parametrize("shape,rank", [((300, 200), None), ((200, 300), None), ((400, 250), 3)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lanczos_svd_matches_a_full_svd(shape, rank, dtype):
    """Golub-Kahan-Lanczos: the top-3 singular values and the top right vector of a flat
    (Gaussian) and a low-rank-plus-noise matrix against LAPACK's SVD."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(*shape, generator=g, dtype=torch.float64)
    if rank:
        A += 20 * torch.randn(shape[0], rank, generator=g, dtype=torch.float64) @ torch.randn(rank, shape[1], generator=g, dtype=torch.float64) / shape[1] ** 0.5
    _, s, vt = torch.linalg.svd(A, full_matrices=False)
    S, V = lanczos_svd(A.to(dtype), 3, steps=80, tol=1e-12)
    tol = 1e-9 if dtype is torch.float64 else 2e-5
    assert torch.allclose(S, s[:3], rtol=tol if rank else 100 * tol)
    assert abs(float(V[:, 0] @ vt[0])) == pytest.approx(1.0, abs=1e-6 if rank or dtype is torch.float64 else 1e-3)


def test_lanczos_svd_on_rank_deficient_and_zero_matrices():
    """A rank-2 matrix (a hinge gradient with two active samples): the recurrence breaks down
    cleanly, the third singular value is ~0, nothing is NaN (float32 rounding noise in the
    exhausted Krylov space once made the recurrence blow up); a zero matrix gives zeros."""
    g = torch.Generator().manual_seed(1)
    A = (torch.randn(300, 2, generator=g) @ torch.randn(2, 200, generator=g)).to(torch.float32) * 1e-3
    S, V = lanczos_svd(A, 3)
    s = torch.linalg.svdvals(A.double())
    assert torch.isfinite(S).all() and torch.isfinite(V).all()
    assert torch.allclose(S[:2], s[:2], rtol=1e-5) and float(S[2]) < 1e-6 * float(S[0])
    Z, VZ = lanczos_svd(torch.zeros(30, 20), 2)
    assert torch.equal(Z, torch.zeros(2, dtype=torch.float64)) and VZ.shape == (20, 2)
