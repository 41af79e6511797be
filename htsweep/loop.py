"""The training loop of Sec. 3.1 as plain functions: no Hydra, no files.

``step(state, dynamics, split)`` is one update: the loss and gradient at W_t
(:func:`gradient`), the optimiser's update M_t at lr_t, W_{t+1} = W_t + M_t, then the
constraint (weight normalisation) and the perturbation (:func:`apply_update`).
``run(spec)`` builds the run (:func:`build_run`) and loops t = 0 .. steps: checkpoint when due
or on a stop signal; gradient at W_t (of the whole training set, or of step t's minibatch under
``optimizer=sgd``; none under ``optimizer=none``); probe W_t at probe steps; stop at a
non-finite loss, gradient or weight (``diverged``, the only way a run is marked so), at a probe
step that meets the ``stop`` rule (``stopped_at``) or at t = steps; update.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from htsweep.config import Config
from htsweep.data import Dataset, Split, make_data
from htsweep.device import TORCH_DTYPES, device_description, resolve_device
from htsweep.losses import Loss, make_loss
from htsweep.models import Model, Params, make_model
from htsweep.optim.sgd import Batches, batches_for
from htsweep.optim import (
    Constraint,
    Optimizer,
    Perturbation,
    Schedule,
    make_constraint,
    make_optimizer,
    make_perturbation,
    make_schedule,
)
from htsweep.probes import ProbeSet, ProbeSetup, ProbeView, build_probes, measure
from htsweep.probes.base import analysed_matrices
from htsweep.errors import ConfigError
from htsweep.records import Status
from htsweep.resume import Checkpointer, Interrupted, StopSignals
from htsweep.state import TrainState


@dataclass(frozen=True)
class Dynamics:
    """Everything that maps W_t to W_{t+1}."""

    model: Model
    loss: Loss
    optimizer: Optimizer
    schedule: Schedule
    constraint: Constraint
    perturbation: Perturbation
    base_lr: float
    batches: Optional[Batches] = None  # minibatches (optimizer=sgd); None: full batch


@dataclass
class Gradient:
    loss: float
    grads: Params
    finite: bool
    full: bool = True  # the full-batch training gradient (not a minibatch's, not skipped)


def _all_finite(tensors: Dict[str, Tensor]) -> bool:
    return all(bool(torch.isfinite(x).all()) for x in tensors.values())


def gradient(state: TrainState, dyn: Dynamics, split: Split, keep: Optional[Dict[str, Tensor]] = None) -> Gradient:
    """The training loss at W_t and its gradient for every trained parameter; ``keep`` (a dict)
    receives the pass's intermediates for the probes (htsweep.models.two_layer).  An optimiser
    that needs no gradient (``optimizer=none``) gets zeros and only the loss is evaluated."""
    if not getattr(dyn.optimizer, "needs_gradient", True):
        value = float(dyn.model.loss(state.params, split, dyn.loss))
        zeros = {name: torch.zeros_like(state.params[name]) for name in dyn.model.trained}
        return Gradient(value, zeros, math.isfinite(value), full=False)
    if keep is None:
        loss, grads = dyn.model.loss_and_grad(state.params, split, dyn.loss)
    else:
        loss, grads = dyn.model.loss_and_grad(state.params, split, dyn.loss, keep=keep)
    value = float(loss)
    return Gradient(value, grads, math.isfinite(value) and _all_finite(grads))


def apply_update(state: TrainState, grad: Gradient, dyn: Dynamics) -> TrainState:
    """W_{t+1} = P(W_t + M_t) + N_t, in place on ``state.params``; M_t (before the
    constraint and the perturbation) becomes ``state.update``, the injected noise N_t (by matrix
    name; empty without noise) ``state.noise``."""
    lr = dyn.schedule.lr(dyn.base_lr, state.t)
    update = dyn.optimizer.update(grad.grads, state.opt_state, lr)
    for name, M in update.items():
        state.params[name].add_(M)
    dyn.constraint.project_(state.params)
    noise = dyn.perturbation.apply_(state.params, state.t, lr)
    return TrainState(params=state.params, opt_state=state.opt_state, update=update, t=state.t + 1, lr=lr,
                      noise=noise or None)  # fmt: skip


def step(state: TrainState, dyn: Dynamics, split: Split) -> Tuple[TrainState, float]:
    """One update from W_t; returns the new state and the loss at W_t."""
    grad = gradient(state, dyn, split)
    return apply_update(state, grad, dyn), grad.loss


@dataclass
class RunLog:
    """What a run has recorded so far (part of a checkpoint): metrics rows, the ESD of each
    layer per probe step, the full overlap matrices (probe.overlaps=full) and named arrays per
    (step, kind, layer) (arrays.npz: top-r singular subspaces, saved weights)."""

    rows: List[Dict[str, Any]] = field(default_factory=list)
    esd: List[Tuple[int, str, Any]] = field(default_factory=list)  # (step, layer, eigenvalues)
    overlaps: Dict[Tuple[int, str], Tuple[Any, Any]] = field(default_factory=dict)
    arrays: Dict[Tuple[int, str, str], Any] = field(default_factory=dict)  # (step, kind, layer)

    def state_dict(self) -> Dict[str, Any]:
        return {"rows": self.rows, "esd": self.esd, "overlaps": self.overlaps, "arrays": self.arrays}

    def load_state_dict(self, saved: Dict[str, Any]) -> None:
        self.rows[:] = [dict(r) for r in saved["rows"]]
        self.esd[:] = list(saved["esd"])
        self.overlaps.clear()
        self.overlaps.update(saved["overlaps"])
        self.arrays.clear()
        self.arrays.update(saved.get("arrays", {}))

    @property
    def probe_steps(self) -> List[int]:
        return sorted({int(r["step"]) for r in self.rows})


@dataclass
class RunResult:
    status: Status = Status.failed
    steps_done: int = 0
    log: RunLog = field(default_factory=RunLog)
    device: str = "cpu"
    diverged_at: Optional[int] = None
    stopped_at: Optional[int] = None  # the probe step that met the stop rule (Config.stop)
    error: Optional[str] = None
    resumed_from: Optional[int] = None
    probes: List[str] = field(default_factory=list)
    probes_skipped: Dict[str, str] = field(default_factory=dict)
    layers: List[str] = field(default_factory=list)


@dataclass
class Run:
    """A built run: its data, dynamics, probes and initial state."""

    spec: Config
    data: Dataset
    dynamics: Dynamics
    probes: ProbeSet
    setup: ProbeSetup
    initial: TrainState


def scaled_lr(spec: Config, model: Model) -> float:
    """The base step size: ``lr``, or lr / gamma (``optimizer.lr_scaling=inverse_gamma``, seed
    001's lr / gamma; gamma the model's output scale relative to eq. 2, htsweep.models.two_layer)."""
    if spec.optimizer.lr_scaling.value == "inverse_gamma":
        return spec.lr / float(getattr(model, "gamma"))
    return spec.lr


def build_run(spec: Config, dev: torch.device, dtype: torch.dtype) -> Run:
    """Data, model, dynamics, probes and the initial state of ``spec`` on ``dev`` / ``dtype``
    (data and W_0 are drawn in float64 on the CPU from the seeds, then moved)."""
    data = make_data(spec.data, spec.resolved_data_seed, spec.loss.name).to(dev, dtype)
    model = make_model(spec.model, data, spec.train.chunk_size or 0)
    params0 = {k: v.to(dev, dtype) for k, v in model.init(spec.resolved_init_seed).items()}
    optimizer = make_optimizer(spec.optimizer)
    constraint = make_constraint(spec.weight_norm, model, data)
    if getattr(constraint, "at_init", False):  # the dynamics start on the constraint set
        constraint.project_(params0)
    loss = make_loss(spec.loss)
    dynamics = Dynamics(
        model=model,
        loss=loss,
        optimizer=optimizer,
        schedule=make_schedule(spec.lr_schedule),
        constraint=constraint,
        perturbation=make_perturbation(spec.noise, model, spec.seed),
        base_lr=scaled_lr(spec, model),
        batches=_batches(spec, data.train.m),
    )
    calibrate = getattr(dynamics.perturbation, "calibrate", None)
    if calibrate is not None:  # noise.ratio: sigma from the run's horizon
        calibrate(dynamics.base_lr, spec.steps)
    setup = ProbeSetup(probe=spec.probe, readout=spec.readout, model=model, data=data, params0=params0,
                       seed=spec.seed, loss=loss, lr=dynamics.base_lr, optimizer=spec.optimizer.name)  # fmt: skip
    params = {k: v.clone() for k, v in params0.items()}
    initial = TrainState(params=params, opt_state=optimizer.init(params, model.trained))
    return Run(spec, data, dynamics, build_probes(setup), setup, initial)


def _batches(spec: Config, n: int) -> Optional[Batches]:
    """Step t's minibatch schedule under ``optimizer.batch_size`` (checked against the loaded
    training set when ``data.n`` was null: all of a dataset's images)."""
    size = getattr(spec.optimizer, "batch_size", None)
    if size is not None and size > n:
        raise ConfigError("optimizer.batch_size", f"must be <= the training set size {n}, got {size}")
    return batches_for(spec.optimizer, n, spec.seed)


