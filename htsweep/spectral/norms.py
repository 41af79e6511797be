"""Scale metrics of a weight matrix from its ESD (eigenvalues lambda_i of W^T W = squared
singular values of W), as Martin & Mahoney define them.

    lambda_max          = ||W||_2^2
    lambda_sum          = sum_i lambda_i = ||W||_F^2
    stable_rank         = ||W||_F^2 / ||W||_2^2                   [Rudelson & Vershynin 2007]
    log_frobenius_norm  = log10 ||W||_F^2                         [MPM 2021]
    log_spectral_norm   = log10 ||W||_2^2 = log10 lambda_max      [MPM 2021]
    alpha_weighted      = alpha * log10 lambda_max ("alpha-hat")  [MPM 2021]
    log_alpha_norm      = log10 sum_i lambda_i^alpha              [MPM 2021]
                          (Schatten alpha-norm^alpha of W^T W)
    matrix_entropy      = -(1 / ln R) sum_i p_i ln p_i,           [MM 2021, "matrix entropy"]
                          p_i = lambda_i / sum_j lambda_j, R = numerical rank

MM 2021: Martin & Mahoney, JMLR 22(165), "Implicit self-regularization in deep neural networks";
MPM 2021: Martin, Peng & Mahoney, Nature Communications 12, "Predicting trends in the quality
of state-of-the-art neural networks without access to training or testing data".

Note the WeightWatcher convention: the "log norms" are of the *squared* norms (log10 of
eigenvalue sums), i.e. twice log10 of the norms themselves.  alpha is a power-law exponent of
the ESD (PL_Alpha_KS in WeightWatcher; the caller chooses which and the column name says it).
The matrix entropy is 1 for a flat spectrum (all lambda equal) and 0 for rank one; for a
Gaussian W it is close to but below 1.

Numerical rank R: eigenvalues > N * eps * lambda_max (eps = float64 machine epsilon): the Gram
route of esd.py resolves eigenvalues only down to ~eps * lambda_max, so smaller ones are noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch

from htsweep.spectral.esd import as_float64


@dataclass(frozen=True)
class NormMetrics:
    lambda_max: float
    lambda_sum: float
    stable_rank: float
    log_frobenius_norm: float
    log_spectral_norm: float
    alpha: float
    alpha_weighted: float
    log_alpha_norm: float
    matrix_entropy: float
    numerical_rank: int

    @property
    def frobenius_norm(self) -> float:
        return math.sqrt(self.lambda_sum)

    @property
    def spectral_norm(self) -> float:
        return math.sqrt(self.lambda_max)

    def as_row(self, prefix: str = "") -> Dict[str, float]:
        return {
            f"{prefix}lambda_max": self.lambda_max,
            f"{prefix}lambda_sum": self.lambda_sum,
            f"{prefix}frobenius_norm": self.frobenius_norm,
            f"{prefix}stable_rank": self.stable_rank,
            f"{prefix}log_frobenius_norm": self.log_frobenius_norm,
            f"{prefix}log_spectral_norm": self.log_spectral_norm,
            f"{prefix}alpha_weighted": self.alpha_weighted,
            f"{prefix}log_alpha_norm": self.log_alpha_norm,
            f"{prefix}matrix_entropy": self.matrix_entropy,
            f"{prefix}numerical_rank": self.numerical_rank,
        }


def numerical_rank(eigs) -> int:
    """Eigenvalues above N * eps * lambda_max (N = number of eigenvalues given)."""
    e = as_float64(eigs)
    if e.numel() == 0:
        return 0
    tol = float(e.max()) * e.numel() * torch.finfo(torch.float64).eps
    return int((e > tol).sum())


def matrix_entropy(eigs) -> float:
    """Martin & Mahoney's normalised spectral entropy, -(1/ln R) sum p_i ln p_i (0 if R <= 1)."""
    e = as_float64(eigs)
    e = e[e > 0]
    R = numerical_rank(e)
    if R <= 1:
        return 0.0
    p = e / e.sum()
    return float(-(p * torch.log(p)).sum() / math.log(R))


def norm_metrics(eigs, alpha: Optional[float] = None) -> NormMetrics:
    """All scale metrics of the module docstring from the ESD; ``alpha`` (a power-law exponent
    of the same ESD) feeds alpha_weighted and log_alpha_norm (NaN when not given)."""
    e = as_float64(eigs)
    if e.numel() == 0 or not bool(torch.isfinite(e).all()):
        nan = math.nan
        return NormMetrics(nan, nan, nan, nan, nan, nan, nan, nan, nan, 0)
    e = e.clamp_min(0.0)
    lam_max = float(e.max())
    lam_sum = float(e.sum())
    a = math.nan if alpha is None else float(alpha)
    pos = e[e > 0]
    if math.isfinite(a) and pos.numel():
        log_alpha_norm = float(torch.logsumexp(a * torch.log(pos), 0)) / math.log(10.0)
    else:
        log_alpha_norm = math.nan
    log_lmax = math.log10(lam_max) if lam_max > 0 else -math.inf
    return NormMetrics(
        lambda_max=lam_max,
        lambda_sum=lam_sum,
        stable_rank=lam_sum / lam_max if lam_max > 0 else math.nan,
        log_frobenius_norm=math.log10(lam_sum) if lam_sum > 0 else -math.inf,
        log_spectral_norm=log_lmax,
        alpha=a,
        alpha_weighted=a * log_lmax if math.isfinite(a) else math.nan,
        log_alpha_norm=log_alpha_norm,
        matrix_entropy=matrix_entropy(e),
        numerical_rank=numerical_rank(e),
    )
