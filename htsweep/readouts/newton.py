"""The backtracking line search of the Newton readouts (logistic, squared hinge)."""

from __future__ import annotations

from typing import Callable, Tuple

import torch
from torch import Tensor

ARMIJO = 1e-4  # sufficient-decrease constant
MAX_HALVINGS = 60
# J may rise by this much (relative) from rounding alone: near the minimum a Newton step changes
# J below its last bit, and the full step is then accepted.
ROUNDING_SLACK = 1e-13


def backtrack(objective: Callable[[Tensor], float], a: Tensor, value: float, slope: float,
              direction: Tensor) -> Tuple[Tensor, float, float]:  # fmt: skip
    """(a + t d, t, J(a + t d)) for the largest t in {1, 1/2, 1/4, ...} with Armijo's decrease
    J(a + t d) <= J(a) + ARMIJO t g^T d (``slope`` = g^T d < 0), up to rounding; (a, 0, J(a))
    when no t of MAX_HALVINGS halvings decreases J."""
    slack = ROUNDING_SLACK * (1.0 + abs(value))
    t = 1.0
    for _ in range(MAX_HALVINGS):
        trial = torch.add(a, direction, alpha=t)
        trial_value = objective(trial)
        if trial_value <= value + ARMIJO * t * slope + slack:
            return trial, t, trial_value
        t *= 0.5
    return a, 0.0, value
