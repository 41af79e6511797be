"""htsweep.status: a sweep's counts by status, slowest points, the points to relaunch with
their overrides, the elapsed time and the estimated finish, on synthetic sweeps damaged in
known ways and on a real one (relaunched with the command the report prints)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from htsweep import records
from htsweep import status as cli
from htsweep.records import CLAIM_FILE, METRICS_FILE, RUN_FILE
from htsweep.sweep.discover import expected_jobs
from htsweep.sweep.status import estimate, human, report, sweep_status
from tests.sweep.synthetic import lr_grid_sweep

T0 = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
TINY = ["data.n=200", "data.d=50", "model.h=75", "steps=3", "device=cpu", "progress=false"]


def _patch_record(run_dir: Path, **fields: Any) -> None:
    """Change keys of a run.json (rewritten atomically, as the job writes it)."""
    obj = json.loads((run_dir / RUN_FILE).read_text())
    obj.update(fields)
    records.write_json(obj, run_dir / RUN_FILE)


def _claim(run_dir: Path, host: str = "node7", pid: int = 4242, task: str = "") -> None:
    """A fresh claim.json of another host's process (a run being computed now)."""
    holder = {"host": host, "pid": pid, "slurm_task": task or None, "token": f"{host}:{pid}:0"}
    (run_dir / CLAIM_FILE).write_text(json.dumps(holder))


def _overrides(run_dir: Path) -> str:
    return " ".join(yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()))


def _rows(text: str, title: str) -> Dict[str, List[str]]:
    """The rows of one list of the report, by job ('job 4' -> its cells, split on 2+ spaces)."""
    block = text.split(f"\n{title}", 1)[1].split("\n", 1)[1]
    out = {}
    for line in block.splitlines():
        if not line.startswith("  ") or line.startswith(("  basis", "  ...")):
            break
        cells = re.split(r" {2,}", line.strip())
        out[cells[0]] = cells[1:]
    return out


@pytest.fixture
def damaged(tmp_path: Path) -> Dict[str, Any]:
    """The 12-job lr_grid sweep with every kind of trouble: jobs 0-3 completed (wall 10, 20,
    30, 40 s), 4 failed, 5 diverged, 6 interrupted, 7 corrupted metrics, 8 metrics without
    run.json, 9 and 10 running (fresh claims of another host), 11 never started."""
    sweep = lr_grid_sweep(tmp_path / "sweep")
    ov = {job: _overrides(sweep / str(job)) for job in range(12)}
    for job in range(12):
        start = T0 + dt.timedelta(seconds=60 * job)
        _patch_record(sweep / str(job), wall_seconds=10.0 * (job + 1), started_at=start.isoformat(),
                      finished_at=(start + dt.timedelta(seconds=10.0 * (job + 1))).isoformat())  # fmt: skip
    _patch_record(sweep / "4", status="failed", error="RuntimeError: boom\nTraceback ...", wall_seconds=500.0)
    _patch_record(sweep / "5", status="diverged", diverged_at_step=2)
    _patch_record(sweep / "6", status="interrupted", steps_done=1)
    (sweep / "7" / METRICS_FILE).write_bytes((sweep / "7" / METRICS_FILE).read_bytes()[:100])
    (sweep / "8" / RUN_FILE).unlink()
    for job in (9, 10):
        (sweep / str(job) / RUN_FILE).unlink()
        (sweep / str(job) / METRICS_FILE).unlink()
        _claim(sweep / str(job), task=f"777_{job}")
    shutil.rmtree(sweep / "11")
    return {"sweep": sweep, "overrides": ov}


def test_counts_equal_the_statuses_on_disk(damaged):
    st = sweep_status(damaged["sweep"], now=T0 + dt.timedelta(hours=1))
    assert st.counts == {
        "completed": 4, "running": 2, "missing": 1, "interrupted": 1, "incomplete": 1, "corrupted": 1,
        "failed": 1, "diverged": 1,
    }  # fmt: skip
    text = report(st)
    assert text.splitlines()[0] == f"sweep {damaged['sweep'].resolve()}: 12 jobs, 12 expected from multirun.yaml"
    assert text.splitlines()[1] == (
        "status: 4 completed, 2 running, 1 missing (not started), 1 interrupted, 1 incomplete, "
        "1 corrupted, 1 failed, 1 diverged"
    )
    assert not st.finished


