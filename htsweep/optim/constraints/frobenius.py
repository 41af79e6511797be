"""Frobenius weight normalisation of App. F.4: after every update

    W <- W sqrt(h d) sigma_W / ||W||_F,

sigma_W the entry scale of W_0's law (1 for ntk, 1/sqrt(d) for mean_field), so ||W||_F keeps
its expected value at initialisation (to leading order) for every analysed matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from htsweep.models.base import Model, Params
from htsweep.optim.constraints.base import ConstraintConfig


@dataclass
class FrobeniusConfig(ConstraintConfig):
    """||W||_F fixed at sqrt(rows cols) sigma_W after every update."""

    OPTION = "frobenius"
    name: str = "frobenius"


def frobenius_target(rows: int, cols: int, init_std: float) -> float:
    """sqrt(rows cols) * init_std: E||W_0||_F to leading order."""
    return math.sqrt(rows * cols) * init_std


class Frobenius:
    def __init__(self, cfg: FrobeniusConfig, model: Model) -> None:
        del cfg
        self.model = model

    def project_(self, params: Params) -> None:
        for name, W in self.model.matrices(params).items():
            target = frobenius_target(W.shape[-2], W.shape[-1], self.model.init_std(name))
            W.mul_(target / torch.linalg.matrix_norm(W, "fro", keepdim=True))
