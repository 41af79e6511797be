"""The update probe: norms of W_t - W_0 and of M_{t-1} against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.loop import build_run, step
from htsweep.probes import ProbeView
from htsweep.probes.update import UpdateProbe
from tests.helpers import small_spec


def test_norms_after_two_steps_equal_numpy():
    built = build_run(small_spec("optimizer=gd", "lr=3.0"), torch.device("cpu"), torch.float64)
    W0 = built.initial.params["W"].clone()
    state, _ = step(built.initial, built.dynamics, built.data.train)
    state, _ = step(state, built.dynamics, built.data.train)
    out = UpdateProbe()(ProbeView(step=2, params=state.params, update=state.update, setup=built.setup))
    row = out.layer_values["W"]
    delta = (state.params["W"] - W0).numpy()
    M = state.update["W"].numpy()
    assert row["delta_w_spectral"] == pytest.approx(np.linalg.norm(delta, 2), rel=1e-10)
    assert row["delta_w_frobenius"] == pytest.approx(np.linalg.norm(delta), rel=1e-12)
    assert row["update_spectral"] == pytest.approx(np.linalg.norm(M, 2), rel=1e-10)
    assert row["update_frobenius"] == pytest.approx(np.linalg.norm(M), rel=1e-12)


def test_step_zero_has_no_update():
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    row = UpdateProbe()(ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup)).layer_values["W"]
    assert row == {"delta_w_spectral": 0.0, "delta_w_frobenius": 0.0}
    assert not any(math.isnan(v) for v in row.values())
