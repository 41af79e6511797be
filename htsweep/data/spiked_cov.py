"""Spiked covariance aligned with the target (seed 003: Mousavi-Hosseini, Wu, Suzuki & Erdogdu,
"Gradient-Based Feature Learning under Structured Data", NeurIPS 2023; the model of Ba, Erdogdu,
Suzuki, Wang, Wu & Wu, NeurIPS 2023):

    x ~ N(0, Sigma),  Sigma = I_d + kappa mu mu^T,  kappa = d^r (``r``) or a fixed ``kappa``,

with mu = beta (``mu_beta_overlap`` = 1, the aligned case) or a unit vector at overlap
<mu, beta> = ``mu_beta_overlap``, and y = sigma_*(beta^T x / sqrt(beta^T Sigma beta)) + tau xi
(``target_norm=std``, the default: the teacher sees a unit-variance argument whatever kappa).

Sampled as x = x_B + sqrt(kappa) z mu with x_B ~ N(0, I), z ~ N(0, 1) independent: the same
law, and the form the gradient decomposition needs (htsweep.data.spiked with alpha = 0,
zeta = sqrt(kappa), q = mu).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from htsweep.activations import Activation
from htsweep.data.base import DataConfig, Dataset, GaussianLaw
from htsweep.data.gaussian import Teacher, at_overlap, make_dataset, target_norms, unit_vector
from htsweep.data.labels import Labels, resolve
from htsweep.data.spiked import TargetNorm


@dataclass
class SpikedCovConfig(DataConfig):
    """Sigma = I + kappa mu mu^T, kappa = d^r (module docstring)."""

    OPTION = "spiked_cov"
    name: str = "spiked_cov"
    n: int = 1000
    n_test: int = 500
    d: int = 200
    r: float = 0.5
    kappa: Optional[float] = None
    mu_beta_overlap: float = 1.0
    teacher: Activation = Activation.he2
    label_noise_std: float = 0.1
    target_norm: TargetNorm = TargetNorm.std
    labels: Labels = Labels.auto

    def check(self) -> None:
        self.require(self.n >= 1, "n", f"must be an integer >= 1, got {self.n}")
        self.require(self.n_test >= 1, "n_test", f"must be an integer >= 1, got {self.n_test}")
        self.require(self.d >= 2, "d", f"must be an integer >= 2, got {self.d}")
        self.require(self.r >= 0, "r", f"must be >= 0 (kappa = d^r), got {self.r}")
        if self.kappa is not None:
            self.require(self.kappa >= 0, "kappa", f"must be >= 0 (or null for kappa = d^r), got {self.kappa}")
        rho = self.mu_beta_overlap
        self.require(-1.0 <= rho <= 1.0, "mu_beta_overlap", f"must be in [-1, 1] (a cosine), got {rho}")
        self.require(
            self.label_noise_std >= 0, "label_noise_std", f"must be >= 0, got {self.label_noise_std}"
        )

    @property
    def resolved_kappa(self) -> float:
        return float(self.kappa) if self.kappa is not None else float(self.d) ** self.r

    def teacher_links(self) -> Tuple[Activation, ...]:
        return (self.teacher,)


def make(cfg: SpikedCovConfig, seed: int, loss_name: str = "mse") -> Dataset:
    beta = unit_vector(cfg.d, seed, "teacher")
    mu = beta.clone() if cfg.mu_beta_overlap == 1.0 else at_overlap(beta, cfg.mu_beta_overlap, seed, "spike/q")
    law = GaussianLaw(bulk_var=torch.ones(cfg.d, dtype=torch.float64), q=mu, zeta=math.sqrt(cfg.resolved_kappa))
    norms = target_norms(law, beta.unsqueeze(0), cfg.target_norm is TargetNorm.std)
    teacher = Teacher(links=(cfg.teacher,), betas=beta.unsqueeze(0), norms=norms)
    sizes = {"train": cfg.n, "holdout": cfg.n, "test": cfg.n_test}
    return make_dataset(law, teacher, resolve(cfg.labels, loss_name), cfg.label_noise_std, sizes, seed)
