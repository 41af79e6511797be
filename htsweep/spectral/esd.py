"""Empirical spectral density of W^T W and the singular vectors the probes need.

The ESD is the N = min(h, d) eigenvalues of W^T W, i.e. the squared singular values of W
(Sec. 3.2).  It is computed from the smaller of the two Gram matrices, W^T W (d x d) or W W^T
(h x h), in float64, so the d - h (or h - d) structural zeros never enter a fit.

Accuracy of the Gram route: eigenvalues carry an absolute error of about eps * lambda_max
(eps = 2.2e-16), so the squared singular values that matter here (the bulk and the tail) are
exact to ~1e-13 relative; only eigenvalues below ~1e-10 lambda_max lose relative accuracy.  It
costs one GEMM and one symmetric eigensolver, 2-3x less than an SVD of W (LAPACK gesdd).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import torch
from scipy.linalg import lapack
from torch import Tensor

from htsweep.linalg import gram


def as_float64(x) -> Tensor:
    """A flat float64 tensor from a tensor, numpy array or list (lists go through numpy:
    ``torch.as_tensor`` would make them float32)."""
    if isinstance(x, Tensor):
        return x.detach().to(torch.float64).flatten()
    return torch.from_numpy(np.asarray(x, dtype=np.float64).ravel().copy())


@dataclass(frozen=True)
class Spectrum:
    eigs: Tensor  # (N,), ascending, float64: squared singular values of W
    v1: Tensor  # (d,), top right singular vector of W, float64, unit norm


@dataclass(frozen=True)
class ThinSVD:
    """A = U diag(S) V^T with b = min(h, d) singular triplets, singular values *descending*
    (the order of App. C, eq. 36: column j of U, V belongs to the j-th largest s_j).

    U: (h, b), S: (b,), V: (d, b), all float64.  Columns whose singular value is numerically
    zero (s_j <= b * eps * s_1) are returned as zero vectors in the derived factor (U when
    h >= d, V otherwise): their direction is not determined by A."""

    U: Tensor
    S: Tensor
    V: Tensor

    @property
    def eigs(self) -> Tensor:
        """The ESD: eigenvalues of A^T A (non-zero part), ascending, = S^2 reversed."""
        return torch.flip(self.S, [0]).square()


def _small_gram(A: Tensor, dtype: torch.dtype = torch.float64) -> tuple[Tensor, bool]:
    """(Gram of the smaller side in ``dtype``, True if it is A^T A)."""
    A64 = A.to(dtype)
    if A.shape[1] <= A.shape[0]:
        return gram(A64), True
    return gram(A64.t().contiguous()), False


def eigvalsh(G: Tensor) -> Tensor:
    """All eigenvalues of the symmetric G, ascending.  On the CPU LAPACK's ?syevr (MRRR,
    through SciPy, about 2x faster here than torch's ?syevd); elsewhere torch."""
    if G.device.type == "cpu":
        vals = scipy.linalg.eigh(G.numpy(), eigvals_only=True, driver="evr", check_finite=False)
        return torch.from_numpy(vals)
    return torch.linalg.eigvalsh(G)


