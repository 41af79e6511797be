"""Losses: values and per-sample derivatives against autograd; the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from htsweep.losses import LOSSES, MSE, LossConfig, MSEConfig, make_loss


def test_mse_value_mean_and_derivative():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(50, generator=g, dtype=torch.float64)
    y = torch.randn(50, generator=g, dtype=torch.float64)
    loss = MSE()
    assert torch.allclose(loss.value(f, y), (f - y) ** 2)
    assert torch.allclose(loss.mean(f, y), ((f - y) ** 2).mean(), rtol=1e-14)
    fp = f.clone().requires_grad_(True)
    ((fp - y) ** 2).sum().backward()
    mean, dvalue = loss.mean_and_dvalue(f.clone(), y)
    assert torch.allclose(mean, ((f - y) ** 2).mean(), rtol=1e-14)
    assert torch.allclose(dvalue, fp.grad, rtol=1e-14)


def test_mse_mean_over_a_batch_axis():
    f = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    y = torch.ones(3, dtype=torch.float64)
    assert torch.allclose(MSE().mean(f, y), ((f - y) ** 2).mean(dim=-1))


def test_registry():
    assert isinstance(make_loss(MSEConfig()), MSE) and "mse" in LOSSES

    @dataclass
    class Fake(LossConfig):
        OPTION = "fake"
        name: str = "fake"

    with pytest.raises(ValueError, match="loss: unknown option 'fake'; allowed: mse"):
        make_loss(Fake())
