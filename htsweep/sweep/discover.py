"""Finding a sweep's runs: the run folders below a sweep folder, what each holds (run.json and
the parquet footers, no data pages), and the jobs ``multirun.yaml`` says the sweep has, so
that jobs that never wrote a folder are reported too.

A sweep is the folder Hydra writes for ``python -m htsweep.train -m ...``: one run folder per
job (``<job num>/`` by default) holding metrics.parquet, esd.parquet and run.json, plus
``multirun.yaml``.  A single run folder also counts as a sweep of one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pyarrow as pa
import yaml
from hydra.errors import OverrideParseException

from htsweep.records import (
    CLAIM_FILE,
    CLAIM_STALE_AFTER_S,
    ESD_FILE,
    METRICS_FILE,
    RUN_FILE,
    Problem,
    RunRecord,
    Status,
    flatten,
    read_record,
)
from htsweep.sweep.expand import expand_jobs, sweep_arguments
from htsweep.sweep.read import footer

MULTIRUN_FILE = "multirun.yaml"
FIGURES_DIR = "figures"  # aggregation's own output folder: never a run

_RUN_MARKERS = (METRICS_FILE, ESD_FILE, RUN_FILE, ".hydra")
_SKIP_DIRS = (FIGURES_DIR, "__pycache__", ".submitit")
_MAX_DEPTH = 4


@dataclass
class Run:
    """One run folder of the sweep (or one job that should exist and does not)."""

    run_dir: str  # relative to the sweep folder, POSIX separators; "." for a single run
    job: Optional[int]
    path: Optional[Path]  # None: a job without a folder
    record: Optional[RunRecord] = None  # run.json
    record_error: Optional[str] = None  # run.json exists but cannot be used
    metrics_rows: Optional[int] = None  # from the footer; None when absent or unreadable
    metrics_error: Optional[str] = None
    esd_rows: Optional[int] = None
    esd_error: Optional[str] = None
    overrides: Optional[str] = None  # the job's command-line overrides, to relaunch it
    claim: Optional[str] = None  # "<holder>, heartbeat N s ago" while a launch computes it

    @property
    def status(self) -> str:
        """The record's status when there is one, else the problem that stands in for it:
        missing (no folder / no results), corrupted (unreadable metrics), incomplete
        (metrics without a usable run.json)."""
        if self.path is None:
            return Problem.missing.value
        if self.claim is not None:
            return Problem.running.value
        if self.metrics_error is not None:
            return Problem.corrupted.value
        if self.record is not None:
            return self.record.status.value
        if self.metrics_rows is None:
            return Problem.missing.value
        return Problem.incomplete.value

    @property
    def flat_config(self) -> Dict[str, Any]:
        """The run's flattened config from run.json ({} without a record)."""
        return flatten(self.record.config) if self.record and isinstance(self.record.config, dict) else {}


@dataclass
class Discovery:
    """Every run of a sweep: the folders found, then the jobs without a folder (job order),
    with each readable metrics file's schema, and the job count multirun.yaml expands to."""

    runs: List[Run]
    schemas: Dict[str, pa.Schema]  # run_dir -> metrics.parquet schema (readable footers only)
    expected_jobs: Optional[int]


def find_run_dirs(sweep_dir: Path) -> List[Path]:
    """Every folder under ``sweep_dir`` holding run outputs or a ``.hydra`` folder (a folder
    that is a run is not searched further), in name order; ``sweep_dir`` itself when it is a
    single run."""
    if (sweep_dir / METRICS_FILE).exists() or (sweep_dir / RUN_FILE).exists():
        return [sweep_dir]
    found: List[Path] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith(".") or entry.name in _SKIP_DIRS:
                continue
            sub = Path(entry.path)
            if any((sub / marker).exists() for marker in _RUN_MARKERS):
                found.append(sub)
            elif depth < _MAX_DEPTH:
                walk(sub, depth + 1)

    walk(sweep_dir, 1)
    return found


