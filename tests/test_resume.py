"""Resume instead of recompute: checkpoints, signals, skip-if-done and claim files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htsweep import records
from htsweep.job import run_and_record
from htsweep.loop import run
from htsweep.records import Status
from htsweep.resume import CHECKPOINT_FILE, CHECKPOINT_FORMAT, CLAIM_FILE, Checkpointer, Claim, Interrupted
from tests.helpers import StopAfter, small_node, small_spec


def _rows(result):
    return pd.DataFrame(result.log.rows).drop(columns="elapsed_s")


@pytest.mark.parametrize("optimizer", ["adam", "gd", "sgd"])
@pytest.mark.parametrize("stop_at", [1, 4, 7])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, stop_at, optimizer):
    extra = ["optimizer.batch_size=64"] if optimizer == "sgd" else []  # 5 batches an epoch: 8 steps cross one
    cfg = small_spec("steps=8", "probe.every=3", f"optimizer={optimizer}", *extra, "lr_schedule=step",
                     "weight_norm=frobenius")  # fmt: skip
    reference = run(cfg)
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=0, config_hash="h")
    with pytest.raises(Interrupted) as info:
        run(cfg, checkpointer=ckpt, stop=StopAfter(stop_at))
    assert info.value.step == stop_at and (tmp_path / CHECKPOINT_FILE).exists()
    resumed = run(cfg, checkpointer=ckpt)
    assert resumed.resumed_from == stop_at and resumed.status is Status.completed
    pd.testing.assert_frame_equal(_rows(resumed), _rows(reference))
    assert [(s, layer) for s, layer, _ in resumed.log.esd] == [(s, layer) for s, layer, _ in reference.log.esd]
    for (_, _, a), (_, _, b) in zip(resumed.log.esd, reference.log.esd):
        assert (a == b).all()


def test_resume_keeps_the_full_overlap_matrices(tmp_path):
    cfg = small_spec("steps=4", "probe.overlaps=full")
    reference = run(cfg)
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=0, config_hash="h")
    with pytest.raises(Interrupted):
        run(cfg, checkpointer=ckpt, stop=StopAfter(2))
    resumed = run(cfg, checkpointer=ckpt)
    assert sorted(resumed.log.overlaps) == sorted(reference.log.overlaps) == [(t, "W") for t in (1, 2, 3, 4)]
    for key, (o_u, o_v) in reference.log.overlaps.items():
        assert (resumed.log.overlaps[key][0] == o_u).all() and (resumed.log.overlaps[key][1] == o_v).all()


@pytest.mark.parametrize("stop_at", [1, 3])
def test_resume_with_structured_inputs_alignment_and_subspaces_is_bit_identical(tmp_path, stop_at):
    """Spiked inputs, hinge loss, rows normalisation, lr / gamma, the alignment probe (whose
    v1(G_0) and BBP constants are recomputed from W_0 after a resume) and arrays.npz."""
    cfg = small_spec("data=spiked", "data.n=120", "data.d=40", "model.h=60", "data.n_test=30", "loss=hinge", "optimizer=gd",
                     "weight_norm=rows", "optimizer.lr_scaling=inverse_gamma", "model.output_scale=mf", "steps=5",
                     "probe.subspace_r=3", "probe.save_weights_every=2")  # fmt: skip
    reference = run(cfg)
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=0, config_hash="h")
    with pytest.raises(Interrupted):
        run(cfg, checkpointer=ckpt, stop=StopAfter(stop_at))
    resumed = run(cfg, checkpointer=ckpt)
    assert resumed.resumed_from == stop_at and "alignment" in resumed.probes
    pd.testing.assert_frame_equal(_rows(resumed), _rows(reference))
    assert sorted(resumed.log.arrays) == sorted(reference.log.arrays)
    assert {k for _, k, _ in reference.log.arrays} == {"subspace", "weights"}
    for key, array in reference.log.arrays.items():
        assert (resumed.log.arrays[key] == array).all(), key


def test_periodic_checkpoints_and_foreign_checkpoint_is_ignored(tmp_path):
    cfg = small_spec("steps=5")
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=2, config_hash="h1")
    run(cfg, checkpointer=ckpt)
    saved = ckpt.load()
    assert saved["state"]["t"] == 4 and saved["format"] == CHECKPOINT_FORMAT
    assert "rng_torch" not in saved  # nothing global: every draw comes from a named stream
    other = Checkpointer(tmp_path / CHECKPOINT_FILE, every=2, config_hash="h2")
    assert other.load() is None  # another config's state is never resumed


def test_a_checkpoint_of_another_format_is_ignored(tmp_path):
    import torch

    torch.save({"config_hash": "h", "t": 3, "W": torch.zeros(2)}, tmp_path / CHECKPOINT_FILE)
    assert Checkpointer(tmp_path / CHECKPOINT_FILE, config_hash="h").load() is None


def test_relaunch_skips_a_completed_run(tmp_path):
    cfg = small_node("steps=2")
    assert run_and_record(cfg, tmp_path) is not None
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert run_and_record(cfg, tmp_path) is None
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert not (tmp_path / CLAIM_FILE).exists() and not (tmp_path / CHECKPOINT_FILE).exists()


def test_relaunch_with_another_config_refuses_to_overwrite(tmp_path):
    run_and_record(small_node("steps=2"), tmp_path)
    with pytest.raises(RuntimeError, match="another config"):
        run_and_record(small_node("steps=2", "lr=0.5"), tmp_path)
    assert json.loads((tmp_path / records.RUN_FILE).read_text())["config"]["lr"] == 1.0


@pytest.mark.parametrize("recorded", ["before_the_section", "legacy_hash"])
def test_relaunch_finds_runs_recorded_before_an_all_null_section(tmp_path, recorded):
    """A run recorded before ``stop`` existed (its config has no such key), or with the hash that
    still counted all-null sections, is the same config: a relaunch skips it."""
    run_and_record(small_node("steps=2"), tmp_path)
    path = tmp_path / records.RUN_FILE
    rec = json.loads(path.read_text())
    if recorded == "before_the_section":
        del rec["config"]["stop"]
        rec["config_hash"] = records.config_hash({k: v for k, v in rec["config"].items() if k not in records.UNHASHED_KEYS})
    else:  # the hash that still counted all-null sections
        rec["config_hash"] = records.config_hash({k: v for k, v in rec["config"].items() if k not in records.UNHASHED_KEYS})
    path.write_text(json.dumps(rec))
    assert run_and_record(small_node("steps=2"), tmp_path) is None  # skipped, not refused


def test_failed_run_reruns_only_on_request(tmp_path, monkeypatch):
    import htsweep.loop as loop_mod

    real = loop_mod.measure
    monkeypatch.setattr(loop_mod, "measure", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        run_and_record(small_node("steps=2"), tmp_path)
    monkeypatch.setattr(loop_mod, "measure", real)
    assert run_and_record(small_node("steps=2"), tmp_path) is None
    assert run_and_record(small_node("steps=2", "resume.rerun_failed=true"), tmp_path).status is Status.completed


def test_claim_excludes_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    first = Claim(tmp_path)
    assert first.acquire()
    second = Claim(tmp_path)
    assert not second.acquire() and second.holder["pid"] == os.getpid()
    first.release()
    assert not (tmp_path / CLAIM_FILE).exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / CLAIM_FILE).write_text(
        json.dumps({"host": os.uname().nodename, "pid": dead.pid, "slurm_task": None, "token": "old"})
    )
    third = Claim(tmp_path)
    assert third.acquire()
    assert json.loads((tmp_path / CLAIM_FILE).read_text())["token"] == third.owner["token"]
    third.release()


def test_claim_of_another_host_goes_stale_after_its_heartbeat(tmp_path):
    (tmp_path / CLAIM_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "slurm_task": None}))
    assert not Claim(tmp_path, stale_after_s=60).acquire()
    old = time.time() - 120
    os.utime(tmp_path / CLAIM_FILE, (old, old))
    claim = Claim(tmp_path, stale_after_s=60)
    assert claim.acquire()
    claim.release()


def test_requeued_slurm_task_takes_over_its_own_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    (tmp_path / CLAIM_FILE).write_text(json.dumps({"host": "elsewhere", "pid": 1, "slurm_task": "77"}))
    claim = Claim(tmp_path)
    assert claim.acquire()
    claim.release()


TINY = ["data.n=200", "data.d=40", "model.h=60", "data.n_test=20", "device=cpu", "progress=false"]


def _launch(run_dir: Path, steps: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "htsweep.train", *TINY, f"steps={steps}", f"probe.every={steps // 10}",
         "checkpoint.every=50", f"hydra.run.dir={run_dir}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigterm_mid_run_then_relaunch_matches_uninterrupted(tmp_path):
    """Kill test without Slurm: SIGTERM a run mid-way, relaunch the same command, compare."""
    steps = 20000  # seconds of loop; the signal is sent once the first periodic checkpoint exists
    run_dir = tmp_path / "killed"
    proc = _launch(run_dir, steps)
    deadline = time.time() + 120
    while not (run_dir / CHECKPOINT_FILE).exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before its first checkpoint"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    record = json.loads((run_dir / records.RUN_FILE).read_text())
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert record["status"] == Status.interrupted.value and 0 < record["steps_done"] < steps
    partial = pd.read_parquet(run_dir / records.METRICS_FILE)
    assert partial["step"].is_unique and partial["step"].max() <= record["steps_done"]
    assert (run_dir / CHECKPOINT_FILE).exists() and not (run_dir / CLAIM_FILE).exists()

    relaunch = _launch(run_dir, steps)
    _, err = relaunch.communicate(timeout=300)
    assert relaunch.returncode == 0, err
    record = json.loads((run_dir / records.RUN_FILE).read_text())
    assert record["status"] == "completed" and record["resumed_from_step"] > 0

    fresh_dir = tmp_path / "fresh"
    fresh = _launch(fresh_dir, steps)
    _, err = fresh.communicate(timeout=300)
    assert fresh.returncode == 0, err
    a = pd.read_parquet(run_dir / records.METRICS_FILE).drop(columns="elapsed_s")
    b = pd.read_parquet(fresh_dir / records.METRICS_FILE).drop(columns="elapsed_s")
    pd.testing.assert_frame_equal(a, b)
    assert list(a["step"]) == list(range(0, steps + 1, steps // 10))
    ea = pd.read_parquet(run_dir / records.ESD_FILE)
    eb = pd.read_parquet(fresh_dir / records.ESD_FILE)
    pd.testing.assert_frame_equal(ea, eb)
    assert not (run_dir / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("damage", ["delete_metrics", "truncate_esd", "drop_rows"])
def test_a_completed_run_with_damaged_outputs_runs_again(tmp_path, damage, caplog):
    """Skip only what checks out: a lost, truncated or short output makes the relaunch rerun
    the point (and say why), and the rerun's outputs equal the first ones."""
    node = small_node("steps=2")
    run_and_record(node, tmp_path)
    first = pd.read_parquet(tmp_path / records.METRICS_FILE).drop(columns="elapsed_s")
    record = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert set(record["outputs"]) == {records.METRICS_FILE, records.ESD_FILE}
    assert record["outputs"][records.METRICS_FILE]["rows"] == 3
    if damage == "delete_metrics":
        (tmp_path / records.METRICS_FILE).unlink()
    elif damage == "truncate_esd":
        path = tmp_path / records.ESD_FILE
        path.write_bytes(path.read_bytes()[:100])
    else:
        records.write_table(records.metrics_table([{"step": 0, "layer": "W"}], {}), tmp_path / records.METRICS_FILE)
    with caplog.at_level("WARNING", logger="htsweep"):
        assert run_and_record(node, tmp_path) is not None
    assert "recorded completed but" in caplog.text
    again = pd.read_parquet(tmp_path / records.METRICS_FILE).drop(columns="elapsed_s")
    pd.testing.assert_frame_equal(again, first)
    assert records.check_outputs(tmp_path, json.loads((tmp_path / records.RUN_FILE).read_text())) is None


@pytest.mark.parametrize("stop_at", [2, 5])
def test_resume_with_injected_noise_and_minibatches_is_bit_identical(tmp_path, stop_at):
    """The noise of update t comes from stream noise/<t>/<layer> and SGD's batches from
    sgd/epoch/<e>: a resumed run draws exactly what an uninterrupted one drew."""
    cfg = small_spec("steps=7", "probe.every=2", "optimizer=sgd", "optimizer.batch_size=70", "lr=0.5",
                     "noise=alpha_stable", "noise.alpha=1.5", "noise.sigma=0.05", "probe.compress=true")  # fmt: skip
    reference = run(cfg)
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=0, config_hash="h")
    with pytest.raises(Interrupted):
        run(cfg, checkpointer=ckpt, stop=StopAfter(stop_at))
    resumed = run(cfg, checkpointer=ckpt)
    assert resumed.resumed_from == stop_at
    pd.testing.assert_frame_equal(_rows(resumed), _rows(reference))
    assert set(resumed.log.arrays) == set(reference.log.arrays)
    for key, array in reference.log.arrays.items():  # the pruning curves (NaN accuracy under mse)
        np.testing.assert_array_equal(resumed.log.arrays[key], array)
