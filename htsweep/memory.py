"""Peak memory of a run, estimated from its sizes before anything runs (the pre-flight).

For the two-layer model on n training / hold-out points and n_test test points in d
dimensions, hidden width h, training dtype of b bytes (spectra and solves in float64):

* data: drawn in float64, then copied to the training dtype: (2n + n_test) d (8 + b);
* one training step: the n x h pre-activation buffer and the gradient: n h b + h d b;
* the readout: hold-out and test features, the float64 h x h Gram, its shifted copy and its
  factor: (n + n_test) h b + 3 h^2 8;
* parameters and state: W, W_0, Adam's two moments, the update, the gradient and a checkpoint
  copy (7 h d b), float64 copies of W_t - W_0 and M_{t-1} (2 h d 8), the float64 Grams and
  eigenvectors of the spectral probe (4 min(h, d)^2 8);
* the opt-in controls, only when on: ``probe.randomize`` the permutation (h d int64), the
  shuffled copy and its float64 copy (h d (b + 8)) and its Gram (min(h, d)^2 8);
  ``probe.delta_esd`` the float64 W_t - W_0 and its Gram (h d 8 + min(h, d)^2 8);
* injected noise (``noise.sigma`` > 0 or ``noise.ratio``): the last noise and its checkpoint
  copy (2 h d b) and one layer's float64 draw in blocks of 2^22 entries (32 min(h d, 2^22));
  ``probe.compress``: pruned copies of W (3 h d b), the pruned test features (n_test h b), the
  refit's h x h factors (3 h^2 8) and one Gram (min(h, d)^2 8);
* the alignment probe, when it can run (``probe.alignment`` true, or null on spiked inputs):
  the kept sigma'(Z) and, at the last step, its own forward pass (2 n h b), E, G's residual and
  a copy (3 h d b); ``probe.save_weights_every``: every saved W (h d 4 bytes, float32) held in
  the run's log and in a checkpoint copy;
* allocator slack: the sum above times SLACK (freed float64 blocks stay in glibc's per-thread
  arenas; the same n = 8000 run peaked at 530-630 MiB, VmHWM, Dec 2026; readings of 802, 1204
  and 2477 MiB inside test-suite runs were ru_maxrss, which counts the pytest parent's pages
  that Linux carries into a child's maximum across fork / exec, not the run's own);
* the interpreter with torch, numpy, scipy and Hydra loaded: BASELINE_BYTES (CPU only).

Estimates: 0.65 GiB for the default run (measured 537-572 MiB), 0.93 GiB at n = 8000
(measured 553-576 MiB VmHWM, scripts/bench.py and tests/test_memory.py, this 2-core CPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

import torch

from htsweep.errors import ConfigError

BASELINE_BYTES = 350 * 2**20
SLACK = 1.4
DTYPE_BYTES = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class Estimate:
    parts: Dict[str, float]  # bytes by phase

    @property
    def total(self) -> float:
        return sum(self.parts.values())


def estimate(spec) -> Optional[Estimate]:
    """The estimate for ``spec`` (a htsweep.config.Config), or None when its model or data
    have no size formula here."""
    data, model = spec.data, spec.model
    if not all(hasattr(data, k) for k in ("n", "n_test", "d")) or not hasattr(model, "h"):
        return None
    n, nt, d, h = data.n, data.n_test, data.d, model.h
    b = DTYPE_BYTES[spec.dtype.value]
    parts = {
        "data": (2 * n + nt) * d * (8 + b),
        "training step": n * h * b + h * d * b,
        "readout": (n + nt) * h * b + 3 * h * h * 8,
        "state and spectra": 7 * h * d * b + 2 * h * d * 8 + 4 * min(h, d) ** 2 * 8,
    }
    controls = 0
    if spec.probe.randomize:
        controls += h * d * (8 + b + 8) + min(h, d) ** 2 * 8
    if spec.probe.delta_esd:
        controls += h * d * 8 + min(h, d) ** 2 * 8
    if controls:
        parts["probe controls"] = controls
    spiked = hasattr(data, "nu") or hasattr(data, "r")  # the sources whose law has a spike
    if spec.probe.alignment or (spec.probe.alignment is None and spiked):
        parts["alignment probe"] = 2 * n * h * b + 3 * h * d * b
    noisy = float(getattr(spec.noise, "sigma", 0.0) or 0.0) > 0 or getattr(spec.noise, "ratio", None)
    if noisy:  # state.noise and its checkpoint copy, one layer's float64 draw (2^22-entry blocks)
        parts["injected noise"] = 2 * h * d * b + 32 * min(h * d, 2**22)
    if spec.probe.compress:  # pruned copies of W and of the features, the refit's h x h factors
        parts["compress probe"] = 3 * h * d * b + nt * h * b + 3 * h * h * 8 + min(h, d) ** 2 * 8
    if spec.probe.save_weights_every > 0:
        saved = [t for t in spec.probe_steps() if t % spec.probe.save_weights_every == 0]
        parts["saved weights"] = 2 * len(saved) * h * d * 4
    return Estimate({k: SLACK * float(v) for k, v in parts.items()})


def available_bytes(device: torch.device) -> float:
    """Free memory where the run will compute: the GPU's free memory, or the host's
    MemAvailable (physical pages, /proc/meminfo; sysconf where that is missing)."""
    if device.type == "cuda":
        return float(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def baseline_bytes() -> float:
    """The CPU process's fixed part: the interpreter and the loaded libraries."""
    return float(BASELINE_BYTES)


def _gib(x: float) -> str:
    return f"{x / 2**30:.3g} GiB"


def check(spec, device: torch.device) -> Optional[Estimate]:
    """Raise ConfigError (field ``memory``) when the estimate exceeds what is available."""
    est = estimate(spec)
    if est is None:
        return None
    need = est.total + (baseline_bytes() if device.type == "cpu" else 0.0)
    have = available_bytes(device)
    if need > have:
        raise ConfigError(
            "memory",
            f"n={spec.data.n}, d={spec.data.d}, h={spec.model.h} ({spec.dtype.value}) need about {_gib(need)} "
            f"(estimate), more than the {_gib(have)} available on {device.type}; reduce data.n, data.d or model.h",
        )
    return est
