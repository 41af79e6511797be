"""TrainState round trip: a checkpoint is a faithful, independent copy of the state."""

from __future__ import annotations

import math

import torch

from htsweep.state import TrainState


def _state():
    g = torch.Generator().manual_seed(0)
    params = {"W": torch.randn(4, 3, generator=g), "a": torch.randn(4, generator=g)}
    opt = {"t": 2, "m/W": torch.randn(4, 3, generator=g), "v/W": torch.rand(4, 3, generator=g)}
    return TrainState(params=params, opt_state=opt, update={"W": torch.randn(4, 3, generator=g)}, t=2, lr=0.25)


def test_round_trip_is_exact_and_typed():
    s = _state()
    back = TrainState.from_state_dict(s.state_dict(), torch.device("cpu"), torch.float64)
    assert back.t == 2 and back.lr == 0.25 and back.opt_state["t"] == 2
    for key in ("W", "a"):
        assert back.params[key].dtype == torch.float64
        assert torch.equal(back.params[key], s.params[key].double())
    assert torch.equal(back.opt_state["m/W"], s.opt_state["m/W"].double())
    assert torch.equal(back.update["W"], s.update["W"].double())


def test_state_dict_is_a_copy():
    s = _state()
    saved = s.state_dict()
    s.params["W"].add_(1.0)
    s.opt_state["m/W"].mul_(0)
    assert not torch.equal(saved["params"]["W"], s.params["W"])
    assert saved["opt_state"]["m/W"].abs().sum() > 0


def test_initial_state_has_no_update():
    s = TrainState(params={"W": torch.zeros(2, 2)}, opt_state={})
    d = s.state_dict()
    assert d["update"] is None and d["t"] == 0 and math.isnan(d["lr"])
    assert TrainState.from_state_dict(d, torch.device("cpu"), torch.float32).update is None
