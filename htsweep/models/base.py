"""What the training loop and the probes need from a model.

Parameters are a dict of named tensors (:data:`Params`).  A model says which of them are
trained, computes the loss and its gradient on a split for a given :class:`~htsweep.losses.Loss`,
names the 2-D matrices the spectral probes analyse (``matrices``) with the entry scale of each
one's initial law (``init_std``, for the Marchenko-Pastur reference), and, when it has a
hidden-feature map, gives the features a readout is fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Protocol, Tuple

from torch import Tensor

from htsweep.data.base import Split
from htsweep.losses import Loss
from htsweep.schema import OptionConfig

Params = Dict[str, Tensor]


@dataclass
class ModelConfig(OptionConfig):
    """Base of the ``model`` group's options."""

    GROUP = "model"


class Model(Protocol):
    trained: Tuple[str, ...]  # names of the parameters the optimiser updates
    # hidden layers by matrix name (keys of ``matrices``; not the output layer or a fixed
    # readout): what injected noise perturbs and the compressibility probe prunes, rows = neurons
    hidden: Tuple[str, ...]

    def init(self, seed: int) -> Params:
        """Initial parameters (float64, CPU), a function of the architecture and ``seed``."""

    def loss(self, params: Params, split: Split, loss: Loss) -> Tensor:
        """The mean training loss on ``split`` (forward pass only)."""

    def loss_and_grad(self, params: Params, split: Split, loss: Loss) -> Tuple[Tensor, Params]:
        """The mean loss on ``split`` and its gradient for every trained parameter."""

    def matrices(self, params: Params) -> Dict[str, Tensor]:
        """The named 2-D matrices the spectral probes analyse (the ``layer`` column)."""

    def init_std(self, name: str) -> float:
        """Entry standard deviation of matrix ``name``'s i.i.d. initial law."""

    def features(self, params: Params, X: Tensor, extra_scale: float = 1.0) -> Optional[Tensor]:
        """Hidden features a readout is fitted on (m x h), or None when the model has none."""
