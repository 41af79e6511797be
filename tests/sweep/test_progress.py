"""htsweep.sweep.progress: the one-line progress of a basic-launcher sweep ("sweep: job k of
N, elapsed, remaining") above each run's step bar; nothing with progress=false or with
launchers that run each job in its own process."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from omegaconf import OmegaConf

from htsweep.sweep import progress
from htsweep.sweep.expand import expand_jobs, sweep_arguments
from htsweep.sweep.progress import BASIC_LAUNCHER, SweepLine, remaining_seconds, shows_sweep_line
from htsweep.train import compose_with_hydra
from tests.sweep.synthetic import write_multirun_yaml

TINY = ["data.n=200", "data.d=50", "model.h=75", "steps=3", "device=cpu"]
LOCAL_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"


def _frames(text: str) -> List[str]:
    """What the terminal showed, one entry per redraw of a bar (tqdm rewrites with \\r)."""
    return [f.strip() for f in re.split(r"[\r\n]", text) if f.strip()]


def test_the_line_shows_only_for_a_basic_launcher_sweep_with_progress_on():
    assert shows_sweep_line(True, True, BASIC_LAUNCHER)
    assert not shows_sweep_line(False, True, BASIC_LAUNCHER)  # progress=false
    assert not shows_sweep_line(True, False, BASIC_LAUNCHER)  # a single run
    assert not shows_sweep_line(True, True, LOCAL_LAUNCHER)  # hydra/launcher=local: one job per process
    assert not shows_sweep_line(True, True, "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher")


def test_remaining_is_the_median_job_times_the_jobs_left_less_the_current_jobs_time():
    assert remaining_seconds([], 5) is None
    assert remaining_seconds([4.0, 2.0, 30.0], 3) == pytest.approx(3 * 4.0)
    assert remaining_seconds([4.0, 2.0, 30.0], 3, current_s=1.5) == pytest.approx(12.0 - 1.5)
    assert remaining_seconds([4.0], 1, current_s=9.0) == 0.0  # the current job overran the median


def test_skipped_jobs_count_as_done_but_not_in_the_estimate(tmp_path):
    now = [0.0]
    out = io.StringIO()
    line = SweepLine(tmp_path, 4, file=out, clock=lambda: now[0])
    line.start_job(0)
    now[0] = 1.0
    line.finish_job(0, ran=False)  # already completed on disk: skipped in 1 s
    line.start_job(1)
    now[0] = 101.0
    line.finish_job(1, ran=True)  # computed in 100 s
    assert line.durations == [pytest.approx(100.0)]
    line.start_job(2)
    frames = _frames(out.getvalue())
    assert frames[0].startswith("sweep: job 1 of 4 |")
    assert frames[-1].startswith("sweep: job 3 of 4 |")
    assert frames[-1].endswith("elapsed 01:41, remaining ~03:20")  # 2 jobs left x 100 s
    line.finish_job(2, ran=True)
    line.start_job(3)
    line.finish_job(3, ran=True)
    assert line.closed
    assert _frames(out.getvalue())[-1].startswith("sweep: 4 of 4 jobs done |")


def test_a_sweep_of_unknown_size_counts_jobs_without_a_total(tmp_path):
    out = io.StringIO()
    line = SweepLine(tmp_path, None, file=out)
    line.start_job(0)
    line.finish_job(0, ran=True)
    line.start_job(1)
    line.close()
    frames = _frames(out.getvalue())
    assert frames[0].startswith("sweep: job 1, elapsed") and frames[-1].startswith("sweep: job 2, elapsed")
    assert all("remaining" not in f for f in frames)


def test_the_total_is_what_multirun_yaml_expands_to(tmp_path):
    write_multirun_yaml(tmp_path, ["+experiment=fig3", "seed=1,2", "lr=0.1,1"], params={"optimizer": "gd,adam", "lr": "1,2,3"})
    assert progress.sweep_total(tmp_path) == 2 * 2 * 2  # the command line's lr replaces the experiment's
    assert progress.sweep_total(tmp_path / "nowhere") is None


# ---------------------------------------------------------------------------------------------
# Real sweeps with Hydra's basic launcher, in a subprocess (stderr is not a terminal: tqdm
# still draws, one redraw per job)


def _sweep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "htsweep.train", "-m", *args, f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _sweep_frames(stderr: str) -> List[str]:
    return [f for f in _frames(stderr) if f.startswith("sweep:")]


@pytest.mark.slow
def test_a_basic_launcher_sweep_shows_job_k_of_n_and_a_relaunch_counts_skipped_jobs_as_done(tmp_path):
    first = _sweep_frames(_sweep(tmp_path, *TINY, "lr=0.1,0.5,1").stderr)
    jobs = [re.match(r"sweep: job (\d+) of 3 \|", f) for f in first[:-1]]
    assert all(jobs) and sorted({int(m.group(1)) for m in jobs}) == [1, 2, 3], first
    assert first[0].endswith("remaining ?") and re.search(r"elapsed \d\d:\d\d, remaining ~\d\d:\d\d$", first[-2])
    assert first[-1].startswith("sweep: 3 of 3 jobs done |") and "remaining" not in first[-1]
    # relaunched into the same folder every job is skipped, and still counts
    again = _sweep_frames(_sweep(tmp_path, *TINY, "lr=0.1,0.5,1").stderr)
    assert {f.split(" |")[0] for f in again} == {"sweep: job 1 of 3", "sweep: job 2 of 3", "sweep: job 3 of 3", "sweep: 3 of 3 jobs done"}


@pytest.mark.slow
def test_progress_false_shows_no_bar_at_all(tmp_path):
    proc = _sweep(tmp_path, *TINY, "lr=0.1,1", "progress=false")  # with progress on, the line shows at once
    assert "sweep:" not in proc.stderr and "\r" not in proc.stderr


@pytest.mark.slow
def test_an_experiment_sweep_counts_its_own_grid_and_the_command_line(tmp_path):
    overrides = ["+experiment=fig1", "smoke=true", "device=cpu", "optimizer=adam"]  # the YAML sweeps optimizer and lr
    composed = compose_with_hydra(overrides)
    params = OmegaConf.to_container(composed.hydra.sweeper.params)
    n = len(expand_jobs(sweep_arguments(params, overrides)))
    assert 1 < n < len(expand_jobs(sweep_arguments(params, overrides[:-1])))  # the override replaced a list
    frames = _sweep_frames(_sweep(tmp_path, *overrides).stderr)
    assert {f.split(" |")[0] for f in frames} == {*(f"sweep: job {k} of {n}" for k in range(1, n + 1)), f"sweep: {n} of {n} jobs done"}


@pytest.mark.slow
def test_the_local_launcher_shows_nothing_extra(tmp_path):
    proc = _sweep(tmp_path, *TINY, "lr=0.1,1", "hydra/launcher=local")
    logs = sorted((tmp_path / "sweep" / ".submitit").rglob("*_log.err"))  # the jobs' own stderr
    assert len(logs) == 2 and all("sweep:" not in p.read_text() for p in logs)
    assert "sweep:" not in proc.stderr