def test_failed_diverged_and_unfinished_points_print_the_overrides_that_relaunch_them(damaged):
    text = report(sweep_status(damaged["sweep"]))
    ov = damaged["overrides"]
    failed = _rows(text, "failed / diverged")
    assert failed == {
        "job 4": ["failed", ov[4], "RuntimeError: boom"],
        "job 5": ["diverged", ov[5], "non-finite loss or weights at step 2 (of 2)"],
    }
    other = _rows(text, "not finished")
    assert set(other) == {"job 6", "job 7", "job 8", "job 11"}
    assert {job: cells[1] for job, cells in other.items()} == {f"job {j}": ov[j] for j in (6, 7, 8, 11)}
    assert [other[f"job {j}"][0] for j in (6, 7, 8, 11)] == ["interrupted", "corrupted", "incomplete", "missing"]
    # job 11 has no folder: its overrides come from multirun.yaml, as the sweeper launched it
    assert expected_jobs(damaged["sweep"])[11] == ov[11]
    running = _rows(text, "running")
    assert set(running) == {"job 9", "job 10"} and running["job 9"][2].startswith("claimed by 777_9, heartbeat")
    relaunch = [line for line in text.splitlines() if line.startswith("relaunch: ")]
    assert relaunch == [
        f"relaunch: python -m htsweep.train -m optimizer.name=gd,adam lr=0.1,1.0 seed=1,2,3 "
        f"hydra.sweep.dir={damaged['sweep'].resolve()}"
    ]


def test_the_slowest_points_come_first_with_their_overrides(damaged):
    text = report(sweep_status(damaged["sweep"]), top=3)
    slow = _rows(text, "slowest")
    ov = damaged["overrides"]
    # job 4 (failed, 500 s), then the longest timed records: 8 is incomplete (no run.json), 7 is
    # corrupted but its run.json says 80 s; 9 and 10 lost theirs
    assert list(slow) == ["job 4", "job 7", "job 6"]
    assert slow["job 4"] == [human(500.0), "failed", ov[4]]
    assert slow["job 7"] == [human(80.0), "corrupted", ov[7]]


def test_estimated_finish_is_jobs_left_times_median_wall_over_fresh_claims(damaged):
    now = T0 + dt.timedelta(hours=1)
    st = sweep_status(damaged["sweep"], now=now)
    est = st.estimate
    # left: 2 running + 1 never started; median of the completed 10, 20, 30, 40 s; 2 claims
    assert (est.jobs_left, est.median_wall_s, est.completed, est.claims) == (3, 25.0, 4, 2)
    assert est.seconds == pytest.approx(3 * 25.0 / 2)
    text = report(st)
    at = (now + dt.timedelta(seconds=37.5)).astimezone().strftime("%H:%M:%S %Z")
    assert f"estimated finish: in ~37.5 s, at {at}" in text
    assert (
        "  basis: 3 jobs left (running or not started) x median wall time 25.0 s of 4 completed runs "
        "/ 2 at once (2 fresh claims)"
    ) in text.splitlines()


def test_estimate_without_claims_assumes_one_at_a_time_and_is_unknown_without_a_completed_run():
    assert estimate(4, [30.0, 10.0, 20.0], 0).seconds == pytest.approx(4 * 20.0)
    assert "no fresh claim, so 1 assumed" in estimate(4, [30.0], 0).basis()
    assert estimate(5, [1.0, 2.0, 3.0, 4.0], 3).seconds == pytest.approx(5 * 2.5 / 3)
    unknown = estimate(3, [], 1)
    assert unknown.seconds is None and "no completed run yet" in unknown.basis()


