"""Learning-rate schedules: lr_t of update t (t = 0 is the first update).

``constant``: lr_t = lr.  ``step``: lr_t = lr gamma^floor(t / step_size), torch's StepLR
stepped after every update (App. F.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from htsweep.schema import OptionConfig


@dataclass
class ScheduleConfig(OptionConfig):
    """Base of the ``lr_schedule`` group's options."""

    GROUP = "lr_schedule"


class Schedule(Protocol):
    def lr(self, base_lr: float, t: int) -> float:
        """Learning rate of update t."""


@dataclass
class ConstantConfig(ScheduleConfig):
    """lr_t = lr at every update."""

    OPTION = "constant"
    name: str = "constant"


class Constant:
    def __init__(self, cfg: ConstantConfig) -> None:
        del cfg

    def lr(self, base_lr: float, t: int) -> float:
        return base_lr


@dataclass
class StepConfig(ScheduleConfig):
    """StepLR: multiply lr by ``gamma`` every ``step_size`` updates (App. F.4 uses gamma in
    {0.2, 0.4, 0.6, 0.8} with step_size 1)."""

    OPTION = "step"
    name: str = "step"
    step_size: int = 1
    gamma: float = 0.5

    def check(self) -> None:
        self.require(self.step_size >= 1, "step_size", f"must be an integer >= 1, got {self.step_size}")
        self.require(self.gamma > 0, "gamma", f"must be > 0, got {self.gamma}")


class StepLR:
    def __init__(self, cfg: StepConfig) -> None:
        self.step_size = cfg.step_size
        self.gamma = cfg.gamma

    def lr(self, base_lr: float, t: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)
