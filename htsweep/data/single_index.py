"""Teacher and data sets of the single-index model, eq. (1) of Sec. 3.

x ~ N(0, I_d), y = sigma_*(beta^T x) + xi with beta uniform on the unit sphere S^{d-1} and
xi ~ N(0, label_noise_std^2).  Train (n), hold-out (n) and test (n_test) sets are drawn from
their own named seed streams by the shared Gaussian sampler (htsweep.data.gaussian).  With a
classification loss the labels follow it (``labels``, htsweep.data.labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from htsweep.activations import Activation
from htsweep.data.base import DataConfig, Dataset, GaussianLaw
from htsweep.data.gaussian import Teacher, make_dataset, unit_vector
from htsweep.data.labels import Labels, resolve


@dataclass
class SingleIndexConfig(DataConfig):
    """Eq. (1): ``n`` train and hold-out points, ``n_test`` test points in ``d`` dimensions,
    teacher link ``teacher`` (sigma_*), label noise std ``label_noise_std`` (rho_e), label kind
    ``labels`` (auto: the training loss's own, htsweep.data.labels)."""

    OPTION = "single_index"
    name: str = "single_index"
    n: int = 2000
    n_test: int = 200
    d: int = 1000
    teacher: Activation = Activation.softplus
    label_noise_std: float = 0.3
    labels: Labels = Labels.auto

    def check(self) -> None:
        self.require(self.n >= 1, "n", f"must be an integer >= 1, got {self.n}")
        self.require(self.n_test >= 1, "n_test", f"must be an integer >= 1, got {self.n_test}")
        self.require(self.d >= 1, "d", f"must be an integer >= 1, got {self.d}")
        self.require(
            self.label_noise_std >= 0, "label_noise_std", f"must be >= 0, got {self.label_noise_std}"
        )

    def teacher_links(self):
        return (self.teacher,)


def sample_teacher(d: int, seed: int) -> Tensor:
    """beta uniform on S^{d-1}: a normalised standard Gaussian vector (float64, CPU)."""
    return unit_vector(d, seed, "teacher")


def make(cfg: SingleIndexConfig, seed: int, loss_name: str = "mse") -> Dataset:
    """Teacher and the three data sets, in float64 on the CPU; a function of (cfg, seed) and
    the label kind only."""
    beta = sample_teacher(cfg.d, seed)
    law = GaussianLaw(bulk_var=torch.ones(cfg.d, dtype=torch.float64))
    teacher = Teacher(links=(cfg.teacher,), betas=beta.unsqueeze(0), norms=(1.0,))
    sizes = {"train": cfg.n, "holdout": cfg.n, "test": cfg.n_test}
    return make_dataset(law, teacher, resolve(cfg.labels, loss_name), cfg.label_noise_std, sizes, seed)
