"""Full-batch GD, eq. (3)."""

from __future__ import annotations

import torch

from htsweep.optim import make_optimizer
from htsweep.optim.gd import GDConfig


def test_gd_update_is_minus_lr_gradient_and_stateless():
    G = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    opt = make_optimizer(GDConfig())
    state = opt.init({"W": torch.zeros(4, 3)}, ["W"])
    M = opt.update({"W": G}, state, lr=7.5)
    assert torch.equal(M["W"], -7.5 * G) and state == {}
