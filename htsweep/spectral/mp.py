"""Marchenko-Pastur law for the ESD of W^T W with i.i.d. entries, and its Tracy-Widom edge.

For W (h x d) with i.i.d. entries of variance sigma^2, the N = min(h, d) non-zero eigenvalues
of W^T W follow, as h, d -> infinity with N / M -> c in (0, 1] (M = max(h, d)), the
Marchenko-Pastur law (Marchenko & Pastur 1967) scaled by M, supported on

    [lambda_-, lambda_+] = sigma^2 [(sqrt(M) - sqrt(N))^2, (sqrt(M) + sqrt(N))^2].

The largest eigenvalue fluctuates around the upper edge on the Tracy-Widom scale
(Johnstone 2001, Thm 1, real case):

    mu = sigma^2 (sqrt(M - 1) + sqrt(N))^2,
    s  = sigma^2 (sqrt(M - 1) + sqrt(N)) (1 / sqrt(M - 1) + 1 / sqrt(N))^(1/3),

so lambda_max <= mu + q s with the probability of the TW_1 quantile q.  An eigenvalue beyond
that margin is a spike (an outlier the i.i.d. bulk does not explain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

# Quantiles of the Tracy-Widom law TW_1 (beta = 1), Johnstone (2001) Table 1 / Bejan (2005).
TW1_QUANTILES = {0.90: 0.4501, 0.95: 0.9793, 0.99: 2.0234, 0.999: 3.2724}


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
        return self.tw_center + TW1_QUANTILES[level] * self.tw_scale

    def num_spikes(self, eigs: Tensor, level: float = 0.99) -> int:
        """Eigenvalues above :meth:`spike_threshold`."""
        return int((eigs > self.spike_threshold(level)).sum())

    def density(self, x: Tensor) -> Tensor:
        """MP density of the eigenvalues of W^T W (non-zero part), integrating to 1."""
        lo, hi = self.lambda_minus, self.lambda_plus
        x64 = x.to(torch.float64)
        inside = (x64 > lo) & (x64 < hi)
        num = torch.sqrt(torch.clamp((hi - x64) * (x64 - lo), min=0.0))
        dens = num / (2.0 * math.pi * self.ratio * self.sigma2 * self.big * x64.clamp_min(1e-300))
        return torch.where(inside, dens, torch.zeros_like(dens))
