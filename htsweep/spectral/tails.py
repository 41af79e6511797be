"""Tail indices of the weights themselves (not of the ESD): the block-sum estimator of
Mohammadi, Mohammadpour & Ogata and the Hill estimator, in float64 on the CPU (numpy).

**Mohammadi et al. (Metrika 2015, Cor. 2.4; the estimator of Simsekli et al. 2019 and Barsbey
et al. 2021).**  For N centred i.i.d. samples X_i in R^p of a strictly alpha-stable law, a sum
of K1 of them equals K1^(1/alpha) X in law, so with the K2 = N / K1 block sums
Y_l = X_{(l-1)K1+1} + ... + X_{l K1},

    1/alpha = [ (1/K2) sum_l log(||Y_l|| + eps) - (1/N) sum_i log(||X_i|| + eps) ] / log K1,

eps the float64 machine epsilon (as the reference code).  :func:`mohammadi_alpha` takes the
samples as the rows of X (N x p; a 1-D array is N scalars, p = 1) **in the order given**: the
caller permutes (seeded) when neighbouring samples are dependent.

Choice of K1 (:func:`k1_grid`), after Barsbey et al. 2021 (``est_alpha``): K1 in
{2, 5, 10, 20, 50, 100, 500, 1000} with K1 <= N / 2, plus K1 = floor(sqrt(N)) (Simsekli et
al. 2019's K1 ~ sqrt(N)); the estimate is min(median over these K1 of alpha(K1), 2).  Where
the reference code moves each K1 down to the nearest divisor of N (for a prime N every K1
collapses to 1 and the estimator is undefined), here each K1 keeps its value and the sample is
**truncated** to its first K2 K1 samples, K2 = floor(N / K1): both means above run over those
K2 K1 samples.  An alpha(K1) whose 1/alpha is <= 0 counts as +inf (the cap then gives 2).
Fewer than 4 samples: NaN.  Measured (seeds 0-4, tests/spectral/test_tails.py): within 0.025
of alpha on 10^5 symmetric alpha-stable scalars at alpha = 1.2, 1.5, 1.75, 2; within 0.056 on
2000 sub-Gaussian stable vectors in R^100; Gaussian data reads 1.98-2.

**Hill (1975).**  :func:`hill_alpha` estimates the tail index of |x| from its k largest values:
alpha = 1 / mean_{i <= k} (log |x|_(N-i+1) - log |x|_(N-k)), |x|_(j) ascending.  The default k
(:func:`hill_k`) is ceil(sqrt(N)): on 10^5 symmetric alpha-stable samples at alpha = 1.2, 1.5,
1.75 (seeds 0-4) it reads within 0.092 of alpha (its standard error alpha / sqrt(k) is ~0.08 at
k = 317; k = N / 100 has a smaller variance but is biased upwards by ~0.1 at 1.75, where the
stable law's Pareto regime starts far out).  Gaussian data has no power tail and reads a large,
N-dependent value (~9-20 at N = 10^5-10^6), not 2: use the Mohammadi estimator near alpha = 2.
Hill is exactly scale-invariant; the Mohammadi estimator is up to the eps in its logs.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

# Barsbey et al. 2021's block sizes (``est_alpha``), before the N / 2 limit and sqrt(N).
K1_BASE: Tuple[int, ...] = (2, 5, 10, 20, 50, 100, 500, 1000)
ALPHA_CAP = 2.0  # alpha of a stable law is at most 2
EPS = float(np.finfo(np.float64).eps)  # inside the logs, as the reference code


def _as_samples(X: np.ndarray) -> np.ndarray:
    """X as an (N, p) float64 array (a 1-D array is N scalar samples)."""
    A = np.asarray(X, dtype=np.float64)
    if A.ndim == 1:
        return A[:, None]
    if A.ndim != 2:
        raise ValueError(f"samples must be 1-D (N,) or 2-D (N, p), got shape {A.shape}")
    return A


def k1_grid(n: int, base: Sequence[int] = K1_BASE) -> List[int]:
    """The block sizes K1 for N = ``n`` samples (module docstring): ``base`` values <= N / 2
    and floor(sqrt(N)), ascending, without repeats; empty for N < 4."""
    if n < 4:
        return []
    ks = {int(k) for k in base if 2 <= k <= n / 2}
    ks.add(max(math.isqrt(n), 2))
    return sorted(ks)


def _log_norms(A: np.ndarray) -> np.ndarray:
    """log(||row|| + eps) of every row of the (N, p) samples A."""
    norms = np.abs(A[:, 0]) if A.shape[1] == 1 else np.sqrt(np.einsum("ij,ij->i", A, A))
    return np.log(norms + EPS)


def _inverse(A: np.ndarray, k1: int, log_x_cumsum: np.ndarray) -> float:
    """1/alpha(K1) on the first floor(N / K1) K1 rows of A, with the prefix sums of the rows'
    log-norms (so that the log-norms are computed once for every K1)."""
    n, p = A.shape
    k2 = n // k1
    m = k1 * k2
    log_x = log_x_cumsum[m - 1] / m
    log_y = _log_norms(A[:m].reshape(k2, k1, p).sum(axis=1)).mean()
    return float((log_y - log_x) / math.log(k1))


def mohammadi_inverse(X: np.ndarray, k1: int) -> float:
    """1/alpha of the block-sum estimator with block size ``k1`` on the rows of X (truncated to
    floor(N / k1) k1 rows; module docstring)."""
    A = _as_samples(X)
    n = A.shape[0]
    k1 = int(k1)
    if k1 < 2 or n < 2 * k1:
        raise ValueError(f"block size K1={k1} needs 2 <= K1 <= N / 2 (N={n})")
    return _inverse(A, k1, np.cumsum(_log_norms(A)))


def mohammadi_alpha(X: np.ndarray, k1: Optional[int] = None, cap: float = ALPHA_CAP) -> float:
    """Tail index of the rows of X (N x p, or N scalars) by the block-sum estimator: with
    ``k1`` None, min(median over :func:`k1_grid` of alpha(K1), ``cap``); with ``k1`` given,
    min(alpha(k1), cap).  NaN for fewer than 4 samples or non-finite input."""
    A = _as_samples(X)
    n = A.shape[0]
    if not np.isfinite(A).all():
        return math.nan
    ks = [int(k1)] if k1 is not None else k1_grid(n)
    if not ks:
        return math.nan
    if any(k < 2 or n < 2 * k for k in ks):
        raise ValueError(f"block size K1={k1} needs 2 <= K1 <= N / 2 (N={n})")
    cums = np.cumsum(_log_norms(A))
    inv = np.array([_inverse(A, k, cums) for k in ks])
    alphas = np.where(inv > 0, 1.0 / np.where(inv > 0, inv, 1.0), np.inf)
    return float(min(np.median(alphas), cap))


def hill_k(n: int) -> int:
    """The default number of top order statistics of :func:`hill_alpha`: ceil(sqrt(N)), at
    most N - 1."""
    return max(1, min(int(math.ceil(math.sqrt(n))), n - 1))


def hill_alpha(x: np.ndarray, k: Optional[int] = None) -> float:
    """Hill's estimate of the tail index of |x| from its ``k`` largest values (default
    :func:`hill_k`): 1 / mean_{i<=k} log(|x|_(N-i+1) / |x|_(N-k)).  NaN when N < 2, when the
    threshold |x|_(N-k) is 0 or when the input is not finite."""
    a = np.abs(np.asarray(x, dtype=np.float64).ravel())
    n = a.size
    if n < 2 or not np.isfinite(a).all():
        return math.nan
    k = hill_k(n) if k is None else int(k)
    if not 1 <= k <= n - 1:
        raise ValueError(f"Hill: k must be in [1, N - 1] = [1, {n - 1}], got {k}")
    part = np.partition(a, n - k - 1)  # part[n-k-1] is |x|_(N-k); the k largest follow it
    threshold = part[n - k - 1]
    if threshold <= 0:
        return math.nan
    gamma = float(np.mean(np.log(part[n - k :])) - math.log(threshold))
    return 1.0 / gamma if gamma > 0 else math.inf


__all__ = ["ALPHA_CAP", "K1_BASE", "hill_alpha", "hill_k", "k1_grid", "mohammadi_alpha", "mohammadi_inverse"]
