"""The jobs of a Hydra ``-m`` sweep, expanded as Hydra's basic sweeper expands them, with
Hydra's public override parser only.

The basic sweeper takes ``hydra.sweeper.params`` (``key: a,b,c`` entries, in order) followed
by the command-line overrides; a later override of the same key replaces an earlier one; the
jobs are the cartesian product of the value lists, the last key varying fastest, numbered
from 0 in that order (``hydra.job.num``).
"""

from __future__ import annotations

import itertools
from typing import Dict, List, Mapping, Optional, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser


def sweep_arguments(params: Optional[Mapping[str, object]], overrides: Sequence[str]) -> List[str]:
    """``hydra.sweeper.params`` as ``key=value`` strings, then the command-line overrides."""
    out = [f"{k}={v}" for k, v in (params or {}).items()]
    return out + [str(o) for o in overrides]


def expand_jobs(arguments: Sequence[str]) -> List[List[str]]:
    """Every job's override list, in job-number order.

    Raises ``hydra.errors.OverrideParseException`` for an override Hydra cannot parse and
    ValueError for a sweep the basic sweeper cannot expand (ranges without a step, intervals)."""
    parsed = OverridesParser.create().parse_overrides(list(arguments))
    final: Dict[str, List[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ValueError(f"{key}: the basic sweeper cannot expand a {override.value_type.name} sweep")
            final[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            final[key] = [f"{key}={override.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*final.values())]
