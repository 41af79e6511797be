"""A non-editable install works from any directory: the configs ship inside the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_install_runs_a_smoke_job_from_another_directory(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("htsweep-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "htsweep/conf/config.yaml" in names and "htsweep/conf/experiment/fig5.yaml" in names
    assert "htsweep/conf/data/single_index.yaml" in names and not any(n.startswith("conf/") for n in names)
    target = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert inst.returncode == 0, inst.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}  # ahead of the checkout's editable install
    where = subprocess.run([sys.executable, "-c", "import htsweep; print(htsweep.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert where.stdout.strip().startswith(str(target)), where.stdout
    run = subprocess.run([sys.executable, "-m", "htsweep.train", "smoke=true", "steps=2", "progress=false", "device=cpu",
                          "hydra.run.dir=out"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((elsewhere / "out" / "run.json").read_text())
    assert record["status"] == "completed" and record["steps_done"] == 2
