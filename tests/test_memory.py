"""The memory pre-flight: the estimate, its error line, and that it bounds a real run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from htsweep import memory
from htsweep.errors import ConfigError
from tests.helpers import spec


def test_estimate_is_linear_in_n_and_counts_each_phase():
    a, b = memory.estimate(spec(["data.n=1000"])), memory.estimate(spec(["data.n=3000"]))
    c = memory.estimate(spec(["data.n=5000"]))
    assert set(a.parts) == {"data", "training step", "readout", "state and spectra"}
    assert c.total - b.total == pytest.approx(b.total - a.total, rel=1e-12)
    assert memory.estimate(spec(["dtype=float64"])).total > memory.estimate(spec([])).total


def test_a_run_that_cannot_fit_stops_with_one_line_naming_the_sizes():
    big = spec(["data.n=100000000", "model.h=100000"])
    with pytest.raises(ConfigError) as info:
        memory.check(big, torch.device("cpu"))
    msg = str(info.value)
    assert msg.startswith("memory: n=100000000, d=1000, h=100000 (float32) need about") and "\n" not in msg
    assert "available on cpu" in msg
    assert memory.check(spec([]), torch.device("cpu")) is not None  # the default run fits


def test_available_memory_is_positive_and_below_physical():
    have = memory.available_bytes(torch.device("cpu"))

    assert 0 < have <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_the_estimate_bounds_a_real_runs_peak(tmp_path):
    """The n = 8000 setting of Fig. 5 (10 steps) at two threads, as every test runs: the process's
    peak RSS is below the estimate."""
    overrides = ["data.n=8000", "probe.at=[10]", "progress=false", "device=cpu"]
    # VmHWM, the peak of this process's own memory map: ru_maxrss would also count the parent's
    # (pytest's) pages, which Linux carries into the child's maximum across fork / exec
    code = (
        "import torch; torch.set_num_threads(2); from htsweep.config import make_spec; "
        f"from htsweep.loop import run; run(make_spec({overrides!r})); "
        "print(next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak = float(proc.stdout.strip().splitlines()[-1])
    bound = memory.estimate(spec(overrides)).total + memory.baseline_bytes()
    assert peak <= bound, (peak / 2**20, bound / 2**20)
    assert peak >= 0.4 * bound  # and it is not a vacuous bound
