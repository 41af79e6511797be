"""htsweep.linalg.gram: A^T A in A's dtype, on the BLAS ?syrk path (contiguous CPU float32 /
float64) and the matrix-product fallback (any other layout), against a float64 reference and
a rigorous rounding-error bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from htsweep.linalg import gram


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
