"""`hydra/launcher=slurm` on a real single-node Slurm cluster (scripts/slurm_local.sh).

The cluster test brings the cluster up (installing the Debian packages if needed; it needs root
and apt), runs a 4-point multirun with the `slurm` preset on the CPU, and checks that the four
points arrived as the four tasks of one Slurm array job.  When the cluster cannot start it skips
with the script's one-line reason, and the rest of the suite still runs.

The preset tests only compose configs (no cluster, no subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from htsweep.config import CONF_DIR  # importing htsweep.config registers the schemas conf/config.yaml uses

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "slurm_local.sh"

UP_TIMEOUT_S = 420  # from a bare machine: apt-get install (about 30 s here) plus daemon starts
SWEEP_TIMEOUT_S = 300  # the 4-point sweep takes about 30 s on 2 cores
SMALL_TIMEOUT_S = 60  # status, sacct, scancel

# The local cluster has no GPU gres (a job asking for one is rejected by sbatch): device=cpu in
# the runs below must be enough for the preset to ask for none.  The preset is used as a user
# would, with no further override: slurm_local.sh declares a node big enough for two of its
# tasks (4 CPUs, 16 GB each).
CPU_SLURM = ["hydra/launcher=slurm"]
TINY_RUN = ["device=cpu", "progress=false", "data.n=200", "data.d=50", "model.h=75", "steps=3"]
GRID = {(0.1, 1), (0.1, 2), (1.0, 1), (1.0, 2)}  # (lr, seed) of `lr=0.1,1 seed=1,2`


def _clean_env() -> Dict[str, str]:
    """This process's environment without Slurm job variables (pytest may itself run inside a
    Slurm job; sbatch and submitit would pick those up)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}


def _script(action: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), action],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A running local cluster for the session.

    Teardown: the cluster is stopped again only when this fixture started it.  A cluster that
    was already up (a developer's, or one a CI step started) is left running, so its jobs and
    state are not disturbed."""
    if sys.platform != "linux" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("local Slurm cluster: scripts/slurm_local.sh needs root on Linux")
    was_up = _script("status", SMALL_TIMEOUT_S).returncode == 0
    try:
        up = _script("up", UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"local Slurm cluster: `slurm_local.sh up` did not finish within {UP_TIMEOUT_S} s")
    if up.returncode != 0:
        lines = [ln for ln in (up.stderr or up.stdout).splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {up.returncode}"
        pytest.skip(f"local Slurm cluster could not start: {reason}")
    yield
    if not was_up:
        _script("down", SMALL_TIMEOUT_S)


def _cancel_leftovers(job_name: str) -> None:
    """Cancel this test's jobs that are still pending or running.  Registered as a finalizer,
    so it runs after the test's accounting checks: a clean-up before them could cancel a task
    submitit had already collected but Slurm had not yet marked COMPLETED (a flaky test)."""
    for state in ("PENDING", "RUNNING"):
        subprocess.run(["scancel", f"--name={job_name}", f"--state={state}"], capture_output=True,
                       timeout=SMALL_TIMEOUT_S, env=_clean_env())  # fmt: skip


def _sacct_states(array_job_id: str) -> Dict[str, str]:
    """{'<array>_<task>': state} of an array job's tasks, from accounting (slurmdbd)."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", array_job_id, "-o", "JobID,State"],
        capture_output=True,
        text=True,
        timeout=SMALL_TIMEOUT_S,
        env=_clean_env(),
    ).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


