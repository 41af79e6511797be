"""The error a bad configuration value raises: ``str()`` is one line naming the field."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value outside its allowed range, e.g. ``lr: must be > 0, got -1.0``."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
