"""Constraints (the ``weight_norm`` group), one module per option, registered here.

To add one: ``htsweep/optim/constraints/<name>.py`` with a :class:`ConstraintConfig` schema and
a class with ``project_(params)``; an entry in :data:`CONSTRAINTS`; and
``htsweep/conf/weight_norm/<name>.yaml`` selecting the schema.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.models.base import Model
from htsweep.schema import lookup
from htsweep.optim.constraints import frobenius
from htsweep.optim.constraints.base import Constraint, ConstraintConfig, NoConstraint, NoConstraintConfig


class ConstraintEntry(NamedTuple):
    schema: Type[ConstraintConfig]
    build: Callable[[ConstraintConfig, Model], Constraint]


CONSTRAINTS: Dict[str, ConstraintEntry] = {
    "none": ConstraintEntry(NoConstraintConfig, lambda cfg, model: NoConstraint()),
    "frobenius": ConstraintEntry(frobenius.FrobeniusConfig, frobenius.Frobenius),
}


def make_constraint(cfg: ConstraintConfig, model: Model) -> Constraint:
    return lookup(CONSTRAINTS, cfg.name, "weight_norm").build(cfg, model)


__all__ = ["CONSTRAINTS", "Constraint", "ConstraintConfig", "ConstraintEntry", "make_constraint"]
