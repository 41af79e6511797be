"""``python -m htsweep.train [overrides]``: one training run (or, with ``-m``, a sweep).

Hydra composes ``htsweep/conf/config.yaml`` with the chosen group options and overrides into
a typed :class:`htsweep.config.Config`; :func:`htsweep.job.run_and_record` runs it and writes,
in the run's Hydra output directory, ``metrics.parquet``, ``esd.parquet`` and ``run.json``
(layouts: :mod:`htsweep.records.schema`).

Before Hydra creates any directory, :func:`preflight` composes and validates every job the
command line describes - for ``-m``, every point of the sweep, the experiment's own
``hydra.sweeper.params`` included - so a bad value stops the launch with one line on stderr
naming the field and what is allowed, exit status 2, nothing written.  A diverged run is
recorded and exits 0 so a sweep goes on; any other failure is recorded as ``failed`` and
re-raised.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from htsweep import memory, records
from htsweep.config import CONF_DIR, task_node, to_spec
from htsweep.device import resolve_device
from htsweep.errors import ConfigError
from htsweep.job import run_and_record
from htsweep.records.summary import run_summary
from htsweep.sweep.expand import expand_jobs, sweep_arguments
from htsweep.sweep.progress import sweep_progress

log = logging.getLogger("htsweep")

# Hydra's own flags that do not launch jobs (the pre-flight leaves those commands to Hydra).
_NON_JOB_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion", "config_path",
                  "config_name", "config_dir", "experimental_rerun")


def parse_command_line(argv: List[str]) -> argparse.Namespace:
    """The flags of Hydra's command line that decide what the pre-flight checks (a mirror of
    Hydra's parser for the flags that matter here; unknown flags are left to Hydra)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--help", "-h", action="store_true")
    p.add_argument("--hydra-help", action="store_true")
    p.add_argument("--cfg", "-c")
    p.add_argument("--resolve", action="store_true")
    p.add_argument("--package", "-p")
    p.add_argument("--run", "-r", action="store_true")
    p.add_argument("--multirun", "-m", action="store_true")
    p.add_argument("--shell-completion", "-sc", action="store_true")
    p.add_argument("--config-path", "-cp")
    p.add_argument("--config-name", "-cn")
    p.add_argument("--config-dir", "-cd")
    p.add_argument("--experimental-rerun")
    p.add_argument("--info", "-i", nargs="?", const="all")
    p.add_argument("overrides", nargs="*")
    args, _ = p.parse_known_args(argv)
    return args


def _is_hydra_override(override: str) -> bool:
    return override.lstrip("~+").startswith("hydra")


def compose_with_hydra(overrides: List[str]) -> DictConfig:
    """The composed config including its ``hydra`` node (compose API, the package's conf)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="preflight"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def preflight(argv: List[str]) -> None:
    """Compose and validate every job of the command line before Hydra writes anything.

    The jobs of ``-m`` are the experiment's ``hydra.sweeper.params`` (read from the config the
    non-sweep overrides compose) and the command line's overrides, expanded as Hydra's basic
    sweeper does.  Without ``-m``, a config that defines a sweep stops with a line saying so.
    A data source read from files (``check_files``) checks them for every job."""
    from htsweep.config import compose

    args = parse_command_line(argv)
    if any(getattr(args, flag) for flag in _NON_JOB_FLAGS):
        return
    overrides = list(args.overrides)
    parsed = OverridesParser.create().parse_overrides(overrides)
    fixed = [str(o.input_line) for o in parsed if not o.is_sweep_override()]
    composed = compose_with_hydra(fixed)
    params = dict(OmegaConf.select(composed, "hydra.sweeper.params") or {})
    key = "hydra.sweep.dir" if args.multirun else "hydra.run.dir"
    check_writable(key, Path(str(OmegaConf.select(composed, key))))
    if not args.multirun:
        if params:
            name = OmegaConf.select(composed, "experiment") or "this config"
            raise ConfigError(
                "experiment",
                f"{name} is a sweep over {', '.join(params)}; add -m to run it: "
                f"python -m htsweep.train -m {' '.join(overrides)}",
            )
        jobs = [overrides]
    else:
        jobs = expand_jobs(sweep_arguments(params, overrides))
    for job in jobs:
        spec = to_spec(task_node(compose([o for o in job if not _is_hydra_override(o)])))
        check_files = getattr(spec.data, "check_files", None)
        if check_files is not None:
            check_files()  # a data source's files exist and look right (headers, no full read)
        memory.check(spec, resolve_device(spec.device.value))


def check_writable(key: str, target: Path) -> None:
    """The output folder (or its nearest existing parent) can be written: a read-only file
    system or a folder without write permission stops the launch with one line."""
    probe = target.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(key, f"{target} cannot be created: {probe} is not a folder")
    readonly = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    if readonly or not os.access(probe, os.W_OK | os.X_OK):
        why = "read-only file system" if readonly else "no write permission"
        raise ConfigError(key, f"{target} cannot be written ({why} at {probe}); choose another with {key}=...")


def _only_hydra_files(path: Path) -> bool:
    return path.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in path.iterdir())


def _record_smoke(node: DictConfig, out_dir: Path) -> None:
    """Write the shrunk config over Hydra's .hydra/config.yaml, so Hydra's record and run.json
    say the same (the composed one is kept as .hydra/config.composed.yaml)."""
    hydra_dir = out_dir / HydraConfig.get().output_subdir if HydraConfig.get().output_subdir else None
    if hydra_dir is None or not (hydra_dir / "config.yaml").exists():
        return
    composed = hydra_dir / "config.composed.yaml"
    if not composed.exists():
        os.replace(hydra_dir / "config.yaml", composed)
    text = OmegaConf.to_yaml(node)
    records.atomic_write(hydra_dir / "config.yaml", lambda tmp: Path(tmp).write_text(text))


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    single = HydraConfig.get().mode == RunMode.RUN  # a single run ends with its summary
    try:
        node = task_node(cfg)
        spec = to_spec(node)  # a ConfigError comes before any write
        if spec.smoke:
            _record_smoke(node, out_dir)
        with sweep_progress(spec.progress) as job:  # the sweep's line (basic launcher only)
            job.skipped = run_and_record(node, out_dir) is None
    except ConfigError:
        # A point the pre-flight did not see: leave no directory behind for it.
        if _only_hydra_files(out_dir):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    except BaseException:
        if single and (out_dir / records.RUN_FILE).exists():
            print(run_summary(out_dir), file=sys.stderr)
        raise
    if single:
        print(run_summary(out_dir), file=sys.stderr)


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
        allowed = ", ".join(sorted(o for o in ex.options if not o.endswith("_schema")))
        return f"{group or 'config'}: unknown option '{option}'; allowed: {allowed}"
    cause = ex.__cause__ if isinstance(ex, HydraException) and ex.__cause__ is not None else ex
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
