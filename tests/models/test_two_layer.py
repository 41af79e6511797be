"""The two-layer student (eq. 2) and its closed-form gradient (eq. 8) against autograd."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.activations import Activation, value, value_and_grad
from htsweep.data.base import Split
from htsweep.data.single_index import SingleIndexConfig, make
from htsweep.losses import BCE, MSE, Hinge
from htsweep.models.two_layer import AInit, Parametrisation, TwoLayer, TwoLayerConfig


def _problem(act=Activation.tanh, param=Parametrisation.ntk, n=80, d=20, h=30, seed=3):
    data = make(SingleIndexConfig(n=n, n_test=10, d=d), seed)
    model = TwoLayer(TwoLayerConfig(h=h, activation=act, param=param), d)
    return model, model.init(seed), data.train


def reference_forward(model, W, a, X):
    """Eq. (2) written out independently of htsweep.models, for autograd."""
    return value(model.act, (X @ W.T) * model.preact_scale) @ a / math.sqrt(model.h)


@pytest.mark.parametrize("act", list(Activation))
@pytest.mark.parametrize("param", list(Parametrisation))
def test_gradient_matches_autograd(act, param):
    model, params, split = _problem(act, param)
    loss, grads = model.loss_and_grad(params, split, MSE())
    Wp = params["W"].clone().requires_grad_(True)
    ref = ((reference_forward(model, Wp, params["a"], split.X) - split.y) ** 2).mean()
    ref.backward()
    assert torch.allclose(loss, ref.detach(), rtol=1e-12, atol=0)
    assert torch.allclose(grads["W"], Wp.grad, rtol=1e-10, atol=1e-13)
    assert set(grads) == set(model.trained) == {"W"}


LOSSES = {"mse": MSE(), "bce": BCE(), "hinge": Hinge()}
TARGETS = {"mse": "real", "bce": "soft", "hinge": "sign"}


def _labels(y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "soft":
        return torch.sigmoid(y)
    if kind == "sign":
        return torch.where(y > y.median(), 1.0, -1.0).to(y.dtype)
    return y


@pytest.mark.parametrize("act", list(Activation))
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("scale", ["ntk", "mf", "0.07"])
def test_gradient_matches_autograd_for_every_loss_and_output_scale(act, loss_name, scale):
    """The closed form G = (c g / n) diag(a) [l' 1^T o sigma'(c X W^T)]^T X against autograd on
    f = g a^T sigma(c W x), for every activation x loss x output scale g (1/sqrt(h), 1/h, 0.07)."""
    model, params, split = _problem(act)
    model = TwoLayer(TwoLayerConfig(h=model.h, activation=act, output_scale=scale), model.d)
    y = _labels(split.y, TARGETS[loss_name])
    split = Split(split.X, y)
    loss = LOSSES[loss_name]
    value_, grads = model.loss_and_grad(params, split, loss)
    g = {"ntk": 1 / math.sqrt(model.h), "mf": 1 / model.h}.get(scale) or float(scale)
    Wp = params["W"].clone().requires_grad_(True)
    f = value(act, (split.X @ Wp.T) * model.preact_scale) @ params["a"] * g
    ref = loss.value(f, y).mean()
    ref.backward()
    assert torch.allclose(value_, ref.detach(), rtol=1e-12, atol=0)
    assert torch.allclose(grads["W"], Wp.grad, rtol=1e-10, atol=1e-13)


def test_paper_code_applies_gamma_twice_and_the_notebook_draw_is_minus_one_or_zero():
    """Seed 001 as committed: f = gamma^2 a_nb^T s(W_nb x) (network_forward multiplies by gamma
    twice): g = gamma^2 / sqrt(h); its ReLU-vs-Sigmoid cells draw a_nb in {-1/sqrt(h), 0}:
    a_init=notebook, a in {-1, 0}."""
    h, d = 64, 16
    mf = TwoLayer(TwoLayerConfig(h=h, output_scale="mf", paper_code=True), d)
    assert mf.gamma == pytest.approx(1 / math.sqrt(h)) and mf.out_scale == pytest.approx(h**-1.5)
    ntk = TwoLayer(TwoLayerConfig(h=h, paper_code=True), d)
    assert ntk.out_scale == pytest.approx(1 / math.sqrt(h))  # gamma = 1: twice is once
    assert torch.equal(ntk.init(0)["a"], TwoLayer(TwoLayerConfig(h=h), d).init(0)["a"])  # a's law is a_init's
    a = TwoLayer(TwoLayerConfig(h=h, a_init=AInit.notebook), d).init(0)["a"]
    assert set(a.unique().tolist()) == {-1.0, 0.0} and 20 < int((a == 0).sum()) < 44
    rad = TwoLayer(TwoLayerConfig(h=h, a_init=AInit.rademacher), d).init(0)["a"]
    assert set(rad.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(TwoLayer(TwoLayerConfig(h=h), d).init(0)["W"], ntk.init(0)["W"])  # W_0 unchanged


def test_output_scale_must_be_positive():
    from htsweep.errors import ConfigError

    for bad in ("0", "-1", "inf", "ntkk"):
        with pytest.raises(ConfigError, match="model.output_scale"):
            TwoLayerConfig(output_scale=bad)


def test_gradient_is_minus_twice_eq8():
    """Eq. (8) as printed: G_0 = 1/(n sqrt d) [ 1/sqrt h (a y^T - 1/sqrt h a a^T s(W X^T/sqrt d))
    (.) s'(W X^T / sqrt d) ] X, the negative gradient of the 1/(2n) risk; our MSE has no 1/2."""
    model, params, split = _problem()
    W, a, X, y = params["W"], params["a"], split.X, split.y
    n, d, h = X.shape[0], model.d, model.h
    P = W @ X.T / math.sqrt(d)  # (h x n)
    s, ds = value_and_grad(Activation.tanh, P)
    inner = (torch.outer(a, y) - torch.outer(a, a) @ s / math.sqrt(h)) / math.sqrt(h)
    eq8 = (inner * ds) @ X / (n * math.sqrt(d))
    _, grads = model.loss_and_grad(params, split, MSE())
    assert torch.allclose(grads["W"], -2.0 * eq8, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("act", [Activation.tanh, Activation.relu])
def test_forward_loss_equals_the_gradient_pass_loss(act):
    model, params, split = _problem(act)
    fwd = model.loss(params, split, MSE())
    with_grad, _ = model.loss_and_grad(params, split, MSE())
    assert torch.allclose(fwd, with_grad, rtol=1e-13, atol=0)


@pytest.mark.parametrize("act", [Activation.tanh, Activation.softplus])
def test_a_leading_batch_dimension_equals_separate_calls(act):
    """W of shape (B, h, d) with a shared a: each element's loss and gradient are those of the
    unbatched model (the interface a multi-lr batched run builds on)."""
    model, params, split = _problem(act)
    W2 = params["W"] + 0.3 * torch.randn(params["W"].shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    batched = {"W": torch.stack([params["W"], W2]), "a": params["a"]}
    loss_b, grads_b = model.loss_and_grad(batched, split, MSE())
    assert loss_b.shape == (2,) and grads_b["W"].shape == (2, model.h, model.d)
    for i, W in enumerate((params["W"], W2)):
        loss_i, grads_i = model.loss_and_grad({"W": W, "a": params["a"]}, split, MSE())
        assert torch.allclose(loss_b[i], loss_i, rtol=1e-12, atol=0)
        assert torch.allclose(grads_b["W"][i], grads_i["W"], rtol=1e-10, atol=1e-14)


def test_init_scales_by_parametrisation():
    ntk = TwoLayer(TwoLayerConfig(h=400), 300)
    mf = TwoLayer(TwoLayerConfig(h=400, param=Parametrisation.mean_field), 300)
    p, q = ntk.init(0), mf.init(0)
    assert p["W"].std().item() == pytest.approx(1.0, rel=0.02)
    assert q["W"].std().item() == pytest.approx(1 / math.sqrt(300), rel=0.02)
    assert q["a"].std().item() == pytest.approx(1 / math.sqrt(400), rel=0.15)
    assert torch.allclose(q["W"] * math.sqrt(300), p["W"])  # same stream, rescaled
    assert ntk.init_std("W") == 1.0 and mf.init_std("W") == pytest.approx(1 / math.sqrt(300))
    with pytest.raises(KeyError):
        ntk.init_std("a")


def test_features_are_the_scaled_activations_and_matrices_name_w():
    model, params, split = _problem()
    Z = model.features(params, split.X)
    ref = torch.tanh(split.X @ params["W"].T / math.sqrt(model.d)) / math.sqrt(model.h)
    assert torch.allclose(Z, ref, rtol=1e-13, atol=1e-15)
    Z2 = model.features(params, split.X, extra_scale=1 / math.sqrt(model.d))  # paper_code
    ref2 = torch.tanh(split.X @ params["W"].T / model.d) / math.sqrt(model.h)
    assert torch.allclose(Z2, ref2, rtol=1e-13, atol=1e-15)
    assert list(model.matrices(params)) == ["W"] and model.matrices(params)["W"] is params["W"]
    assert isinstance(split, Split)
