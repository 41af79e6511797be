"""Marchenko-Pastur law for the ESD of W^T W with i.i.d. entries, its Tracy-Widom edge, the
BBP spike transition, and a robust fit of the MP scale to a trained W.

Law.  For W (h x d) with i.i.d. centred entries of variance sigma^2, the N = min(h, d) non-zero
eigenvalues of W^T W follow, as h, d -> infinity with c = N / M -> c in (0, 1] (M = max(h, d)),
the Marchenko-Pastur law (Marchenko & Pastur 1967) scaled by M:

    p(x) = sqrt((lambda_+ - x)(x - lambda_-)) / (2 pi sigma^2 N x),   lambda_- <= x <= lambda_+,
    [lambda_-, lambda_+] = sigma^2 [(sqrt(M) - sqrt(N))^2, (sqrt(M) + sqrt(N))^2].

At initialisation (ntk, Sec. 3) sigma^2 = 1, so lambda_+ = (sqrt(h) + sqrt(d))^2; mean-field
(App. D) has sigma^2 = 1/d.

CDF in closed form.  With a = lambda_-, b = lambda_+, R(x) = (b - x)(x - a), an antiderivative
of sqrt(R(x)) / x is (checked by differentiation)

    G(x) = sqrt(R) + (a + b)/2 * asin((2x - a - b)/(b - a))
                   - sqrt(ab) * asin(((a + b) x - 2ab) / (x (b - a))),

and F(x) = (G(x) - G(a)) / (2 pi sigma^2 N); G(b) - G(a) = pi (a + b)/2 - pi sqrt(ab)
= 2 pi sigma^2 N, so F(b) = 1.  (For c = 1, a = 0 and the last term vanishes.)

Tracy-Widom edge.  The largest eigenvalue of a pure-noise W fluctuates around lambda_+ on the
N^(-2/3) scale (Johnstone 2001, Thm 1, real case; El Karoui 2003 for N <= M either way):

    mu = sigma^2 (sqrt(M - 1) + sqrt(N))^2,
    s  = sigma^2 (sqrt(M - 1) + sqrt(N)) (1 / sqrt(M - 1) + 1 / sqrt(N))^(1/3),

so lambda_max <= mu + q s with the probability of the TW_1 quantile q.  An eigenvalue beyond
that margin is a spike (an outlier the i.i.d. bulk does not explain).

BBP transition.  For W = sigma G + theta u v^T (G i.i.d. N(0, 1), |u| = |v| = 1), an outlier
separates from the bulk iff theta > theta_c = sigma (M N)^(1/4), at

    lambda_out = (theta^2 + sigma^2 M)(theta^2 + sigma^2 N) / theta^2

(Baik, Ben Arous & Peche 2005; Benaych-Georges & Nadakuditi 2012, rectangular case); at
theta = theta_c, lambda_out = lambda_+.

Fitting sigma^2 to a trained W (:func:`fit_mp`).  Training changes the bulk's scale (one
FB-Adam step adds +-lr to every entry), so the analytic edge of W_0 no longer separates the
bulk from the spikes.  We fit sigma^2 by *bulk eigenvalue matching* (Ke, Ma & Lin 2023, JASA,
"BEMA"): regress the sorted eigenvalues on the quantiles of the sigma^2 = 1 law over the central
quantile range [trim, 1 - trim] (least squares through the origin, closed form),

    sigma^2_hat = sum_k q_k lambda_(k) / sum_k q_k^2,   q_k = F_1^{-1}((k + 1/2) / N).

WeightWatcher instead grid-searches sigma to minimise the distance between a kernel density
estimate of the whole ESD and the MP density (RMT_Util.fit_density_with_range), spikes
included.  Quantile matching has no bandwidth, is closed form, and bounds the influence of
outliers: each moves the matched order statistics by one rank (~0.2-0.35% of sigma^2 at
N = 400), however large it is, so spikes cannot inflate sigma^2 and hide themselves behind
the edge (tests: 10 outliers at 4x the BBP strength shift sigma^2 by 2%, the trace by 32%).
The spike threshold is then the Tracy-Widom margin of the fitted law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict

import numpy as np
import torch
from torch import Tensor

from htsweep.spectral.esd import as_float64

# Quantiles of the Tracy-Widom law TW_1 (beta = 1), Johnstone (2001) Table 1 / Bejan (2005).
TW1_QUANTILES = {0.90: 0.4501, 0.95: 0.9793, 0.99: 2.0234, 0.999: 3.2724}


def _tw_quantile(level: float) -> float:
    if level not in TW1_QUANTILES:
        raise ValueError(f"level: must be one of {sorted(TW1_QUANTILES)}, got {level}")
    return TW1_QUANTILES[level]


@dataclass(frozen=True)
class MarchenkoPastur:
    """MP law of the non-zero eigenvalues of W^T W, W (h x d), entries of variance sigma2."""

    h: int
    d: int
    sigma2: float = 1.0

    @property
    def big(self) -> int:
        return max(self.h, self.d)

    @property
    def small(self) -> int:
        return min(self.h, self.d)

    @property
    def ratio(self) -> float:
        """c = N / M in (0, 1]."""
        return self.small / self.big

    @property
    def lambda_minus(self) -> float:
        return self.sigma2 * (math.sqrt(self.big) - math.sqrt(self.small)) ** 2

    @property
    def lambda_plus(self) -> float:
        return self.sigma2 * (math.sqrt(self.big) + math.sqrt(self.small)) ** 2

    @property
    def tw_center(self) -> float:
        m1 = max(self.big - 1, 1)
        return self.sigma2 * (math.sqrt(m1) + math.sqrt(self.small)) ** 2

    @property
    def tw_scale(self) -> float:
        m1 = max(self.big - 1, 1)
        a = math.sqrt(m1) + math.sqrt(self.small)
        return self.sigma2 * a * (1.0 / math.sqrt(m1) + 1.0 / math.sqrt(self.small)) ** (1 / 3)

    def spike_threshold(self, level: float = 0.99) -> float:
        """mu + q_level * s: the largest eigenvalue of a pure-noise W stays below it with
        probability ``level`` (asymptotically)."""
        return self.tw_center + _tw_quantile(level) * self.tw_scale

    def num_spikes(self, eigs: Tensor, level: float = 0.99) -> int:
        """Eigenvalues above :meth:`spike_threshold`."""
        return int((as_float64(eigs) > self.spike_threshold(level)).sum())

    @property
    def bbp_threshold(self) -> float:
        """theta_c = sigma (M N)^(1/4): the smallest strength of a rank-one term theta u v^T
        that produces an outlier (Benaych-Georges & Nadakuditi 2012)."""
        return math.sqrt(self.sigma2) * (self.big * self.small) ** 0.25

    def spike_location(self, theta: float) -> float:
        """Limit of the outlier eigenvalue of (sigma G + theta u v^T)^T (...) for theta >
        theta_c; lambda_+ at or below the threshold."""
        if theta <= self.bbp_threshold:
            return self.lambda_plus
        t2 = theta * theta
        return (t2 + self.sigma2 * self.big) * (t2 + self.sigma2 * self.small) / t2

    # The law's functions work on 1-D vectors of at most N points: they are evaluated in numpy
    # (single-threaded, microseconds) and returned as float64 tensors; torch's intra-op
    # threading only slows such small element-wise ops down.

    def density(self, x) -> Tensor:
        """MP density of the eigenvalues of W^T W (non-zero part), integrating to 1."""
        return torch.from_numpy(self._density_np(_as_np(x)))

    def cdf(self, x) -> Tensor:
        """MP distribution function, closed form (module docstring)."""
        return torch.from_numpy(self._cdf_np(_as_np(x)))

    def quantile(self, p, iters: int = 64) -> Tensor:
        """F^{-1}(p) by vectorised bisection on [lambda_-, lambda_+] (64 halvings: exact to
        float64 resolution of the support)."""
        return torch.from_numpy(self._quantile_np(_as_np(p), iters))

    def _density_np(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.lambda_minus, self.lambda_plus
        inside = (x > lo) & (x < hi)
        num = np.sqrt(np.clip((hi - x) * (x - lo), 0.0, None))
        dens = num / (2.0 * math.pi * self.sigma2 * self.small * np.maximum(x, 1e-300))
        return np.where(inside, dens, 0.0)

    def _cdf_np(self, x: np.ndarray) -> np.ndarray:
        a, b = self.lambda_minus, self.lambda_plus
        xc = np.clip(x, a, b)
        width = b - a
        t1 = np.sqrt(np.clip((b - xc) * (xc - a), 0.0, None))
        t2 = 0.5 * (a + b) * np.arcsin(np.clip((2.0 * xc - a - b) / width, -1.0, 1.0))
        if a > 0:
            u = ((a + b) * xc - 2.0 * a * b) / (xc * width)
            t3 = math.sqrt(a * b) * np.arcsin(np.clip(u, -1.0, 1.0))
            g_a = -0.25 * math.pi * (a + b) + 0.5 * math.pi * math.sqrt(a * b)
        else:
            t3 = 0.0
            g_a = -0.25 * math.pi * (a + b)
        F = np.clip((t1 + t2 - t3 - g_a) / (2.0 * math.pi * self.sigma2 * self.small), 0.0, 1.0)
        return np.where(x >= b, 1.0, np.where(x <= a, 0.0, F))

    def _quantile_np(self, p: np.ndarray, iters: int = 64) -> np.ndarray:
        lo = np.full(p.shape, self.lambda_minus)
        hi = np.full(p.shape, self.lambda_plus)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            below = self._cdf_np(mid) < p
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)


def _as_np(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().to(torch.float64).cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def ks_to_law(x, law: MarchenkoPastur) -> float:
    """Two-sided Kolmogorov-Smirnov distance sup_t |F_law(t) - F_n(t)| of the sample x."""
    xs = np.sort(_as_np(x).ravel())
    n = xs.size
    if n == 0:
        return math.nan
    F = law._cdf_np(xs)
    j = np.arange(n, dtype=np.float64)
    return float(np.maximum(np.abs(F - j / n), np.abs(F - (j + 1) / n)).max())


@dataclass(frozen=True)
class MPFit:
    """A Marchenko-Pastur law fitted to the bulk of an ESD and what lies beyond it.

    num_spikes: eigenvalues above ``threshold`` (fitted edge + Tracy-Widom margin at ``level``);
    bulk_max: the largest eigenvalue at or below it; spectral_gap = lambda_max / bulk_max (1 with
    no spike); ks_distance: two-sided KS distance between the bulk (eigenvalues <= threshold)
    and the fitted law; mp_softrank = lambda_+ / lambda_max (WeightWatcher's "MP soft rank")."""

    h: int
    d: int
    sigma2: float
    level: float
    lambda_minus: float
    lambda_plus: float
    threshold: float
    num_spikes: int
    lambda_max: float
    bulk_max: float
    spectral_gap: float
    ks_distance: float
    mp_softrank: float

    @property
    def law(self) -> MarchenkoPastur:
        return MarchenkoPastur(self.h, self.d, self.sigma2)

    def as_row(self, prefix: str = "mp_fit") -> Dict[str, float]:
        return {
            f"{prefix}_sigma2": self.sigma2,
            f"{prefix}_lambda_plus": self.lambda_plus,
            f"{prefix}_threshold": self.threshold,
            f"{prefix}_num_spikes": self.num_spikes,
            f"{prefix}_bulk_max": self.bulk_max,
            f"{prefix}_spectral_gap": self.spectral_gap,
            f"{prefix}_ks_distance": self.ks_distance,
            f"{prefix}_softrank": self.mp_softrank,
        }


def _esd_of_shape(eigs, h: int, d: int, count: int = 1) -> Tensor:
    """The N = count * min(h, d) largest eigenvalues, ascending float64 (extra ones are the
    structural zeros of the larger Gram matrix).  ``count`` > 1: the pooled ESD of that many
    h x d matrices (a convolution's slices, htsweep.spectral.conv)."""
    N = count * min(h, d)
    e = torch.from_numpy(np.sort(_as_np(eigs).ravel()))
    if e.numel() < N:
        what = "min(h, d)" if count == 1 else f"{count} * min(h, d)"
        raise ValueError(f"eigs: expected {what} = {N} eigenvalues, got {e.numel()}")
    if not bool(torch.isfinite(e).all()):
        raise ValueError("eigs: contains NaN or infinite values")
    return e[e.numel() - N :].clamp_min(0.0)


def fit_mp_scale(eigs, h: int, d: int, trim: float = 0.2, count: int = 1) -> float:
    """sigma^2 by bulk eigenvalue matching over the quantile range [trim, 1 - trim] (module
    docstring; Ke, Ma & Lin 2023).  ``count``: the ESD pools that many h x d matrices (their
    count * min(h, d) eigenvalues are matched on the quantiles of the one h x d law).

    Robustness: s outliers at the top (spikes, a heavy tail) move the matched order statistics
    by at most s ranks (interlacing), i.e. the fitted sigma^2 by ~ s / (N p(x) x) in relative
    terms (measured 0.2-0.35% per outlier at N = 400, c = 2/3), whatever their size; a
    trace-based estimate sum(lambda) / (N M) moves by their whole mass."""
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim: must be in [0, 0.5), got {trim}")
    e = _esd_of_shape(eigs, h, d, count).cpu().numpy()
    N = e.size
    lo = min(int(math.floor(trim * N)), N - 1)
    hi = max(int(math.ceil((1.0 - trim) * N)), lo + 1)
    k = np.arange(lo, hi, dtype=np.float64)
    q = MarchenkoPastur(h, d, 1.0)._quantile_np((k + 0.5) / N)
    return float(np.dot(q, e[lo:hi]) / np.dot(q, q))


def fit_mp(eigs, h: int, d: int, *, trim: float = 0.2, level: float = 0.99, count: int = 1) -> MPFit:
    """Fit the MP scale to the bulk of the ESD of W (h x d) and count what lies beyond it.

    ``count`` > 1: the ESD pools the eigenvalues of that many h x d matrices (a convolution's
    k^2 slices, htsweep.spectral.conv), all from one law: the scale is matched on the pooled
    quantiles, and the spike threshold is the Tracy-Widom margin of *one* h x d matrix, so a
    pure-noise layer has some slice's largest eigenvalue above it with probability about
    1 - level^count (0.086 for 9 slices at level 0.99), not 1 - level."""
    e = _esd_of_shape(eigs, h, d, count)
    sigma2 = fit_mp_scale(e, h, d, trim, count)
    law = MarchenkoPastur(h, d, sigma2)
    thr = law.spike_threshold(level)
    bulk = e[e <= thr]
    lam_max = float(e[-1])
    bulk_max = float(bulk[-1]) if bulk.numel() else math.nan
    return MPFit(
        h=h,
        d=d,
        sigma2=sigma2,
        level=level,
        lambda_minus=law.lambda_minus,
        lambda_plus=law.lambda_plus,
        threshold=thr,
        num_spikes=int(e.numel() - bulk.numel()),
        lambda_max=lam_max,
        bulk_max=bulk_max,
        spectral_gap=lam_max / bulk_max if bulk_max > 0 else math.nan,
        ks_distance=ks_to_law(bulk, law) if sigma2 > 0 else math.nan,
        mp_softrank=law.lambda_plus / lam_max if lam_max > 0 else math.nan,
    )
