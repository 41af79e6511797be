"""model=resnet18 (torchvision's BasicBlock [2, 2, 2, 2], small-image stem): shapes and
parameter counts derived by hand, the image-size rule, training through the loop."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.errors import ConfigError
from htsweep.loop import step
from htsweep.models import make_model
from htsweep.models.resnet import ResNet18Config, size_problem
from tests.models.images import adam_dynamics, count, initial_state, tiny_images


def expected_shapes(c_in: int, classes: int):
    """Conv / Linear weight shapes by torchvision's module names, in module order."""
    out = {"conv1": (64, c_in, 3, 3)}  # the 3x3 stride-1 small-image stem
    c = 64
    for i, width in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            out[f"layer{i}.{b}.conv1"] = (width, c, 3, 3)
            out[f"layer{i}.{b}.conv2"] = (width, width, 3, 3)
            if c != width:
                out[f"layer{i}.{b}.downsample.0"] = (width, c, 1, 1)
            c = width
    out["fc"] = (classes, 512)
    return out


# By hand, 3 input channels and 10 classes:
# conv weights: stem 3*64*9 = 1,728; layer1 4 * 64*64*9 = 147,456;
# layer2 64*128*9 + 3 * 128*128*9 + 64*128 = 73,728 + 442,368 + 8,192 = 524,288;
# layer3 128*256*9 + 3 * 256*256*9 + 128*256 = 294,912 + 1,769,472 + 32,768 = 2,097,152;
# layer4 256*512*9 + 3 * 512*512*9 + 256*512 = 1,179,648 + 7,077,888 + 131,072 = 8,388,608
CONV_WEIGHTS = 1_728 + 147_456 + 524_288 + 2_097_152 + 8_388_608  # 11,159,232
# BatchNorm channels: stem 64, layer1 4 * 64, layers 2-4 five each (two blocks + downsample):
# 64 + 256 + 640 + 1,280 + 2,560 = 4,800; a weight and a bias each (and two running statistics)
BN_CHANNELS = 4_800
FC = 512 * 10 + 10
TOTAL = CONV_WEIGHTS + 2 * BN_CHANNELS + FC  # 11,173,962 (the usual CIFAR ResNet18 count)


def test_hand_counts_add_up():
    shapes = expected_shapes(3, 10)
    assert sum(math.prod(s) for k, s in shapes.items() if k != "fc") == CONV_WEIGHTS == 11_159_232
    assert TOTAL == 11_173_962 and len(shapes) == 21  # 20 convolutions (17 + 3 shortcuts) and fc


def test_shapes_and_parameter_counts():
    data = tiny_images(channels=3, side=8, m=2, num_classes=10)
    model = make_model(ResNet18Config(), data)
    p = model.init(0)
    shapes = {k: tuple(v.shape) for k, v in model.matrices(p).items()}
    assert shapes == expected_shapes(3, 10) and list(shapes) == list(expected_shapes(3, 10))
    assert count(p, model.trained) == TOTAL
    buffers = [k for k in p if k not in model.trained]
    assert count(p, buffers) == 2 * BN_CHANNELS and all(k.endswith(("running_mean", "running_var")) for k in buffers)
    gray = make_model(ResNet18Config(), tiny_images(channels=1, side=8, m=1, num_classes=3))
    assert tuple(gray.matrices(gray.init(0))["conv1"].shape) == (64, 1, 3, 3)


def test_init_std():
    model = make_model(ResNet18Config(), tiny_images(channels=3, side=8, m=1, num_classes=10))
    assert model.init_std("conv1") == pytest.approx(math.sqrt(2 / (64 * 9)), rel=1e-15)
    assert model.init_std("layer4.0.downsample.0") == pytest.approx(math.sqrt(2 / 512), rel=1e-15)  # 1x1
    assert model.init_std("fc") == pytest.approx(1 / math.sqrt(3 * 512), rel=1e-15)


@pytest.mark.parametrize("side", [4, 7])
def test_images_smaller_than_8_are_a_config_error(side):
    with pytest.raises(ConfigError) as info:
        make_model(ResNet18Config(), tiny_images(channels=1, side=side, m=1))
    assert info.value.field_name == "data.image_size" and ">= 8" in str(info.value)
    assert size_problem(8, 8) is None and size_problem(32, 28) is None


def test_torchvision_weight_shapes():
    try:
        import torchvision  # noqa: F401
    except Exception as ex:  # measured: this venv's CPU torch 2.13 has no torchvision installed
        pytest.skip(f"torchvision does not import here ({type(ex).__name__}: {ex}); shapes are checked by hand above")
    from torchvision.models import resnet18

    ref = resnet18(weights=None, num_classes=10)
    ref_shapes = {n: tuple(m.weight.shape) for n, m in ref.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    ours = expected_shapes(3, 10)
    assert ref_shapes.pop("conv1") == (64, 3, 7, 7)  # torchvision's ImageNet stem; ours is 3x3
    ours.pop("conv1")
    assert ours == ref_shapes


def test_adam_steps_decrease_the_training_loss():
    data = tiny_images(channels=3, side=8, m=6)
    model = make_model(ResNet18Config(), data)
    dyn = adam_dynamics(model, data, lr=1e-3)
    state = initial_state(model, dyn)
    losses = []
    for _ in range(2):
        state, loss = step(state, dyn, data.train)
        losses.append(loss)
    assert losses[-1] < losses[0]