def stop_reached(stop: Any, rows: List[Dict[str, Any]]) -> bool:
    """Whether a probe step's rows meet every target of ``stop`` (htsweep.config.StopConfig):
    training accuracy from the network probe (``net_train_accuracy``, else 1 -
    ``net_train_error``), training loss from ``stage1_loss``; a missing or NaN value is not met."""
    if not rows or not stop.active:
        return False
    row = rows[0]  # step-level values repeat on every layer's row
    if stop.train_accuracy is not None:
        acc = row.get("net_train_accuracy")
        if acc is None or not math.isfinite(float(acc)):
            err = row.get("net_train_error")
            acc = math.nan if err is None else 1.0 - float(err)
        if not float(acc) >= stop.train_accuracy:
            return False
    if stop.train_loss is not None:
        loss = row.get("stage1_loss")
        if loss is None or not float(loss) <= stop.train_loss:
            return False
    return True


def _record_probe(run: Run, state: TrainState, loss: float, log: RunLog, elapsed: float, finite: bool,
                  grads: Optional[Params] = None, parts: Optional[Dict[str, Tensor]] = None) -> None:  # fmt: skip
    """Measure W_t and append its rows (and eigenvalues, overlaps, subspaces) to ``log``.  A
    probe that raises FloatingPointError on a state the loop found finite is a failure, not
    divergence.  ``grads``: the gradient at W_t when the loop has it (not at the last step)."""
    view = ProbeView(step=state.t, params=state.params, update=state.update, setup=run.setup, grads=grads,
                     parts=parts or {}, noise=state.noise)  # fmt: skip
    try:
        m = measure(run.probes, view)
    except FloatingPointError:
        if finite:
            raise
        return  # the loop's own check marks the run diverged at this step
    for row in m.rows:
        row.update(lr_t=state.lr, stage1_loss=loss, elapsed_s=elapsed)
    log.rows.extend(m.rows)
    if run.spec.probe.esd:
        log.esd.extend((state.t, layer, eigs.numpy()) for layer, eigs in m.esd.items())
    for layer, (o_u, o_v) in m.overlaps.items():  # float16 storage (records.OVERLAP_DTYPE)
        log.overlaps[(state.t, layer)] = (o_u.to(torch.float16).cpu().numpy(), o_v.to(torch.float16).cpu().numpy())
    for key, array in m.arrays.items():  # (kind, layer) -> ndarray: subspaces, saved weights
        log.arrays[(state.t, *key)] = array


