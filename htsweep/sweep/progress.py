"""One progress line for a whole ``-m`` sweep run by Hydra's default (basic) launcher.

The basic launcher runs a sweep's jobs one after the other in the launching process, so a
line above each run's own step bar can say where the sweep stands::

    sweep: job 2 of 3 |######    | elapsed 00:04, remaining ~00:03
    adam lr=0.5:  33%|###       | 1/3 [00:02<00:04, ...]          <- the run's bar (htsweep.loop)

The line is a tqdm bar at ``position=0`` (the run bar takes the next free position, below
it).  N is the number of jobs the sweep expands to: the sweep's ``multirun.yaml`` (written by
Hydra's sweeper before the first job starts, holding ``hydra.sweeper.params`` and the command
line's overrides) expanded by :func:`htsweep.sweep.discover.expected_jobs`, exactly as the
status command and aggregation count them.  Jobs skipped because their result is already on
disk count as done; the estimate of the time left is the median duration of the jobs that ran
in this process times the jobs left, less the time the current job has run.

Nothing is shown with ``progress=false``, for a single run, or when the jobs run in their own
processes (``hydra/launcher=local`` / ``slurm``): there each process sees one job only.
"""

from __future__ import annotations

import atexit
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, TextIO, Tuple

from tqdm.auto import tqdm

# Hydra's default launcher, known by its class name in hydra.launcher._target_ (its module is
# private to Hydra and never imported here).
BASIC_LAUNCHER = "BasicLauncher"
REFRESH_S = 1.0  # how often the line's clock is redrawn on a terminal


@dataclass
class JobProgress:
    """What the task function tells the sweep line about the job it ran (set ``skipped`` when
    the job's result was already on disk: its duration is left out of the estimate)."""

    skipped: bool = False


def format_seconds(seconds: float) -> str:
    """``[H:]MM:SS``, as tqdm writes times."""
    return tqdm.format_interval(max(0.0, seconds))


def remaining_seconds(durations: List[float], jobs_left: int, current_s: float = 0.0) -> Optional[float]:
    """Median duration of the jobs that ran x the jobs not yet done (the current one included),
    less the ``current_s`` seconds the current job has already run; None before any job ran."""
    if not durations:
        return None
    return max(0.0, statistics.median(durations) * jobs_left - current_s)


