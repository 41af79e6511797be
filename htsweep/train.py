"""``python -m htsweep.train [overrides]``: one training run (or, with ``-m``, a sweep).

Hydra composes ``conf/config.yaml`` with the chosen group options and overrides into a typed
:class:`htsweep.config.Config`; the run writes, in its Hydra output directory,

* ``metrics.parquet`` - one row per probe step, metric columns then the flattened config;
* ``esd.parquet``     - (step, index, eigenvalue) for every probe step;
* ``run.json``        - status (completed | diverged | failed), steps done, wall time, device,
                        package versions, config hash, host and Slurm identity.

A bad config value stops the run before anything is written, with one line on stderr naming
the field and what is allowed, and exit status 2.  A diverged run (NaN / inf) is recorded and
exits 0 so a sweep goes on; any other failure is recorded as ``failed`` and re-raised.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from htsweep import records
from htsweep.config import Config, ConfigError, apply_smoke, to_spec
from htsweep.probes import PROBE_COLUMNS
from htsweep.resume import CHECKPOINT_FILE, Checkpointer, Claim, Interrupted, StopSignals
from htsweep.runner import (
    COMPLETED,
    DIVERGED,
    FAILED,
    LOOP_COLUMNS,
    RunResult,
    resolve_device,
    train,
)

log = logging.getLogger("htsweep")

# Config keys that do not change a run's numbers and are left out of its hash.
_UNHASHED = ("progress", "checkpoint", "resume")


def task_config(cfg: DictConfig) -> Dict[str, Any]:
    """The resolved task config as plain containers (enums as their names, no ``hydra``),
    after ``smoke`` shrinking: the values the run actually used."""
    container = OmegaConf.to_container(apply_smoke(cfg), resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def read_record(out_dir: Path) -> Optional[Dict[str, Any]]:
    """The run.json in ``out_dir``, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((out_dir / records.RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _skip_reason(previous: Optional[Dict[str, Any]], digest: str, spec: Config) -> Optional[str]:
    """Why a relaunch should not run this point again, or None to run (or resume) it."""
    if previous is None or not spec.resume.enabled:
        return None
    if previous.get("config_hash") != digest:
        raise RuntimeError(
            f"run directory holds the results of another config (hash {previous.get('config_hash')}, "
            f"this one is {digest}); launch the changed sweep into a new directory"
        )
    status = previous.get("status")
    if status == COMPLETED:
        return "completed"
    if status == FAILED and not spec.resume.rerun_failed:
        return "failed (rerun with resume.rerun_failed=true)"
    if status == DIVERGED and not spec.resume.rerun_diverged:
        return "diverged (rerun with resume.rerun_diverged=true)"
    return None


def run_and_record(cfg: DictConfig, out_dir: Path) -> Optional[RunResult]:
    """Validate ``cfg``, train, and write the three output files into ``out_dir``.

    Returns None when the point is skipped: already done with the identical config, or
    claimed by a concurrent launch.  Resumes from ``checkpoint.pt`` when one of the same
    config is there.  On a stop signal the state is saved, run.json says ``interrupted``
    and the signal is handed on (to submitit's requeue handler under Slurm)."""
    spec = to_spec(cfg)
    resolve_device(spec.device)  # fail on device=cuda without a GPU before writing anything
    container = task_config(cfg)
    digest = records.config_hash({k: v for k, v in container.items() if k not in _UNHASHED})
    reason = _skip_reason(read_record(out_dir), digest, spec)
    if reason is not None:
        log.info("%s: already %s with config %s; skipped", out_dir, reason, digest)
        return None
    claim = Claim(out_dir, stale_after_s=spec.resume.claim_stale_after_s)
    if not claim.acquire():
        log.warning("%s: claimed by %s; skipped", out_dir, claim.holder)
        return None
    try:
        checkpointer = Checkpointer(out_dir / CHECKPOINT_FILE, spec.checkpoint.every, digest)
        if not spec.resume.enabled:
            checkpointer.remove()
        with StopSignals() as stop:
            result = _train_and_write(spec, container, digest, out_dir, checkpointer, stop)
    finally:
        claim.release()
    return result


def _train_and_write(
    spec: Config,
    container: Dict[str, Any],
    digest: str,
    out_dir: Path,
    checkpointer: Checkpointer,
    stop: StopSignals,
) -> RunResult:
    flat = records.flatten(container)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    result = RunResult(status=FAILED, steps_done=0)
    error: Optional[BaseException] = None
    try:
        train(spec, result, checkpointer, stop)
    except Interrupted as ex:
        error = ex
    except BaseException as ex:  # record the failure, then re-raise below
        result.status = FAILED
        result.error = "".join(traceback.format_exception_only(type(ex), ex)).strip()
        error = ex
    columns = (*PROBE_COLUMNS, *LOOP_COLUMNS)
    records.write_table(records.metrics_table(result.rows, columns, flat), out_dir / records.METRICS_FILE)
    records.write_table(records.esd_table(result.esd_steps, result.esd), out_dir / records.ESD_FILE)
    if result.overlaps:
        records.write_overlaps(result.overlaps, out_dir / records.OVERLAPS_FILE)
    record = {
        "status": result.status,
        "steps_done": result.steps_done,
        "steps_requested": spec.steps,
        "diverged_at_step": result.diverged_at,
        "resumed_from_step": result.resumed_from,
        "probe_steps": [row["step"] for row in result.rows],
        "wall_seconds": time.perf_counter() - t0,
        "started_at": started.isoformat(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "device": result.device,
        "dtype": spec.dtype.value,
        "config_hash": digest,
        "config": container,
        "versions": records.package_versions(),
        "environment": records.environment(),
        "error": result.error,
    }
    records.write_json(record, out_dir / records.RUN_FILE)
    if isinstance(error, Interrupted):
        log.warning("%s: %s", out_dir, error)
        stop.forward(error.signum)
    if error is not None:
        raise error
    if not spec.checkpoint.keep:
        checkpointer.remove()
    return result


CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def preflight(argv: List[str]) -> None:
    """Compose and validate every job the command line describes before Hydra creates any
    directory: a bad value fails here with nothing written.  Sweeps (``-m a=1,2 b=x,y``) are
    expanded as Hydra's basic sweeper expands them.  Commands that do not launch jobs
    (--help, --cfg, ...) or that point at another config tree are left to Hydra; the job
    itself validates again (see :func:`hydra_main`)."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = get_args_parser().parse_args(argv)
    if (
        args.help
        or args.hydra_help
        or args.cfg
        or args.info
        or args.shell_completion
        or args.config_path
        or args.config_dir
        or args.config_name
        or args.experimental_rerun
    ):
        return
    overrides = list(args.overrides)
    if args.multirun:
        parsed = OverridesParser.create().parse_overrides(overrides)
        jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    else:
        jobs = [overrides]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="preflight"):
        for job in jobs:
            task = [o for o in job if not o.lstrip("~+").startswith("hydra")]
            resolve_device(to_spec(compose(config_name="config", overrides=task)).device)


def _only_hydra_files(path: Path) -> bool:
    return path.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in path.iterdir())


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_and_record(cfg, out_dir)  # validates first: a ConfigError comes before any write
    except ConfigError:
        # A sweep point the pre-flight did not see (e.g. set inside an experiment file):
        # leave no directory behind for it.
        if _only_hydra_files(out_dir):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return str(text).strip()


def user_error(ex: BaseException) -> Optional[str]:
    """One line for a configuration mistake, or None for a genuine failure."""
    if isinstance(ex, ConfigError):
        return str(ex)
    if isinstance(ex, MissingConfigException) and ex.missing_cfg_file and ex.options is not None:
        group, _, option = ex.missing_cfg_file.rpartition("/")
        allowed = ", ".join(sorted(ex.options))
        return f"{group or 'config'}: unknown option '{option}'; allowed: {allowed}"
    cause = ex.__cause__ if isinstance(ex, HydraException) else ex
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        msg = _first_line(getattr(cause, "msg", None) or str(cause))
        return f"{key}: {msg}" if key else msg
    if isinstance(ex, (ConfigCompositionException, HydraException)):
        return _first_line(str(ex))
    return None


def main() -> None:
    """Console entry point: Hydra with one-line configuration errors."""
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let exceptions reach us; we format them below
    try:
        preflight(sys.argv[1:])
        hydra_main()
    except SystemExit:
        raise
    except BaseException as ex:
        msg = user_error(ex)
        if msg is None:
            raise
        print(f"htsweep: error: {msg}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