class Clock:
    """Seconds since the run started, across resumes."""

    def __init__(self, before: float = 0.0) -> None:
        self.before = before
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return self.before + time.perf_counter() - self.t0


def _restore(run: Run, res: RunResult, checkpointer: Optional[Checkpointer], dev, dtype) -> Tuple[TrainState, Clock]:
    saved = checkpointer.load() if checkpointer is not None else None
    if saved is None:
        return run.initial, Clock()
    state = TrainState.from_state_dict(saved["state"], dev, dtype)
    res.log.load_state_dict(saved["log"])
    res.steps_done = res.resumed_from = state.t
    return state, Clock(float(saved["elapsed"]))


def _checkpoint(checkpointer: Checkpointer, stop: Optional[StopSignals], state: TrainState, start: int,
                res: RunResult, clock: Clock) -> None:
    """Save when a stop signal arrived (then raise Interrupted) or when a periodic one is due."""
    signalled = stop is not None and stop.signum is not None
    if signalled or checkpointer.due(state.t, start):
        checkpointer.save({"state": state.state_dict(), "log": res.log.state_dict(), "elapsed": clock()})
    if signalled:
        res.status = Status.interrupted
        raise Interrupted(stop.signum, state.t)


def run(
    spec: Config,
    result: Optional[RunResult] = None,
    checkpointer: Optional[Checkpointer] = None,
    stop: Optional[StopSignals] = None,
) -> RunResult:
    """Run ``spec``; fill and return ``result`` (pass one in to keep partial rows on a crash).
    With a ``checkpointer`` holding a saved state of the same config, continue from it: the
    rows equal an uninterrupted run's.  On a stop signal: save and raise Interrupted."""
    dev, dtype = resolve_device(spec.device.value), TORCH_DTYPES[spec.dtype.value]
    res = result if result is not None else RunResult()
    res.device = device_description(dev)
    built = build_run(spec, dev, dtype)
    res.probes, res.probes_skipped = built.probes.names, dict(built.probes.skipped)
    res.layers = list(analysed_matrices(built.setup, built.initial.params))
    state, clock = _restore(built, res, checkpointer, dev, dtype)
    start, probe_at, model = state.t, set(spec.probe_steps()), built.dynamics.model
    bar = tqdm(total=spec.steps, initial=start, disable=not spec.progress, delay=2.0,
               desc=f"{spec.optimizer.name} lr={spec.lr:g}", unit="step", leave=False)
    try:
        for t in range(start, spec.steps + 1):
            if checkpointer is not None:
                _checkpoint(checkpointer, stop, state, start, res, clock)
            batches = built.dynamics.batches
            grad, parts = None, ({} if t in probe_at and built.probes.want_parts and batches is None else None)
            if t < spec.steps:
                split = built.data.train if batches is None else batches.split(built.data.train, t)
                grad = gradient(state, built.dynamics, split, parts)
                loss, finite = grad.loss, grad.finite
                if batches is not None:
                    grad.full = False
            if t == spec.steps or (t in probe_at and (grad is None or not grad.full)):
                # the full-batch training loss of W_t (the last step; a probe step whose pass
                # was a minibatch's or skipped the gradient)
                loss = float(model.loss(state.params, built.data.train, built.dynamics.loss))
                finite = math.isfinite(loss) and (grad is None or grad.finite)
            first_row = len(res.log.rows)
            if t in probe_at:
                full = grad is not None and grad.full
                _record_probe(built, state, loss, res.log, clock(), finite, grad.grads if full else None, parts)
                parts = None
            if not finite:
                res.status, res.diverged_at = Status.diverged, t
                return res
            if t == spec.steps:
                break
            if t in probe_at and stop_reached(spec.stop, res.log.rows[first_row:]):
                res.stopped_at = t
                break
            state = apply_update(state, grad, built.dynamics)
            del grad
            res.steps_done = state.t
            if not _all_finite(model.matrices(state.params)):
                res.status, res.diverged_at = Status.diverged, state.t
                return res
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        res.status = Status.completed
        return res
    finally:
        bar.close()
