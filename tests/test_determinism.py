"""The same seed gives bit-identical metrics in separate processes on the CPU, also when the
points of a sweep run in parallel under hydra/launcher=local."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from htsweep import records

TINY = ["data.n=300", "data.d=60", "model.h=90", "data.n_test=50", "device=cpu", "progress=false", "steps=5"]


def _metrics(path):
    df = pd.read_parquet(path / records.METRICS_FILE).drop(columns=list(records.NONDETERMINISTIC_COLUMNS))
    return df.sort_values(["step", "layer"]).reset_index(drop=True)


def _run(args, cwd):
    proc = subprocess.run([sys.executable, "-m", "htsweep.train", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_two_processes_give_bit_identical_metrics(tmp_path):
    for name in ("a", "b"):
        _run([*TINY, "lr=0.5", f"hydra.run.dir={tmp_path / name}"], tmp_path)
    a, b = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ea, eb = (pd.read_parquet(tmp_path / n / records.ESD_FILE) for n in ("a", "b"))
    assert np.array_equal(ea["eigenvalue"].to_numpy(), eb["eigenvalue"].to_numpy())


@pytest.mark.slow
def test_parallel_local_launcher_points_equal_sequential_ones(tmp_path):
    grid = ["optimizer=gd,adam", "lr=0.1,1"]
    _run(["-m", *TINY, *grid, f"hydra.sweep.dir={tmp_path / 'sequential'}"], tmp_path)
    _run(["-m", *TINY, *grid, "hydra/launcher=local", f"hydra.sweep.dir={tmp_path / 'parallel'}"], tmp_path)
    for job in range(4):
        seq, par = _metrics(tmp_path / "sequential" / str(job)), _metrics(tmp_path / "parallel" / str(job))
        pd.testing.assert_frame_equal(seq, par, check_exact=True)
