"""Power-law exponents of the ESD tail: PL_Alpha_Hill and PL_Alpha_KS (Sec. 3.2), and a
likelihood-ratio check of whether the tail is a power law at all.

Notation.  The positive eigenvalues sorted ascending, lambda_0 <= ... <= lambda_{N-1}; a
candidate index i gives xmin = lambda_i and a tail of k = N - i eigenvalues.  The continuous
power-law density p(x) = (alpha - 1) xmin^(alpha-1) x^(-alpha), x >= xmin, has the maximum-
likelihood exponent (Hill 1975; Clauset, Shalizi & Newman 2009, eq. 3.1)

    alpha_i = 1 + k / sum_{j >= i} ln(lambda_j / lambda_i),

with standard error (alpha_i - 1) / sqrt(k) (Clauset et al. 2009, eq. 3.2).

PL_Alpha_Hill fixes i = floor(N / xmin_pos): the median for xmin_pos = 2, as TempBalance
(Zhou et al. 2023, "xmin_mid") and the paper's code do.  It is the MLE of the *upper half* of
the ESD, not of "the tail": when the power-law part holds fewer than N / xmin_pos eigenvalues,
xmin sits inside the bulk and alpha_Hill is pulled towards the bulk's own slope (too large
for a heavy tail, too small for a light one).  Its numbers are comparable across runs of one
shape (N fixed), which is how the paper and TempBalance use them.

PL_Alpha_KS chooses i by minimising a Kolmogorov-Smirnov distance D_i between the tail and its
fitted law over every candidate i = 0 .. N-2 (Clauset et al. 2009, Sec. 3.3).  Two distances:

* ``"paper"`` (default): the distance behind the paper's numbers (its public code, TempBalance,
  WeightWatcher's own fit),

      D_i = max_{0 <= j < k} | 1 - (lambda_{i+j} / lambda_i)^(1 - alpha_i) - j / k |,
      D_i = 1 when alpha_i <= 1 (or is not finite).

  It compares the fitted CDF with the empirical CDF just *before* each jump (j / k) only.
* ``"clauset"``: the two-sided KS statistic sup_x |F(x) - F_k(x)| of Clauset et al., which
  also looks just after each jump:  max_j max(|F_j - j/k|, |F_j - (j+1)/k|)
  = max_j |F_j - (j + 1/2)/k| + 1/(2k).

  Always D_paper <= D_clauset <= D_paper + 1/k, so the two pick the same xmin on long tails
  and may differ when a short tail (k ~ 10) competes; "paper" favours shorter tails.
* For reference, powerlaw 2.x (``powerlaw.Fit``) uses yet another empirical CDF: it drops
  xmin's own mass and renormalises, F_k(lambda_{i+j}) = j / (k - 1).

All candidates are evaluated at once on blocks of the upper triangle of a (candidates x N)
array: no Python loop over candidates (N = 1000 in ~10 ms, N = 4096 in ~0.1 s on one CPU
core; powerlaw.Fit's xmin search takes 1.2 s and 6.5 s).

Numerics.  The spreads s_i = sum_{j>=i} ln(lambda_j / lambda_i) are accumulated as suffix sums
of the non-negative terms (N - 1 - m) ln(lambda_{m+1} / lambda_m), so there is no cancellation
and s_i >= 0 exactly; alpha_i and D_i agree with a per-candidate loop to ~1e-14 relative.

Input.  Eigenvalues <= 0 are dropped (they are structural zeros or round-off of a PSD matrix);
a non-finite eigenvalue makes every result NaN rather than being silently skipped.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from htsweep.spectral.esd import as_float64

_BLOCK_ELEMENTS = 1 << 21  # ~16 MB of float64 per block: fits in L2/L3-friendly chunks
DISTANCES = ("paper", "clauset")


@dataclass(frozen=True)
class PowerLawFit:
    """A continuous power-law fit of the ESD tail lambda >= xmin.

    alpha: MLE exponent of p(lambda) ~ lambda^-alpha; xmin: lower end of the tail (an
    eigenvalue); D: KS distance of the tail to the fit (``distance`` kind); n_tail: eigenvalues
    >= xmin; xmin_index: position of xmin among the ``n`` positive eigenvalues, ascending."""

    alpha: float
    xmin: float
    D: float
    n_tail: int
    xmin_index: int = -1
    n: int = 0
    distance: str = "paper"

    @property
    def standard_error(self) -> float:
        """(alpha - 1) / sqrt(n_tail), Clauset et al. (2009) eq. (3.2)."""
        if self.n_tail <= 0 or not math.isfinite(self.alpha):
            return math.nan
        return (self.alpha - 1.0) / math.sqrt(self.n_tail)

    @property
    def sigma(self) -> float:
        """Alias of :attr:`standard_error`."""
        return self.standard_error

    def as_row(self, prefix: str) -> Dict[str, float]:
        """Columns ``{prefix}``, ``{prefix}_xmin``, ``_distance``, ``_n_tail``, ``_stderr``."""
        return {
            prefix: self.alpha,
            f"{prefix}_xmin": self.xmin,
            f"{prefix}_distance": self.D,
            f"{prefix}_n_tail": self.n_tail,
            f"{prefix}_stderr": self.standard_error,
        }


def _nan_fit(n: int, distance: str) -> PowerLawFit:
    return PowerLawFit(math.nan, math.nan, math.nan, 0, -1, n, distance)


def positive_sorted(eigs) -> Optional[Tensor]:
    """Eigenvalues > 0 as an ascending float64 tensor; ``None`` if any is NaN or infinite."""
    e = as_float64(eigs)
    if not bool(torch.isfinite(e).all()):
        return None
    return torch.sort(e[e > 0]).values


def tail_spreads(log_e: Tensor) -> Tensor:
    """s_i = sum_{j >= i} (ln lambda_j - ln lambda_i) for every i, from sorted logs, as suffix
    sums of the non-negative terms (N - 1 - m)(ln lambda_{m+1} - ln lambda_m)."""
    N = log_e.numel()
    terms = torch.diff(log_e) * torch.arange(N - 1, 0, -1, dtype=log_e.dtype, device=log_e.device)
    spreads = torch.zeros(N, dtype=log_e.dtype, device=log_e.device)
    if N > 1:
        spreads[:-1] = torch.flip(torch.cumsum(torch.flip(terms, [0]), 0), [0])
    return spreads


def mle_alphas(log_e: Tensor) -> Tensor:
    """alpha_i = 1 + k_i / s_i for every candidate i = 0 .. N-1 (inf where s_i = 0: i = N-1)."""
    N = log_e.numel()
    k = torch.arange(N, 0, -1, dtype=log_e.dtype, device=log_e.device)
    s = tail_spreads(log_e)
    return torch.where(s > 0, 1.0 + k / s, torch.full_like(s, math.inf))


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"distance: must be one of {DISTANCES}, got {distance!r}")


def _ks_rows(log_e: Tensor, alphas: Tensor, start: int, stop: int, distance: str) -> Tensor:
    """D_i for candidates i in [start, stop), on the (rows x (N - start)) block whose row r,
    column c holds tail position j = c - r of candidate start + r (entries with j < 0 masked)."""
    N = log_e.numel()
    rows = stop - start
    dev, dt = log_e.device, log_e.dtype
    a = alphas[start:stop]
    k = torch.arange(N - start, N - stop, -1, dtype=dt, device=dev)  # tail sizes
    inv_k = 1.0 / k
    x = log_e[start:].unsqueeze(0) - log_e[start:stop].unsqueeze(1)  # ln(l_{i+j} / l_i)
    x.clamp_(min=0.0)
    x.mul_((1.0 - a).unsqueeze(1))
    x.expm1_()  # = -F_j,  F_j = 1 - (l_{i+j} / l_i)^(1 - alpha_i)
    # gap = |F_j - (j + shift)/k| = |expm1 + (c - r + shift) / k|
    shift = 0.5 if distance == "clauset" else 0.0
    cols = torch.arange(N - start, dtype=dt, device=dev)
    x.addcmul_(cols.unsqueeze(0), inv_k.unsqueeze(1))
    offs = (torch.arange(rows, dtype=dt, device=dev) - shift) * inv_k
    x.sub_(offs.unsqueeze(1))
    x.abs_()
    x.triu_()  # zero the positions j < 0 (outside the tail); gaps are >= 0
    D = x.amax(dim=1)
    if distance == "clauset":
        D.add_(0.5 * inv_k)
    valid = torch.isfinite(a) & (a > 1.0)
    return torch.where(valid, D, torch.ones_like(D))


def ks_distances(
    eigs, distance: str = "paper"
) -> Tuple[Tensor, Tensor, Tensor]:
    """(alpha_i, D_i, sorted positive eigenvalues) for every candidate i = 0 .. N-2.

    ``distance``: ``"paper"`` or ``"clauset"`` (module docstring).  With fewer than two
    positive eigenvalues alpha_i and D_i are empty; with a NaN or infinite input all three
    are."""
    _check_distance(distance)
    e = positive_sorted(eigs)
    if e is None or e.numel() < 2:
        empty = torch.empty(0, dtype=torch.float64)
        return empty, empty, e if e is not None else empty
    N = e.numel()
    log_e = torch.log(e)
    log_e = log_e - log_e[-1]  # <= 0: same differences, smaller magnitudes
    alphas = mle_alphas(log_e)[: N - 1]
    D = torch.empty(N - 1, dtype=torch.float64, device=e.device)
    start = 0
    while start < N - 1:
        rows = max(1, min(N - 1 - start, _BLOCK_ELEMENTS // (N - start)))
        D[start : start + rows] = _ks_rows(log_e, alphas, start, start + rows, distance)
        start += rows
    return alphas, D, e


@dataclass(frozen=True)
class KSCandidates:
    """alpha_i and D_i of every candidate xmin = lambda_i, i = 0 .. N-2, of one ESD (the
    output of :func:`ks_distances`); :meth:`fit` picks PL_Alpha_KS among them."""

    alphas: Tensor
    D: Tensor
    eigs: Tensor  # positive eigenvalues, ascending
    distance: str = "paper"

    def fit(self, min_tail: int = 2) -> PowerLawFit:
        """The candidate with the smallest D among those with tail size k >= ``min_tail``
        (2 = every candidate, as the paper's code).  Ties resolve to the smallest index (the
        longest tail), as argmin does."""
        if min_tail < 2:
            raise ValueError(f"min_tail: must be >= 2, got {min_tail}")
        N = self.eigs.numel()
        last = N - min_tail  # largest admissible candidate index
        if self.D.numel() == 0 or last < 0:
            return _nan_fit(N, self.distance)
        i = int(torch.argmin(self.D[: last + 1]))
        if not (math.isfinite(float(self.alphas[i])) and float(self.alphas[i]) > 1.0):
            return _nan_fit(N, self.distance)  # no candidate is a normalisable power law
        return PowerLawFit(
            alpha=float(self.alphas[i]),
            xmin=float(self.eigs[i]),
            D=float(self.D[i]),
            n_tail=N - i,
            xmin_index=i,
            n=N,
            distance=self.distance,
        )


def ks_candidates(eigs, distance: str = "paper") -> KSCandidates:
    """All candidates of PL_Alpha_KS at once (reuse it to select with several ``min_tail``)."""
    alphas, D, e = ks_distances(eigs, distance)
    return KSCandidates(alphas=alphas, D=D, eigs=e, distance=distance)


def alpha_ks(eigs, distance: str = "paper", min_tail: int = 2) -> PowerLawFit:
    """PL_Alpha_KS: the MLE alpha at the xmin minimising the KS distance D_i over all
    candidates with tail size >= ``min_tail`` (module docstring)."""
    if min_tail < 2:
        raise ValueError(f"min_tail: must be >= 2, got {min_tail}")
    return ks_candidates(eigs, distance).fit(min_tail)


def alpha_hill(eigs, xmin_pos: float = 2, distance: str = "paper") -> PowerLawFit:
    """PL_Alpha_Hill: the MLE with xmin = lambda_i, i = floor(N / xmin_pos), k = N - i.

    ``xmin_pos`` = 2 puts xmin at the median (the paper, TempBalance); it must be > 1.  D is
    the ``distance`` of the tail to the fit at that xmin, reported for diagnosis only."""
    _check_distance(distance)
    if not xmin_pos > 1:
        raise ValueError(f"xmin_pos: must be > 1 (xmin = lambda_floor(N/xmin_pos)), got {xmin_pos}")
    e = positive_sorted(eigs)
    if e is None or e.numel() < 2:
        return _nan_fit(0 if e is None else e.numel(), distance)
    N = e.numel()
    i = int(N / xmin_pos)
    if i > N - 2:
        return _nan_fit(N, distance)
    log_e = torch.log(e)
    log_e = log_e - log_e[-1]
    tail = log_e[i:]
    alpha = float(mle_alphas(tail)[0])
    a = torch.tensor([alpha], dtype=torch.float64, device=e.device)
    D = float(_ks_rows(tail, a, 0, 1, distance)[0])
    return PowerLawFit(
        alpha=alpha, xmin=float(e[i]), D=D, n_tail=N - i, xmin_index=i, n=N, distance=distance
    )


def trimmed_hill(eigs, k: int, k0: int = 0) -> float:
    """Trimmed Hill estimate of the tail's density exponent from the k largest eigenvalues,
    the k0 largest of them trimmed (Bhattacharya, Kallitsis & Stoev 2019, "Trimming the Hill
    estimator: robustness, optimality and adaptivity", Bernoulli 25(2), eq. 2.2).

    With x_1 >= x_2 >= ... the eigenvalues in decreasing order, the tail index is

        xi = (k0 + 1) / (k - k0) * ln(x_{k0+1} / x_{k+1}) + 1 / (k - k0) * sum_{i=k0+2}^{k} ln(x_i / x_{k+1}),

    and the density exponent alpha = 1 + 1 / xi (k0 = 0 is Hill's estimator, the alpha_i of
    the module docstring with xmin = x_{k+1}).  Trimming makes it blind to the k0 largest
    values: a few spikes far above the bulk do not move it, a power-law tail does.  A
    continuous function of the eigenvalues (k and k0 fixed), unlike PL_Alpha_KS, whose xmin
    jumps between candidates.  NaN when fewer than k + 1 positive eigenvalues exist."""
    if not 0 <= k0 < k:
        raise ValueError(f"trimmed_hill: need 0 <= k0 < k, got k0={k0}, k={k}")
    e = positive_sorted(eigs)
    if e is None or e.numel() < k + 1:
        return math.nan
    x = torch.flip(e, (0,))[: k + 1]
    logs = torch.log(x[:k] / x[k])
    xi = float(((k0 + 1) * logs[k0] + logs[k0 + 1 :].sum()) / (k - k0))
    return 1.0 + 1.0 / xi if xi > 0 else math.inf


# --------------------------------------------------------------------------------------------
# Is the tail a power law at all?  Likelihood ratios against the usual alternatives.
# --------------------------------------------------------------------------------------------

ALTERNATIVES = ("truncated_power_law", "lognormal", "exponential")


@dataclass(frozen=True)
class LikelihoodRatio:
    """Normalised log-likelihood ratio R of power law vs one alternative on the tail and the
    p-value of its sign (Vuong 1989; Clauset et al. 2009, Sec. 5).  R > 0 favours the power
    law, R < 0 the alternative; the sign means something only when p is small."""

    R: float
    p: float

    def verdict(self, alternative: str, p_max: float = 0.1) -> str:
        """``"power_law"``, the alternative's name, or ``"inconclusive"`` (p >= p_max)."""
        if not (self.p < p_max) or self.R == 0:
            return "inconclusive"
        return "power_law" if self.R > 0 else alternative


@dataclass(frozen=True)
class TailComparison:
    """Power law vs truncated power law (nested: chi^2_1 p-value), lognormal and exponential
    (non-nested: Vuong's normal p-value), all fitted by maximum likelihood on lambda >= xmin."""

    xmin: float
    n_tail: int
    alpha: float  # powerlaw's own power-law MLE at xmin (= alpha_ks(...).alpha there)
    truncated_power_law: LikelihoodRatio
    lognormal: LikelihoodRatio
    exponential: LikelihoodRatio

    @property
    def power_law_plausible(self) -> bool:
        """No alternative is significantly (p < 0.1) better than the power law."""
        return all(
            getattr(self, alt).verdict(alt) in ("power_law", "inconclusive") for alt in ALTERNATIVES
        )

    def as_row(self, prefix: str = "tail") -> Dict[str, float]:
        row: Dict[str, float] = {f"{prefix}_xmin": self.xmin, f"{prefix}_n_tail": self.n_tail}
        for alt in ALTERNATIVES:
            lr: LikelihoodRatio = getattr(self, alt)
            row[f"{prefix}_R_{alt}"] = lr.R
            row[f"{prefix}_p_{alt}"] = lr.p
        return row


def tail_comparison(eigs, xmin: float) -> TailComparison:
    """Compare the power law with its usual alternatives on the tail lambda >= xmin, using
    ``powerlaw.Fit(...).distribution_compare(..., normalized_ratio=True)`` (Alstott, Bullmore &
    Plenz 2014; the tests of Clauset et al. 2009, Sec. 5).

    Details that matter with powerlaw 2.x:
    * its default parameter range bounds alpha to [0, 3] (and flags fits within 0.01 of a bound
      as failed, which silently removes those xmin candidates when it searches xmin itself);
      we pass ``parameter_ranges={'alpha': [1, None]}`` and a fixed ``xmin``, so it never
      searches xmin and steep tails (alpha > 3) are fitted, not clipped;
    * it fits alternatives with Nelder-Mead at an *absolute* tolerance of 1e-4, so the tail is
      divided by xmin first (xmin -> 1).  All four families are closed under scaling and the
      likelihood ratio is scale invariant, so R and p are unchanged while the exponential
      rates stop being ~1e-4 numbers the optimiser cannot resolve.
    """
    import powerlaw  # lazy: it imports matplotlib

    e = positive_sorted(eigs)
    if e is None or not (xmin > 0) or not math.isfinite(xmin):
        nan = LikelihoodRatio(math.nan, math.nan)
        return TailComparison(xmin, 0, math.nan, nan, nan, nan)
    x = e.cpu().numpy() / float(xmin)
    x = x[x >= 1.0]
    if x.size < 3:
        nan = LikelihoodRatio(math.nan, math.nan)
        return TailComparison(xmin, int(x.size), math.nan, nan, nan, nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(x, xmin=1.0, parameter_ranges={"alpha": [1, None]}, verbose=0)
        ratios = {}
        for alt in ALTERNATIVES:
            R, p = fit.distribution_compare("power_law", alt, normalized_ratio=True)
            ratios[alt] = LikelihoodRatio(float(R), float(p))
        alpha = float(fit.power_law.alpha)
    return TailComparison(
        xmin=float(xmin),
        n_tail=int(x.size),
        alpha=alpha,
        truncated_power_law=ratios["truncated_power_law"],
        lognormal=ratios["lognormal"],
        exponential=ratios["exponential"],
    )
