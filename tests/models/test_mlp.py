"""model=mlp: layer shapes, parameter counts, init laws, training through the loop."""

from __future__ import annotations

import pytest
import torch

from htsweep.activations import Activation
from htsweep.errors import ConfigError
from htsweep.loop import step
from htsweep.models import make_model
from htsweep.models.mlp import MLPConfig
from tests.models.images import adam_dynamics, count, initial_state, tiny_images


def test_shapes_and_parameter_counts():
    data = tiny_images(channels=1, side=8)  # d = 64, 3 classes
    model = make_model(MLPConfig(depth=2, width=16), data)
    p = model.init(0)
    shapes = {k: tuple(v.shape) for k, v in model.matrices(p).items()}
    assert shapes == {"fc1": (16, 64), "fc2": (16, 16), "out": (3, 16)}
    # 64*16 + 16*16 + 16*3 = 1024 + 256 + 48 = 1328 weights, no bias (the default)
    assert count(p, model.trained) == 1328 and set(p) == set(model.trained)
    with_bias = make_model(MLPConfig(depth=2, width=16, bias=True), data)
    # + 16 + 16 + 3 biases = 1363
    assert count(with_bias.init(0), with_bias.trained) == 1363
    linear = make_model(MLPConfig(depth=0), data)  # depth 0: a linear classifier, 64*3 = 192
    assert count(linear.init(0), linear.trained) == 192


def test_defaults_and_checks():
    cfg = MLPConfig()
    assert (cfg.depth, cfg.width, cfg.activation, cfg.bias) == (1, 512, Activation.relu, False)
    with pytest.raises(ConfigError, match="model.width"):
        MLPConfig(width=0)
    with pytest.raises(ConfigError, match="model.depth"):
        MLPConfig(depth=-1)


def test_init_std_is_torchs_default_linear_law():
    data = tiny_images(channels=1, side=8)
    model = make_model(MLPConfig(depth=1, width=32), data)
    assert model.init_std("fc1") == pytest.approx(1 / (3 * 64) ** 0.5, rel=1e-15)  # U(+-1/sqrt(fan_in))
    assert model.init_std("out") == pytest.approx(1 / (3 * 32) ** 0.5, rel=1e-15)
    with pytest.raises(KeyError, match="fc1, out"):
        model.init_std("act1")


@pytest.mark.parametrize("act", [Activation.relu, Activation.tanh, Activation.he2])
def test_adam_steps_decrease_the_training_loss(act):
    data = tiny_images(channels=1, side=8, m=12)
    model = make_model(MLPConfig(depth=2, width=32, activation=act), data)
    dyn = adam_dynamics(model, data, lr=1e-2)
    state = initial_state(model, dyn)
    losses = []
    for _ in range(5):
        state, loss = step(state, dyn, data.train)
        losses.append(loss)
    assert losses[-1] < losses[0] and state.t == 5
