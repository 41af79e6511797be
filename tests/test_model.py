"""Stage-1 gradient and optimiser steps against closed forms and torch autograd / Adam."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep import model, optim
from htsweep.activations import value_and_grad
from htsweep.config import Activation, OptimizerConfig, OptimizerName, Parametrisation
from htsweep.data import make_data
from htsweep.config import DataConfig

torch.set_default_dtype(torch.float64)


def _problem(act=Activation.tanh, param=Parametrisation.ntk, n=80, d=20, h=30, seed=3):
    data = make_data(DataConfig(n=n, n_test=10, d=d), seed)
    student = model.Student(h=h, d=d, act=act, param=param)
    W, a = model.init_weights(student, seed)
    return student, W, a, data.train.X, data.train.y


def _reference_forward(student, W, a, X):
    """Eq. (2) written out independently of htsweep.model, for autograd."""
    from htsweep.activations import value

    return value(student.act, (X @ W.T) * student.preact_scale) @ a / math.sqrt(student.h)


def _autograd_grad(student, W, a, X, y):
    Wp = W.clone().requires_grad_(True)
    loss = ((_reference_forward(student, Wp, a, X) - y) ** 2).mean()
    loss.backward()
    return loss.detach(), Wp.grad


@pytest.mark.parametrize("act", list(Activation))
@pytest.mark.parametrize("param", list(Parametrisation))
def test_gradient_matches_autograd(act, param):
    student, W, a, X, y = _problem(act, param)
    loss, G = model.loss_and_grad(student, W, a, X, y)
    loss_ref, G_ref = _autograd_grad(student, W, a, X, y)
    assert torch.allclose(loss, loss_ref, rtol=1e-12, atol=0)
    assert torch.allclose(G, G_ref, rtol=1e-10, atol=1e-13)


def test_gradient_is_minus_twice_eq8():
    """Eq. (8) as printed: G_0 = 1/(n sqrt d) [ 1/sqrt h (a y^T - 1/sqrt h a a^T s(W X^T/sqrt d))
    (.) s'(W X^T / sqrt d) ] X, the negative gradient of the 1/(2n) risk; our MSE has no 1/2."""
    student, W, a, X, y = _problem()
    n, d, h = X.shape[0], student.d, student.h
    P = W @ X.T / math.sqrt(d)  # (h x n)
    s, ds = value_and_grad(Activation.tanh, P)
    inner = (torch.outer(a, y) - torch.outer(a, a) @ s / math.sqrt(h)) / math.sqrt(h)
    eq8 = (inner * ds) @ X / (n * math.sqrt(d))
    _, G = model.loss_and_grad(student, W, a, X, y)
    assert torch.allclose(G, -2.0 * eq8, rtol=1e-10, atol=1e-14)


def test_gd_step_is_minus_lr_gradient():
    student, W, a, X, y = _problem()
    _, G = model.loss_and_grad(student, W, a, X, y)
    M = optim.GD().update(G, lr=7.5)
    assert torch.equal(M, -7.5 * G)


def test_adam_first_step_is_sign_with_bias_correction():
    """eps -> 0: bias-corrected Adam's first step is lr sign(G_0) (torch / the paper's code)."""
    student, W, a, X, y = _problem()
    _, G = model.loss_and_grad(student, W, a, X, y)
    assert bool((G != 0).all())
    opt = optim.FBAdam(OptimizerConfig(name=OptimizerName.adam, eps=0.0, bias_correction=True))
    M = opt.update(G, lr=0.3)
    assert torch.allclose(M, -0.3 * torch.sign(G), rtol=1e-12, atol=0)


def test_adam_first_step_without_bias_correction_is_eq9():
    """Eq. (9): G~_0 = (1 - beta1) / sqrt(1 - beta2) sign(G_0) when eps -> 0."""
    student, W, a, X, y = _problem()
    _, G = model.loss_and_grad(student, W, a, X, y)
    cfg = OptimizerConfig(name=OptimizerName.adam, beta1=0.9, beta2=0.999, eps=0.0, bias_correction=False)
    M = optim.FBAdam(cfg).update(G, lr=0.3)
    scale = (1 - 0.9) / math.sqrt(1 - 0.999)
    assert torch.allclose(M, -0.3 * scale * torch.sign(G), rtol=1e-12, atol=0)


def test_adam_small_eps_approaches_sign():
    student, W, a, X, y = _problem()
    _, G = model.loss_and_grad(student, W, a, X, y)
    M = optim.FBAdam(OptimizerConfig(eps=1e-14)).update(G, lr=1.0)
    rel = (M + torch.sign(G)).abs().max()
    assert rel < 1e-6


@pytest.mark.parametrize("lr", [1e-3, 0.5])
def test_ten_adam_steps_match_torch_optim_adam(lr):
    student, W0, a, X, y = _problem()
    cfg = OptimizerConfig(beta1=0.9, beta2=0.999, eps=1e-8)
    W = W0.clone()
    ours = optim.FBAdam(cfg)
    for _ in range(10):
        _, G = model.loss_and_grad(student, W, a, X, y)
        W.add_(ours.update(G, lr))

    Wp = torch.nn.Parameter(W0.clone())
    ref = torch.optim.Adam([Wp], lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    for _ in range(10):
        ref.zero_grad()
        loss = ((_reference_forward(student, Wp, a, X) - y) ** 2).mean()
        loss.backward()
        ref.step()
    assert torch.allclose(W, Wp.detach(), rtol=1e-9, atol=1e-9)
    assert (W - W0).abs().max() > 0.1 * lr  # the run actually moved


def test_step_lr_schedule_matches_torch_steplr():
    from htsweep.config import LRScheduleConfig, ScheduleName

    cfg = LRScheduleConfig(name=ScheduleName.step, step_size=2, gamma=0.6)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=3.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.6)
    for t in range(9):
        assert optim.lr_at(3.0, cfg, t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()


def test_init_scales_by_parametrisation():
    ntk = model.Student(h=400, d=300, act=Activation.tanh)
    mf = model.Student(h=400, d=300, act=Activation.tanh, param=Parametrisation.mean_field)
    W, a = model.init_weights(ntk, 0)
    Wm, am = model.init_weights(mf, 0)
    assert W.std().item() == pytest.approx(1.0, rel=0.02)
    assert Wm.std().item() == pytest.approx(1 / math.sqrt(300), rel=0.02)
    assert am.std().item() == pytest.approx(1 / math.sqrt(400), rel=0.15)
    # same stream, rescaled: the two parametrisations start from the same directions
    assert torch.allclose(Wm * math.sqrt(300), W)
