"""Synthetic sweeps for the aggregation and figure tests: run folders written by hand with the
records writers (metrics.parquet, esd.parquet, run.json, .hydra/), so the tests run in
milliseconds and know every number they aggregate.

The run config is written out literally (the default run's config, nested as run.json holds
it), not taken from htsweep.config: a GD run has no Adam keys, a constant schedule no gamma."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import yaml

from htsweep import records
from htsweep.records import METRIC_COLUMNS, RunRecord, Status

H, D = 30, 20  # small student: 20 eigenvalues of W^T W per probe step
MP_SIGMA2 = 1.0
MP_LAMBDA_PLUS = MP_SIGMA2 * (math.sqrt(H) + math.sqrt(D)) ** 2

# Each option's own keys (what the group's node holds when that option is chosen).
OPTIONS: Dict[str, Dict[str, Dict[str, Any]]] = {
    "optimizer": {
        "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True},
        "gd": {},
    },
    "lr_schedule": {"constant": {}, "step": {"step_size": 1, "gamma": 0.5}},
}

BASE_CONFIG: Dict[str, Any] = {
    "data": {"name": "single_index", "n": 2000, "n_test": 200, "d": D, "teacher": "softplus", "label_noise_std": 0.3},
    "model": {"name": "two_layer", "h": H, "activation": "tanh", "param": "ntk"},
    "optimizer": {"name": "adam", **OPTIONS["optimizer"]["adam"]},
    "lr_schedule": {"name": "constant"},
    "weight_norm": {"name": "none"},
    "noise": {"name": "none"},
    "loss": {"name": "mse"},
    "readout": {"reg_lambda": 0.01},
    "probe": {
        "every": 1, "at": None, "feature_scale": "paper", "esd": True, "readout": True, "spectrum": True,
        "overlaps": "summary", "overlap_k": 10, "tail_comparison": False,
    },
    "lr": 1.0,
    "steps": 10,
    "seed": 0,
    "data_seed": None,
    "init_seed": None,
    "device": "auto",
    "dtype": "float32",
    "smoke": False,
    "experiment": None,
    "figures": None,
    "progress": False,
    "checkpoint": {"every": 0, "keep": False},
    "resume": {"enabled": True, "rerun_failed": False, "rerun_diverged": False, "claim_stale_after_s": 600},
}  # fmt: skip


def config(**dotted: Any) -> Dict[str, Any]:
    """The default run config with ``dotted`` keys set, e.g. ``config(**{"optimizer.name":
    "gd", "lr": 0.1})``.  Setting ``<group>.name`` of an :data:`OPTIONS` group first replaces
    the group's node by that option's keys."""
    cfg = copy.deepcopy(BASE_CONFIG)
    for group, options in OPTIONS.items():
        name = dotted.get(f"{group}.name")
        if name is not None:
            cfg[group] = {"name": name, **options[name]}
    for key, value in dotted.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return cfg


def fake_eigs(step: int, seed: int, lr: float = 1.0, d: int = D, h: int = H, layer: str = "W") -> np.ndarray:
    """Eigenvalues of W^T W for a Gaussian W (h x d), plus a spike growing with lr * step."""
    rng = np.random.default_rng([1000 * seed + step, sum(map(ord, layer))])
    W = rng.standard_normal((h, d))
    eigs = np.sort(np.linalg.eigvalsh(W.T @ W))
    if step > 0:
        eigs[-1] += 50.0 * lr * step
    return np.sort(eigs)


def metric_row(step: int, layer: str = "W", **values: Any) -> Dict[str, Any]:
    """A metrics row of one (step, layer) with plausible values for every column, overridden
    by ``values``."""
    row: Dict[str, Any] = {c: 0.5 for c in METRIC_COLUMNS}
    row.update(
        step=step,
        layer=layer,
        pl_alpha_ks_n_tail=8,
        num_spikes=1 if step else 0,
        mp_lambda_plus=MP_LAMBDA_PLUS,
        pl_alpha_ks=3.0,
        pl_alpha_ks_xmin=40.0,
        update_spectral=math.nan if step == 0 else 0.5,
        update_frobenius=math.nan if step == 0 else 0.5,
        lr_t=math.nan if step == 0 else 1.0,
        matrix_rows=H,
        matrix_cols=D,
        mp_sigma2=MP_SIGMA2,
    )
    row.update(values)
    return row


def _esd(cfg: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> List[tuple]:
    """(step, layer, eigenvalues) of every row, shaped as the row's matrix."""
    return [
        (int(r["step"]), str(r["layer"]),
         fake_eigs(int(r["step"]), int(cfg["seed"]), float(cfg["lr"]), d=int(r["matrix_cols"]), h=int(r["matrix_rows"]), layer=str(r["layer"])))
        for r in rows
    ]  # fmt: skip


