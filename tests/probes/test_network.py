"""The network probe: the trained network's own test loss and 0-1 errors."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.loop import run
from htsweep.probes.network import zero_one_error
from tests.helpers import small_spec


def test_zero_one_error_for_sign_and_unit_interval_labels():
    f = torch.tensor([2.0, -1.0, 0.5, -0.2])
    assert zero_one_error(f, torch.tensor([1.0, -1.0, -1.0, -1.0])) == 0.25
    assert zero_one_error(f, torch.tensor([1.0, 0.0, 0.0, 1.0])) == 0.5  # 0/1 labels, logit f
    assert zero_one_error(f, torch.tensor([0.9, 0.2, 0.6, 0.4])) == 0.0  # soft targets: y > 1/2


@pytest.mark.parametrize("loss", ["mse", "hinge"])
def test_columns_equal_a_direct_computation(loss):
    spec = small_spec("data=spiked", "data.n=80", "data.d=30", "model.h=40", "data.n_test=25", f"loss={loss}", "steps=2")
    from htsweep.loop import build_run

    built = build_run(spec, torch.device("cpu"), torch.float64)
    rows = run(spec).log.rows
    test = built.data.test
    f = built.dynamics.model.predict(built.initial.params, test.X)
    row0 = rows[0]
    assert row0["net_test_loss"] == pytest.approx(float(built.dynamics.loss.mean(f, test.y)), rel=1e-12)
    if loss == "hinge":
        assert row0["net_test_error"] == pytest.approx(float((torch.sign(f) != test.y).double().mean()))
        assert 0.0 <= rows[-1]["net_train_error"] <= 1.0
    else:
        assert math.isnan(row0["net_test_error"])
