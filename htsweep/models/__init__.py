"""Models: one module per architecture, registered here by its option name.

An entry is a config schema (a :class:`ModelConfig` subclass, the ``model=<name>`` option) and
``build(cfg, data) -> Model``.  To add a model: write ``htsweep/models/<name>.py``, add it to
:data:`MODELS`, and add ``htsweep/conf/model/<name>.yaml`` selecting its schema.

``two_layer`` is the student of eq. (2) with its closed-form gradient; ``mlp``, ``vgg11`` and
``resnet18`` (paper App. F.6) are torch modules with autograd gradients
(htsweep.models.torch_module), classifiers of image sources trained with ``loss=cross_entropy``.
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Type

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


def layer_names(model_cfg: ModelConfig, data_cfg) -> List[str]:
    """The names of the matrices ``model_cfg`` analyses on data of ``data_cfg``'s shape, from
    the architecture alone (the torch modules are built on the meta device; no data, no draws)."""
    if model_cfg.name == "two_layer":
        return ["W"]
    shape = getattr(data_cfg, "input_shape", None)
    if shape is None:
        return []
    stub = Dataset(train=Split(torch.zeros(1, *shape), torch.zeros(1)), holdout=Split(torch.zeros(0, *shape), torch.zeros(0)),
                   test=Split(torch.zeros(0, *shape), torch.zeros(0)), num_classes=10)  # fmt: skip
    return list(getattr(lookup(MODELS, model_cfg.name, "model").build(model_cfg, stub), "layers", []))


def make_model(cfg: ModelConfig, data: Dataset, chunk_size: int = 0) -> Model:
    """The model of ``cfg`` for inputs shaped like ``data`` (an unknown option is an error);
    ``chunk_size`` (``train.chunk_size``) samples per forward pass of an autograd model (0: the
    whole split; the two-layer closed form has no chunks)."""
    model = lookup(MODELS, cfg.name, "model").build(cfg, data)
    if hasattr(model, "chunk_size"):
        model.chunk_size = int(chunk_size)
    return model


__all__ = ["CLASSIFIERS", "MODELS", "Model", "ModelConfig", "ModelEntry", "Params", "make_model"]
