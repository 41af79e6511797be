"""Small configurations of the paper's setting, built from the real YAML through Hydra's
compose API (so the YAML defaults are what the tests run)."""

from __future__ import annotations

import signal
from typing import Optional, Sequence

from omegaconf import DictConfig

from htsweep.config import Config, compose, task_node, to_spec

# The paper's setting scaled down: n=300, d=60, h=90, float64, 3 steps, on the CPU.
SMALL = (
    "data.n=300",
    "data.d=60",
    "data.n_test=100",
    "model.h=90",
    "steps=3",
    "dtype=float64",
    "progress=false",
    "device=cpu",
)


def small_node(*overrides: str) -> DictConfig:
    """The task node (composed, smoke applied) of SMALL + ``overrides``."""
    return task_node(compose([*SMALL, *overrides]))


def small_spec(*overrides: str) -> Config:
    """The validated Config of SMALL + ``overrides`` (later overrides win)."""
    return to_spec(small_node(*overrides))


def spec(overrides: Sequence[str] = ()) -> Config:
    """The validated Config of the default run + ``overrides``."""
    return to_spec(task_node(compose(list(overrides))))


class StopAfter:
    """Stands in for htsweep.resume.StopSignals: reports SIGTERM from the k-th poll on."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    @property
    def signum(self) -> Optional[signal.Signals]:
        self.polls -= 1
        return signal.SIGTERM if self.polls < 0 else None