def test_no_completed_run_yet_gives_an_unknown_finish(tmp_path):
    sweep = lr_grid_sweep(tmp_path / "sweep")
    for job in range(12):
        shutil.rmtree(sweep / str(job))
    text = report(sweep_status(sweep))
    assert "status: 12 missing (not started)" in text
    assert "elapsed: no run has started yet" in text
    assert "estimated finish: unknown (12 jobs left (running or not started); no completed run yet" in text


def test_elapsed_counts_from_the_first_run_start(damaged):
    now = T0 + dt.timedelta(seconds=3725)
    st = sweep_status(damaged["sweep"], now=now)
    assert st.first_started == T0 and st.elapsed_s == pytest.approx(3725.0)
    assert "elapsed: 1 h 02 min since the first run started" in report(st)


def test_a_finished_sweep_says_nothing_is_left_and_when_its_last_run_ended(tmp_path):
    sweep = lr_grid_sweep(tmp_path / "sweep")
    for job in range(12):
        start = T0 + dt.timedelta(seconds=10 * job)
        _patch_record(sweep / str(job), wall_seconds=10.0, started_at=start.isoformat(),
                      finished_at=(start + dt.timedelta(seconds=10)).isoformat())  # fmt: skip
    st = sweep_status(sweep, now=T0 + dt.timedelta(days=1))
    text = report(st)
    assert st.finished and "status: 12 completed" in text
    assert "estimated finish: nothing left to run" in text
    assert "the last run finished 2 min 00 s after it" in text
    assert "relaunch:" not in text and "not finished" not in text


def test_a_claim_of_a_dead_process_on_this_host_is_not_running(tmp_path):
    import socket

    sweep = lr_grid_sweep(tmp_path / "sweep")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (sweep / "3" / RUN_FILE).unlink()
    (sweep / "3" / METRICS_FILE).unlink()
    _claim(sweep / "3", host=socket.gethostname(), pid=dead.pid)  # a SIGKILLed run's claim
    import os

    _claim(sweep / "5", host=socket.gethostname(), pid=os.getpid())  # alive: running
    st = sweep_status(sweep)
    assert {r.run.job: r.status for r in st.runs if r.run.job in (3, 5)} == {3: "missing", 5: "running"}


def test_long_lists_stop_unless_all_is_asked(tmp_path):
    sweep = lr_grid_sweep(tmp_path / "sweep")
    doc = yaml.safe_load((sweep / "multirun.yaml").read_text())
    doc["hydra"]["overrides"]["task"].append("data.n=1,2,3")  # 36 jobs, 24 never started
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(doc))
    text = report(sweep_status(sweep))
    assert len(_rows(text, "not finished")) == 20
    assert "  ... and 4 more (--all lists them" in text
    assert len(_rows(report(sweep_status(sweep), show_all=True), "not finished")) == 24


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{tmp}/nope"], "sweep folder {tmp}/nope does not exist or is not a folder"),
        (["{tmp}/empty"], "{tmp}/empty is not a sweep: no run folders (e.g. <job>/run.json) and no multirun.yaml"),
        (["{tmp}/file.txt"], "sweep folder {tmp}/file.txt does not exist or is not a folder"),
        (["{tmp}/empty", "--watch", "0"], "argument --watch: must be a number of seconds > 0, got '0'"),
        (["{tmp}/empty", "--watch", "soon"], "argument --watch: invalid _seconds value: 'soon'"),
        ([], "the following arguments are required: SWEEP_DIR"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "file.txt").write_text("x")
    try:
        code = cli.main([a.format(tmp=tmp_path) for a in argv])
    except SystemExit as ex:  # argparse's errors
        code = ex.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"python -m htsweep.status: error: {message.format(tmp=tmp_path)}\n"


