"""Resume instead of recompute: checkpoints, stop signals and per-run claim files.

* A checkpoint holds everything the loop needs to continue bit-for-bit: the training state
  (W_t, the optimiser state, the last update M_{t-1}, the step; htsweep.state.TrainState) and
  the metrics rows and eigenvalues so far.  It is written atomically (temp file + rename) every ``checkpoint.every`` steps
  and when a stop signal arrives; data and W_0 are re-derived from the seeds.
* :class:`StopSignals` turns SIGTERM (preemption, ``scancel``, ``kill``), SIGUSR1 and SIGUSR2
  (Slurm's / submitit's warning before the time limit) into a flag the loop polls at the top
  of each step, so the checkpoint is always taken at a consistent state.
* :class:`Claim` is a ``claim.json`` created with O_EXCL in the run directory: of two launches
  racing on one sweep point, one runs it and the other skips it.  A heartbeat thread keeps the
  claim fresh; a claim whose process is gone (same host), whose heartbeat is older than
  ``stale_after_s``, or that belongs to this very Slurm job (a requeued task) is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import torch

from htsweep.records.schema import CHECKPOINT_FILE, CLAIM_FILE

log = logging.getLogger("htsweep")

# Layout version of checkpoint.pt: 2 = htsweep 0.2 (TrainState); older checkpoints are ignored.
CHECKPOINT_FORMAT = 2

_STOP_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGUSR1", "SIGUSR2")) if s is not None
)


class Interrupted(Exception):
    """The loop stopped at a step boundary because a stop signal arrived (state saved)."""

    def __init__(self, signum: int, step: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved")
        self.signum = signum
        self.step = step


class StopSignals:
    """Context manager: while active, stop signals set :attr:`signum` instead of acting.

    The handlers that were installed before (e.g. submitit's requeue handler for SIGUSR2) are
    kept in :attr:`previous` so the caller can hand the signal on after saving its state.
    Outside the main thread (where handlers cannot be installed) it is inert."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.previous: Dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def forward(self, signum: int) -> None:
        """Hand ``signum`` to the handler that was installed before us (submitit's requeue),
        or end the process the way the signal would have (exit status 128 + signum)."""
        handler = self.previous.get(signum)
        if callable(handler):
            handler(signum, None)
        raise SystemExit(128 + signum)


@dataclass
class Checkpointer:
    """Where and how often the loop saves its state.

    A checkpoint is the loop's payload (htsweep.loop: the TrainState's ``state_dict``, the
    records so far and the elapsed time) plus the config hash; nothing global (no RNG state:
    every random draw comes from a named seed stream)."""

    path: Path
    every: int = 0  # steps between periodic checkpoints; 0: only on a stop signal
    config_hash: str = ""

    def due(self, t: int, start: int) -> bool:
        return self.every > 0 and t > start and t % self.every == 0

    def save(self, payload: Dict[str, Any]) -> None:
        state = dict(payload, config_hash=self.config_hash, format=CHECKPOINT_FORMAT)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            torch.save(state, tmp)
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def load(self) -> Optional[Dict[str, Any]]:
        """The saved payload if it exists, has this format and belongs to the same config,
        else None (the run then starts from step 0)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as ex:  # a truncated or foreign file: torch raises EOFError, RuntimeError, ...
            log.warning("%s is unreadable (%s: %s); the run restarts from step 0", self.path, type(ex).__name__, ex)
            return None
        if not isinstance(state, dict):
            log.warning("%s is not a checkpoint; the run restarts from step 0", self.path)
            return None
        if state.get("config_hash") != self.config_hash or state.get("format") != CHECKPOINT_FORMAT:
            return None
        return state

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()


def _slurm_task() -> Optional[str]:
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job is None:
        return None
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{job}_{task}" if task is not None else job


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claim:
    """Exclusive claim on one run directory (see the module docstring)."""

    def __init__(self, run_dir: Path, stale_after_s: float = 600.0, heartbeat_s: float = 30.0) -> None:
        self.path = run_dir / CLAIM_FILE
        self.stale_after_s = stale_after_s
        self.heartbeat_s = heartbeat_s
        self.owner = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_task": _slurm_task(),
            "token": f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}",
        }
        self.holder: Optional[Dict[str, Any]] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _read(self) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def _stale(self, other: Dict[str, Any]) -> bool:
        if other.get("slurm_task") and other.get("slurm_task") == self.owner["slurm_task"]:
            return True  # our own earlier incarnation (Slurm requeue)
        if other.get("host") == self.owner["host"] and not _pid_alive(int(other.get("pid", -1))):
            return True
        try:
            age = time.time() - self.path.stat().st_mtime
        except OSError:
            return True
        return age > self.stale_after_s

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump(self.owner, fh)
        return True

    def acquire(self) -> bool:
        """True if this process now holds the claim; else :attr:`holder` says who does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._create():
            other = self._read() or {}
            if not self._stale(other):
                self.holder = other
                return False
            # take over a stale claim: atomically replace it, then check that we won
            tmp = self.path.with_name(f".{CLAIM_FILE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.owner))
            os.replace(tmp, self.path)
            time.sleep(0.05)
            if (self._read() or {}).get("token") != self.owner["token"]:
                self.holder = self._read()
                return False
        self._thread = threading.Thread(target=self._beat, name="htsweep-claim", daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if (self._read() or {}).get("token") == self.owner["token"]:
            self.path.unlink(missing_ok=True)