def top_eigh(G: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k largest eigenpairs of the symmetric G (n x n): (values descending, vectors n x k).

    On the CPU ?syevr computes only the requested pairs (one tridiagonal reduction, no full
    back-transformation); elsewhere a full torch eigh, sliced."""
    n = G.shape[0]
    k = min(k, n)
    if G.device.type == "cpu":
        vals, vecs = scipy.linalg.eigh(
            G.numpy(), driver="evr", subset_by_index=[n - k, n - 1], check_finite=False
        )
        vals, vecs = torch.from_numpy(vals), torch.from_numpy(vecs)
    else:
        vals, vecs = torch.linalg.eigh(G)
        vals, vecs = vals[n - k :], vecs[:, n - k :]
    return torch.flip(vals, [0]), torch.flip(vecs, [1])


def eigvalsh_and_top_eigh(G: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """All eigenvalues of the symmetric G (ascending) and its k largest eigenpairs (values
    descending, vectors n x k) from *one* tridiagonal reduction, in G's precision (float32 or
    float64; returned as float64).

    On the CPU: LAPACK ?sytrd reduces G = Q T Q^T (the only O(n^3) stage); ?sterf gives every
    eigenvalue of T; ?stebz + ?stein the k top eigenvectors z of T; ?ormqr applies the
    Householder reflectors of Q to them (G's vectors are Q z).  This is what ?syevr does for a
    subset of pairs, minus a second reduction for the values (Golub & Van Loan, Matrix
    Computations, 4th ed., Sec. 8.3 and 8.4).  Elsewhere (and for n < 3) one full torch eigh."""
    n = G.shape[0]
    k = min(k, n)
    if G.device.type != "cpu" or n < 3:  # (n < 3: no reflectors to apply)
        vals, vecs = torch.linalg.eigh(G)
        vals, vecs = vals.to(torch.float64), vecs.to(torch.float64)
        return vals, torch.flip(vals[n - k :], [0]), torch.flip(vecs[:, n - k :], [1])
    A = G.numpy()
    sytrd, sytrd_lwork, ormqr = lapack.get_lapack_funcs(("sytrd", "sytrd_lwork", "ormqr"), (A,))
    lwork = int(sytrd_lwork(n, lower=1)[0])
    # lower=1: Q = H(1) ... H(n-1), the vector of H(i) below the sub-diagonal of column i, so
    # Q = diag(1, Q') with Q' the QR-form product of the reflectors in c[1:, :n-1] (?ormtr).
    c, diag, off, tau, info = sytrd(A, lower=1, lwork=max(lwork, 1))
    if info != 0:
        raise np.linalg.LinAlgError(f"?sytrd failed (info={info})")
    diag, off = diag.astype(np.float64), off.astype(np.float64)
    vals = scipy.linalg.eigvalsh_tridiagonal(diag, off, lapack_driver="sterf", check_finite=False)
    _, z = scipy.linalg.eigh_tridiagonal(
        diag, off, select="i", select_range=(n - k, n - 1), check_finite=False
    )
    z = np.asfortranarray(z.astype(A.dtype))
    qz, _, info = ormqr("L", "N", c[1:, : n - 1], tau[: n - 1], z[1:], max(64 * k, 1))
    if info != 0:
        raise np.linalg.LinAlgError(f"?ormqr failed (info={info})")
    z[1:] = qz
    vals_t = torch.from_numpy(np.ascontiguousarray(vals))
    vecs = torch.from_numpy(np.array(z[:, ::-1], dtype=np.float64, order="C", copy=True))
    return vals_t, torch.flip(vals_t[n - k :], [0]), vecs


# A fixed, generic start vector for the Lanczos iteration (ARPACK's own random start changes
# from call to call within a process, which would make metrics differ in the last bit).
_LANCZOS_START_SEED = 20240917


def top_eigenvalue(G: Tensor) -> float:
    """The largest eigenvalue of the symmetric positive semi-definite G.

    On the CPU for n > 64: implicitly restarted Lanczos (ARPACK ?saupd through SciPy) with
    tolerance 0, i.e. converged to machine precision (|error| <~ eps ||G||), from a fixed
    pseudo-random start; a few matrix-vector products when the top eigenvalue stands apart,
    against an O(n^3) tridiagonal reduction for a dense eigensolver.  Falls back to ?syevr if
    ARPACK fails (no convergence; a zero matrix, e.g. W_t - W_0 when no update has moved W).  Elsewhere (and for small n) a dense eigensolver."""
    n = G.shape[0]
    if G.device.type == "cpu" and n > 64:
        v0 = np.random.default_rng(_LANCZOS_START_SEED).standard_normal(n)
        try:
            vals = scipy.sparse.linalg.eigsh(
                G.numpy(), k=1, which="LA", tol=0, v0=v0, return_eigenvectors=False
            )
            return float(vals[0])
        except scipy.sparse.linalg.ArpackError:  # no convergence, or G v0 = 0 (e.g. G = 0)
            pass
    return float(top_eigh(G, 1)[0][0])


def _svd_from_gram_eigh(A: Tensor, evals: Tensor, evecs: Tensor, right: bool, rank: int) -> ThinSVD:
    """Singular triplets of A from eigenpairs (values descending) of its smaller Gram matrix:
    S = sqrt(evals), and the other factor A V / S (right) or A^T U / S.  Triplets with
    s_j <= rank * eps * s_1 get a zero vector in the derived factor."""
    evecs = evecs.to(A.device)
    S = evals.to(A.device).clamp_min(0.0).sqrt()
    tol = float(S[0]) * rank * torch.finfo(torch.float64).eps if S.numel() else 0.0
    inv = torch.where(S > tol, S.reciprocal(), torch.zeros_like(S))
    A64 = A.to(torch.float64)
    if right:
        return ThinSVD(U=(A64 @ evecs).mul_(inv.unsqueeze(0)), S=S, V=evecs)
    return ThinSVD(U=evecs, S=S, V=(A64.t() @ evecs).mul_(inv.unsqueeze(0)))


def top_svd(A: Tensor, k: int) -> ThinSVD:
    """The k leading singular triplets of A (h x d) as a :class:`ThinSVD` with k columns,
    from the k top eigenpairs of the smaller Gram matrix (see :func:`thin_svd`)."""
    gram_, right = _small_gram(A)
    evals, evecs = top_eigh(gram_, k)
    return _svd_from_gram_eigh(A, evals, evecs, right, max(A.shape))


def spectrum_and_top_svd(W: Tensor, k: int, dtype: torch.dtype = torch.float64) -> tuple[Spectrum, ThinSVD]:
    """The ESD of W^T W (all eigenvalues, ascending, float64) and W's k leading singular
    triplets, from one Gram matrix and one tridiagonal reduction
    (:func:`eigvalsh_and_top_eigh`), both in ``dtype`` (float64 for the ESD of W; float32
    trades ~1e-7 lambda_max of absolute accuracy for half the time)."""
    gram_, right = _small_gram(W, dtype)
    eigs, evals, evecs = eigvalsh_and_top_eigh(gram_, k)
    svd = _svd_from_gram_eigh(W, evals, evecs, right, max(W.shape))
    return Spectrum(eigs=eigs.clamp_min(0.0), v1=svd.V[:, 0]), svd


def spectrum(W: Tensor) -> Spectrum:
    """Eigenvalues of W^T W (ascending, float64) and W's top right singular vector."""
    return spectrum_and_top_svd(W, 1)[0]


def esd_eigenvalues(W: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """The ESD alone: eigenvalues of W^T W (non-zero part), ascending, clamped at 0, returned
    as float64 (one Gram and one eigvalsh: :func:`spectrum` adds only the top vector's
    lower-order work to the same single tridiagonal reduction).

    ``dtype=torch.float32`` computes Gram and eigenvalues in single precision, ~2x faster on a
    CPU; the eigenvalues then carry an absolute error ~1e-7 lambda_max (relative ~1e-5 in the
    bulk after a spike of 100 lambda_+), enough for the tail and bulk fits but not for the
    smallest eigenvalues of a square W."""
    W_ = W.to(dtype)
    if W.shape[1] <= W.shape[0]:
        gram_ = gram(W_)
    else:
        gram_ = gram(W_.t().contiguous())
    return eigvalsh(gram_).to(torch.float64).clamp_min_(0.0)


def thin_svd(A: Tensor) -> ThinSVD:
    """Thin SVD of A (h x d) through the eigendecomposition of its smaller Gram matrix.

    With G = A^T A = V diag(S^2) V^T (d <= h), U = A V diag(1/S); symmetrically with A A^T when
    h < d.  Eigenvectors of a Gram matrix are determined up to sign (and up to rotation inside
    a repeated eigenvalue); squared overlaps (App. C) do not see the sign."""
    gram_, right = _small_gram(A)
    evals, evecs = torch.linalg.eigh(gram_)  # ascending
    return _svd_from_gram_eigh(
        A, torch.flip(evals, [0]), torch.flip(evecs, [1]), right, min(A.shape)
    )


def spectrum_from_svd(svd: ThinSVD) -> Spectrum:
    """The :class:`Spectrum` of A from its :func:`thin_svd` (no second eigensolve)."""
    return Spectrum(eigs=svd.eigs, v1=svd.V[:, 0])


def spectral_norm(A: Tensor) -> float:
    """||A||_2 = largest singular value, from the float64 Gram of the smaller side
    (:func:`top_eigenvalue`: Lanczos on the CPU)."""
    gram, _ = _small_gram(A)
    return math.sqrt(max(top_eigenvalue(gram), 0.0))
