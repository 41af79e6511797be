"""Faults, with real processes, signals and files: a result on disk is complete or absent, and
a relaunch finishes exactly what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from htsweep import records
from htsweep.aggregate import aggregate
from htsweep.config import task_container, to_spec
from htsweep.job import hashed_config, run_and_record
from htsweep.loop import run
from htsweep.resume import CHECKPOINT_FILE, CLAIM_FILE, Checkpointer
from tests.helpers import small_node

ROOT = Path(__file__).resolve().parent.parent
TINY = ["data.n=200", "data.d=40", "model.h=60", "data.n_test=20", "device=cpu", "progress=false"]
LONG = [*TINY, "steps=20000", "probe.every=2000", "checkpoint.every=50"]  # seconds of loop


def _cmd(*args):
    return [sys.executable, "-m", "htsweep.train", *args]


def _metrics(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / records.METRICS_FILE).drop(columns="elapsed_s")


def _fresh(tmp_path: Path, *args) -> Path:
    out = tmp_path / "fresh"
    proc = subprocess.run(_cmd(*args, f"hydra.run.dir={out}"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert path.exists(), f"{path.name} never appeared"


def _root_with_mount() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0


@pytest.mark.slow
def test_sigkill_mid_run_then_relaunch_resumes_and_equals_an_uninterrupted_run(tmp_path):
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(*LONG, f"hydra.run.dir={run_dir}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(run_dir / CHECKPOINT_FILE, proc)
    assert proc.poll() is None, "the run ended before its first checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run_dir / records.RUN_FILE).exists()  # never reported, let alone completed
    assert (run_dir / CLAIM_FILE).exists()  # the dead process's claim stays behind
    relaunch = subprocess.run(_cmd(*LONG, f"hydra.run.dir={run_dir}"), capture_output=True, text=True, timeout=600)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    record = json.loads((run_dir / records.RUN_FILE).read_text())
    assert record["status"] == "completed" and record["resumed_from_step"] > 0
    pd.testing.assert_frame_equal(_metrics(run_dir), _metrics(_fresh(tmp_path, *LONG)))
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / CLAIM_FILE).exists()


# A writer that writes half of its temporary file, then SIGKILLs its own process.
KILL_DURING = {
    "metrics.parquet": """
        import htsweep.records as R, htsweep.records.io as io
        def half_then_die(table, path):
            def write(tmp):
                io.pq.write_table(table, tmp)
                data = open(tmp, "rb").read()
                open(tmp, "wb").write(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            io.atomic_write(path, write)
        R.write_table = half_then_die
    """,
    "checkpoint.pt": """
        import torch
        real = torch.save
        def half_then_die(obj, path, *a, **k):
            real(obj, path, *a, **k)
            data = open(path, "rb").read()
            open(path, "wb").write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = half_then_die
    """,
}


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(KILL_DURING))
def test_sigkill_mid_write_leaves_no_partial_result(tmp_path, target):
    run_dir = tmp_path / "run"
    args = [*TINY, "steps=5", "checkpoint.every=2", f"hydra.run.dir={run_dir}"]
    script = "import os, signal, sys\n" + textwrap.dedent(KILL_DURING[target]) + textwrap.dedent(f"""
        sys.argv = ["htsweep.train", *{args!r}]
        from htsweep.train import main
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list(run_dir.glob(".*.tmp")), "the kill should have left the writer's temporary file"
    assert not (run_dir / records.RUN_FILE).exists() and not (run_dir / target).exists()
    relaunch = subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=600)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    assert json.loads((run_dir / records.RUN_FILE).read_text())["status"] == "completed"
    assert not list(run_dir.glob(".*.tmp"))
    fresh = _fresh(tmp_path, *TINY, "steps=5", "checkpoint.every=2")
    pd.testing.assert_frame_equal(_metrics(run_dir), _metrics(fresh))


@pytest.mark.slow
def test_two_launches_of_one_sweep_compute_every_point_once(tmp_path):
    sweep = tmp_path / "sweep"
    args = _cmd("-m", *TINY, "steps=300", "probe.every=100", "lr=0.1,0.3,1,3", f"hydra.sweep.dir={sweep}")
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(runs) == 4
    skipped = [line for out in outs for line in out.splitlines() if line.rstrip().endswith("skipped")]
    computed = [json.loads((r / records.RUN_FILE).read_text()) for r in runs]
    assert all(rec["status"] == "completed" for rec in computed)
    assert len(skipped) == 4  # each point: computed by one launch, skipped by the other
    for run in runs:
        assert sum(f"/{run.name}:" in line for line in skipped) == 1, run
        assert records.check_outputs(run, json.loads((run / records.RUN_FILE).read_text())) is None
        assert not list(run.glob(".*.tmp")) and not (run / CLAIM_FILE).exists()


