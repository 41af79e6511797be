"""Where a sweep stands, from what its folders hold now: how many jobs are in each status,
which points were slowest, which failed, diverged or still have to run (with the overrides
that relaunch them), how long the sweep has been going and when it should finish.

Everything comes from :func:`htsweep.sweep.discover.discover`: run.json, the parquet footers
(never their data pages) and the claims, so a look at a sweep of thousands of runs stays
cheap.  :func:`sweep_status` gathers it, :func:`report` writes it as text; the command line
is :mod:`htsweep.status`.

The estimate of the time left (:func:`estimate`) is

    jobs left (running or not started) x median wall time of the completed runs
    / the number of runs computing now (fresh claims, at least 1),

and is unknown until a run has completed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import socket
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from htsweep.records import CLAIM_FILE, Problem, Status
from htsweep.sweep.discover import MULTIRUN_FILE, Discovery, Run, discover, run_overrides
from htsweep.sweep.tables import run_problems

# The order of the counts line; a status never seen is left out of it.
ORDER = (
    Status.completed.value, Problem.running.value, Problem.missing.value, Status.interrupted.value,
    Problem.incomplete.value, Problem.corrupted.value, Problem.empty.value, Status.failed.value,
    Status.diverged.value,
)  # fmt: skip
LABELS = {Problem.missing.value: "missing (not started)"}
PENDING = (Problem.running.value, Problem.missing.value)  # still to be computed by a launch
FAILED = (Status.failed.value, Status.diverged.value)  # skipped by a relaunch unless asked
TOP = 5  # slowest points shown
LIMIT = 20  # rows per list unless show_all


class StatusError(RuntimeError):
    """The folder given is not a sweep (or does not exist)."""


@dataclass
class Estimate:
    """The time left, and what it rests on."""

    jobs_left: int  # running or not started
    median_wall_s: Optional[float]  # of the completed runs; None when there is none
    completed: int  # completed runs with a wall time
    claims: int  # fresh claims: runs being computed now
    seconds: Optional[float]  # None: unknown (no completed run yet)

    @property
    def concurrency(self) -> int:
        """Runs computed at once: the fresh claims, at least 1."""
        return max(1, self.claims)

    def basis(self) -> str:
        """The arithmetic of the estimate, in words."""
        at_once = f"{self.claims} fresh claim{'s' if self.claims != 1 else ''}"
        if self.claims < 1:
            at_once = "no fresh claim, so 1 assumed"
        left = f"{self.jobs_left} job{'s' if self.jobs_left != 1 else ''} left (running or not started)"
        if self.median_wall_s is None:
            return f"{left}; no completed run yet to time them by"
        return (
            f"{left} x median wall time {human(self.median_wall_s)} of {self.completed} completed "
            f"run{'s' if self.completed != 1 else ''} / {self.concurrency} at once ({at_once})"
        )


def estimate(jobs_left: int, walls: Sequence[float], claims: int) -> Estimate:
    """``jobs_left`` x median(``walls``) / max(1, ``claims``) seconds (None without walls)."""
    median = float(statistics.median(walls)) if walls else None
    seconds = None if median is None else jobs_left * median / max(1, claims)
    return Estimate(jobs_left=jobs_left, median_wall_s=median, completed=len(walls), claims=claims, seconds=seconds)


@dataclass
class RunState:
    """One job as the status report sees it."""

    run: Run
    status: str  # a Status or Problem value
    detail: str  # why it is not a clean completed run ('' when it is)

    @property
    def wall_s(self) -> Optional[float]:
        rec = self.run.record
        return float(rec.wall_seconds) if rec is not None and rec.wall_seconds is not None else None

    @property
    def overrides(self) -> Optional[str]:
        """The job's overrides (discover's for unfinished runs, else its .hydra/overrides.yaml)."""
        if self.run.overrides is None and self.run.path is not None:
            return run_overrides(self.run.path)
        return self.run.overrides


@dataclass
class SweepStatus:
    """A sweep at one moment."""

    sweep_dir: Path
    runs: List[RunState]
    expected_jobs: Optional[int]  # what multirun.yaml expands to (None: unknown)
    now: _dt.datetime
    first_started: Optional[_dt.datetime]  # the earliest start of any run
    last_finished: Optional[_dt.datetime]  # the latest finish recorded in a run.json
    estimate: Estimate
    relaunch: Optional[str]  # the command that relaunches the whole sweep

    @property
    def counts(self) -> Dict[str, int]:
        """Jobs per status, in :data:`ORDER` (statuses with no job left out)."""
        seen = [r.status for r in self.runs]
        order = list(ORDER) + sorted(set(seen) - set(ORDER))
        return {s: seen.count(s) for s in order if s in seen}

    @property
    def finished(self) -> bool:
        """No job is running or waiting to start."""
        return not any(r.status in PENDING for r in self.runs)

    @property
    def elapsed_s(self) -> Optional[float]:
        return None if self.first_started is None else (self.now - self.first_started).total_seconds()

    def slowest(self, top: int = TOP) -> List[RunState]:
        """The ``top`` runs with the longest recorded wall time, longest first."""
        timed = [r for r in self.runs if r.wall_s is not None]
        return sorted(timed, key=lambda r: -(r.wall_s or 0.0))[:top]


def _claim_holder_gone(run: Run) -> bool:
    """The run's claim belongs to a process of this host that no longer exists (killed):
    the run is not being computed, whatever the heartbeat's age says."""
    if run.path is None:
        return False
    try:
        holder = json.loads((run.path / CLAIM_FILE).read_text(encoding="utf-8"))
        if holder.get("host") != socket.gethostname():
            return False
        os.kill(int(holder.get("pid")), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, TypeError, AttributeError):
        return False
    return False


