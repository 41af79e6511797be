"""The readout probe: eq. (6)-(7) on the hold-out features; its skip rule."""

from __future__ import annotations

import math

import numpy as np
import torch

from htsweep.loop import build_run
from htsweep.probes import ProbeView, build_probes
from htsweep.probes.readout import ReadoutProbe
from tests.helpers import small_spec


def _built(*overrides):
    return build_run(small_spec(*overrides), torch.device("cpu"), torch.float64)


def test_readout_losses_equal_a_direct_ridge_solve():
    built = _built()
    out = ReadoutProbe(built.setup)(ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup))
    model, data, lam = built.dynamics.model, built.data, 0.01
    Z = model.features(built.initial.params, data.holdout.X).numpy()
    y = data.holdout.y.numpy()
    n, h = Z.shape
    a_hat = np.linalg.solve(Z.T @ Z + lam * n / h * np.eye(h), Z.T @ y)  # eq. (6)
    train = np.mean((Z @ a_hat - y) ** 2)
    Zt = model.features(built.initial.params, data.test.X).numpy()
    test = np.mean((Zt @ a_hat - data.test.y.numpy()) ** 2)
    K = Z @ Z.T
    kta = float(y @ K @ y) / (np.linalg.norm(K) * float(y @ y))  # eq. (7) with the n x n kernel
    v = out.step_values
    assert math.isclose(v["train_loss"], train, rel_tol=1e-10)
    assert math.isclose(v["test_loss"], test, rel_tol=1e-10)
    assert math.isclose(v["kta"], kta, rel_tol=1e-10)


def test_paper_code_scale_divides_the_preactivation_by_sqrt_d_again():
    a, b = _built(), _built("probe.feature_scale=paper_code")
    view_a = ProbeView(step=0, params=a.initial.params, update=None, setup=a.setup)
    view_b = ProbeView(step=0, params=b.initial.params, update=None, setup=b.setup)
    pa, pb = ReadoutProbe(a.setup)(view_a).step_values, ReadoutProbe(b.setup)(view_b).step_values
    assert pa["train_loss"] != pb["train_loss"]
    assert ReadoutProbe(b.setup).scales == {"": 1 / math.sqrt(60)}


def test_both_scales_equal_the_two_single_scale_runs_from_one_probe():
    a, b = _built(), _built("probe.feature_scale=paper_code")
    both = _built("probe.feature_scale=both")
    views = [ProbeView(step=0, params=x.initial.params, update=None, setup=x.setup) for x in (a, b, both)]
    pa, pb, pboth = (ReadoutProbe(x.setup)(v).step_values for x, v in zip((a, b, both), views))
    assert set(pboth) == {"train_loss", "test_loss", "kta", "train_loss_paper_code", "test_loss_paper_code", "kta_paper_code"}
    for key in ("train_loss", "test_loss", "kta"):
        assert pboth[key] == pa[key]
        assert pboth[f"{key}_paper_code"] == pb[key]
    assert pa["kta"] != pb["kta"]


def test_disabled_readout_is_skipped_and_says_why():
    probes = build_probes(_built("probe.readout=false").setup)
    assert "readout" not in probes.names
    assert probes.skipped["readout"] == "disabled (probe.readout=false)"
