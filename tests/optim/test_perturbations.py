"""Perturbations: `none` leaves the iterates alone; unknown names are errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from htsweep.models.two_layer import TwoLayer, TwoLayerConfig
from htsweep.optim import make_perturbation
from htsweep.optim.perturbations import PerturbationConfig
from htsweep.optim.perturbations.base import NoNoiseConfig


def test_none_is_the_identity():
    model = TwoLayer(TwoLayerConfig(h=5), 4)
    params = model.init(0)
    W = params["W"].clone()
    assert make_perturbation(NoNoiseConfig(), model, seed=0).apply_(params, t=3, lr=0.1) == {}
    assert torch.equal(params["W"], W)


def test_unknown_perturbation_is_an_error():
    @dataclass
    class Fake(PerturbationConfig):
        OPTION = "alpha_stable_later"
        name: str = "alpha_stable_later"

    with pytest.raises(ValueError, match="noise: unknown option 'alpha_stable_later'; allowed: none"):
        make_perturbation(Fake(), TwoLayer(TwoLayerConfig(h=5), 4), seed=0)
