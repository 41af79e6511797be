"""What every data source provides: three splits and, for synthetic data, the teacher.

* ``train`` drives stage 1 (the updates of the weights);
* ``holdout`` is the hold-out set of the stage-2 readout (eq. 6) and of the kernel-target
  alignment (eq. 7) - the paper's "probe" set, renamed because a probe is a measurement here;
* ``test`` gives the test loss.

Splits hold ``X`` (m, ...) and ``y`` (m,); a teacher-student source also exposes the teacher
direction ``beta`` (unit norm); real data has ``beta=None`` and the probes that need a teacher
are skipped, by rule and with the reason in run.json.

A source with Gaussian inputs states their law (:class:`GaussianLaw`: a diagonal bulk plus an
optional rank-one spike, x = x_B + zeta z q) and keeps each sample's latent spike coordinate z
on its split, so the gradient decomposition (htsweep.probes.alignment) can split X into its
bulk X_B = X - zeta z q^T and spike parts, and integrate over the known law exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

from htsweep.schema import OptionConfig


@dataclass
class DataConfig(OptionConfig):
    """Base of the ``data`` group's options."""

    GROUP = "data"


@dataclass(frozen=True)
class Split:
    X: Tensor  # (m, d)
    y: Tensor  # (m,)
    z: Optional[Tensor] = None  # (m,) latent spike coordinate (GaussianLaw), float64, CPU

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    def to(self, device: torch.device, dtype: torch.dtype) -> "Split":
        """X and y on ``device`` in ``dtype``; the latent z stays float64 on the CPU (probes
        move what they use)."""
        return Split(self.X.to(device=device, dtype=dtype), self.y.to(device=device, dtype=dtype), self.z)


@dataclass(frozen=True)
class GaussianLaw:
    """x = x_B + zeta z q with x_B ~ N(0, diag(bulk_var)), z ~ N(0, 1) independent of x_B and
    q a unit vector: x ~ N(0, Sigma), Sigma = diag(bulk_var) + zeta^2 q q^T (seed 001's
    ``gen_data``; seed 003's spiked covariance I + kappa mu mu^T is bulk_var = 1, zeta^2 = kappa,
    q = mu).  ``q`` is None (and ``zeta`` 0) for an unspiked law.  float64, CPU."""

    bulk_var: Tensor  # (d,)
    q: Optional[Tensor] = None  # (d,), unit norm
    zeta: float = 0.0

    @property
    def d(self) -> int:
        return int(self.bulk_var.numel())

    def quadratic_form(self, W: Tensor) -> Tensor:
        """w_j^T Sigma w_j for every row w_j of W (h x d): the variance of w_j^T x.  O(h d)."""
        W64 = W.to(torch.float64)
        out = (W64 * W64) @ self.bulk_var.to(W64.device)
        if self.q is not None and self.zeta != 0.0:
            out = out + (self.zeta * (W64 @ self.q.to(W64.device))) ** 2
        return out

    def covariance(self) -> Tensor:
        """Sigma (d x d); for references and small problems (the probes use quadratic_form)."""
        sigma = torch.diag(self.bulk_var)
        if self.q is not None:
            sigma = sigma + self.zeta**2 * torch.outer(self.q, self.q)
        return sigma


@dataclass(frozen=True)
class Dataset:
    train: Split
    holdout: Split
    test: Split
    beta: Optional[Tensor] = None  # (d,) teacher direction, None for real data
    law: Optional[GaussianLaw] = None  # the input law when it is a known Gaussian
    betas: Optional[Tensor] = None  # (K, d) every teacher direction of a multi-index target
    num_classes: Optional[int] = None  # classes of an image source (labels 0 .. C-1), else None

    @property
    def d(self) -> int:
        """Input dimension (features per sample)."""
        return int(self.train.X[0].numel())

    @property
    def input_shape(self) -> Tuple[int, ...]:
        """The shape of one sample: (C, H, W) for images, (d,) for vectors."""
        return tuple(int(s) for s in self.train.X.shape[1:])

    def to(self, device: torch.device, dtype: torch.dtype) -> "Dataset":
        beta = None if self.beta is None else self.beta.to(device=device, dtype=dtype)
        return Dataset(
            train=self.train.to(device, dtype),
            holdout=self.holdout.to(device, dtype),
            test=self.test.to(device, dtype),
            beta=beta,
            law=self.law,
            betas=self.betas,
            num_classes=self.num_classes,
        )
