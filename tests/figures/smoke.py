"""A real tiny sweep for the figure tests: an experiment's smoke variant (n, d, h shrunk 25x,
at most 12 steps) run as a Hydra multirun in a subprocess, on the CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional


def smoke_sweep(where: Path, experiment: str, params: Optional[Mapping[str, str]] = None, *overrides: str) -> Path:
    """Run ``+experiment=<experiment> smoke=true`` into ``where/<experiment>``; ``params``
    sets sweeper params (``{"lr": "100,1000"}``: replaced or added); returns the sweep folder."""
    sweep = where / experiment
    cmd = [sys.executable, "-m", "htsweep.train", "-m", f"+experiment={experiment}", "smoke=true",
           "progress=false", "device=cpu", f"hydra.sweep.dir={sweep}", *overrides]  # fmt: skip
    for key, values in (params or {}).items():
        cmd.append(f"++hydra.sweeper.params.{key}='{values}'")
    proc = subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep
