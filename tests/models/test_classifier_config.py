"""Start-up checks of the classifiers: which models, losses and sources go together, the image
sizes VGG11 / ResNet18 take, train.chunk_size; one line naming the field each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest

from htsweep.config import GROUPS, Config, compose, make_spec, task_node
from htsweep.data.base import DataConfig
from htsweep.errors import ConfigError


@dataclass
class FakeMNIST(DataConfig):
    """Stands in for an image source's schema (by name; the real ones live in htsweep.data)."""

    OPTION = "mnist"
    name: str = "mnist"
    image_size: int = 0  # 0: native (28)
    pad_to: Optional[int] = None


@dataclass
class FakeCIFAR(DataConfig):
    OPTION = "cifar10"
    name: str = "cifar10"


def config(data, model="vgg11", loss="cross_entropy", weight_norm="none", **model_fields) -> Config:
    return Config(
        data=data,
        model=GROUPS["model"][model](**model_fields),
        loss=GROUPS["loss"][loss](),
        optimizer=GROUPS["optimizer"]["adam"](),
        lr_schedule=GROUPS["lr_schedule"]["constant"](),
        weight_norm=GROUPS["weight_norm"][weight_norm](),
        noise=GROUPS["noise"]["none"](),
    )


def _field(fn) -> str:
    with pytest.raises(ConfigError) as info:
        fn()
    assert "\n" not in str(info.value)
    return info.value.field_name


@pytest.mark.parametrize(
    "overrides,field,words",
    [
        (["model=vgg11"], "loss", "needs loss=cross_entropy"),
        (["model=mlp", "loss=bce", "data=spiked"], "loss", "needs loss=cross_entropy"),
        (["loss=cross_entropy"], "model", "mlp, vgg11, resnet18"),
        (["model=resnet18", "loss=cross_entropy"], "data", "digits, mnist, cifar10, svhn"),
        (["train.chunk_size=-1"], "train.chunk_size", "must be an integer >= 1 (or null: the whole set at once)"),
        (["train.chunk_size=0"], "train.chunk_size", "must be an integer >= 1 (or null: the whole set at once)"),
    ],
)
def test_composed_configs_that_do_not_fit(overrides, field, words):
    with pytest.raises(ConfigError) as info:
        make_spec(overrides)
    assert info.value.field_name == field and words in str(info.value) and "\n" not in str(info.value)


def test_schema_defaults_and_chunk_size():
    assert task_node(compose(["model=vgg11"])).model.batch_norm is False
    assert dict(task_node(compose(["model=mlp"])).model) == {
        "name": "mlp", "depth": 1, "width": 512, "activation": "relu", "bias": False}  # fmt: skip
    assert make_spec([]).train.chunk_size is None and make_spec(["train.chunk_size=64"]).train.chunk_size == 64


def test_classifiers_on_image_sources():
    assert config(FakeCIFAR()).model.name == "vgg11"
    assert config(FakeCIFAR(), model="resnet18").model.name == "resnet18"
    assert config(FakeMNIST(), model="mlp").model.name == "mlp"
    assert config(FakeMNIST(), model="resnet18").model.name == "resnet18"  # 28 >= 8
    assert config(FakeMNIST(pad_to=32)).data.pad_to == 32
    assert config(FakeMNIST(image_size=64)).data.image_size == 64


def test_image_sizes_a_model_cannot_take():
    assert _field(lambda: config(FakeMNIST())) == "data.image_size"  # vgg11 on 28x28
    assert _field(lambda: config(FakeMNIST(pad_to=30))) == "data.pad_to"
    assert _field(lambda: config(FakeMNIST(image_size=4), model="resnet18")) == "data.image_size"
    with pytest.raises(ConfigError, match="multiples of 32.*got 28x28 \\(data=mnist\\)"):
        config(FakeMNIST())


def test_two_layer_only_options():
    assert _field(lambda: config(FakeCIFAR(), model="two_layer", loss="mse")) == "data"
    assert _field(lambda: config(FakeCIFAR(), weight_norm="frobenius")) == "weight_norm"
    spec = config(FakeCIFAR(), model="mlp")
    spec.optimizer.lr_scaling = type(spec.optimizer.lr_scaling)("inverse_gamma")
    assert _field(spec.__post_init__) == "optimizer.lr_scaling"


REAL = [
    (["data=mnist", "model=vgg11"], None),  # MNIST is padded to 32x32 by default
    (["data=cifar10", "model=vgg11", "model.batch_norm=true"], None),
    (["data=digits", "model=vgg11", "data.image_size=32"], None),
    (["data=digits", "model=resnet18"], None),  # 8x8
    (["data=mnist", "model=vgg11", "data.pad_to=null"], "data.image_size"),  # 28x28
    (["data=digits", "model=vgg11"], "data.image_size"),  # 8x8
    (["data=digits", "model=vgg11", "data.pad_to=48"], "data.pad_to"),
    (["data=digits", "model=resnet18", "data.image_size=4"], "data.image_size"),
    (["data=cifar10", "model=resnet18", "weight_norm=rows"], "weight_norm"),
    (["data=svhn", "model=mlp", "loss=mse"], "loss"),
    (["data=digits", "model=two_layer", "loss=mse"], "data"),
]


@pytest.mark.parametrize("overrides,field", REAL)
def test_registered_image_sources(overrides, field):
    if not all(name in GROUPS["data"] for name in ("digits", "mnist", "cifar10", "svhn")):
        pytest.skip("the image sources are not registered (htsweep.data.SOURCES)")
    args = ["loss=cross_entropy", *overrides]
    if field is None:
        assert make_spec(args).loss.name == "cross_entropy"
    else:
        assert _field(lambda: make_spec(args)) == field
