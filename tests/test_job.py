"""One sweep point end to end: the files a run writes, diverged and failed records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from htsweep import records
from htsweep.job import hashed_config, run_and_record
from htsweep.records import RunRecord, Status
from tests.helpers import small_node


def test_completed_run_writes_three_consistent_files(tmp_path):
    run_and_record(small_node("steps=2"), tmp_path)
    metrics = pd.read_parquet(tmp_path / records.METRICS_FILE)
    esd = pd.read_parquet(tmp_path / records.ESD_FILE)
    rec = RunRecord.from_json(json.loads((tmp_path / records.RUN_FILE).read_text()))
    assert rec.status is Status.completed and rec.steps_done == 2 and rec.probe_steps == [0, 1, 2]
    assert rec.layers == ["W"] and rec.probes == ["readout", "network", "spectrum", "update"]
    assert rec.probes_skipped == {
        "randomize": "disabled (probe.randomize=false)",
        "delta_esd": "disabled (probe.delta_esd=false)",
        "alignment": "off by default for inputs without a spike (probe.alignment=true turns it on)",
        "subspace": "disabled (probe.subspace_r=0 and probe.save_weights_every=0)",
        "compress": "disabled (probe.compress=false)",
    }
    assert list(metrics["step"]) == [0, 1, 2] and set(metrics["layer"]) == {"W"}
    assert {"optimizer.name", "lr", "data.n", "seed", "model.h", "model.activation"} <= set(metrics.columns)
    assert "activation.name" not in metrics.columns and "optimizer.beta1" in metrics.columns
    assert (metrics["optimizer.name"] == "adam").all() and (metrics["data.n"] == 300).all()
    assert len(esd) == 3 * 60 and set(esd["step"]) == {0, 1, 2} and set(esd["layer"]) == {"W"}
    last = esd[esd.step == 2].sort_values("index")["eigenvalue"]
    assert last.is_monotonic_increasing
    assert last.iloc[-1] == pytest.approx(metrics["lambda_max"].iloc[-1], rel=1e-12)
    assert rec.config_hash == records.config_hash(hashed_config(rec.config))
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_skipped_probes_are_named_in_the_record(tmp_path):
    run_and_record(small_node("steps=1", "probe.readout=false"), tmp_path)
    rec = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert rec["probes_skipped"]["readout"] == "disabled (probe.readout=false)"
    opt_ins = {"randomize", "delta_esd", "alignment", "subspace", "compress"}
    assert set(rec["probes_skipped"]) == {"readout", *opt_ins}
    assert pd.read_parquet(tmp_path / records.METRICS_FILE)["train_loss"].isna().all()


def test_diverged_run_record(tmp_path):
    node = small_node("steps=6", "lr=1e30", "optimizer=gd", "model.activation=identity", "dtype=float32")
    run_and_record(node, tmp_path)  # returns normally: a sweep goes on
    rec = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert rec["status"] == "diverged" and rec["diverged_at_step"] is not None
    metrics = pd.read_parquet(tmp_path / records.METRICS_FILE)
    assert len(metrics) >= 1 and metrics["lambda_max"].notna().all()


def test_failed_run_is_recorded_and_reraised(tmp_path, monkeypatch):
    import htsweep.loop as loop_mod

    def boom(*args, **kwargs):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(loop_mod, "measure", boom)
    with pytest.raises(RuntimeError, match="probe exploded"):
        run_and_record(small_node("steps=2"), tmp_path)
    rec = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert rec["status"] == "failed" and "probe exploded" in rec["error"]


def test_the_hash_ignores_only_the_unhashed_keys(tmp_path):
    a = small_node("progress=true", "checkpoint.every=3")
    b = small_node("progress=false")
    from htsweep.config import task_container

    assert records.config_hash(hashed_config(task_container(a))) == records.config_hash(hashed_config(task_container(b)))
    c = small_node("lr=0.5")
    assert records.config_hash(hashed_config(task_container(c))) != records.config_hash(hashed_config(task_container(b)))
