"""Constraints: a projection of the iterates applied after every update, in place.

``make(cfg, model)`` binds a constraint to a model (it may need the initial law's scale);
``project_(params)`` projects the analysed matrices of ``params``.  The update M_t the probes
see is the optimiser's, before the projection (README, ``update_*`` columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from htsweep.models.base import Params
from htsweep.schema import OptionConfig


@dataclass
class ConstraintConfig(OptionConfig):
    """Base of the ``weight_norm`` group's options."""

    GROUP = "weight_norm"


class Constraint(Protocol):
    def project_(self, params: Params) -> None:
        """Project ``params`` onto the constraint set, in place."""


@dataclass
class NoConstraintConfig(ConstraintConfig):
    """No constraint: the iterates are the optimiser's."""

    OPTION = "none"
    name: str = "none"


class NoConstraint:
    def project_(self, params: Params) -> None:
        return None