def run_state(run: Run) -> RunState:
    """The status of one job: discover's, except that a claim of a dead process on this host
    does not count as running, and a completed run with a damaged output is that problem."""
    if run.claim is not None and _claim_holder_gone(run):
        run = replace(run, claim=None)
    problems = run_problems(run)
    status = run.status
    if status == Status.completed.value and problems:
        status = problems[0][0].value  # e.g. a corrupted esd.parquet: a relaunch reruns it
    details = (d.strip().splitlines()[0] for _, _, d in problems if d.strip())  # an error's first line
    return RunState(run=run, status=status, detail="; ".join(details))


def _parse_time(text: Optional[str]) -> Optional[_dt.datetime]:
    """An ISO time from run.json (UTC when it names no zone); None when absent or unreadable."""
    if not text:
        return None
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.timezone.utc)


def started_at(run: Run) -> Optional[_dt.datetime]:
    """When the run started: run.json's ``started_at``; for a run without one (still running,
    or killed), when Hydra wrote its ``.hydra/hydra.yaml`` at the job's start."""
    if run.record is not None and run.record.started_at:
        return _parse_time(run.record.started_at)
    if run.path is None:
        return None
    try:
        mtime = (run.path / ".hydra" / "hydra.yaml").stat().st_mtime
    except OSError:
        return None
    return _dt.datetime.fromtimestamp(mtime, tz=_dt.timezone.utc)


def relaunch_command(sweep_dir: Path) -> Optional[str]:
    """The ``-m`` command that relaunches the sweep into ``sweep_dir`` (completed points are
    skipped), from multirun.yaml's task and hydra overrides; None without a usable one."""
    try:
        hydra_cfg = yaml.safe_load((sweep_dir / MULTIRUN_FILE).read_text(encoding="utf-8"))["hydra"]
        ov = hydra_cfg["overrides"]
        task = [str(o) for o in ov.get("task") or []]
        extra = [str(o) for o in ov.get("hydra") or [] if not str(o).startswith(("hydra.mode=", "hydra.sweep.dir="))]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError):
        return None
    args = [*task, *extra, f"hydra.sweep.dir={sweep_dir}"]
    return "python -m htsweep.train -m " + " ".join(shlex.quote(a) for a in args)


def sweep_status(sweep_dir: os.PathLike | str, now: Optional[_dt.datetime] = None) -> SweepStatus:
    """The state of the sweep in ``sweep_dir`` now (or at ``now``, for tests).  Raises
    StatusError when the folder does not exist or holds no run and no multirun.yaml."""
    path = Path(sweep_dir)
    if not path.is_dir():
        raise StatusError(f"sweep folder {sweep_dir} does not exist or is not a folder")
    path = path.resolve()
    found: Discovery = discover(path)
    if not found.runs:
        raise StatusError(f"{sweep_dir} is not a sweep: no run folders (e.g. <job>/run.json) and no {MULTIRUN_FILE}")
    runs = [run_state(run) for run in found.runs]
    starts = [t for t in (started_at(r.run) for r in runs) if t is not None]
    ends = [t for t in (_parse_time(r.run.record.finished_at) for r in runs if r.run.record) if t is not None]
    walls = [r.wall_s for r in runs if r.status == Status.completed.value and r.wall_s is not None]
    claims = sum(r.status == Problem.running.value for r in runs)
    left = sum(r.status in PENDING for r in runs)
    return SweepStatus(
        sweep_dir=path,
        runs=runs,
        expected_jobs=found.expected_jobs,
        now=now or _dt.datetime.now(_dt.timezone.utc),
        first_started=min(starts) if starts else None,
        last_finished=max(ends) if ends else None,
        estimate=estimate(left, walls, claims),
        relaunch=relaunch_command(path),
    )


