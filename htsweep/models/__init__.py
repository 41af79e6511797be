"""Models: one module per architecture, registered here by its option name.

An entry is a config schema (a :class:`ModelConfig` subclass, the ``model=<name>`` option) and
``build(cfg, data) -> Model``.  To add a model: write ``htsweep/models/<name>.py``, add it to
:data:`MODELS`, and add ``htsweep/conf/model/<name>.yaml`` selecting its schema.

``two_layer`` is the student of eq. (2) with its closed-form gradient; ``mlp``, ``vgg11`` and
``resnet18`` (paper App. F.6) are torch modules with autograd gradients
(htsweep.models.torch_module), classifiers of image sources trained with ``loss=cross_entropy``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional, Tuple, Type

import torch

from htsweep.data.base import Dataset, Split
from htsweep.models import mlp, resnet, two_layer, vgg
from htsweep.models.base import Model, ModelConfig, Params
from htsweep.schema import lookup


class ModelEntry(NamedTuple):
    schema: Type[ModelConfig]
    build: Callable[[ModelConfig, Dataset], Model]


MODELS: Dict[str, ModelEntry] = {
    "two_layer": ModelEntry(two_layer.TwoLayerConfig, lambda cfg, data: two_layer.TwoLayer(cfg, data.d)),
    "mlp": ModelEntry(mlp.MLPConfig, mlp.build),
    "vgg11": ModelEntry(vgg.VGG11Config, vgg.build),
    "resnet18": ModelEntry(resnet.ResNet18Config, resnet.build),
}
# The options whose gradients come from autograd on a torch module (train.chunk_size applies).
CLASSIFIERS = ("mlp", "vgg11", "resnet18")


def on_stub(model_cfg: ModelConfig, shape: Tuple[int, ...]) -> Model:
    """The model ``model_cfg`` builds for samples of ``shape`` (a 10-class stub dataset of one
    zero sample: torch modules are built on the meta device; no data, no draws)."""
    stub = Dataset(train=Split(torch.zeros(1, *shape), torch.zeros(1)), holdout=Split(torch.zeros(0, *shape), torch.zeros(0)),
                   test=Split(torch.zeros(0, *shape), torch.zeros(0)), num_classes=10)  # fmt: skip
    return lookup(MODELS, model_cfg.name, "model").build(model_cfg, stub)


def layer_names(model_cfg: ModelConfig, data_cfg) -> List[str]:
    """The names of the matrices ``model_cfg`` analyses on data of ``data_cfg``'s shape, from
    the architecture alone (:func:`on_stub`)."""
    if model_cfg.name == "two_layer":
        return ["W"]
    shape = getattr(data_cfg, "input_shape", None)
    if shape is None:
        return []
    return list(getattr(on_stub(model_cfg, shape), "layers", []))


def hidden_names(model_cfg: ModelConfig, data_cfg) -> Optional[Tuple[str, ...]]:
    """``model.hidden`` of the model ``model_cfg`` builds for data shaped as ``data_cfg`` says
    (images: ``input_shape``; vectors: ``d``), from the architecture alone; None when the shape
    is unknown or the model cannot be built for it (other start-up checks report that)."""
    from htsweep.errors import ConfigError

    shape = getattr(data_cfg, "input_shape", None)
    if shape is None and getattr(data_cfg, "d", None) is not None:
        shape = (int(data_cfg.d),)
    if model_cfg.name not in MODELS or shape is None:
        return None
    try:
        model = on_stub(model_cfg, shape)
    except (ConfigError, ValueError, TypeError):
        return None
    return tuple(getattr(model, "hidden", ()))


def make_model(cfg: ModelConfig, data: Dataset, chunk_size: int = 0) -> Model:
    """The model of ``cfg`` for inputs shaped like ``data`` (an unknown option is an error);
    ``chunk_size`` (``train.chunk_size``) samples per forward pass of an autograd model (0: the
    whole split; the two-layer closed form has no chunks)."""
    model = lookup(MODELS, cfg.name, "model").build(cfg, data)
    if hasattr(model, "chunk_size"):
        model.chunk_size = int(chunk_size)
    return model


__all__ = ["CLASSIFIERS", "MODELS", "Model", "ModelConfig", "ModelEntry", "Params", "make_model"]
