"""Small dense linear-algebra helpers shared by the readout and the spectral probes."""

from __future__ import annotations

import math

import torch
from scipy.linalg import blas
from torch import Tensor

_SYRK = {torch.float32: blas.ssyrk, torch.float64: blas.dsyrk}


def gram(A: Tensor) -> Tensor:
    """A^T A in A's dtype.

    On the CPU a BLAS symmetric rank-k update (?syrk: n k^2 multiply-adds, half a general
    product's work) fills one triangle, mirrored here; on other devices a matrix product."""
    if A.device.type == "cpu" and A.dtype in _SYRK and A.is_contiguous():
        # A is row-major (m x k): its memory is the column-major (k x m) matrix A^T, so
        # ?syrk(trans=0) forms A^T A without a copy.
        upper = torch.from_numpy(_SYRK[A.dtype](1.0, A.numpy().T, lower=0, trans=0))
        full = upper + upper.t()  # ?syrk leaves the strict lower triangle zero
        full.diagonal().mul_(0.5)  # (x + x) / 2 == x exactly
        return full
    return torch.mm(A.t(), A)


# A fixed start vector for the Lanczos bidiagonalisation (the numbers must not change from
# call to call within a process).
_LANCZOS_SEED = 20261205


def lanczos_svd(
    A: Tensor, k: int, steps: int = 48, tol: float = 1e-10, start: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The k largest singular values of A (m x p) and the right singular vectors (p x k).

    Golub-Kahan-Lanczos bidiagonalisation with full reorthogonalisation of both Krylov bases
    (Golub & Van Loan, Matrix Computations, 4th ed., Sec. 10.4), started from ``start`` (a
    guess of the top right singular vector: fewer steps) or a fixed pseudo-random vector, and run until the top-k Ritz values change by less than ``tol``
    (relative) or ``steps`` steps (at most min(m, p)).  Each step is two matrix-vector products
    with A in A's dtype, so k triplets of an h x d matrix cost O(steps h d): no Gram matrix, no
    dense eigensolver.  The Ritz values of the small bidiagonal matrix converge to the extreme
    singular values from below, fastest where they stand apart (a low-rank gradient: a few
    steps); a flat bulk needs more.  Returns float64 tensors on A's device."""
    m, p = A.shape
    steps = max(k + 1, min(steps, m, p))
    if start is not None and float(torch.linalg.vector_norm(start)) > 0:
        v = start.to(device=A.device, dtype=A.dtype)
    else:
        gen = torch.Generator(device="cpu").manual_seed(_LANCZOS_SEED)
        v = torch.randn(p, generator=gen, dtype=torch.float64).to(device=A.device, dtype=A.dtype)
    # the Krylov bases as rows (contiguous vectors for the matrix-vector products)
    V = torch.zeros(steps + 1, p, dtype=A.dtype, device=A.device)
    U = torch.zeros(steps, m, dtype=A.dtype, device=A.device)
    alphas, betas = [], []
    V[0] = v / torch.linalg.vector_norm(v)
    beta, previous, scale = 0.0, None, 0.0
    small = 10.0 * torch.finfo(A.dtype).eps * math.sqrt(max(m, p))  # relative breakdown level
    for j in range(steps):
        u = torch.mv(A, V[j])
        if j:
            u.sub_(U[j - 1], alpha=beta)
            for _ in range(2):  # full reorthogonalisation, twice ("twice is enough")
                u.sub_(torch.mv(U[:j].T, torch.mv(U[:j], u)))
        alpha = float(torch.linalg.vector_norm(u))
        scale = max(scale, alpha)
        if alpha <= small * scale:  # an invariant subspace: the Ritz values are exact
            break
        U[j] = u.div_(alpha)
        w = torch.mv(A.T, U[j]).sub_(V[j], alpha=alpha)
        for _ in range(2):
            w.sub_(torch.mv(V[: j + 1].T, torch.mv(V[: j + 1], w)))
        beta = float(torch.linalg.vector_norm(w))
        alphas.append(alpha)
        betas.append(beta)
        scale = max(scale, beta)
        if beta <= small * scale:  # exhausted: B_j is square, V_{j+1} has no new direction
            betas[-1] = 0.0
            break
        V[j + 1] = w.div_(beta)
        if j + 1 >= k and (j + 1) % 4 == 0:
            current = _ritz_values(alphas, betas, k)
            if previous is not None and bool(((current - previous).abs() <= tol * current[0]).all()):
                break
            previous = current
    if not alphas:  # A = 0 (to working precision)
        return torch.zeros(k, dtype=torch.float64, device=A.device), torch.zeros(p, k, dtype=torch.float64, device=A.device)
    B = _bidiagonal(alphas, betas)
    _, S, Wt = torch.linalg.svd(B)  # small (j x j or j x j+1) bidiagonal: right vectors in V's basis
    kk = min(k, S.numel())
    vecs = V[: B.shape[1]].T.to(torch.float64) @ Wt[:kk].T.to(V.device)
    if kk < k:  # rank below k: the missing singular values are zero (vectors left zero)
        S = torch.cat([S[:kk], torch.zeros(k - kk, dtype=S.dtype)])
        vecs = torch.cat([vecs, torch.zeros(p, k - kk, dtype=vecs.dtype, device=vecs.device)], dim=1)
    return S[:k].to(A.device), vecs


def _bidiagonal(alphas: list, betas: list) -> Tensor:
    """U_j^T A V_{j+1}: the (j x j+1) upper bidiagonal matrix of the recurrence (alphas on the
    diagonal, betas above), or j x j when the recurrence broke down on a zero beta_j."""
    r = len(alphas)
    full = len(betas) == r and r > 0 and betas[-1] > 0.0
    B = torch.zeros(r, r + 1 if full else r, dtype=torch.float64)
    idx = torch.arange(r)
    B[idx, idx] = torch.tensor(alphas, dtype=torch.float64)
    nb = r if full else r - 1
    if nb > 0:
        B[idx[:nb], idx[:nb] + 1] = torch.tensor(betas[:nb], dtype=torch.float64)
    return B


def _ritz_values(alphas: list, betas: list, k: int) -> Tensor:
    return torch.linalg.svdvals(_bidiagonal(alphas, betas))[:k]
