"""The training state: everything the loop needs to continue from step t.

W_t and the fixed parameters (``params``), the optimiser state, the last update M_{t-1}
(``update``; the probes measure it) and the noise injected after it (``noise``), the step t and lr_{t-1}, the learning rate of the update
that produced W_t (the ``lr_t`` column).  :meth:`TrainState.state_dict` holds CPU tensors and
plain numbers only, so a checkpoint is a function of the state and nothing global (no RNG
state: every random draw comes from a named seed stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch
from torch import Tensor

from htsweep.models.base import Params
from htsweep.optim.base import OptState


def _map_tensors(tree: Any, fn: Any) -> Any:
    if isinstance(tree, Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: _map_tensors(v, fn) for k, v in tree.items()}
    return tree


@dataclass
class TrainState:
    params: Params
    opt_state: OptState
    update: Optional[Params] = None
    t: int = 0
    lr: float = math.nan
    noise: Optional[Params] = None  # the noise N_{t-1} added after the last update, by matrix name

    def state_dict(self) -> Dict[str, Any]:
        """A CPU copy of the state (tensors cloned, so later in-place steps do not reach it)."""
        to_cpu = lambda x: x.detach().to("cpu", copy=True)  # noqa: E731
        return {
            "params": _map_tensors(self.params, to_cpu),
            "opt_state": _map_tensors(self.opt_state, to_cpu),
            "update": None if self.update is None else _map_tensors(self.update, to_cpu),
            "t": self.t,
            "lr": self.lr,
            "noise": None if self.noise is None else _map_tensors(self.noise, to_cpu),
        }

    @classmethod
    def from_state_dict(
        cls, state: Dict[str, Any], device: torch.device, dtype: torch.dtype
    ) -> "TrainState":
        move = lambda x: x.to(device=device, dtype=dtype) if x.is_floating_point() else x.to(device)  # noqa: E731
        update, noise = state.get("update"), state.get("noise")
        return cls(
            params=_map_tensors(state["params"], move),
            opt_state=_map_tensors(state["opt_state"], move),
            update=None if update is None else _map_tensors(update, move),
            t=int(state["t"]),
            lr=float(state["lr"]),
            noise=None if noise is None else _map_tensors(noise, move),
        )
