"""Losses: values and per-sample derivatives against autograd; the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from htsweep.losses import (
    BCE,
    LOSSES,
    MSE,
    BCEConfig,
    CrossEntropy,
    CrossEntropyConfig,
    Hinge,
    HingeConfig,
    LossConfig,
    MSEConfig,
    make_loss,
)


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

    with pytest.raises(ValueError, match="loss: unknown option 'fake'; allowed: mse, bce, hinge"):
        make_loss(Fake())


def _autograd_mean_and_grad(fn, f, y):
    fp = f.clone().requires_grad_(True)
    (fn(fp, y).sum()).backward()
    return fn(f, y).mean(), fp.grad


def test_bce_value_derivative_and_stability():
    """softplus(f) - y f = -y log s(f) - (1 - y) log(1 - s(f)) (the BCE of seed 001), dl/df =
    s(f) - y (autograd), finite at |f| = 1000 where the log form overflows."""
    g = torch.Generator().manual_seed(1)
    f = 3 * torch.randn(200, generator=g, dtype=torch.float64)
    y = torch.rand(200, generator=g, dtype=torch.float64)  # soft targets
    loss = BCE()
    ref = -y * torch.log(torch.sigmoid(f)) - (1 - y) * torch.log(1 - torch.sigmoid(f))
    assert torch.allclose(loss.value(f, y), ref, rtol=1e-12, atol=1e-14)
    mean_ref, grad_ref = _autograd_mean_and_grad(lambda a, b: -b * torch.log(torch.sigmoid(a)) - (1 - b) * torch.log1p(-torch.sigmoid(a)), f, y)
    mean, dvalue = loss.mean_and_dvalue(f.clone(), y)
    assert torch.allclose(mean, mean_ref, rtol=1e-12) and torch.allclose(dvalue, grad_ref, rtol=1e-10, atol=1e-14)
    big = torch.tensor([1000.0, -1000.0], dtype=torch.float64)
    assert torch.allclose(loss.value(big, torch.tensor([0.0, 1.0], dtype=torch.float64)), torch.tensor([1000.0, 1000.0], dtype=torch.float64))
    assert loss.classification


def test_hinge_value_and_subgradient():
    g = torch.Generator().manual_seed(2)
    f = torch.randn(300, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(300, generator=g) > 0.5, 1.0, -1.0).to(torch.float64)
    loss = Hinge()
    assert torch.allclose(loss.value(f, y), torch.clamp(1 - y * f, min=0))
    mean_ref, grad_ref = _autograd_mean_and_grad(lambda a, b: torch.relu(1 - b * a), f, y)
    mean, dvalue = loss.mean_and_dvalue(f.clone(), y)
    assert torch.allclose(mean, mean_ref, rtol=1e-14) and torch.equal(dvalue, grad_ref)
    kink = Hinge().mean_and_dvalue(torch.tensor([1.0, -1.0], dtype=torch.float64), torch.tensor([1.0, -1.0], dtype=torch.float64))[1]
    assert torch.equal(kink, torch.zeros(2, dtype=torch.float64))  # y f = 1: subgradient 0, as the notebook


def test_every_loss_is_registered():
    assert set(LOSSES) == {"mse", "bce", "hinge", "cross_entropy"}
    assert isinstance(make_loss(BCEConfig()), BCE) and isinstance(make_loss(HingeConfig()), Hinge)
    assert isinstance(make_loss(CrossEntropyConfig()), CrossEntropy)


def test_cross_entropy_against_torch():
    g = torch.Generator().manual_seed(4)
    f = 5 * torch.randn(40, 7, generator=g, dtype=torch.float64)
    f[0] = torch.tensor([800.0, -800.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)  # no overflow
    y = torch.randint(0, 7, (40,), generator=g).to(torch.float64)  # class indices stored as floats
    loss = CrossEntropy()
    assert loss.classification and loss.name == "cross_entropy"
    ref = torch.nn.functional.cross_entropy(f, y.long(), reduction="none")
    torch.testing.assert_close(loss.value(f, y), ref, rtol=1e-14, atol=0)
    assert float(loss.mean(f, y)) == pytest.approx(float(ref.mean()), rel=1e-14)
    assert float(loss.mean(f, y.long())) == float(loss.mean(f, y))  # integer labels too
    fp = f.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(fp, y.long(), reduction="sum").backward()
    mean, dvalue = loss.mean_and_dvalue(f.clone(), y)  # softmax(f) - onehot(y), per sample
    assert dvalue.shape == (40, 7) and float(mean) == pytest.approx(float(ref.mean()), rel=1e-14)
    torch.testing.assert_close(dvalue, fp.grad, rtol=1e-12, atol=1e-15)
    assert torch.isfinite(loss.value(f, y)).all()
