"""Learning-rate schedules against torch's StepLR."""

from __future__ import annotations

import pytest
import torch

from htsweep.optim import make_schedule
from htsweep.optim.schedules import ConstantConfig, StepConfig


def test_step_schedule_matches_torch_steplr():
    sched_ours = make_schedule(StepConfig(step_size=2, gamma=0.6))
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=3.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.6)
    for t in range(9):
        assert sched_ours.lr(3.0, t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()


def test_constant_and_the_default_gamma():
    assert all(make_schedule(ConstantConfig()).lr(0.7, t) == 0.7 for t in range(5))
    assert StepConfig().gamma == 0.5 and StepConfig().step_size == 1  # one source: the schema