def _hydra_yaml(run_path: Path, name: str) -> Any:
    """``run_path/.hydra/<name>`` parsed, or None when absent or unreadable."""
    try:
        return yaml.safe_load((run_path / ".hydra" / name).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _job_number(run_path: Path) -> Optional[int]:
    """The Hydra job number: the folder name when it is one (Hydra's default subdir), else
    ``hydra.job.num`` from ``.hydra/hydra.yaml``."""
    if run_path.name.isdigit():
        return int(run_path.name)
    cfg = _hydra_yaml(run_path, "hydra.yaml")
    try:
        return int(cfg["hydra"]["job"]["num"])
    except (TypeError, KeyError, ValueError):
        return None


def run_overrides(run_path: Path) -> Optional[str]:
    """The job's command-line overrides from ``.hydra/overrides.yaml``, space-separated."""
    overrides = _hydra_yaml(run_path, "overrides.yaml")
    return " ".join(str(o) for o in overrides) if isinstance(overrides, list) else None


def _read_run_record(run_path: Path) -> Tuple[Optional[RunRecord], Optional[str]]:
    """(record, error) of run.json: (None, None) without one, (None, why) when unusable."""
    if not (run_path / RUN_FILE).exists():
        return None, None
    obj = read_record(run_path)
    if obj is None:
        return None, f"unreadable {RUN_FILE}: not a JSON object"
    try:
        return RunRecord.from_json(obj), None
    except (ValueError, TypeError) as ex:
        return None, f"{RUN_FILE}: status {obj.get('status')!r} is none of {[s.value for s in Status]} ({ex})"


def inspect_run(sweep_dir: Path, run_path: Path) -> Tuple[Run, Optional[pa.Schema]]:
    """Read run.json and the two parquet footers of one run folder (no data pages); returns
    the run and its metrics schema (None when the file is absent or unreadable)."""
    run = Run(run_dir=run_path.relative_to(sweep_dir).as_posix(), job=_job_number(run_path), path=run_path)
    run.record, run.record_error = _read_run_record(run_path)
    schema, run.metrics_rows, run.metrics_error = footer(run_path / METRICS_FILE)
    if schema is not None and "step" not in schema.names:
        run.metrics_error = f"not a metrics table: no 'step' column in {schema.names[:5]}..."
        schema, run.metrics_rows = None, None
    _, run.esd_rows, run.esd_error = footer(run_path / ESD_FILE)
    run.claim = fresh_claim(run_path)
    return run, schema


def fresh_claim(run_path: Path, stale_after_s: float = CLAIM_STALE_AFTER_S) -> Optional[str]:
    """Who is computing this run now, when its claim.json has a fresh heartbeat, else None."""
    path = run_path / CLAIM_FILE
    try:
        age = time.time() - path.stat().st_mtime
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if age > stale_after_s:
        return None
    who = holder.get("slurm_task") or f"{holder.get('host')}:{holder.get('pid')}"
    return f"claimed by {who}, heartbeat {age:.0f} s ago"


def expected_jobs(sweep_dir: Path) -> Optional[List[str]]:
    """The override list of every job Hydra's basic sweeper launches for this sweep, in job
    number order, from ``multirun.yaml`` (:mod:`htsweep.sweep.expand`).  None when there is no
    multirun.yaml, another sweeper made the sweep, or its overrides cannot be expanded."""
    path = sweep_dir / MULTIRUN_FILE
    if not path.exists():
        return None
    try:
        hydra_cfg = yaml.safe_load(path.read_text(encoding="utf-8"))["hydra"]
        sweeper = hydra_cfg.get("sweeper") or {}
        if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
            return None
        task = (hydra_cfg.get("overrides") or {}).get("task") or []
        return [" ".join(job) for job in expand_jobs(sweep_arguments(sweeper.get("params"), task))]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError, ValueError, OverrideParseException):
        return None  # an unparsable or hand-edited multirun.yaml: fall back to gaps only


def add_missing_jobs(runs: List[Run], expected: Optional[Sequence[str]]) -> List[Run]:
    """``runs`` plus a folder-less run for each job number that has no folder: gaps below the
    largest job number found, and jobs past it when ``expected`` (multirun.yaml) lists more;
    sorted by job number (runs without one last)."""
    have = {r.job for r in runs if r.job is not None}
    if expected is None and not have:
        return runs
    top = max(max(have) + 1 if have else 0, len(expected) if expected is not None else 0)
    missing = [
        Run(run_dir=str(job), job=job, path=None, overrides=_expected(expected, job))
        for job in range(top)
        if job not in have
    ]
    return sorted(runs + missing, key=lambda r: (r.job is None, r.job or 0, r.run_dir))


def _expected(expected: Optional[Sequence[str]], job: Optional[int]) -> Optional[str]:
    if expected is None or job is None or job >= len(expected):
        return None
    return expected[job]


def discover(sweep_dir: Path) -> Discovery:
    """Every run of the sweep in ``sweep_dir`` (:func:`find_run_dirs`, :func:`inspect_run`,
    :func:`add_missing_jobs`), each run that is not completed carrying the overrides that
    relaunch it (its .hydra/overrides.yaml, else the job's line of multirun.yaml)."""
    found = [inspect_run(sweep_dir, p) for p in find_run_dirs(sweep_dir)]
    expected = expected_jobs(sweep_dir)
    runs = add_missing_jobs([run for run, _ in found], expected)
    for run in runs:
        if run.status != Status.completed.value and run.overrides is None:
            if run.path is not None:
                run.overrides = run_overrides(run.path)
            if run.overrides is None:
                run.overrides = _expected(expected, run.job)
    return Discovery(
        runs=runs,
        schemas={run.run_dir: schema for run, schema in found if schema is not None},
        expected_jobs=len(expected) if expected is not None else None,
    )
