"""Data sources: one module per source, registered here by its option name.

A source is a config schema (a :class:`DataConfig` subclass, the ``data=<name>`` group option)
and ``make(cfg, seed, loss_name) -> Dataset`` (``loss_name`` picks the labels of ``labels=auto``).  To add one: write ``htsweep/data/<name>.py`` with both,
add it to :data:`SOURCES`, and add ``htsweep/conf/data/<name>.yaml`` selecting its schema.
"""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Type

from htsweep.data import cifar10, digits, images, mnist, single_index, spiked, spiked_cov, svhn
from htsweep.data.base import DataConfig, Dataset, Split
from htsweep.schema import lookup


class Source(NamedTuple):
    schema: Type[DataConfig]
    make: Callable[..., Dataset]


SOURCES: Dict[str, Source] = {
    "single_index": Source(single_index.SingleIndexConfig, single_index.make),
    "spiked": Source(spiked.SpikedConfig, spiked.make),
    "multi_index": Source(spiked.MultiIndexConfig, spiked.make),
    "spiked_cov": Source(spiked_cov.SpikedCovConfig, spiked_cov.make),
    # real images (htsweep.data.images): class-index labels, no teacher
    "digits": Source(digits.DigitsConfig, images.make),
    "mnist": Source(mnist.MnistConfig, images.make),
    "cifar10": Source(cifar10.Cifar10Config, images.make),
    "svhn": Source(svhn.SvhnConfig, images.make),
}


def make_data(cfg: DataConfig, seed: int, loss_name: str = "mse") -> Dataset:
    """The data set of ``cfg`` (dispatch on its option; an unknown one is an error); teacher-
    student sources label it for the training loss ``loss_name`` (htsweep.data.labels)."""
    source = lookup(SOURCES, cfg.name, "data")
    if not isinstance(cfg, source.schema):
        raise TypeError(f"data: {cfg.name} expects a {source.schema.__name__}, got {type(cfg).__name__}")
    return source.make(cfg, seed, loss_name)


__all__ = ["DataConfig", "Dataset", "SOURCES", "Source", "Split", "make_data"]
