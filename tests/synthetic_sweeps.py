"""Synthetic sweeps for the aggregation and figure tests: run folders written by hand with the
same files htsweep.train writes (metrics.parquet, esd.parquet, run.json, .hydra/), so the
tests run in milliseconds and know every number they aggregate."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import yaml
from omegaconf import OmegaConf

from htsweep import records
from htsweep.config import Config
from htsweep.probes import PROBE_COLUMNS
from htsweep.runner import LOOP_COLUMNS

COLUMNS = (*PROBE_COLUMNS, *LOOP_COLUMNS)
H, D = 30, 20  # small student: 20 eigenvalues of W^T W per probe step
MP_LAMBDA_PLUS = (math.sqrt(H) + math.sqrt(D)) ** 2  # sigma^2 = 1


def config(**dotted: Any) -> Dict[str, Any]:
    """The default run config (nested, enums as names) with ``dotted`` keys set, e.g.
    ``config(**{"optimizer.name": "gd", "lr": 0.1})``."""
    cfg = OmegaConf.to_container(OmegaConf.structured(Config), enum_to_str=True)
    cfg["model"]["h"], cfg["data"]["d"], cfg["progress"] = H, D, False
    for key, value in dotted.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return cfg


def fake_eigs(step: int, seed: int, lr: float = 1.0, d: int = D, h: int = H) -> np.ndarray:
    """Eigenvalues of W^T W for a Gaussian W (h x d), plus a spike growing with lr * step."""
    rng = np.random.default_rng(1000 * seed + step)
    W = rng.standard_normal((h, d))
    eigs = np.sort(np.linalg.eigvalsh(W.T @ W))
    if step > 0:
        eigs[-1] += 50.0 * lr * step
    return np.sort(eigs)


def metric_row(step: int, **values: float) -> Dict[str, Any]:
    """A metrics row with plausible values for every column, overridden by ``values``."""
    row: Dict[str, Any] = {c: 0.5 for c in COLUMNS}
    row.update(
        step=step,
        pl_alpha_ks_n_tail=8,
        num_spikes=1 if step else 0,
        mp_lambda_plus=MP_LAMBDA_PLUS,
        pl_alpha_ks=3.0,
        pl_alpha_ks_xmin=40.0,
        update_spectral=math.nan if step == 0 else 0.5,
        update_frobenius=math.nan if step == 0 else 0.5,
        lr_t=math.nan if step == 0 else 1.0,
    )
    row.update(values)
    return row


def write_run(
    run_dir: Path,
    cfg: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    status: str = "completed",
    esd: bool = True,
    record: bool = True,
    overrides: Optional[Sequence[str]] = None,
    diverged_at: Optional[int] = None,
) -> Path:
    """One run folder as htsweep.train writes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    flat = records.flatten(cfg)
    table = records.metrics_table([dict(r) for r in rows], COLUMNS, flat)
    records.write_table(table, run_dir / records.METRICS_FILE)
    if esd:
        steps = [int(r["step"]) for r in rows]
        h, d = int(cfg["model"]["h"]), int(cfg["data"]["d"])
        eigs = [fake_eigs(s, int(cfg["seed"]), float(cfg["lr"]), d=d, h=h) for s in steps]
        records.write_table(records.esd_table(steps, eigs), run_dir / records.ESD_FILE)
    if record:
        records.write_json(
            {
                "status": status,
                "steps_done": int(rows[-1]["step"]) if rows else 0,
                "steps_requested": cfg["steps"],
                "diverged_at_step": diverged_at,
                "config_hash": records.config_hash(cfg),
                "config": cfg,
                "error": "RuntimeError: boom" if status == "failed" else None,
            },
            run_dir / records.RUN_FILE,
        )
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides or [])))
    return run_dir


def write_multirun_yaml(
    sweep: Path, task: Sequence[str], params: Optional[Mapping[str, str]] = None
) -> None:
    """The parts of Hydra's multirun.yaml that aggregation reads."""
    doc = {
        "hydra": {
            "sweeper": {
                "_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                "max_batch_size": None,
                "params": dict(params) if params else None,
            },
            "overrides": {"hydra": ["hydra.mode=MULTIRUN"], "task": list(task)},
        }
    }
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


ValueFn = Callable[[Dict[str, Any], int, int], Dict[str, float]]


def grid_sweep(
    sweep: Path,
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int],
    steps: int,
    value: Optional[ValueFn] = None,
    base: Optional[Mapping[str, Any]] = None,
    esd: bool = True,
    points: Optional[Sequence[Mapping[str, Any]]] = None,
) -> List[Path]:
    """A sweep in Hydra's job order (grid keys, then seed, the last fastest), jobs numbered
    0.. with a multirun.yaml.  ``grid``: a cartesian product; or ``points``: an explicit list
    of grid points (then multirun.yaml is not written).  ``value(point, seed, step)`` gives
    metric values for the row of that step."""
    if points is None:
        expanded: List[Dict[str, Any]] = [{}]
        for k in grid:
            expanded = [{**p, k: v} for p in expanded for v in grid[k]]
    else:
        expanded = [dict(p) for p in points]
    dirs = []
    job = 0
    for p in expanded:
        for seed in seeds:
            cfg = config(**{**(base or {}), **p, "seed": seed, "steps": steps})
            rows = [metric_row(t, **(value(p, seed, t) if value else {})) for t in range(steps + 1)]
            ov = [f"{k}={v}" for k, v in p.items()] + [f"seed={seed}"]
            dirs.append(write_run(sweep / str(job), cfg, rows, overrides=ov, esd=esd))
            job += 1
    if points is None:
        task = [f"{k}={','.join(str(v) for v in grid[k])}" for k in grid]
        task.append(f"seed={','.join(str(s) for s in seeds)}")
        write_multirun_yaml(sweep, task)
    return dirs
