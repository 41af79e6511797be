"""model=vgg11 (torchvision's configuration A, the CIFAR classifier): shapes and parameter
counts derived by hand, the image-size rule, chunked gradients, training through the loop."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.errors import ConfigError
from htsweep.loop import step
from htsweep.losses import CrossEntropy
from htsweep.models import make_model
from htsweep.models.vgg import VGG11Config, size_problem
from tests.models.images import adam_dynamics, count, initial_state, tiny_images

# (c_out, c_in) of the eight 3x3 convolutions of configuration A on 3-channel images
CONVS = [(64, 3), (128, 64), (256, 128), (256, 256), (512, 256), (512, 512), (512, 512), (512, 512)]
# torchvision's module indices of the convolutions in ``features`` (vgg11 / vgg11_bn)
NAMES = {False: [0, 3, 6, 8, 11, 13, 16, 18], True: [0, 4, 8, 11, 15, 18, 22, 25]}
# conv weights, 9 c_in c_out each: 1728 + 73728 + 294912 + 589824 + 1179648 + 2359296 * 3
CONV_WEIGHTS = 9_217_728
CONV_BIASES = 2_752  # 64 + 128 + 256 + 256 + 512 * 4 (torchvision's convs keep a bias with BN too)
CLASSIFIER = 512 * 10 + 10  # Linear(512, 10) on the 1x1x512 map of a 32x32 image
TOTAL = CONV_WEIGHTS + CONV_BIASES + CLASSIFIER  # 9,225,610
BN = 2 * CONV_BIASES  # weight and bias per channel: 5,504 trained (and 5,504 running statistics)


def test_hand_counts_add_up():
    assert sum(9 * o * i for o, i in CONVS) == CONV_WEIGHTS and sum(o for o, _ in CONVS) == CONV_BIASES
    assert TOTAL == 9_225_610 and TOTAL + BN == 9_231_114


@pytest.mark.parametrize("batch_norm", [False, True])
def test_shapes_and_parameter_counts(batch_norm):
    data = tiny_images(channels=3, side=32, m=2, num_classes=10)
    model = make_model(VGG11Config(batch_norm=batch_norm), data)
    p = model.init(0)
    shapes = {k: tuple(v.shape) for k, v in model.matrices(p).items()}
    expected = {f"features.{i}": (o, c, 3, 3) for i, (o, c) in zip(NAMES[batch_norm], CONVS)}
    assert shapes == {**expected, "classifier": (10, 512)}
    assert list(shapes) == [*expected, "classifier"]  # module order
    assert count(p, model.trained) == TOTAL + (BN if batch_norm else 0)
    buffers = [k for k in p if k not in model.trained]
    assert count(p, buffers) == (BN if batch_norm else 0)
    assert all(k.endswith(("running_mean", "running_var")) for k in buffers)
    assert all(v.dtype == torch.float64 and v.device.type == "cpu" for v in p.values())


def test_larger_images_widen_the_classifier():
    data = tiny_images(channels=1, side=64, m=1, num_classes=3)
    model = make_model(VGG11Config(), data)
    assert tuple(model.matrices(model.init(0))["classifier"].shape) == (3, 512 * 2 * 2)
    assert tuple(model.matrices(model.init(0))["features.0"].shape) == (64, 1, 3, 3)


@pytest.mark.parametrize("side", [28, 16, 48])
def test_an_image_size_vgg11_cannot_take_is_a_config_error(side):
    assert size_problem(side, side) is not None
    with pytest.raises(ConfigError) as info:
        make_model(VGG11Config(), tiny_images(channels=1, side=side, m=1))
    assert info.value.field_name == "data.image_size" and "multiples of 32" in str(info.value)
    assert "\n" not in str(info.value)
    assert size_problem(32, 32) is None and size_problem(96, 64) is None


def test_init_std_is_kaiming_normal_fan_out_and_torchs_linear_default():
    model = make_model(VGG11Config(), tiny_images(channels=3, side=32, m=1, num_classes=10))
    for i, (o, _) in zip(NAMES[False], CONVS):
        assert model.init_std(f"features.{i}") == pytest.approx(math.sqrt(2 / (9 * o)), rel=1e-15)
    assert model.init_std("classifier") == pytest.approx(1 / math.sqrt(3 * 512), rel=1e-15)


def test_torchvision_weight_shapes():
    try:
        import torchvision  # noqa: F401
    except Exception as ex:  # measured: this venv's CPU torch 2.13 has no torchvision installed
        pytest.skip(f"torchvision does not import here ({type(ex).__name__}: {ex}); shapes are checked by hand above")
    from torchvision.models import vgg11, vgg11_bn

    for batch_norm, build in ((False, vgg11), (True, vgg11_bn)):
        ref = build(weights=None, num_classes=10)
        ref_shapes = {n: tuple(m.weight.shape) for n, m in ref.features.named_modules() if isinstance(m, torch.nn.Conv2d)}
        model = make_model(VGG11Config(batch_norm=batch_norm), tiny_images(channels=3, side=32, m=1, num_classes=10))
        ours = {k.removeprefix("features."): tuple(v.shape) for k, v in model.matrices(model.init(0)).items() if k != "classifier"}
        assert ours == ref_shapes


def test_chunked_gradient_equals_the_full_batch_one():
    data = tiny_images(channels=3, side=32, m=4)
    model = make_model(VGG11Config(), data)
    p = model.init(1)
    full_loss, full = model.loss_and_grad(p, data.train, CrossEntropy())
    model.chunk_size = 3  # chunks of 3 and 1 samples
    loss, chunked = model.loss_and_grad(p, data.train, CrossEntropy())
    assert float(loss) == pytest.approx(float(full_loss), rel=1e-12)
    for k in full:
        torch.testing.assert_close(chunked[k], full[k], rtol=1e-10, atol=1e-14 * float(full[k].abs().max()))


def test_adam_steps_with_batch_norm_decrease_the_training_loss():
    data = tiny_images(channels=3, side=32, m=4)
    model = make_model(VGG11Config(batch_norm=True), data)
    dyn = adam_dynamics(model, data, lr=1e-3)
    state = initial_state(model, dyn)
    losses = []
    for _ in range(2):
        state, loss = step(state, dyn, data.train)
        losses.append(loss)
    assert losses[-1] < losses[0]
    assert not torch.equal(state.params["features.1.running_mean"], torch.zeros(64, dtype=torch.float64))
