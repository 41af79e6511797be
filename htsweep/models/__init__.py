"""Models: one module per architecture, registered here by its option name.

An entry is a config schema (a :class:`ModelConfig` subclass, the ``model=<name>`` option) and
``build(cfg, data) -> Model``.  To add a model: write ``htsweep/models/<name>.py``, add it to
:data:`MODELS`, and add ``htsweep/conf/model/<name>.yaml`` selecting its schema.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.data.base import Dataset
from htsweep.models import two_layer
from htsweep.models.base import Model, ModelConfig, Params
from htsweep.schema import lookup


class ModelEntry(NamedTuple):
    schema: Type[ModelConfig]
    build: Callable[[ModelConfig, Dataset], Model]


MODELS: Dict[str, ModelEntry] = {
    "two_layer": ModelEntry(two_layer.TwoLayerConfig, lambda cfg, data: two_layer.TwoLayer(cfg, data.d)),
}


def make_model(cfg: ModelConfig, data: Dataset) -> Model:
    """The model of ``cfg`` for inputs shaped like ``data`` (an unknown option is an error)."""
    return lookup(MODELS, cfg.name, "model").build(cfg, data)


__all__ = ["MODELS", "Model", "ModelConfig", "ModelEntry", "Params", "make_model"]
