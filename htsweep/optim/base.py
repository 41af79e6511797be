"""The optimiser interface: a stateless rule over an explicit state.

``init(params, names)`` makes the state for the trained parameters ``names``;
``update(grads, state, lr)`` advances the state in place and returns the update M_t of every
trained parameter, W_{t+1} = W_t + M_t (App. C, eq. 35), which the loop applies and the probes
measure.  The state is a flat dict of tensors and numbers, so it round-trips through
:class:`htsweep.state.TrainState` and a checkpoint unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Protocol, Sequence

from htsweep.models.base import Params
from htsweep.schema import OptionConfig

OptState = Dict[str, Any]


class LrScaling(str, Enum):
    """``none``: the step size is ``lr``.  ``inverse_gamma``: lr / gamma with gamma the model's
    output scale relative to eq. (2)'s 1/sqrt(h) (htsweep.models.two_layer: 1 under ntk,
    1/sqrt(h) under mf), seed 001's ``W -= lr / gamma * W.grad``."""

    none = "none"
    inverse_gamma = "inverse_gamma"


@dataclass
class OptimizerConfig(OptionConfig):
    """Base of the ``optimizer`` group's options; ``lr_scaling`` applies to every optimiser."""

    GROUP = "optimizer"
    lr_scaling: LrScaling = LrScaling.none


class Optimizer(Protocol):
    def init(self, params: Params, names: Sequence[str]) -> OptState:
        """The state before the first update."""

    def update(self, grads: Params, state: OptState, lr: float) -> Params:
        """M_t for every parameter in ``grads`` at learning rate ``lr``; ``state`` advances."""