@dataclass
class SweepLine:
    """The sweep's progress line, kept across the jobs of one launching process."""

    sweep_dir: Path
    total: Optional[int]  # None: multirun.yaml could not be expanded (then "job k" only)
    file: Optional[TextIO] = None  # tqdm's default (stderr) when None
    clock: Callable[[], float] = time.monotonic
    bar: Optional[tqdm] = None  # created when the first job starts
    started: float = field(init=False)
    durations: List[float] = field(default_factory=list)  # jobs that ran (not skipped)
    job: int = 0  # the current job's number (0-based)
    job_started: Optional[float] = None  # None between jobs
    _stop: threading.Event = field(default_factory=threading.Event)
    _ticker: Optional[threading.Thread] = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def closed(self) -> bool:
        return self.bar is not None and bool(self.bar.disable)

    def _open(self, desc: str) -> tqdm:
        """The tqdm bar at position 0 (created on the first job; a clock thread redraws it
        every second on a terminal, while a log file gets a line per job only)."""
        self.bar = tqdm(total=self.total, initial=self.job, position=0, leave=True, disable=False, desc=desc,
                        bar_format=self._format(), dynamic_ncols=True, file=self.file)  # drawn here
        if getattr(self.bar.fp, "isatty", lambda: False)():
            self._ticker = threading.Thread(target=self._tick, name="htsweep-sweep-line", daemon=True)
            self._ticker.start()
        return self.bar

    def _format(self) -> str:
        """tqdm's bar_format: the description, the bar (when N is known) and :meth:`text`."""
        return ("{desc} |{bar}| " if self.total else "{desc}, ") + self.text().replace("{", "{{").replace("}", "}}")

    def text(self, now: Optional[float] = None) -> str:
        """'elapsed MM:SS, remaining ~MM:SS' (remaining '?' before any job has run; no
        remaining once every job is done or when the job count is unknown)."""
        now = self.clock() if now is None else now
        elapsed = f"elapsed {format_seconds(now - self.started)}"
        if not self.total or self.job >= self.total:
            return elapsed
        current = now - self.job_started if self.job_started is not None else 0.0
        left = remaining_seconds(self.durations, self.total - self.job, current)
        return f"{elapsed}, remaining {'?' if left is None else '~' + format_seconds(left)}"

    def start_job(self, num: int) -> None:
        """Job ``num`` (0-based) starts: the jobs before it are done."""
        self.job, self.job_started = num, self.clock()
        desc = f"sweep: job {num + 1}" + (f" of {self.total}" if self.total else "")
        if self.bar is None:
            self._open(desc)
            return
        self.bar.n = num
        self.bar.set_description_str(desc, refresh=False)
        self.redraw()

    def finish_job(self, num: int, ran: bool) -> None:
        """Job ``num`` ended (``ran``: it computed something, so its duration counts)."""
        if ran and self.job_started is not None:
            self.durations.append(self.clock() - self.job_started)
        self.job, self.job_started = num + 1, None
        if self.bar is None:
            return
        self.bar.n = num + 1  # drawn when the next job starts
        if self.total is not None and num + 1 >= self.total:
            self.bar.set_description_str(f"sweep: {self.total} of {self.total} jobs done", refresh=False)
            self.close()
        elif self._ticker is not None:  # a terminal: the launcher's log line of the next job
            self.bar.clear()  # starts on an empty line, and the line is drawn again below it

    def redraw(self) -> None:
        """Draw the line again with the current times."""
        if self.bar is not None and not self.bar.disable:
            self.bar.bar_format = self._format()
            self.bar.refresh()

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            if self.job_started is not None:
                self.redraw()

    def close(self) -> None:
        """Stop the clock and leave the line's last state on the screen."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2 * REFRESH_S)
        if self.bar is not None and not self.bar.disable:
            self.bar.bar_format = self._format()
            self.bar.close()


_line: Optional[SweepLine] = None  # the line of the sweep this process is running


def shows_sweep_line(progress: bool, multirun: bool, launcher_target: Optional[str]) -> bool:
    """Whether a job shows the sweep line: progress on, a ``-m`` sweep, the basic launcher."""
    name = (launcher_target or "").rsplit(".", 1)[-1]
    return bool(progress and multirun and name == BASIC_LAUNCHER)


def sweep_total(sweep_dir: Path) -> Optional[int]:
    """The number of jobs the sweep in ``sweep_dir`` expands to (from its multirun.yaml), or
    None when it cannot be known."""
    from htsweep.sweep.discover import expected_jobs  # pyarrow and yaml: only for a sweep

    jobs = expected_jobs(sweep_dir)
    return len(jobs) if jobs else None


def _this_job(progress: bool) -> Optional[Tuple[Path, int]]:
    """(sweep folder, job number) when the running job (its Hydra config) shows the sweep
    line, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not progress or not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    target = hc.launcher.get("_target_") if hc.launcher is not None else None
    if not shows_sweep_line(progress, hc.mode == RunMode.MULTIRUN, target):
        return None
    sweep_dir = Path(str(hc.sweep.dir))
    if not sweep_dir.is_absolute():
        sweep_dir = Path(hc.runtime.cwd) / sweep_dir
    return sweep_dir, int(hc.job.num)


def line_for(sweep_dir: Path, num: int) -> SweepLine:
    """The sweep line for job ``num`` of the sweep in ``sweep_dir``: the one already shown, or
    a new one when this is another sweep (or the first job of a relaunch in this process)."""
    global _line
    if _line is not None and (_line.sweep_dir != sweep_dir or num < _line.job):
        _line.close()
        _line = None
    if _line is None or _line.closed:
        _line = SweepLine(sweep_dir, sweep_total(sweep_dir))
    return _line


def close_line() -> None:
    """Close the sweep line still open (a sweep whose job count is unknown ends with the
    process)."""
    if _line is not None:
        _line.close()


atexit.register(close_line)


@contextmanager
def sweep_progress(progress: bool) -> Iterator[JobProgress]:
    """Around one job of the task function: show and advance the sweep line when the job is
    part of a basic-launcher ``-m`` sweep and ``progress`` is on; otherwise do nothing."""
    job = JobProgress()
    where = _this_job(progress)
    if where is None:
        yield job
        return
    line = line_for(*where)
    line.start_job(where[1])
    try:
        yield job
    finally:
        line.finish_job(where[1], ran=not job.skipped)
