"""Constraints: Frobenius weight normalisation (App. F.4) and the registry."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from htsweep.models.two_layer import Parametrisation, TwoLayer, TwoLayerConfig
from htsweep.optim import make_constraint
from htsweep.optim.constraints import ConstraintConfig
from htsweep.optim.constraints.base import NoConstraintConfig
from htsweep.optim.constraints.frobenius import FrobeniusConfig


@pytest.mark.parametrize("param,std", [(Parametrisation.ntk, 1.0), (Parametrisation.mean_field, 1 / math.sqrt(20))])
def test_frobenius_projects_to_the_initial_scale(param, std):
    model = TwoLayer(TwoLayerConfig(h=30, param=param), 20)
    params = model.init(0)
    params["W"].mul_(3.7).add_(1.0)
    before = params["a"].clone()
    make_constraint(FrobeniusConfig(), model).project_(params)
    assert float(torch.linalg.matrix_norm(params["W"])) == pytest.approx(math.sqrt(30 * 20) * std, rel=1e-13)
    assert torch.equal(params["a"], before)  # the fixed readout is not an analysed matrix


def test_frobenius_on_a_batch_normalises_each_element():
    model = TwoLayer(TwoLayerConfig(h=30), 20)
    W = torch.randn(3, 30, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * torch.tensor([0.5, 1.0, 4.0]).view(3, 1, 1)
    params = {"W": W, "a": torch.ones(30)}
    make_constraint(FrobeniusConfig(), model).project_(params)
    norms = torch.linalg.matrix_norm(params["W"])
    assert torch.allclose(norms, torch.full((3,), math.sqrt(600.0), dtype=torch.float64), rtol=1e-13)


def test_none_changes_nothing_and_unknown_is_an_error():
    model = TwoLayer(TwoLayerConfig(h=5), 4)
    params = model.init(1)
    W = params["W"].clone()
    make_constraint(NoConstraintConfig(), model).project_(params)
    assert torch.equal(params["W"], W)

    @dataclass
    class Rows(ConstraintConfig):
        OPTION = "rows_not_yet"
        name: str = "rows_not_yet"

    with pytest.raises(ValueError, match="weight_norm: unknown option 'rows_not_yet'; allowed: none, frobenius"):
        make_constraint(Rows(), model)
