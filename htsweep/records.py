"""Run outputs: metrics.parquet, esd.parquet and run.json, written atomically.

Every file is written to a temporary name in the destination folder and renamed over the
final name (``os.replace``), so a reader sees either the previous complete file or the new
complete file, never a partial one, and a crash leaves no half-written result behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

METRICS_FILE = "metrics.parquet"
ESD_FILE = "esd.parquet"
RUN_FILE = "run.json"
OVERLAPS_FILE = "overlaps.npz"

_VERSIONED_PACKAGES = (
    "htsweep",
    "torch",
    "numpy",
    "hydra-core",
    "omegaconf",
    "pandas",
    "pyarrow",
    "powerlaw",
)


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``
    (``os.replace``: readers see the old complete file or the new one, never a partial one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Atomically write a pyarrow table as parquet."""
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def write_json(obj: Mapping[str, Any], path: Path) -> None:
    """Atomically write JSON (sorted keys, non-finite floats as null)."""

    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_json_safe(obj), fh, indent=2, sort_keys=True, allow_nan=False)
            fh.write("\n")

    atomic_write(path, _write)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested config -> {"optimizer.name": "adam", "data.n": 2000, "lr": 1.0, ...}.

    Lists become their JSON text so every column is a scalar a groupby can use."""
    out: Dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(list(value))
        else:
            out[name] = value
    return out


def config_hash(cfg: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of the task config."""
    text = json.dumps(_json_safe(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def package_versions() -> Dict[str, str]:
    out = {}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def environment() -> Dict[str, Any]:
    """Host and scheduler identity of this process (Slurm variables when present)."""
    env = {"hostname": socket.gethostname(), "pid": os.getpid()}
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NODELIST"):
        env[var.lower()] = os.environ.get(var)
    return env


def metrics_table(rows: List[Dict[str, Any]], columns: Iterable[str], config: Dict[str, Any]) -> pa.Table:
    """One row per probe step: the metric columns in ``columns`` order, then any further keys
    of the rows in order of first appearance (NaN where a row lacks one), then the flattened
    config (constant within a run) so a sweep aggregates by concat + groupby."""
    names = list(columns)
    seen = set(names)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                names.append(key)
    data: Dict[str, Any] = {c: [r.get(c, float("nan")) for r in rows] for c in names}
    for key, value in config.items():
        data[key] = [value] * len(rows)
    return pa.table(data)


def write_overlaps(overlaps: Dict[int, Any], path: Path) -> None:
    """Atomically write the full overlap matrices (probe.overlaps=full) as a compressed .npz:
    ``u_<step>`` = O(U_{W_t}, U_{M_{t-1}}) and ``v_<step>`` = O(V_{W_t}, V_{M_{t-1}}), float16
    (entries are squared cosines in [0, 1])."""
    arrays = {}
    for step, (o_u, o_v) in sorted(overlaps.items()):
        arrays[f"u_{step}"] = o_u
        arrays[f"v_{step}"] = o_v

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, _write)


def esd_table(steps: List[int], eigs: List[Any]) -> pa.Table:
    """Long table (step, index, eigenvalue): every eigenvalue of W^T W at every probe step,
    ascending within a step."""
    if not steps:
        return pa.table(
            {
                "step": pa.array([], pa.int64()),
                "index": pa.array([], pa.int64()),
                "eigenvalue": pa.array([], pa.float64()),
            }
        )
    step_col = np.concatenate([np.full(len(e), s, dtype=np.int64) for s, e in zip(steps, eigs)])
    idx_col = np.concatenate([np.arange(len(e), dtype=np.int64) for e in eigs])
    val_col = np.concatenate([np.asarray(e, dtype=np.float64) for e in eigs])
    return pa.table({"step": step_col, "index": idx_col, "eigenvalue": val_col})
