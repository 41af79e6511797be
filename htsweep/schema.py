"""Base class of every config-group option schema (data, model, loss, optimizer, ...).

Each option of a Hydra config group is a dataclass deriving from its group's base, stored in
Hydra's ConfigStore as ``<option>_schema`` in that group (see :mod:`htsweep.config`), with a
``name`` field naming the option.  Defaults live in the dataclass only; the option's YAML file
just selects the schema.  Value checks run in ``__post_init__`` through :meth:`require`, so a
bad value fails at start-up with one line naming ``<group>.<field>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar, Mapping, TypeVar

from htsweep.errors import ConfigError


@dataclass
class OptionConfig:
    """An option of config group ``GROUP``; ``name`` must equal ``OPTION``."""

    GROUP: ClassVar[str] = ""
    OPTION: ClassVar[str] = ""
    name: str = ""

    def __post_init__(self) -> None:
        if self.name != self.OPTION:
            raise ConfigError(
                f"{self.GROUP}.name",
                f"is {self.name!r} but the selected option is {self.OPTION!r}; "
                f"choose an option with {self.GROUP}={self.name}",
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{self.GROUP}.{f.name}", f"must be a finite number, got {value}")
        self.check()

    def check(self) -> None:
        """Range checks of the option's own fields (override; use :meth:`require`)."""

    def require(self, ok: bool, field_name: str, message: str) -> None:
        if not ok:
            raise ConfigError(f"{self.GROUP}.{field_name}", message)


T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, group: str) -> T:
    """``registry[name]``, or a ValueError naming the group and the allowed options (an
    unknown option is an error, never a silent default)."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"{group}: unknown option {name!r}; allowed: {', '.join(registry)}") from None