@pytest.mark.slow
@pytest.mark.skipif(not _root_with_mount(), reason="mounting a small tmpfs needs root on Linux")
def test_a_full_disk_records_the_run_failed_and_keeps_the_others(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    try:
        sweep = mnt / "sweep"
        ok = subprocess.run(_cmd(*TINY, "steps=2", "lr=0.1", f"hydra.run.dir={sweep / '0'}"), capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr[-2000:]
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        (mnt / "filler").write_bytes(b"\0" * max(0, free - 32 * 1024))  # room for Hydra's files and run.json only
        full = subprocess.run(_cmd(*TINY, "steps=2", "lr=1", f"hydra.run.dir={sweep / '1'}"), capture_output=True, text=True)
        assert full.returncode != 0
        record = json.loads((sweep / "1" / records.RUN_FILE).read_text())
        assert record["status"] == "failed" and "No space left on device" in record["error"], record["error"]
        assert not list((sweep / "1").glob(".*.tmp"))
        first = json.loads((sweep / "0" / records.RUN_FILE).read_text())
        assert first["status"] == "completed" and records.check_outputs(sweep / "0", first) is None
        result = aggregate(sweep, figures=[], out=tmp_path / "agg")
        problems = result.problems
        failed = problems[(problems["run_dir"] == "1") & (problems["problem"] == "failed")]
        assert len(failed) == 1 and "No space left" in failed["detail"].iloc[0]
        assert "0" not in set(problems["run_dir"]) and set(result.summary["run_dir"]) == {"0"}
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow
@pytest.mark.skipif(not _root_with_mount(), reason="mounting a read-only tmpfs needs root on Linux")
def test_a_read_only_output_folder_stops_with_one_line(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mnt)], check=True)
    try:
        for args in ([*TINY, f"hydra.run.dir={mnt / 'run'}"], ["-m", *TINY, "lr=0.1,1", f"hydra.sweep.dir={mnt / 'sweep'}"]):
            proc = subprocess.run(_cmd(*args), cwd=tmp_path, capture_output=True, text=True)
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert "cannot be written (read-only file system" in lines[0]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_truncated_checkpoint_restarts_from_step_zero_with_a_warning(tmp_path, caplog):
    node = small_node("steps=4")
    reference = tmp_path / "reference"
    run_and_record(node, reference)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    digest = records.config_hash(hashed_config(task_container(node)))
    ckpt = Checkpointer(run_dir / CHECKPOINT_FILE, every=2, config_hash=digest)
    run(to_spec(node), checkpointer=ckpt)  # leaves the step-4 checkpoint
    data = (run_dir / CHECKPOINT_FILE).read_bytes()
    (run_dir / CHECKPOINT_FILE).write_bytes(data[: len(data) // 3])
    with caplog.at_level("WARNING", logger="htsweep"):
        result = run_and_record(node, run_dir)
    assert "unreadable" in caplog.text and "restarts from step 0" in caplog.text
    assert result.resumed_from is None and result.status.value == "completed"
    pd.testing.assert_frame_equal(_metrics(run_dir), _metrics(reference))


def test_a_truncated_run_record_reruns_with_a_warning(tmp_path, caplog):
    node = small_node("steps=2")
    run_and_record(node, tmp_path)
    first = _metrics(tmp_path)
    text = (tmp_path / records.RUN_FILE).read_text()
    (tmp_path / records.RUN_FILE).write_text(text[: len(text) // 2])
    with caplog.at_level("WARNING", logger="htsweep"):
        assert run_and_record(node, tmp_path) is not None
    assert "run.json is unreadable" in caplog.text
    assert json.loads((tmp_path / records.RUN_FILE).read_text())["status"] == "completed"
    pd.testing.assert_frame_equal(_metrics(tmp_path), first)


@pytest.mark.slow
def test_aggregating_a_running_sweep_reads_the_finished_runs_and_reports_the_running_one(tmp_path):
    sweep = tmp_path / "sweep"
    args = _cmd("-m", *TINY, "steps=20000", "probe.every=10000", "lr=0.1,1", f"hydra.sweep.dir={sweep}")
    short = _cmd("-m", *TINY, "steps=2", "lr=0.01", f"hydra.sweep.dir={sweep / 'done'}")
    assert subprocess.run(short, cwd=tmp_path, capture_output=True).returncode == 0
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(sweep / "0" / CLAIM_FILE, proc)
        result = aggregate(sweep, figures=[], out=tmp_path / "agg")
        status = dict(zip(result.runs["run_dir"], result.runs["status"]))
        assert status["done/0"] == "completed" and status["0"] == "running", status
        assert set(result.summary["run_dir"]) == {"done/0"}
        running = result.problems[result.problems["run_dir"] == "0"]
        assert list(running["problem"]) == ["running"] and "claimed by" in running["detail"].iloc[0]
    finally:
        proc.kill()
        proc.wait()
