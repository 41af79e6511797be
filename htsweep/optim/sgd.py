"""Minibatch SGD (``optimizer=sgd``): M_t = -lr G_t(B_t), the gradient of the mean loss on the
minibatch B_t, as in the heavy-tailed-noise source (seed 002: ``optim.SGD`` without momentum,
``--batch_size_train``), to contrast gradient noise with full-batch training.

Step t uses batch ``t mod K`` of epoch ``t // K``, K = ceil(n / batch_size) batches per epoch
(the last one smaller when batch_size does not divide n, as a DataLoader without
``drop_last``); every epoch reshuffles the training set with the seed stream
``sgd/epoch/<e>`` (:class:`Batches`), so a resumed run draws the same batches and every point
of a sweep with one seed sees the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from htsweep.data.base import Split
from htsweep.models.base import Params
from htsweep.optim.base import OptimizerConfig, OptState
from htsweep.seeding import generator


@dataclass
class SGDConfig(OptimizerConfig):
    """``batch_size`` samples per step (1 <= batch_size <= data.n)."""

    OPTION = "sgd"
    name: str = "sgd"
    batch_size: int = 100

    def check(self) -> None:
        self.require(self.batch_size >= 1, "batch_size", f"must be an integer >= 1, got {self.batch_size}")


class SGD:
    def __init__(self, cfg: SGDConfig) -> None:
        self.batch_size = int(cfg.batch_size)

    def init(self, params: Params, names: Sequence[str]) -> OptState:
        return {}

    def update(self, grads: Params, state: OptState, lr: float) -> Params:
        return {name: G.mul(-lr) for name, G in grads.items()}


class Batches:
    """The minibatch of each step: seeded reshuffles every epoch (module docstring)."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.per_epoch = math.ceil(self.n / self.batch_size)
        self._cached: Optional[Tuple[int, Tensor]] = None

    def permutation(self, epoch: int) -> Tensor:
        if self._cached is None or self._cached[0] != epoch:
            perm = torch.randperm(self.n, generator=generator(self.seed, f"sgd/epoch/{epoch}"))
            self._cached = (epoch, perm)
        return self._cached[1]

    def indices(self, t: int) -> Tensor:
        """Indices (CPU, int64) of step t's minibatch."""
        epoch, k = divmod(int(t), self.per_epoch)
        return self.permutation(epoch)[k * self.batch_size : (k + 1) * self.batch_size]

    def split(self, train: Split, t: int) -> Split:
        idx = self.indices(t)
        z = None if train.z is None else train.z[idx]
        dev_idx = idx.to(train.X.device)
        return Split(train.X[dev_idx], train.y[dev_idx], z)

    def epoch(self, t: int) -> float:
        """Epochs completed after t steps (fractional)."""
        return t / self.per_epoch


def batches_for(cfg: OptimizerConfig, n: int, seed: int) -> Optional[Batches]:
    """The minibatch schedule of an optimiser with a ``batch_size`` (None: full batch)."""
    size = getattr(cfg, "batch_size", None)
    return None if size is None else Batches(n, size, seed)


__all__ = ["Batches", "SGD", "SGDConfig", "batches_for"]
