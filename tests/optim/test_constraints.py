"""Constraints: Frobenius weight normalisation (App. F.4), row and Sigma-row normalisation
(seeds 001, 003) and the registry."""

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
from htsweep.optim.constraints.rows import RowsConfig, SigmaRowsConfig, SigmaSource


@pytest.mark.parametrize("param,std", [(Parametrisation.ntk, 1.0), (Parametrisation.mean_field, 1 / math.sqrt(20))])
def test_frobenius_projects_to_the_initial_scale(param, std):
    model = TwoLayer(TwoLayerConfig(h=30, param=param), 20)
    params = model.init(0)
    params["W"].mul_(3.7).add_(1.0)
    before = params["a"].clone()
    make_constraint(FrobeniusConfig(), model, None).project_(params)
    assert float(torch.linalg.matrix_norm(params["W"])) == pytest.approx(math.sqrt(30 * 20) * std, rel=1e-13)
    assert torch.equal(params["a"], before)  # the fixed readout is not an analysed matrix


def test_frobenius_on_a_batch_normalises_each_element():
    model = TwoLayer(TwoLayerConfig(h=30), 20)
    W = torch.randn(3, 30, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * torch.tensor([0.5, 1.0, 4.0]).view(3, 1, 1)
    params = {"W": W, "a": torch.ones(30)}
    make_constraint(FrobeniusConfig(), model, None).project_(params)
    norms = torch.linalg.matrix_norm(params["W"])
    assert torch.allclose(norms, torch.full((3,), math.sqrt(600.0), dtype=torch.float64), rtol=1e-13)


def test_none_changes_nothing_and_unknown_is_an_error():
    model = TwoLayer(TwoLayerConfig(h=5), 4)
    params = model.init(1)
    W = params["W"].clone()
    make_constraint(NoConstraintConfig(), model, None).project_(params)
    assert torch.equal(params["W"], W)

    @dataclass
    class Rows(ConstraintConfig):
        OPTION = "rows_not_yet"
        name: str = "rows_not_yet"

    with pytest.raises(ValueError, match="weight_norm: unknown option 'rows_not_yet'; allowed: none, frobenius, rows, sigma_rows"):
        make_constraint(Rows(), model, None)


def _spiked(n=400, d=30, nu=0.4, alpha=0.5):
    from htsweep.data.spiked import SpikedConfig, make

    return make(SpikedConfig(n=n, n_test=10, d=d, nu=nu, alpha=alpha), 0)


@pytest.mark.parametrize("param", list(Parametrisation))
def test_rows_puts_every_row_on_the_initial_norm_sphere(param):
    model = TwoLayer(TwoLayerConfig(h=40, param=param), 30)
    params = model.init(2)
    params["W"].mul_(torch.linspace(0.1, 5.0, 40, dtype=torch.float64).unsqueeze(1))
    c = make_constraint(RowsConfig(), model, None)
    c.project_(params)
    target = math.sqrt(30) * model.init_std("W")
    assert torch.allclose(torch.linalg.vector_norm(params["W"], dim=1), torch.full((40,), target, dtype=torch.float64), rtol=1e-14)
    assert c.at_init  # the loop projects W_0 as well
    # in the notebook's units (pre-activation W x / sqrt(d) for ntk) the rows are unit vectors
    if param is Parametrisation.ntk:
        assert torch.allclose(torch.linalg.vector_norm(params["W"] / math.sqrt(30), dim=1), torch.ones(40, dtype=torch.float64))


@pytest.mark.parametrize("sigma", list(SigmaSource))
def test_sigma_rows_normalises_in_the_sigma_norm(sigma):
    """||Sigma^(1/2) w_j|| = sqrt(d) after the projection, Sigma the empirical X^T X / n or the
    law's diag(i^-alpha) + zeta^2 q q^T (checked against the explicit d x d matrices)."""
    data = _spiked()
    model = TwoLayer(TwoLayerConfig(h=25), 30)
    params = model.init(3)
    make_constraint(SigmaRowsConfig(sigma=sigma), model, data).project_(params)
    X = data.train.X
    cov = X.T @ X / X.shape[0] if sigma is SigmaSource.empirical else data.law.covariance()
    quad = torch.einsum("jd,de,je->j", params["W"], cov, params["W"])
    assert torch.allclose(quad, torch.full((25,), 30.0, dtype=torch.float64), rtol=1e-12)


def test_sigma_rows_with_identity_covariance_equals_rows():
    from htsweep.data.single_index import SingleIndexConfig, make

    data = make(SingleIndexConfig(n=20, n_test=5, d=30), 0)
    model = TwoLayer(TwoLayerConfig(h=25), 30)
    p1, p2 = model.init(4), model.init(4)
    make_constraint(SigmaRowsConfig(sigma=SigmaSource.known), model, data).project_(p1)
    make_constraint(RowsConfig(), model, None).project_(p2)
    assert torch.allclose(p1["W"], p2["W"], rtol=1e-13)
