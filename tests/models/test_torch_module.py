"""TorchModule: autograd gradients accumulated over chunks, BatchNorm's statistics, the seeded
init laws, eval-mode predictions, checkpoints - on tiny modules and the registered models."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from htsweep.activations import Activation
from htsweep.loop import step
from htsweep.losses import CrossEntropy
from htsweep.models import make_model
from htsweep.models.mlp import MLPConfig
from htsweep.models.resnet import ResNet18Config
from htsweep.models.torch_module import TorchModule, on_meta
from htsweep.models.vgg import VGG11Config
from htsweep.state import TrainState
from tests.models.images import adam_dynamics, initial_state, tiny_images

CE = CrossEntropy()


def small_bn_net(c_in: int = 3, classes: int = 3) -> nn.Module:
    """conv-BN-ReLU twice, average pool, Linear: a BatchNorm network small enough for exact checks."""
    return nn.Sequential(
        nn.Conv2d(c_in, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1, bias=False), nn.BatchNorm2d(5), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, classes),
    )  # fmt: skip


def real_copy(build, params):
    """The same network as a real (CPU, float64) module holding ``params``: the reference."""
    module = build().to(torch.float64)
    missing, unexpected = module.load_state_dict({k: v.clone() for k, v in params.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    return module


@pytest.mark.parametrize("act", [Activation.relu, Activation.tanh])
def test_tiny_mlp_gradient_in_closed_form_and_against_torch_func_grad(act):
    data = tiny_images(channels=1, side=2, m=7)  # d = 4, 3 classes
    model = make_model(MLPConfig(depth=1, width=5, activation=act), data)
    p = model.init(3)
    X, y = data.train.X.flatten(1), data.train.y
    W1, W2 = p["fc1.weight"], p["out.weight"]
    # f = W2 s(W1 x); L = mean CE;  D = (softmax(F) - onehot(y)) / m
    Z = X @ W1.T
    H = torch.relu(Z) if act is Activation.relu else torch.tanh(Z)
    F = H @ W2.T
    D = (torch.softmax(F, -1) - torch.nn.functional.one_hot(y.long(), 3)) / X.shape[0]
    ds = (Z > 0).to(Z.dtype) if act is Activation.relu else 1 - H * H
    closed = {"out.weight": D.T @ H, "fc1.weight": ((D @ W2) * ds).T @ X}
    loss, grads = model.loss_and_grad(p, data.train, CE)

    def mean_loss(w1, w2):
        z = X @ w1.T
        return torch.nn.functional.cross_entropy((torch.relu(z) if act is Activation.relu else torch.tanh(z)) @ w2.T, y.long())

    g1, g2 = torch.func.grad(mean_loss, argnums=(0, 1))(W1, W2)
    assert float(loss) == pytest.approx(float(mean_loss(W1, W2)), rel=1e-14)
    assert set(grads) == {"fc1.weight", "out.weight"}
    for name, ref in (("fc1.weight", g1), ("out.weight", g2)):
        torch.testing.assert_close(grads[name], closed[name], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(grads[name], ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 50])
def test_chunked_gradient_equals_the_unchunked_one_without_batch_norm(chunk):
    data = tiny_images(channels=2, side=4, m=7)
    model = make_model(MLPConfig(depth=2, width=16, bias=True, activation=Activation.tanh), data)
    p = model.init(0)
    loss0, full = model.loss_and_grad(p, data.train, CE)
    model.chunk_size = chunk
    loss, chunked = model.loss_and_grad(p, data.train, CE)
    assert float(loss) == pytest.approx(float(loss0), rel=1e-12)
    for k in full:
        torch.testing.assert_close(chunked[k], full[k], rtol=1e-10, atol=1e-15)
    torch.testing.assert_close(model.predict(p, data.train.X), make_model(MLPConfig(depth=2, width=16, bias=True,
                               activation=Activation.tanh), data).predict(p, data.train.X), rtol=1e-12, atol=0)  # fmt: skip


def test_gradient_and_running_statistics_equal_torchs_own_batch_norm():
    data = tiny_images(channels=3, side=6, m=5)
    model = TorchModule(on_meta(small_bn_net))
    p = model.init(2)
    ref = real_copy(small_bn_net, p)
    ref.train()
    loss_ref = torch.nn.functional.cross_entropy(ref(data.train.X), data.train.y.long())
    loss_ref.backward()
    loss, grads = model.loss_and_grad(p, data.train, CE)  # one chunk: the whole set
    assert float(loss) == pytest.approx(float(loss_ref.detach()), rel=1e-13)
    named = dict(ref.named_parameters())
    assert set(grads) == set(named) == set(model.trained)
    for k, g in grads.items():
        torch.testing.assert_close(g, named[k].grad, rtol=1e-11, atol=1e-15)
    for k, b in ref.named_buffers():  # updated once, as torch does for one batch
        if not k.endswith("num_batches_tracked"):
            torch.testing.assert_close(p[k], b, rtol=1e-12, atol=1e-15)
    ref.eval()
    with torch.no_grad():  # eval mode: the running statistics
        torch.testing.assert_close(model.predict(p, data.test.X), ref(data.test.X), rtol=1e-12, atol=1e-14)
        assert float(model.loss(p, data.test, CE)) == pytest.approx(
            float(torch.nn.functional.cross_entropy(ref(data.test.X), data.test.y.long())), rel=1e-12)


def test_with_batch_norm_the_chunk_is_the_normalisation_batch():
    data = tiny_images(channels=3, side=6, m=6)
    model = TorchModule(on_meta(small_bn_net))
    p_full, p_chunked = model.init(4), model.init(4)
    _, full = model.loss_and_grad(p_full, data.train, CE)
    model.chunk_size = 4  # chunks of 4 and 2
    _, chunked = model.loss_and_grad(p_chunked, data.train, CE)
    # the first BatchNorm's inputs do not depend on the chunks: the statistics pooled over the
    # chunks are the full batch's, and its running statistics move once, as the full batch's
    for k in ("1.running_mean", "1.running_var"):
        torch.testing.assert_close(p_chunked[k], p_full[k], rtol=1e-10, atol=1e-15)
        assert not torch.equal(p_chunked[k], model.init(4)[k])
    # but each chunk is normalised by its own statistics: the gradients differ
    assert not torch.allclose(chunked["0.weight"], full["0.weight"], rtol=1e-6)


def test_init_is_reproducible_and_independent_of_the_global_generator():
    data = tiny_images(channels=3, side=8, m=2)
    before = torch.random.get_rng_state()
    model = make_model(ResNet18Config(), data)  # built on the meta device: draws nothing
    assert torch.equal(torch.random.get_rng_state(), before)
    model = TorchModule(on_meta(small_bn_net))
    torch.manual_seed(1)
    a = model.init(7)
    torch.manual_seed(12345)
    torch.rand(10)
    b = model.init(7)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = model.init(8)
    assert not torch.equal(a["0.weight"], c["0.weight"]) and not torch.equal(a["8.weight"], c["8.weight"])
    # one stream per tensor name: the first layer of a deeper MLP is the same draw
    shallow = make_model(MLPConfig(depth=1, width=8), data).init(0)
    deep = make_model(MLPConfig(depth=3, width=8), data).init(0)
    assert torch.equal(shallow["fc1.weight"], deep["fc1.weight"])


def _layers(model, params):
    return model.matrices(params).items()


@pytest.mark.parametrize("name", ["mlp", "vgg11_bn", "resnet18"])
def test_empirical_std_of_every_layer_matches_init_std(name):
    """For N i.i.d. centred entries of std s, mean(w^2) / s^2 has relative standard deviation
    sqrt(kappa / N), kappa = E w^4 / s^4 - 1 (2 for a normal, 4/5 for a uniform law), so the
    empirical std sqrt(mean(w^2)) is within 6 standard deviations, 3 sqrt(2 / N) relatively, of
    s; the mean within 6 s / sqrt(N) of 0."""
    if name == "mlp":
        data, cfg = tiny_images(channels=1, side=16, m=1, num_classes=10), MLPConfig(depth=2, width=64)
    elif name == "vgg11_bn":
        data, cfg = tiny_images(channels=3, side=32, m=1, num_classes=10), VGG11Config(batch_norm=True)
    else:
        data, cfg = tiny_images(channels=3, side=8, m=1, num_classes=10), ResNet18Config()
    model = make_model(cfg, data)
    params = model.init(11)
    for layer, W in _layers(model, params):
        s, N = model.init_std(layer), W.numel()
        assert N >= 640, layer
        assert abs(math.sqrt(float(W.pow(2).mean())) / s - 1) < 3 * math.sqrt(2 / N), layer
        assert abs(float(W.mean())) < 6 * s / math.sqrt(N), layer
    bn = [k for k in params if k.endswith(".running_var") or (k.endswith(".weight") and k.rsplit(".", 1)[0] not in
          dict(_layers(model, params)))]  # fmt: skip
    assert all(torch.equal(params[k], torch.ones_like(params[k])) for k in bn)


def test_loss_and_grad_aliases_the_parameters_and_leaves_them_as_they_were():
    data = tiny_images(channels=3, side=6, m=4)
    model = TorchModule(on_meta(small_bn_net))
    p = model.init(0)
    kept = {k: v.clone() for k, v in p.items()}
    _, grads = model.loss_and_grad(p, data.train, CE)
    for k, v in p.items():
        assert not v.requires_grad and v.grad is None
        if "running" not in k:
            assert torch.equal(v, kept[k])
    assert all(not g.requires_grad for g in grads.values())
    assert model.module.training is False  # left in eval mode


def test_float32_training_state():
    data = tiny_images(channels=3, side=6, m=4).to(torch.device("cpu"), torch.float32)
    model = TorchModule(on_meta(small_bn_net))
    params = {k: v.to(torch.float32) for k, v in model.init(0).items()}
    loss, grads = model.loss_and_grad(params, data.train, CE)
    assert loss.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads.values())
    assert params["1.running_mean"].dtype == torch.float32


def test_checkpoint_round_trip_with_batch_norm_buffers_continues_bit_for_bit():
    data = tiny_images(channels=3, side=6, m=5)
    model = TorchModule(on_meta(small_bn_net))
    dyn = adam_dynamics(model, data, lr=1e-2)
    state, _ = step(initial_state(model, dyn), dyn, data.train)
    buffer = io.BytesIO()
    torch.save(state.state_dict(), buffer)
    buffer.seek(0)
    restored = TrainState.from_state_dict(torch.load(buffer), torch.device("cpu"), torch.float64)
    assert restored.params.keys() == state.params.keys() and restored.t == state.t == 1
    assert "1.running_mean" in restored.params and "4.running_var" in restored.params
    assert all(torch.equal(restored.params[k], v) for k, v in state.params.items())
    a, loss_a = step(state, dyn, data.train)
    b, loss_b = step(restored, dyn, data.train)
    assert loss_a == loss_b
    assert all(torch.equal(a.params[k], b.params[k]) for k in a.params)
