"""One sweep point from start to finish: decide whether to run it, run it, record it.

:func:`run_and_record` takes the task config (composed, smoke applied) and the run directory:

1. validate it (a bad value raises ConfigError before anything is written);
2. skip it when the directory already holds its result (same config hash; completed, or
   failed / diverged unless asked to rerun) or when a concurrent launch holds its claim;
3. run :func:`htsweep.loop.run`, resuming from ``checkpoint.pt`` when it holds this config;
4. write ``metrics.parquet``, ``esd.parquet``, ``overlaps.npz`` (probe.overlaps=full) and
   ``run.json`` atomically, whatever the outcome; on a stop signal hand the signal on.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig

from htsweep import memory, records
from htsweep.config import Config, task_container, to_spec
from htsweep.device import resolve_device
from htsweep.loop import RunResult, run
from htsweep.records import RunRecord, Status
from htsweep.resume import CHECKPOINT_FILE, Checkpointer, Claim, Interrupted, StopSignals

log = logging.getLogger("htsweep")


def hashed_config(container: Dict[str, Any]) -> Dict[str, Any]:
    """The part of the task config that determines a run's numbers.  A section whose every
    value is null (``stop`` with no rule, ``train`` with the whole set at once) is left out:
    it changes nothing, so adding such a section to the schema keeps earlier runs' hashes and a
    relaunch of an older sweep still finds its completed points."""
    return {k: v for k, v in container.items() if k not in records.UNHASHED_KEYS and not _all_null(v)}


def _all_null(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        v is None or _all_null(v) for v in value.values())  # fmt: skip


def same_config(previous: Dict[str, Any], digest: str) -> bool:
    """Whether a recorded run is of the config hashed as ``digest``: its recorded hash, or its
    recorded config hashed by today's rule (a run recorded before an all-null section existed,
    or while such sections still counted, is the same config)."""
    if previous.get("config_hash") == digest:
        return True
    config = previous.get("config")
    return isinstance(config, dict) and records.config_hash(hashed_config(config)) == digest


def skip_reason(
    previous: Optional[Dict[str, Any]], digest: str, spec: Config, out_dir: Optional[Path] = None
) -> Optional[str]:
    """Why a relaunch should not run this point again, or None to run (or resume) it.  A
    completed run is skipped only when its outputs check out (records.check_outputs);
    otherwise the log says what is wrong and the point runs again."""
    if previous is None or not spec.resume.enabled:
        return None
    if not same_config(previous, digest):
        raise RuntimeError(
            f"run directory holds the results of another config (hash {previous.get('config_hash')}, "
            f"this one is {digest}); launch the changed sweep into a new directory"
        )
    status = previous.get("status")
    if status == Status.completed.value:
        problem = None if out_dir is None else records.check_outputs(out_dir, previous)
        if problem is None:
            return "completed"
        log.warning("%s: recorded completed but %s; running it again", out_dir, problem)
        return None
    if status == Status.failed.value and not spec.resume.rerun_failed:
        return "failed (rerun with resume.rerun_failed=true)"
    if status == Status.diverged.value and not spec.resume.rerun_diverged:
        return "diverged (rerun with resume.rerun_diverged=true)"
    return None


def run_and_record(node: DictConfig, out_dir: Path) -> Optional[RunResult]:
    """Validate, (maybe) skip, run and record one point (module docstring).  Returns None
    when the point is skipped."""
    spec = to_spec(node)
    memory.check(spec, resolve_device(spec.device.value))  # before any write
    container = task_container(node)
    digest = records.config_hash(hashed_config(container))
    previous = records.read_record(out_dir)
    if previous is None and (out_dir / records.RUN_FILE).exists():
        log.warning("%s: %s is unreadable; running the point again", out_dir, records.RUN_FILE)
    reason = skip_reason(previous, digest, spec, out_dir)
    if reason is not None:
        log.info("%s: already %s with config %s; skipped", out_dir, reason, digest)
        return None
    claim = Claim(out_dir, stale_after_s=spec.resume.claim_stale_after_s)
    if not claim.acquire():
        log.warning("%s: claimed by %s; skipped", out_dir, claim.holder)
        return None
    try:
        for stale in out_dir.glob(".*.tmp"):  # a killed writer's temporary: we hold the claim
            stale.unlink(missing_ok=True)
        checkpointer = Checkpointer(out_dir / CHECKPOINT_FILE, spec.checkpoint.every, digest)
        if not spec.resume.enabled:
            checkpointer.remove()
        with StopSignals() as stop:
            return _run_and_write(spec, container, digest, out_dir, checkpointer, stop)
    finally:
        claim.release()


def _run_and_write(
    spec: Config, container: Dict[str, Any], digest: str, out_dir: Path, checkpointer: Checkpointer, stop: StopSignals
) -> RunResult:
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    result = RunResult()
    error: Optional[BaseException] = None
    try:
        run(spec, result, checkpointer, stop)
    except Interrupted as ex:
        error = ex
    except BaseException as ex:  # record the failure, then re-raise below
        result.status = Status.failed
        result.error = "".join(traceback.format_exception_only(type(ex), ex)).strip()
        error = ex
    try:
        written = write_outputs(result, records.flatten(container), out_dir)
    except OSError as ex:  # e.g. a full disk: the record says so, and the point fails
        result.status, written = Status.failed, []
        result.error = f"writing the outputs failed: {type(ex).__name__}: {ex}"
        error = error if isinstance(error, Interrupted) else ex
    record = RunRecord(
        status=result.status,
        steps_done=result.steps_done,
        steps_requested=spec.steps,
        config_hash=digest,
        config=container,
        diverged_at_step=result.diverged_at,
        stopped_at_step=result.stopped_at,
        resumed_from_step=result.resumed_from,
        probe_steps=result.log.probe_steps,
        layers=result.layers,
        probes=result.probes,
        probes_skipped=result.probes_skipped,
        outputs=records.describe_outputs(out_dir, written),
        wall_seconds=time.perf_counter() - t0,
        started_at=started.isoformat(),
        finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(),
        device=result.device,
        dtype=spec.dtype.value,
        versions=records.package_versions(),
        environment=records.environment(),
        error=result.error,
    )
    try:
        records.write_json(record.to_json(), out_dir / records.RUN_FILE)
    except OSError as ex:
        raise OSError(f"{out_dir}: could not write {records.RUN_FILE} ({ex}); status was {result.status.value}") from ex
    if isinstance(error, Interrupted):
        log.warning("%s: %s", out_dir, error)
        stop.forward(error.signum)
    if error is not None:
        raise error
    if not spec.checkpoint.keep:
        checkpointer.remove()
    return result


def write_outputs(result: RunResult, flat_config: Dict[str, Any], out_dir: Path) -> List[str]:
    """metrics.parquet, esd.parquet and (when recorded) overlaps.npz and arrays.npz, each
    atomically; returns the names written."""
    records.write_table(records.metrics_table(result.log.rows, flat_config), out_dir / records.METRICS_FILE)
    records.write_table(records.esd_table(result.log.esd), out_dir / records.ESD_FILE)
    written = [records.METRICS_FILE, records.ESD_FILE]
    if result.log.overlaps:
        records.write_overlaps(result.log.overlaps, out_dir / records.OVERLAPS_FILE)
        written.append(records.OVERLAPS_FILE)
    if result.log.arrays:
        records.write_arrays(result.log.arrays, out_dir / records.ARRAYS_FILE)
        written.append(records.ARRAYS_FILE)
    return written
