"""Full-batch gradient descent, eq. (3): M_t = -lr G_t."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from htsweep.models.base import Params
from htsweep.optim.base import OptimizerConfig, OptState


@dataclass
class GDConfig(OptimizerConfig):
    """Full-batch GD (no options)."""

    OPTION = "gd"
    name: str = "gd"


class GD:
    def __init__(self, cfg: GDConfig) -> None:
        del cfg

    def init(self, params: Params, names: Sequence[str]) -> OptState:
        return {}

    def update(self, grads: Params, state: OptState, lr: float) -> Params:
        return {name: G.mul(-lr) for name, G in grads.items()}
