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
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from htsweep import records
from htsweep.config import ConfigError, to_spec
from htsweep.probes import PROBE_COLUMNS
from htsweep.runner import FAILED, LOOP_COLUMNS, RunResult, resolve_device, train

# Config keys that do not change a run's numbers and are left out of its hash.
_UNHASHED = ("progress",)


def task_config(cfg: DictConfig) -> Dict[str, Any]:
    """The resolved task config as plain containers (enums as their names, no ``hydra``)."""
    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    container.pop("hydra", None)
    return container


def run_and_record(cfg: DictConfig, out_dir: Path) -> RunResult:
    """Validate ``cfg``, train, and write the three output files into ``out_dir``."""
    spec = to_spec(cfg)
    resolve_device(spec.device)  # fail on device=cuda without a GPU before writing anything
    container = task_config(cfg)
    hashed = {k: v for k, v in container.items() if k not in _UNHASHED}
    flat = records.flatten(container)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    result = RunResult(status=FAILED, steps_done=0)
    error: Optional[BaseException] = None
    try:
        train(spec, result)
    except BaseException as ex:  # record the failure, then re-raise below
        result.status = FAILED
        result.error = "".join(traceback.format_exception_only(type(ex), ex)).strip()
        error = ex
    columns = (*PROBE_COLUMNS, *LOOP_COLUMNS)
    records.write_table(records.metrics_table(result.rows, columns, flat), out_dir / records.METRICS_FILE)
    records.write_table(records.esd_table(result.esd_steps, result.esd), out_dir / records.ESD_FILE)
    record = {
        "status": result.status,
        "steps_done": result.steps_done,
        "steps_requested": spec.steps,
        "diverged_at_step": result.diverged_at,
        "probe_steps": [row["step"] for row in result.rows],
        "wall_seconds": time.perf_counter() - t0,
        "started_at": started.isoformat(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "device": result.device,
        "dtype": spec.dtype.value,
        "config_hash": records.config_hash(hashed),
        "config": container,
        "versions": records.package_versions(),
        "environment": records.environment(),
        "error": result.error,
    }
    records.write_json(record, out_dir / records.RUN_FILE)
    if error is not None:
        raise error
    return result


class ValidateConfig(Callback):
    """Checks value ranges before Hydra creates the run (or sweep) directory, so a bad value
    leaves nothing behind.  Sweep points are checked again at the start of each job."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        resolve_device(to_spec(config).device)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        resolve_device(to_spec(config).device)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> None:
    run_and_record(cfg, Path(HydraConfig.get().runtime.output_dir))


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
