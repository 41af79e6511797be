"""Constraints (the ``weight_norm`` group), one module per option, registered here.

To add one: ``htsweep/optim/constraints/<name>.py`` with a :class:`ConstraintConfig` schema and
a class with ``project_(params)`` (and ``at_init = True`` when W_0 starts on the constraint set);
an entry in :data:`CONSTRAINTS`; and
``htsweep/conf/weight_norm/<name>.yaml`` selecting the schema.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.data.base import Dataset
from htsweep.models.base import Model
from htsweep.schema import lookup
from htsweep.optim.constraints import frobenius, rows
from htsweep.optim.constraints.base import Constraint, ConstraintConfig, NoConstraint, NoConstraintConfig


class ConstraintEntry(NamedTuple):
    schema: Type[ConstraintConfig]
    build: Callable[[ConstraintConfig, Model, Dataset], Constraint]


CONSTRAINTS: Dict[str, ConstraintEntry] = {
    "none": ConstraintEntry(NoConstraintConfig, lambda cfg, model, data: NoConstraint()),
    "frobenius": ConstraintEntry(frobenius.FrobeniusConfig, lambda cfg, model, data: frobenius.Frobenius(cfg, model)),
    "rows": ConstraintEntry(rows.RowsConfig, rows.Rows),
    "sigma_rows": ConstraintEntry(rows.SigmaRowsConfig, rows.SigmaRows),
}


def make_constraint(cfg: ConstraintConfig, model: Model, data: Dataset) -> Constraint:
    return lookup(CONSTRAINTS, cfg.name, "weight_norm").build(cfg, model, data)


__all__ = ["CONSTRAINTS", "Constraint", "ConstraintConfig", "ConstraintEntry", "make_constraint"]
