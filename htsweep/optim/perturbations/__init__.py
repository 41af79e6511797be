"""Perturbations (the ``noise`` group), one module per option, registered here.

To add one: ``htsweep/optim/perturbations/<name>.py`` with a :class:`PerturbationConfig`
schema and a class with ``apply_(params, t, lr)`` (returning the added noise) drawing from
per-step seed streams; an entry in :data:`PERTURBATIONS`; and ``htsweep/conf/noise/<name>.yaml``
selecting the schema.  ``alpha_stable``: heavy-tailed iterate noise (Wan et al., ICML 2024).
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.models.base import Model
from htsweep.schema import lookup
from htsweep.optim.perturbations import alpha_stable
from htsweep.optim.perturbations.base import NoNoise, NoNoiseConfig, Perturbation, PerturbationConfig


class PerturbationEntry(NamedTuple):
    schema: Type[PerturbationConfig]
    build: Callable[[PerturbationConfig, Model, int], Perturbation]


PERTURBATIONS: Dict[str, PerturbationEntry] = {
    "none": PerturbationEntry(NoNoiseConfig, lambda cfg, model, seed: NoNoise()),
    "alpha_stable": PerturbationEntry(alpha_stable.AlphaStableConfig, alpha_stable.AlphaStable),
}


def make_perturbation(cfg: PerturbationConfig, model: Model, seed: int) -> Perturbation:
    return lookup(PERTURBATIONS, cfg.name, "noise").build(cfg, model, seed)


__all__ = ["PERTURBATIONS", "Perturbation", "PerturbationConfig", "PerturbationEntry", "make_perturbation"]
