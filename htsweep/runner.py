"""The two-stage training run of Sec. 3.1 as a plain function: data -> student -> stage-1
updates of W (a fixed) -> probes at the chosen steps.  No Hydra, no files: ``train(spec)``
returns the metrics rows and eigenvalues; :mod:`htsweep.train` writes them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor
from tqdm.auto import tqdm

from htsweep import model, optim
from htsweep.config import Config, ConfigError, Device, DType
from htsweep.data import make_data
from htsweep.probes import ProbeContext, probe
from htsweep.resume import Checkpointer, Interrupted, StopSignals
from htsweep.spectral import MarchenkoPastur

COMPLETED, DIVERGED, FAILED, INTERRUPTED = "completed", "diverged", "failed", "interrupted"

# Columns the loop adds to each probe row (besides htsweep.probes.PROBE_COLUMNS).
LOOP_COLUMNS = ("lr_t", "stage1_loss", "elapsed_s")


def resolve_device(device: Device) -> torch.device:
    """``auto`` -> cuda when a GPU is visible, else cpu; ``cuda`` without a GPU is an error."""
    if device is Device.cuda:
        if not torch.cuda.is_available():
            raise ConfigError(
                "device", "'cuda' requested but no CUDA GPU is visible; allowed here: auto, cpu"
            )
        return torch.device("cuda")
    if device is Device.auto and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def device_description(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    return "cpu"


TORCH_DTYPES = {DType.float32: torch.float32, DType.float64: torch.float64}


@dataclass
class RunResult:
    status: str
    steps_done: int
    rows: List[Dict[str, Any]] = field(default_factory=list)
    esd_steps: List[int] = field(default_factory=list)
    esd: List[Any] = field(default_factory=list)  # numpy arrays, one per probe step
    overlaps: Dict[int, Any] = field(default_factory=dict)  # step -> (O_U, O_V), float16
    device: str = "cpu"
    diverged_at: Optional[int] = None
    error: Optional[str] = None
    resumed_from: Optional[int] = None


def _finite(x: Tensor) -> bool:
    return bool(torch.isfinite(x).all())


def train(
    spec: Config,
    result: Optional[RunResult] = None,
    checkpointer: Optional[Checkpointer] = None,
    stop: Optional[StopSignals] = None,
) -> RunResult:
    """Run ``spec``; fill and return ``result`` (pass one in to keep partial rows on a crash).

    Loop for t = 0 .. steps:  (checkpoint if due or a stop signal arrived);  probe W_t if t is
    a probe step;  stop at t = steps;  compute the stage-1 loss and gradient G_t at W_t;
    M_t = optimiser update;  W_{t+1} = W_t + M_t, then weight normalisation.  A non-finite loss
    or weight ends the run as ``diverged``.  With a ``checkpointer`` holding a saved state of
    the same config, the loop continues from it and produces the same rows as an
    uninterrupted run; on a stop signal it saves and raises :class:`Interrupted`."""
    dev = resolve_device(spec.device)
    dtype = TORCH_DTYPES[spec.dtype]
    res = result if result is not None else RunResult(status=FAILED, steps_done=0)
    res.device = device_description(dev)
    t0 = time.perf_counter()

    data = make_data(spec.data, spec.resolved_data_seed).to(dev, dtype)
    student = model.Student(
        h=spec.model.h, d=spec.data.d, act=spec.activation.name, param=spec.model.param
    )
    W0_cpu, a_cpu = model.init_weights(student, spec.resolved_init_seed)
    W0 = W0_cpu.to(dev, dtype)
    a = a_cpu.to(dev, dtype)
    ctx = ProbeContext(
        student=student,
        data=data,
        W0=W0,
        reg_lambda=spec.readout.reg_lambda,
        feature_scale=spec.probe.feature_scale,
        mp=MarchenkoPastur(h=student.h, d=student.d, sigma2=student.w_init_std**2),
        phase=spec.probe.phase,
        overlaps=spec.probe.overlaps,
        overlap_k=spec.probe.overlap_k,
        tail_comparison=spec.probe.tail_comparison,
    )
    opt = optim.make_optimizer(spec.optimizer)
    wn_target = optim.frobenius_target(student.h, student.d, student.w_init_std)
    probe_at = set(spec.probe_steps())

    W = W0.clone()
    update: Optional[Tensor] = None
    lr_prev = math.nan
    start = 0
    elapsed_before = 0.0
    saved = checkpointer.load() if checkpointer is not None else None
    if saved is not None:
        start = int(saved["t"])
        W = saved["W"].to(dev, dtype)
        update = None if saved["update"] is None else saved["update"].to(dev, dtype)
        opt.load_state_dict(
            {k: (v.to(dev, dtype) if isinstance(v, Tensor) else v) for k, v in saved["opt"].items()}
        )
        lr_prev = float(saved["lr_prev"])
        elapsed_before = float(saved["elapsed"])
        res.rows[:] = [dict(r) for r in saved["rows"]]
        res.esd_steps[:] = list(saved["esd_steps"])
        res.esd[:] = list(saved["esd"])
        res.overlaps.update(saved.get("overlaps", {}))
        res.steps_done = start
        res.resumed_from = start

    def snapshot(t: int) -> Dict[str, Any]:
        return {
            "t": t,
            "W": W.cpu(),
            "update": None if update is None else update.cpu(),
            "opt": {k: (v.cpu() if isinstance(v, Tensor) else v) for k, v in opt.state_dict().items()},
            "lr_prev": lr_prev,
            "elapsed": elapsed_before + time.perf_counter() - t0,
            "rows": res.rows,
            "esd_steps": res.esd_steps,
            "esd": res.esd,
            "overlaps": res.overlaps,
        }

    pending: Optional[Dict[str, Any]] = None  # row of step t, waiting for its stage-1 loss
    bar = tqdm(
        total=spec.steps,
        initial=start,
        disable=not spec.progress,
        delay=2.0,
        desc=f"{spec.optimizer.name.value} lr={spec.lr:g}",
        unit="step",
        leave=False,
    )
    try:
        for t in range(start, spec.steps + 1):
            if checkpointer is not None:
                if stop is not None and stop.signum is not None:
                    checkpointer.save(snapshot(t))
                    res.status = INTERRUPTED
                    raise Interrupted(stop.signum, t)
                if checkpointer.due(t, start):
                    checkpointer.save(snapshot(t))
            if t in probe_at:
                try:
                    measured = probe(
                        ctx, W, t, update, spec.probe.readout, spec.probe.spectrum
                    )
                except FloatingPointError:  # e.g. overflowing features: the run blew up
                    res.status, res.diverged_at = DIVERGED, t
                    return res
                row, eigs = measured.row, measured.eigs
                if measured.overlap_u is not None:
                    res.overlaps[t] = (
                        measured.overlap_u.to(torch.float16).cpu().numpy(),
                        measured.overlap_v.to(torch.float16).cpu().numpy(),
                    )
                row["lr_t"] = lr_prev
                row["stage1_loss"] = math.nan
                row["elapsed_s"] = elapsed_before + time.perf_counter() - t0
                res.rows.append(row)
                if spec.probe.esd and eigs is not None:
                    res.esd_steps.append(t)
                    res.esd.append(eigs.cpu().numpy())
                pending = row
            else:
                pending = None
            if t == spec.steps:
                if pending is not None:
                    pending["stage1_loss"] = float(
                        model.loss_only(student, W, a, data.train.X, data.train.y)
                    )
                break
            loss, G = model.loss_and_grad(student, W, a, data.train.X, data.train.y)
            loss_value = float(loss)
            if pending is not None:
                pending["stage1_loss"] = loss_value
            if not math.isfinite(loss_value) or not _finite(G):
                res.status, res.diverged_at = DIVERGED, t
                return res
            lr_prev = optim.lr_at(spec.lr, spec.lr_schedule, t)
            update = opt.update(G, lr_prev)
            del G
            W.add_(update)
            optim.normalise_(W, spec.weight_norm, wn_target)
            if not _finite(W):
                res.status, res.diverged_at = DIVERGED, t + 1
                res.steps_done = t + 1
                return res
            res.steps_done = t + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
        res.status = COMPLETED
        return res
    finally:
        bar.close()