def test_watch_reprints_until_the_sweep_is_complete(tmp_path):
    sweep = lr_grid_sweep(tmp_path / "sweep")
    done = lr_grid_sweep(tmp_path / "done")
    for job in (9, 10):  # being computed: Hydra's .hydra/ and a fresh claim, no results yet
        for name in (RUN_FILE, METRICS_FILE, records.ESD_FILE):
            (sweep / str(job) / name).unlink()
        _claim(sweep / str(job))

    def finish() -> None:  # the two running jobs complete, a while after the watch started
        time.sleep(0.6)
        for job in (9, 10):
            shutil.copytree(done / str(job), sweep / str(job), dirs_exist_ok=True)
            (sweep / str(job) / CLAIM_FILE).unlink()

    out = io.StringIO()
    worker = threading.Thread(target=finish)
    worker.start()
    t0 = time.monotonic()
    cli.watch(str(sweep), 0.1, out=out)
    worker.join()
    reports = out.getvalue().split("\n\n")
    assert time.monotonic() - t0 < 30
    assert len(reports) >= 2, out.getvalue()
    assert "2 running" in reports[0] and reports[-1].splitlines()[1] == "status: 12 completed"
    assert all("status: 12 completed" not in r for r in reports[:-1])


def test_watch_ends_with_status_0_on_ctrl_c(damaged, monkeypatch, capsys):
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", interrupt)
    assert cli.main([str(damaged["sweep"]), "--watch"]) == 0  # the sweep is still running
    assert capsys.readouterr().out.count("status: 4 completed") == 1


def test_the_command_prints_the_report(damaged, capsys):
    assert cli.main([str(damaged["sweep"])]) == 0
    out = capsys.readouterr().out
    expected = report(sweep_status(damaged["sweep"])).splitlines()
    lines = out.splitlines()
    assert len(lines) == len(expected) and lines[:2] == expected[:2]
    assert lines[4:] == expected[4:]  # all but the lines with times, which move on


# ---------------------------------------------------------------------------------------------
# A real sweep


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory) -> Path:
    """lr {0.1, 1} x seed {1, 2} of tiny runs with the default (basic) launcher."""
    sweep = tmp_path_factory.mktemp("real") / "sweep"
    cmd = [sys.executable, "-m", "htsweep.train", "-m", *TINY, "lr=0.1,1", "seed=1,2", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=sweep.parent, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sweep


def _status(sweep: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "htsweep.status", str(sweep), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_damaged_real_sweep_is_relaunched_by_the_printed_command(real_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(real_sweep, sweep)
    ov = {job: _overrides(sweep / str(job)) for job in range(4)}
    hashes = {job: json.loads((sweep / str(job) / RUN_FILE).read_text())["config_hash"] for job in range(4)}
    _patch_record(sweep / "1", status="failed", error="RuntimeError: lost node")
    shutil.rmtree(sweep / "3")

    proc = _status(sweep)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = proc.stdout
    assert text.splitlines()[1] == "status: 2 completed, 1 missing (not started), 1 failed"
    assert _rows(text, "failed / diverged")["job 1"][:2] == ["failed", ov[1]]
    assert _rows(text, "not finished")["job 3"][:2] == ["missing", ov[3]]
    assert "estimated finish: in ~" in text and "1 job left" in text  # the missing one; the failed one waits

    relaunch = next(line for line in text.splitlines() if line.startswith("relaunch: "))[len("relaunch: "):]
    args = shlex.split(relaunch)
    assert args[:4] == ["python", "-m", "htsweep.train", "-m"]
    cmd = [sys.executable, *args[1:], "resume.rerun_failed=true"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for job in (1, 3):  # the same points, recomputed into their own folders
        rec = json.loads((sweep / str(job) / RUN_FILE).read_text())
        assert rec["status"] == "completed" and rec["config_hash"] == hashes[job]
        assert _overrides(sweep / str(job)).split(" resume.rerun_failed=")[0] == ov[job]

    proc = _status(sweep, "--watch", "0.2")  # complete: one report, then exit 0
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("status: 4 completed") == 1 and "nothing left to run" in proc.stdout


@pytest.mark.slow
def test_the_command_refuses_a_run_folder_tree_without_runs_with_exit_2(tmp_path):
    proc = _status(tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"python -m htsweep.status: error: {tmp_path} is not a sweep: no run folders (e.g. <job>/run.json) and no multirun.yaml"
    ]