# ---------------------------------------------------------------------------------------------
# The text report


def human(seconds: float) -> str:
    """'12.3 s', '4 min 05 s', '2 h 03 min', '3 d 04 h'."""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h:02d} h"


def _clock(t: _dt.datetime, now: _dt.datetime) -> str:
    """A moment in local time; the date only when it is not today's."""
    local, today = t.astimezone(), now.astimezone()
    return local.strftime("%H:%M:%S %Z" if local.date() == today.date() else "%Y-%m-%d %H:%M:%S %Z")


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> List[str]:
    """Rows of cells, each column padded to its widest cell (the last one not padded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [indent + "  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in rows]


def _job(r: RunState) -> str:
    return f"job {r.run.job}" if r.run.job is not None else r.run.run_dir


def _listed(rows: List[RunState], show_all: bool) -> Tuple[List[RunState], int]:
    """(rows to print, how many are left out)."""
    return (rows, 0) if show_all or len(rows) <= LIMIT else (rows[:LIMIT], len(rows) - LIMIT)


def report(st: SweepStatus, top: int = TOP, show_all: bool = False) -> str:
    """The status as text (what ``python -m htsweep.status`` prints)."""
    n = len(st.runs)
    expected = f", {st.expected_jobs} expected from {MULTIRUN_FILE}" if st.expected_jobs is not None else ""
    lines = [f"sweep {st.sweep_dir}: {n} job{'s' if n != 1 else ''}{expected}"]
    lines.append("status: " + ", ".join(f"{k} {LABELS.get(s, s)}" for s, k in st.counts.items()))
    if st.first_started is None:
        lines.append("elapsed: no run has started yet")
    else:
        first = st.first_started
        line = f"elapsed: {human(st.elapsed_s or 0.0)} since the first run started ({_clock(first, st.now)})"
        if st.finished and st.last_finished is not None and st.last_finished >= first:
            took = (st.last_finished - first).total_seconds()
            line += f"; the last run finished {human(took)} after it ({_clock(st.last_finished, st.now)})"
        lines.append(line)
    est = st.estimate
    if est.jobs_left == 0:
        lines.append("estimated finish: nothing left to run (no job running or waiting to start)")
    elif est.seconds is None:
        lines.append(f"estimated finish: unknown ({est.basis()})")
    else:
        at = st.now + _dt.timedelta(seconds=est.seconds)
        lines.append(f"estimated finish: in ~{human(est.seconds)}, at {_clock(at, st.now)}")
        lines.append(f"  basis: {est.basis()}")
    slow = st.slowest(top)
    if slow:
        lines.append(f"slowest (wall time, top {len(slow)}):")
        lines += _table([[_job(r), human(r.wall_s or 0.0), r.status, r.overrides or "-"] for r in slow])
    running = [r for r in st.runs if r.status == Problem.running.value]
    failed = [r for r in st.runs if r.status in FAILED]
    other = [r for r in st.runs if r.status not in (Status.completed.value, Problem.running.value, *FAILED)]
    for title, rows in (
        ("running", running),
        ("failed / diverged (a relaunch reruns them with resume.rerun_failed=true / resume.rerun_diverged=true)", failed),
        ("not finished (a relaunch runs them)", other),
    ):
        if not rows:
            continue
        shown, hidden = _listed(rows, show_all)
        lines.append(f"{title}:")
        lines += _table([[_job(r), r.status, r.overrides or "-", r.detail] for r in shown])
        if hidden:
            lines.append(f"  ... and {hidden} more (--all lists them; python -m htsweep.aggregate writes them to problems.csv)")
    if (failed or other) and st.relaunch:
        lines.append(f"relaunch: {st.relaunch}")
    return "\n".join(lines)
