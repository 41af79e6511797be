"""Perturbations: something added to the iterates after the update and the constraint
(e.g. injected noise), in place.

``make(cfg, model, seed)`` binds a perturbation to a model and the run's seed;
``apply_(params, t, lr)`` perturbs the iterate W_{t+1} produced by update t (made at step size
``lr``) and returns what it added, keyed by matrix name (``model.matrices``; empty: nothing),
so the loop can record the update with and without the noise.  Randomness must come
from a per-step named stream (``htsweep.seeding.generator(seed, f"noise/{t}")``), never from a
generator that carries state across steps, so a resumed run draws the same numbers as an
uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from htsweep.models.base import Params
from htsweep.schema import OptionConfig


@dataclass
class PerturbationConfig(OptionConfig):
    """Base of the ``noise`` group's options."""

    GROUP = "noise"


class Perturbation(Protocol):
    def apply_(self, params: Params, t: int, lr: float) -> Params:
        """Perturb ``params`` in place after update ``t`` at step size ``lr``; return the
        added noise per matrix name (the matrices' shapes), {} when nothing was added."""


@dataclass
class NoNoiseConfig(PerturbationConfig):
    """No perturbation."""

    OPTION = "none"
    name: str = "none"


class NoNoise:
    def apply_(self, params: Params, t: int, lr: float) -> Params:
        return {}
