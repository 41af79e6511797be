"""Spiked inputs (seed 001, Sonthalia, Murray & Montufar, "Low Rank Gradients and Where to Find
Them", NeurIPS 2025; the notebook's ``gen_data`` and ``get_y``) and the multi-index target.

    x = x_B + zeta z q,   x_B ~ N(0, diag(i^-alpha)),  z ~ N(0, 1),  ||q|| = 1,

so the bulk eigenvalues decay as lambda_i = i^-alpha (``alpha`` = 0: isotropic) and the inputs
carry one latent direction q of strength zeta = n^nu (``nu``, n the training size) or a fixed
``zeta``.  q is a uniform unit vector (``q=random``), the teacher direction (``q=beta``, seed
003's aligned case) or a vector at overlap ``q_beta_overlap`` = <q, beta> with it.

``data=spiked``: y = sigma_*(beta^T x / norm) + tau xi (single index; labels per
htsweep.data.labels); ``target_norm=std`` divides by the std of beta^T x, sqrt(beta^T Sigma
beta) (Ba et al. 2023's normalisation), ``none`` keeps the notebook's raw beta^T x.
``data=multi_index``: y = sum_k sigma_k(beta_k^T x / norm_k) + tau xi with independent uniform
unit beta_k (the notebook's triple-index target sigmoid + tanh + relu; Spectrum_Plotting).

The latent z of every sample stays on its split and the law on the data set, so the gradient
decomposition can form X_B = X - zeta z q^T and integrate over the law exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from htsweep.activations import Activation
from htsweep.data.base import DataConfig, Dataset, GaussianLaw
from htsweep.data.gaussian import Teacher, at_overlap, links_tuple, make_dataset, target_norms, unit_vector
from htsweep.data.labels import Labels, resolve


class SpikeDirection(str, Enum):
    """q: a uniform unit vector, or the (first) teacher direction."""

    random = "random"
    beta = "beta"


class TargetNorm(str, Enum):
    """Divide beta^T x by nothing (``none``) or by its standard deviation (``std``)."""

    none = "none"
    std = "std"


@dataclass
class SpikedInputs(DataConfig):
    """Fields shared by the spiked sources (module docstring)."""

    n: int = 750
    n_test: int = 750
    d: int = 1000
    alpha: float = 0.0
    nu: float = 0.125
    zeta: Optional[float] = None
    q: SpikeDirection = SpikeDirection.random
    q_beta_overlap: Optional[float] = None
    label_noise_std: float = 1.0
    target_norm: TargetNorm = TargetNorm.none
    labels: Labels = Labels.auto

    def check(self) -> None:
        self.require(self.n >= 1, "n", f"must be an integer >= 1, got {self.n}")
        self.require(self.n_test >= 1, "n_test", f"must be an integer >= 1, got {self.n_test}")
        self.require(self.d >= 2, "d", f"must be an integer >= 2, got {self.d}")
        self.require(self.alpha >= 0, "alpha", f"must be >= 0 (bulk eigenvalues i^-alpha), got {self.alpha}")
        self.require(self.nu >= 0, "nu", f"must be >= 0 (zeta = n^nu), got {self.nu}")
        if self.zeta is not None:
            self.require(self.zeta > 0, "zeta", f"must be > 0 (or null for zeta = n^nu), got {self.zeta}")
        if self.q_beta_overlap is not None:
            rho = self.q_beta_overlap
            self.require(-1.0 <= rho <= 1.0, "q_beta_overlap", f"must be in [-1, 1] (a cosine), got {rho}")
            self.require(
                self.q is SpikeDirection.random or rho == 1.0,
                "q_beta_overlap",
                f"conflicts with q=beta (overlap 1); set q=random with an overlap, got {rho}",
            )
        self.require(
            self.label_noise_std >= 0, "label_noise_std", f"must be >= 0, got {self.label_noise_std}"
        )

    @property
    def resolved_zeta(self) -> float:
        return float(self.zeta) if self.zeta is not None else float(self.n) ** self.nu

    def teacher_links(self) -> Tuple[Activation, ...]:
        raise NotImplementedError


@dataclass
class SpikedConfig(SpikedInputs):
    """``data=spiked``: spiked inputs and a single-index teacher (module docstring)."""

    OPTION = "spiked"
    name: str = "spiked"
    teacher: Activation = Activation.sigmoid

    def teacher_links(self) -> Tuple[Activation, ...]:
        return (self.teacher,)


@dataclass
class MultiIndexConfig(SpikedInputs):
    """``data=multi_index``: spiked inputs and y = sum_k teachers[k](beta_k^T x) + noise."""

    OPTION = "multi_index"
    name: str = "multi_index"
    teachers: List[Activation] = field(
        default_factory=lambda: [Activation.sigmoid, Activation.tanh, Activation.relu]
    )

    def check(self) -> None:
        super().check()
        self.require(len(self.teachers) >= 1, "teachers", "must list at least one link")

    def teacher_links(self) -> Tuple[Activation, ...]:
        return links_tuple(self.teachers)


def spike_direction(cfg: SpikedInputs, beta: Tensor, seed: int) -> Tensor:
    """q of the module docstring (streams ``spike/q``)."""
    if cfg.q is SpikeDirection.beta:
        return beta.clone()
    if cfg.q_beta_overlap is not None:
        return at_overlap(beta, float(cfg.q_beta_overlap), seed, "spike/q")
    return unit_vector(cfg.d, seed, "spike/q")


def teacher_directions(d: int, k: int, seed: int) -> Tensor:
    """K independent uniform unit vectors (K x d): ``teacher`` for the first (the same beta as
    the single-index sources), ``teacher/<k>`` for the others."""
    rows = [unit_vector(d, seed, "teacher" if i == 0 else f"teacher/{i}") for i in range(k)]
    return torch.stack(rows)


def make(cfg: SpikedInputs, seed: int, loss_name: str = "mse") -> Dataset:
    """Teacher, law and the three splits (float64, CPU); a function of (cfg, seed, labels)."""
    links = cfg.teacher_links()
    betas = teacher_directions(cfg.d, len(links), seed)
    bulk = torch.arange(1, cfg.d + 1, dtype=torch.float64).pow(-cfg.alpha)
    law = GaussianLaw(bulk_var=bulk, q=spike_direction(cfg, betas[0], seed), zeta=cfg.resolved_zeta)
    norms = target_norms(law, betas, cfg.target_norm is TargetNorm.std)
    teacher = Teacher(links=links, betas=betas, norms=norms)
    sizes = {"train": cfg.n, "holdout": cfg.n, "test": cfg.n_test}
    return make_dataset(law, teacher, resolve(cfg.labels, loss_name), cfg.label_noise_std, sizes, seed)
