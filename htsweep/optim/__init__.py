"""Optimisers, learning-rate schedules, constraints and perturbations: everything between a
gradient and the next iterate.  Optimisers and schedules are registered here by option name;
constraints and perturbations in their subpackages.  To add an optimiser: a module with its
:class:`OptimizerConfig` schema and a class with ``init`` / ``update``, an entry in
:data:`OPTIMIZERS`, and ``htsweep/conf/optimizer/<name>.yaml``.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.optim import adam, gd, null, schedules, sgd
from htsweep.optim.base import Optimizer, OptimizerConfig, OptState
from htsweep.optim.constraints import CONSTRAINTS, Constraint, ConstraintConfig, make_constraint
from htsweep.optim.perturbations import PERTURBATIONS, Perturbation, PerturbationConfig, make_perturbation
from htsweep.optim.schedules import Schedule, ScheduleConfig
from htsweep.schema import lookup


class OptimizerEntry(NamedTuple):
    schema: Type[OptimizerConfig]
    build: Callable[[OptimizerConfig], Optimizer]


class ScheduleEntry(NamedTuple):
    schema: Type[ScheduleConfig]
    build: Callable[[ScheduleConfig], Schedule]


OPTIMIZERS: Dict[str, OptimizerEntry] = {
    "gd": OptimizerEntry(gd.GDConfig, gd.GD),
    "adam": OptimizerEntry(adam.AdamConfig, adam.FBAdam),
    "sgd": OptimizerEntry(sgd.SGDConfig, sgd.SGD),
    "none": OptimizerEntry(null.NullConfig, null.Null),
}
SCHEDULES: Dict[str, ScheduleEntry] = {
    "constant": ScheduleEntry(schedules.ConstantConfig, schedules.Constant),
    "step": ScheduleEntry(schedules.StepConfig, schedules.StepLR),
}


def make_optimizer(cfg: OptimizerConfig) -> Optimizer:
    return lookup(OPTIMIZERS, cfg.name, "optimizer").build(cfg)


def make_schedule(cfg: ScheduleConfig) -> Schedule:
    return lookup(SCHEDULES, cfg.name, "lr_schedule").build(cfg)


__all__ = [
    "CONSTRAINTS",
    "Constraint",
    "ConstraintConfig",
    "OPTIMIZERS",
    "OptState",
    "Optimizer",
    "OptimizerConfig",
    "PERTURBATIONS",
    "Perturbation",
    "PerturbationConfig",
    "SCHEDULES",
    "Schedule",
    "ScheduleConfig",
    "make_constraint",
    "make_optimizer",
    "make_perturbation",
    "make_schedule",
]