def write_run(
    run_dir: Path,
    cfg: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    status: Status = Status.completed,
    esd: bool = True,
    record: bool = True,
    overrides: Optional[Sequence[str]] = None,
    diverged_at: Optional[int] = None,
) -> Path:
    """One run folder as htsweep.train writes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    table = records.metrics_table([dict(r) for r in rows], records.flatten(cfg))
    records.write_table(table, run_dir / records.METRICS_FILE)
    if esd:
        records.write_table(records.esd_table(_esd(cfg, rows)), run_dir / records.ESD_FILE)
    if record:
        rec = RunRecord(
            status=Status(status),
            steps_done=int(rows[-1]["step"]) if rows else 0,
            steps_requested=int(cfg["steps"]),
            config_hash=records.config_hash(cfg),
            config=dict(cfg),
            diverged_at_step=diverged_at,
            probe_steps=sorted({int(r["step"]) for r in rows}),
            layers=list(dict.fromkeys(str(r["layer"]) for r in rows)),
            error="RuntimeError: boom" if Status(status) is Status.failed else None,
        )
        records.write_json(rec.to_json(), run_dir / records.RUN_FILE)
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    (hydra_dir / "overrides.yaml").write_text(yaml.safe_dump(list(overrides or [])))
    return run_dir


def write_multirun_yaml(sweep: Path, task: Sequence[str], params: Optional[Mapping[str, str]] = None) -> None:
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
    layers: Sequence[str] = ("W",),
) -> List[Path]:
    """A sweep in Hydra's job order (grid keys, then seed, the last fastest), jobs numbered
    0.. with a multirun.yaml.  ``grid``: a cartesian product; or ``points``: an explicit list
    of grid points (then multirun.yaml is not written).  ``value(point, seed, step)`` gives
    metric values for the rows of that step (one row per layer)."""
    if points is None:
        expanded: List[Dict[str, Any]] = [{}]
        for k in grid:
            expanded = [{**p, k: v} for p in expanded for v in grid[k]]
    else:
        expanded = [dict(p) for p in points]
    dirs = []
    for p in expanded:
        for seed in seeds:
            cfg = config(**{**(base or {}), **p, "seed": seed, "steps": steps})
            shape = {"matrix_rows": cfg["model"]["h"], "matrix_cols": cfg["data"]["d"]}
            rows = [
                metric_row(t, layer, **{**shape, **(value(p, seed, t) if value else {})})
                for t in range(steps + 1)
                for layer in layers
            ]
            ov = [f"{k}={v}" for k, v in p.items()] + [f"seed={seed}"]
            dirs.append(write_run(sweep / str(len(dirs)), cfg, rows, overrides=ov, esd=esd))
    if points is None:
        task = [f"{k}={','.join(str(v) for v in grid[k])}" for k in grid]
        task.append(f"seed={','.join(str(s) for s in seeds)}")
        write_multirun_yaml(sweep, task)
    return dirs


# --------------------------------------------------------------------------------------------
# The sweep most aggregation tests use, and a row lookup

# train_loss per seed at the last step of the lr_grid sweep is SEED_LOSS[seed] * lr (+10 for GD)
SEED_LOSS = {1: 1.0, 2: 2.0, 3: 4.0}


def _lr_grid_value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    bump = 10.0 if p["optimizer.name"] == "gd" else 0.0
    return {
        "train_loss": SEED_LOSS[seed] * (p["lr"] if t == 2 else 1.0) + bump,
        "test_loss": 2.0 * SEED_LOSS[seed] + t,
        "kta": 0.1 * t + 0.01 * seed,
        "update_spectral": math.nan if t == 0 else p["lr"] * seed,
    }


def lr_grid_sweep(sweep: Path) -> Path:
    """optimizer {gd, adam} x lr {0.1, 1} x seed {1, 2, 3}, 2 steps: 12 jobs, 0..11."""
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.1, 1.0]}, [1, 2, 3], 2, _lr_grid_value)
    return sweep


def row(df: pd.DataFrame, **where: Any) -> pd.Series:
    """The one row of ``df`` matching ``where`` (``a__b=v`` matches column ``a.b``)."""
    mask = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        mask &= (df[k.replace("__", ".")] == v).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return df[mask].iloc[0]
