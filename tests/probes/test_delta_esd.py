"""The delta-ESD control (probe.delta_esd): the ESD of W_t - W_0 against numpy, its fits, NaN at
t = 0, and that it changes no other output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from htsweep import records
from htsweep.job import run_and_record
from htsweep.loop import build_run, step
from htsweep.probes import ProbeView, build_probes
from htsweep.probes.delta_esd import COLUMNS, DeltaESDProbe
from htsweep.records.schema import is_derived_layer
from htsweep.spectral import PhaseThresholds, esd_report
from htsweep.train import preflight, user_error
from tests.helpers import small_node, small_spec, spec

TINY = ("data.n=200", "data.d=50", "model.h=75", "steps=3", "device=cpu", "progress=false")
ON = ("probe.delta_esd=true",)


def test_the_delta_esd_equals_numpy_and_its_fits_the_report_of_those_eigenvalues():
    built = build_run(small_spec("optimizer=gd", "lr=3.0", "dtype=float32", *ON), torch.device("cpu"), torch.float32)
    W0 = built.initial.params["W"].clone()
    state = built.initial
    for _ in range(2):
        state, _ = step(state, built.dynamics, built.data.train)
    out = DeltaESDProbe(built.setup)(ProbeView(step=2, params=state.params, update=state.update, setup=built.setup))
    D = state.params["W"].numpy().astype(np.float64) - W0.numpy().astype(np.float64)
    eigs = np.linalg.eigvalsh(D.T @ D)
    got = out.esd["W:delta"].numpy()
    assert np.allclose(got, eigs, rtol=1e-9, atol=1e-10 * eigs.max())
    row = out.layer_values["W"]
    assert row["delta_lambda_max"] == pytest.approx(np.linalg.norm(D, 2) ** 2, rel=1e-10)
    report = esd_report(torch.from_numpy(got), 90, 60, PhaseThresholds()).as_row()
    assert row == {f"delta_{c}": report[c] for c in COLUMNS}
    assert 1 < row["delta_pl_alpha_ks"] < math.inf and row["delta_pl_alpha_hill"] > 1
    assert isinstance(row["delta_esd_phase"], str)


def test_at_step_zero_the_difference_is_zero_and_every_fit_nan():
    built = build_run(small_spec(*ON), torch.device("cpu"), torch.float64)
    out = DeltaESDProbe(built.setup)(ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup))
    row = out.layer_values["W"]
    assert (out.esd["W:delta"] == 0).all() and out.esd["W:delta"].numel() == 60
    assert row["delta_lambda_max"] == 0.0 and row["delta_esd_phase"] is None
    fits = [c for c in row if c not in ("delta_lambda_max", "delta_esd_phase")]
    assert fits and all(math.isnan(row[c]) for c in fits)


def test_on_changes_no_other_column_and_writes_derived_esd_rows(tmp_path):
    off_dir, on_dir = tmp_path / "off", tmp_path / "on"
    run_and_record(small_node(*TINY), off_dir)
    run_and_record(small_node(*TINY, *ON), on_dir)
    off, on = (pd.read_parquet(p / records.METRICS_FILE) for p in (off_dir, on_dir))
    assert [c for c in on.columns if c not in off.columns] == [f"delta_{c}" for c in COLUMNS]
    for c in off.columns:
        if c not in ("elapsed_s", "probe.delta_esd"):
            assert off[c].equals(on[c]), c  # bit for bit
    assert pd.isna(on["delta_esd_phase"].iloc[0]) and on["delta_esd_phase"].iloc[1:].notna().all()  # a null string
    assert math.isnan(on["delta_pl_alpha_ks"].iloc[0]) and on["delta_pl_alpha_ks"].iloc[1:].notna().all()
    # ||W_t - W_0||_2^2 from the update probe (float32 difference, Lanczos) agrees
    assert np.allclose(on["delta_lambda_max"], on["delta_w_spectral"] ** 2, rtol=1e-5)
    e_off, e_on = (pd.read_parquet(p / records.ESD_FILE) for p in (off_dir, on_dir))
    pd.testing.assert_frame_equal(e_on[~e_on["layer"].map(is_derived_layer)].reset_index(drop=True), e_off)
    delta = e_on[e_on["layer"] == "W:delta"]
    assert len(delta) == len(e_off) and (delta[delta.step == 0]["eigenvalue"] == 0).all()
    last = delta[delta.step == 3]["eigenvalue"].max()
    assert last == on.set_index("step").loc[3, "delta_lambda_max"]
    rec = records.read_record(on_dir)
    assert rec["layers"] == ["W"] and "delta_esd" in rec["probes"] and records.check_outputs(on_dir, rec) is None


def test_off_by_default_and_skipped_with_the_reason():
    assert spec().probe.delta_esd is False
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    assert build_probes(built.setup).skipped["delta_esd"] == "disabled (probe.delta_esd=false)"


def test_the_option_is_a_bool():
    with pytest.raises(Exception) as info:
        preflight(["probe.delta_esd=2.5", "device=cpu", "progress=false"])
    msg = user_error(info.value)
    assert msg.startswith("probe.delta_esd: Value '2.5'") and "not a valid bool" in msg and "\n" not in msg
