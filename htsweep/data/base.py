"""What every data source provides: three splits and, for synthetic data, the teacher.

* ``train`` drives stage 1 (the updates of the weights);
* ``holdout`` is the hold-out set of the stage-2 readout (eq. 6) and of the kernel-target
  alignment (eq. 7) - the paper's "probe" set, renamed because a probe is a measurement here;
* ``test`` gives the test loss.

Splits hold ``X`` (m, ...) and ``y`` (m,); a teacher-student source also exposes the teacher
direction ``beta`` (unit norm); real data has ``beta=None`` and the probes that need a teacher
are skipped, by rule and with the reason in run.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    def to(self, device: torch.device, dtype: torch.dtype) -> "Split":
        return Split(self.X.to(device=device, dtype=dtype), self.y.to(device=device, dtype=dtype))


@dataclass(frozen=True)
class Dataset:
    train: Split
    holdout: Split
    test: Split
    beta: Optional[Tensor] = None  # (d,) teacher direction, None for real data

    @property
    def d(self) -> int:
        """Input dimension (features per sample)."""
        return int(self.train.X[0].numel())

    def to(self, device: torch.device, dtype: torch.dtype) -> "Dataset":
        beta = None if self.beta is None else self.beta.to(device=device, dtype=dtype)
        return Dataset(
            train=self.train.to(device, dtype),
            holdout=self.holdout.to(device, dtype),
            test=self.test.to(device, dtype),
            beta=beta,
        )
