"""The spectral probe: ESD columns against independent references, overlaps in both modes,
the MP reference of each matrix, and a matrix without a teacher."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from htsweep.loop import build_run, run
from htsweep.probes import ProbeView
from htsweep.probes.spectrum import SpectrumProbe
from tests.helpers import small_spec


def test_spectral_columns_of_a_probe():
    r0, r1 = run(small_spec("steps=1")).log.rows
    assert r0["esd_phase"] == "random-like" and r1["esd_phase"] != "random-like"
    assert r1["mp_fit_num_spikes"] >= 1 and r1["mp_fit_spectral_gap"] > 1
    assert r1["lambda_sum"] == pytest.approx(r1["frobenius_norm"] ** 2, rel=1e-12)
    assert r1["alpha_weighted"] == pytest.approx(r1["pl_alpha_ks"] * math.log10(r1["lambda_max"]), rel=1e-12)
    assert 0 <= r1["update_beta_alignment"] <= 1 and r1["update_sv_0"] == pytest.approx(r1["update_spectral"])
    assert (r1["matrix_rows"], r1["matrix_cols"], r1["mp_sigma2"]) == (90, 60, 1.0)
    assert r1["mp_lambda_plus"] == pytest.approx((math.sqrt(90) + math.sqrt(60)) ** 2, rel=1e-14)


def test_esd_and_sim_against_numpy():
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    W = built.initial.params["W"]
    out = SpectrumProbe(built.setup)(ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup))
    eigs = np.linalg.eigvalsh(W.numpy().T @ W.numpy())
    assert np.allclose(out.esd["W"].numpy(), eigs, rtol=1e-10, atol=1e-10 * eigs.max())
    _, _, Vt = np.linalg.svd(W.numpy())
    sim = abs(float(Vt[0] @ built.data.beta.numpy()))
    row = out.layer_values["W"]
    assert row["sim_w_beta"] == pytest.approx(sim, rel=1e-9)
    assert row["lambda_max"] == pytest.approx(eigs[-1], rel=1e-12)


def test_without_a_teacher_the_teacher_columns_are_nan():
    built = build_run(small_spec("steps=1"), torch.device("cpu"), torch.float64)
    setup = replace(built.setup, data=replace(built.setup.data, beta=None))
    M = {"W": 0.1 * torch.ones_like(built.initial.params["W"])}
    out = SpectrumProbe(setup)(ProbeView(step=1, params=built.initial.params, update=M, setup=setup))
    row = out.layer_values["W"]
    assert math.isnan(row["sim_w_beta"]) and math.isnan(row["update_beta_alignment"])
    assert math.isfinite(row["lambda_max"]) and math.isfinite(row["overlap_u_top_pair"])


def test_overlap_summaries_match_between_summary_and_full_modes():
    """probe.overlaps=summary (top-k SVDs) and =full (all triplets) give the same summary
    columns; full also records the b x b matrices, whose leading block the summaries describe."""
    summary = run(small_spec("steps=2"))
    full = run(small_spec("steps=2", "probe.overlaps=full"))
    cols = [c for c in summary.log.rows[1] if c.startswith(("overlap_", "update_"))]
    assert "overlap_u_top_pair" in cols and "overlap_v_diag_9" in cols
    for a, b in zip(summary.log.rows[1:], full.log.rows[1:]):
        for c in cols:
            assert a[c] == pytest.approx(b[c], rel=1e-6, abs=1e-9), c
    O_U, O_V = full.log.overlaps[(1, "W")]
    assert O_U.shape == (60, 60) and O_U.dtype == np.float16
    assert float(O_U[0, 0]) == pytest.approx(summary.log.rows[1]["overlap_u_top_pair"], abs=1e-3)
    # rows of a squared orthogonal matrix sum to 1 (V is square here: d = 60 <= h = 90)
    assert np.allclose(O_V.astype(np.float64).sum(axis=1), 1.0, atol=1e-2)
    assert sorted(full.log.overlaps) == [(1, "W"), (2, "W")]


def test_disabled_spectrum_leaves_its_columns_nan_and_keeps_update_norms():
    res = run(small_spec("steps=1", "probe.spectrum=false"))
    r0, r1 = res.log.rows
    assert math.isnan(r1["lambda_max"]) and math.isnan(r1["pl_alpha_ks"])
    assert math.isfinite(r1["update_spectral"]) and math.isfinite(r1["delta_w_spectral"])
    assert res.log.esd == [] and res.probes_skipped["spectrum"] == "disabled (probe.spectrum=false)"
    assert (r1["matrix_rows"], r1["matrix_cols"], r1["mp_sigma2"]) == (90, 60, 1.0)  # shapes on every row