@pytest.mark.slurm
def test_sweep_is_one_array_job_with_slurm_ids(slurm_cluster: None, tmp_path: Path, request) -> None:
    sweep_dir = tmp_path / "sweep"
    job_name = f"htsweep-test-{uuid.uuid4().hex[:8]}"  # to cancel exactly our jobs afterwards
    request.addfinalizer(lambda: _cancel_leftovers(job_name))
    cmd: List[str] = [
        # The jobs run the python that submitted them (submitit uses sys.executable), so this
        # must be the interpreter that has htsweep installed.
        sys.executable, "-m", "htsweep.train", "-m",
        *CPU_SLURM, f"hydra.launcher.name={job_name}",
        *TINY_RUN, "lr=0.1,1", "seed=1,2",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    try:
        # cwd: the jobs start in the submission directory; ROOT keeps `htsweep` importable
        # there even without an installed package.
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SWEEP_TIMEOUT_S,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as ex:
        pytest.fail(f"the slurm multirun did not finish within {SWEEP_TIMEOUT_S} s:\n{ex.stderr}")
    assert proc.returncode == 0, f"multirun failed:\n{proc.stdout}\n{proc.stderr}"

    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/run.json"))]
    assert len(records) == 4, f"expected 4 run.json under {sweep_dir}, found {len(records)}"
    assert {r["status"] for r in records} == {"completed"}
    assert {(r["config"]["lr"], r["config"]["seed"]) for r in records} == GRID
    assert {r["device"] for r in records} == {"cpu"}

    envs = [r["environment"] for r in records]
    assert all(e["slurm_job_id"] for e in envs), envs
    assert len({e["slurm_job_id"] for e in envs}) == 4, envs  # each array task has its own job id
    array_ids = {e["slurm_array_job_id"] for e in envs}
    assert len(array_ids) == 1 and None not in array_ids, f"not one array job: {envs}"
    assert sorted(int(e["slurm_array_task_id"]) for e in envs) == [0, 1, 2, 3]
    assert {e["slurm_job_nodelist"] for e in envs} == {"localhost"}

    # Accounting saw the same array job with its four tasks completed (slurmdbd writes
    # asynchronously: poll briefly).
    (array_id,) = array_ids
    expected = {f"{array_id}_{i}": "COMPLETED" for i in range(4)}
    deadline = time.monotonic() + 30
    states = _sacct_states(array_id)
    while states != expected and time.monotonic() < deadline:
        time.sleep(1)
        states = _sacct_states(array_id)
    assert states == expected


# A longer grid for the kill test: a few seconds per point on 2 cores, probes every 100 steps.
LONG_RUN = ["device=cpu", "progress=false", "data.n=1000", "data.d=100", "model.h=150", "steps=1000",
            "probe.every=100"]  # fmt: skip


@pytest.mark.slurm
def test_killed_task_resumes_when_the_sweep_is_relaunched(slurm_cluster: None, tmp_path: Path, request) -> None:
    """scancel one running array task (SIGTERM: htsweep checkpoints and exits), relaunch the
    sweep into the same directory: the completed points are skipped, the killed one resumes from
    its checkpoint and completes with every probe row exactly once."""
    sweep_dir = tmp_path / "sweep"
    job_name = f"htsweep-kill-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: _cancel_leftovers(job_name))
    cmd: List[str] = [
        sys.executable, "-m", "htsweep.train", "-m",
        *CPU_SLURM, f"hydra.launcher.name={job_name}",
        *LONG_RUN, "lr=0.1,1", "seed=1,2",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    run = dict(cwd=ROOT, capture_output=True, text=True, env=_clean_env(), stdin=subprocess.DEVNULL)
    first = subprocess.Popen(cmd, **{k: v for k, v in run.items() if k != "capture_output"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        claims: List[Path] = []
        while not claims and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
            claims = sorted(sweep_dir.glob("*/claim.json"))
        assert claims, "no run started within the time limit"
        victim = claims[0].parent
        time.sleep(0.5)  # let it take some steps
        task = json.loads(claims[0].read_text())["slurm_task"]
        subprocess.run(["scancel", task], capture_output=True, timeout=SMALL_TIMEOUT_S, check=True)
        first.communicate(timeout=SWEEP_TIMEOUT_S)
    finally:
        if first.poll() is None:
            first.kill()
    killed = json.loads((victim / "run.json").read_text())
    if killed["status"] == "completed":
        pytest.skip("the task completed before scancel reached it (machine too fast for this test)")
    assert killed["status"] == "interrupted", killed
    assert (victim / "checkpoint.pt").exists()

    second = subprocess.run(cmd, timeout=SWEEP_TIMEOUT_S, **run)
    assert second.returncode == 0, f"relaunch failed:\n{second.stdout}\n{second.stderr}"
    records = {p.parent: json.loads(p.read_text()) for p in sweep_dir.glob("*/run.json")}
    assert len(records) == 4 and {r["status"] for r in records.values()} == {"completed"}
    resumed = records[victim]
    assert resumed["resumed_from_step"] and resumed["resumed_from_step"] > 0
    assert resumed["environment"]["slurm_job_id"] != killed["environment"]["slurm_job_id"]
    import pandas as pd

    steps = pd.read_parquet(victim / "metrics.parquet")["step"].tolist()
    assert steps == list(range(0, 1001, 100))
    assert not (victim / "checkpoint.pt").exists() and not (victim / "claim.json").exists()


@pytest.mark.slurm
def test_requeued_task_resumes_from_its_checkpoint(slurm_cluster: None, tmp_path: Path, request) -> None:
    """SIGUSR2 (what Slurm sends before the time limit) to a running task: htsweep checkpoints
    and hands the signal to submitit, which requeues the task; the requeued task resumes from
    the checkpoint, and the launching command sees one completed sweep, with the same metrics as
    an uninterrupted run of the same point."""
    sweep_dir = tmp_path / "sweep"
    job_name = f"htsweep-requeue-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: _cancel_leftovers(job_name))
    cmd: List[str] = [
        sys.executable, "-m", "htsweep.train", "-m",
        *CPU_SLURM, f"hydra.launcher.name={job_name}", "hydra.launcher.max_num_timeout=2",
        *LONG_RUN, "lr=0.5", f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip
    launch = subprocess.Popen(cmd, cwd=ROOT, text=True, env=_clean_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        claim = sweep_dir / "0" / "claim.json"
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while not claim.exists() and time.monotonic() < deadline and launch.poll() is None:
            time.sleep(0.2)
        assert claim.exists(), "the task did not start within the time limit"
        time.sleep(0.5)
        task = json.loads(claim.read_text())["slurm_task"]
        subprocess.run(["scancel", "--signal=USR2", task], capture_output=True, timeout=SMALL_TIMEOUT_S, check=True)
        out, err = launch.communicate(timeout=SWEEP_TIMEOUT_S)
    finally:
        if launch.poll() is None:
            launch.kill()
    record = json.loads((sweep_dir / "0" / "run.json").read_text())
    if record.get("resumed_from_step") is None and record["status"] == "completed":
        pytest.skip("the task completed before SIGUSR2 reached it (machine too fast for this test)")
    assert launch.returncode == 0, f"{out}\n{err}"
    assert record["status"] == "completed" and record["resumed_from_step"] > 0
    import pandas as pd

    resumed = pd.read_parquet(sweep_dir / "0" / "metrics.parquet").drop(columns="elapsed_s")
    fresh_dir = tmp_path / "fresh"
    fresh = subprocess.run(
        [sys.executable, "-m", "htsweep.train", *LONG_RUN, "lr=0.5", f"hydra.run.dir={fresh_dir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S, env=_clean_env(),
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    reference = pd.read_parquet(fresh_dir / "metrics.parquet").drop(columns="elapsed_s")
    pd.testing.assert_frame_equal(resumed, reference)


# ---------------------------------------------------------------------------------------------
# The launcher presets, composed without running anything.


@pytest.fixture
def compose_launcher() -> Iterator:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):

        def _compose(*overrides: str):
            return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)

        yield _compose
    GlobalHydra.instance().clear()


def test_slurm_preset_asks_one_gpu_per_task_on_the_default_partition(compose_launcher) -> None:
    launcher = compose_launcher("hydra/launcher=slurm").hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.gpus_per_node == 1 and launcher.tasks_per_node == 1 and launcher.nodes == 1
    assert compose_launcher("hydra/launcher=slurm", "device=cpu").hydra.launcher.gpus_per_node == 0
    assert compose_launcher("hydra/launcher=slurm", "device=cuda").hydra.launcher.gpus_per_node == 1
    assert compose_launcher("hydra/launcher=local", "device=cpu").hydra.launcher.gpus_per_node == 0
    assert launcher.partition is None and launcher.account is None
    assert launcher.setup == []
    assert launcher.timeout_min > 0 and launcher.cpus_per_task >= 1 and launcher.mem_gb >= 1


def test_slurm_preset_overrides(compose_launcher) -> None:
    launcher = compose_launcher(
        "hydra/launcher=slurm",
        "hydra.launcher.gpus_per_node=0",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.account=proj",
        "hydra.launcher.qos=high",
        "hydra.launcher.constraint=a100",
        "hydra.launcher.setup=[module load cuda/12.1]",
    ).hydra.launcher
    assert launcher.gpus_per_node == 0
    assert (launcher.partition, launcher.account, launcher.qos, launcher.constraint) == (
        "gpu",
        "proj",
        "high",
        "a100",
    )
    assert list(launcher.setup) == ["module load cuda/12.1"]


def test_local_preset(compose_launcher) -> None:
    launcher = compose_launcher("hydra/launcher=local").hydra.launcher
    assert launcher._target_.endswith("LocalLauncher")
    assert launcher.gpus_per_node == 1  # 0 would hide the GPU from device=auto
