"""The readout probe: eq. (6)-(7) on the hold-out features; the readout of each training loss
(logistic for bce, squared hinge for hinge), its losses and 0-1 errors; its skip rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from htsweep.loop import build_run, run
from htsweep.probes import ProbeView, build_probes
from htsweep.probes.readout import ReadoutProbe
from htsweep.records import PROBE_COLUMNS
from tests.helpers import small_spec

SPIKED = ("data=spiked", "data.n=200", "data.n_test=100", "data.d=40", "model.h=30")


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


def _probe(built):
    view = ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup)
    return ReadoutProbe(built.setup)(view).step_values


def _features(built):
    model, data, params = built.dynamics.model, built.data, built.initial.params
    Z, Zt = (model.features(params, s.X).numpy() for s in (data.holdout, data.test))
    return Z, data.holdout.y.numpy(), Zt, data.test.y.numpy()


def test_hinge_run_fits_the_squared_hinge_readout_and_reports_hinge_losses_and_errors():
    built = _built(*SPIKED, "loss=hinge")
    v = _probe(built)
    Z, y, Zt, yt = _features(built)
    n, h = Z.shape
    svc = LinearSVC(loss="squared_hinge", C=h / (2 * 0.01 * n), fit_intercept=False, dual=False, tol=1e-12,
                    max_iter=100000).fit(Z, y)  # fmt: skip
    a = svc.coef_[0]
    for split, (Zs, ys) in {"train": (Z, y), "test": (Zt, yt)}.items():
        f = Zs @ a
        assert math.isclose(v[f"{split}_loss"], np.mean(np.maximum(0.0, 1.0 - ys * f)), rel_tol=1e-6)
        assert np.min(np.abs(f)) > 1e-6  # so the reference's rounding flips no sign
        assert v[f"{split}_error"] == np.mean(np.sign(f) != ys)
    assert 0.0 <= v["train_error"] <= v["test_error"] <= 1.0


def test_bce_run_fits_the_logistic_readout_and_reports_log_loss_and_errors():
    built = _built(*SPIKED, "loss=bce")
    v = _probe(built)
    Z, y, Zt, yt = _features(built)
    n, h = Z.shape
    a = LogisticRegression(C=h / (2 * 0.01 * n), fit_intercept=False, tol=1e-12, max_iter=10000,
                           solver="newton-cg").fit(Z, y).coef_[0]  # fmt: skip
    for split, (Zs, ys) in {"train": (Z, y), "test": (Zt, yt)}.items():
        f = Zs @ a
        assert math.isclose(v[f"{split}_loss"], np.mean(np.logaddexp(0.0, f) - ys * f), rel_tol=1e-6)
        assert np.min(np.abs(f)) > 1e-6
        assert v[f"{split}_error"] == np.mean((f > 0) != (ys > 0.5))


def test_ridge_on_sign_labels_is_scored_by_the_hinge_loss():
    built = _built(*SPIKED, "loss=hinge", "readout.method=ridge")
    v = _probe(built)
    Z, y, Zt, yt = _features(built)
    n, h = Z.shape
    a = np.linalg.solve(Z.T @ Z + 0.01 * n / h * np.eye(h), Z.T @ y)  # eq. (6) on the +-1 labels
    f = Zt @ a
    assert math.isclose(v["test_loss"], np.mean(np.maximum(0.0, 1.0 - yt * f)), rel_tol=1e-10)
    assert v["test_error"] == np.mean(np.sign(f) != yt)
    assert v["kta"] == _probe(_built(*SPIKED, "loss=hinge"))["kta"]  # KTA does not depend on the method


def test_pinv_readout_on_an_mse_run_reports_its_mse_and_no_error():
    built = _built("readout.method=pinv")
    v = _probe(built)
    Z, y, Zt, yt = _features(built)
    a = np.linalg.pinv(Z) @ y
    assert math.isclose(v["test_loss"], np.mean((Zt @ a - yt) ** 2), rel_tol=1e-8)
    assert set(v) == {"train_loss", "test_loss", "kta"}


def test_both_scales_carry_the_error_columns_of_a_classification_run():
    v = _probe(_built(*SPIKED, "loss=hinge", "probe.feature_scale=both"))
    base = ("train_loss", "train_error", "test_loss", "test_error", "kta")
    assert set(v) == {*base, *(f"{k}_paper_code" for k in base)}


@pytest.mark.parametrize("loss,finite", [("hinge", True), ("mse", False)])
def test_run_rows_carry_the_error_columns(loss, finite):
    """Through the training loop: every row has train_error / test_error, the readout's 0-1 error
    (recomputed here from the state at step 0) for a classification loss, NaN for mse."""
    spec = small_spec(*SPIKED, f"loss={loss}", "steps=2")
    rows = run(spec).log.rows
    assert all(set(PROBE_COLUMNS) <= set(r) for r in rows)
    errors = np.array([[r["train_error"], r["test_error"]] for r in rows])
    if not finite:
        assert np.isnan(errors).all()
        return
    assert np.isfinite(errors).all() and ((errors >= 0) & (errors <= 1)).all()
    assert rows[0]["test_error"] == _probe(_built(*SPIKED, "loss=hinge", "steps=2"))["test_error"]
