"""FB-Adam, eq. (4)-(5), against eq. (9), the sign limit and torch.optim.Adam."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.losses import MSE
from htsweep.optim import make_optimizer
from htsweep.optim.adam import AdamConfig
from tests.models.test_two_layer import _problem, reference_forward


def _grad():
    model, params, split = _problem()
    _, grads = model.loss_and_grad(params, split, MSE())
    return params, grads["W"]


def _first_update(cfg, G, lr):
    opt = make_optimizer(cfg)
    state = opt.init({"W": G}, ["W"])
    return opt.update({"W": G}, state, lr)["W"], state


def test_first_step_is_sign_with_bias_correction():
    _, G = _grad()
    assert bool((G != 0).all())
    M, state = _first_update(AdamConfig(eps=0.0, bias_correction=True), G, 0.3)
    assert torch.allclose(M, -0.3 * torch.sign(G), rtol=1e-12, atol=0)
    assert state["t"] == 1


def test_first_step_without_bias_correction_is_eq9():
    """Eq. (9): G~_0 = (1 - beta1) / sqrt(1 - beta2) sign(G_0) when eps -> 0."""
    _, G = _grad()
    M, _ = _first_update(AdamConfig(eps=0.0, bias_correction=False), G, 0.3)
    scale = (1 - 0.9) / math.sqrt(1 - 0.999)
    assert torch.allclose(M, -0.3 * scale * torch.sign(G), rtol=1e-12, atol=0)


def test_small_eps_approaches_sign():
    _, G = _grad()
    M, _ = _first_update(AdamConfig(eps=1e-14), G, 1.0)
    assert (M + torch.sign(G)).abs().max() < 1e-6


@pytest.mark.parametrize("lr", [1e-3, 0.5])
def test_ten_steps_match_torch_optim_adam(lr):
    model, params, split = _problem()
    W0 = params["W"].clone()
    opt = make_optimizer(AdamConfig())
    state = opt.init(params, ["W"])
    for _ in range(10):
        _, grads = model.loss_and_grad(params, split, MSE())
        params["W"].add_(opt.update(grads, state, lr)["W"])
    Wp = torch.nn.Parameter(W0.clone())
    ref = torch.optim.Adam([Wp], lr=lr, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    for _ in range(10):
        ref.zero_grad()
        ((reference_forward(model, Wp, params["a"], split.X) - split.y) ** 2).mean().backward()
        ref.step()
    assert torch.allclose(params["W"], Wp.detach(), rtol=1e-9, atol=1e-9)
    assert (params["W"] - W0).abs().max() > 0.1 * lr  # the run actually moved


@pytest.mark.parametrize("kwargs,field", [({"beta1": 1.0}, "optimizer.beta1"), ({"beta2": -0.1}, "optimizer.beta2"), ({"eps": -1.0}, "optimizer.eps")])
def test_bad_moments_name_the_field(kwargs, field):
    from htsweep.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        AdamConfig(**kwargs)
    assert info.value.field_name == field
