"""Writing run outputs atomically, and the config helpers behind them (flattening, hashing).

Every file is written to a temporary name in the destination folder and renamed over the
final name (``os.replace``), so a reader sees either the previous complete file or the new
complete file, never a partial one, and a crash leaves no half-written result behind.
The layout of each file is :mod:`htsweep.records.schema`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from htsweep.records.schema import ESD_FILE, ESD_SCHEMA, METRIC_COLUMNS, METRICS_FILE, OVERLAP_DTYPE, RUN_FILE

_VERSIONED_PACKAGES = (
    "htsweep",
    "torch",
    "numpy",
    "scipy",
    "hydra-core",
    "omegaconf",
    "pandas",
    "pyarrow",
    "powerlaw",
)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``
    (``os.replace``: readers see the old complete file or the new one, never a partial one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual mode
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Atomically write a pyarrow table as parquet.  The file is opened here, so a failed write
    (a full disk) closes it at once and its unlinked temporary frees its space."""

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh)

    atomic_write(path, _write)


def write_json(obj: Mapping[str, Any], path: Path) -> None:
    """Atomically write JSON (sorted keys, non-finite floats as null)."""

    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(_json_safe(obj), fh, indent=2, sort_keys=True, allow_nan=False)
            fh.write("\n")

    atomic_write(path, _write)


def read_record(run_dir: Path) -> Optional[Dict[str, Any]]:
    """The run.json in ``run_dir`` as a dict, or None if there is none or it is unreadable."""
    try:
        obj = json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def describe_outputs(run_dir: Path, names: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """{file: {"bytes": size, "rows": parquet row count}} for the outputs a run wrote (rows
    only for parquet files), recorded in run.json so a relaunch can check them."""
    out: Dict[str, Dict[str, int]] = {}
    for name in names:
        path = Path(run_dir) / name
        if not path.exists():
            continue
        entry = {"bytes": path.stat().st_size}
        if name.endswith(".parquet"):
            entry["rows"] = pq.read_metadata(path).num_rows
        out[name] = entry
    return out


def check_outputs(run_dir: Path, record: Mapping[str, Any]) -> Optional[str]:
    """Why the outputs of a completed run cannot be trusted, or None when every output its
    record lists exists with the recorded size, a readable parquet footer and the recorded row
    count, and metrics.parquet holds one row per probe step and layer.  A record of htsweep
    0.1 (no ``outputs``) is checked for metrics.parquet and esd.parquet with one layer."""
    listed = record.get("outputs") or {METRICS_FILE: {}, ESD_FILE: {}}
    for name, expected in listed.items():
        path = Path(run_dir) / name
        if not path.exists():
            return f"{name} is missing"
        if "bytes" in expected and path.stat().st_size != expected["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, the record says {expected['bytes']}"
        if name.endswith(".parquet"):
            try:
                rows = pq.read_metadata(path).num_rows
            except Exception as ex:  # pyarrow raises ArrowInvalid / OSError on a bad footer
                return f"{name} is unreadable ({type(ex).__name__})"
            if "rows" in expected and rows != expected["rows"]:
                return f"{name} has {rows} rows, the record says {expected['rows']}"
    steps, layers = record.get("probe_steps") or [], record.get("layers") or ["W"]
    rows = pq.read_metadata(Path(run_dir) / METRICS_FILE).num_rows
    if steps and rows != len(steps) * len(layers):
        return f"{METRICS_FILE} has {rows} rows for {len(steps)} probe steps x {len(layers)} layers"
    return None


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
    env: Dict[str, Any] = {"hostname": socket.gethostname(), "pid": os.getpid()}
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NODELIST"):
        env[var.lower()] = os.environ.get(var)
    return env


def metrics_table(
    rows: List[Dict[str, Any]], config: Dict[str, Any], columns: Iterable[str] = METRIC_COLUMNS
) -> pa.Table:
    """One row per (probe step, layer): the metric columns in ``columns`` order, then any
    further keys of the rows in order of first appearance (NaN where a row lacks one), then the
    flattened config (constant within a run) so a sweep aggregates by concat + groupby."""
    names = list(columns)
    seen = set(names)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                names.append(key)
    data: Dict[str, Any] = {c: [r.get(c, float("nan")) for r in rows] for c in names}
    if "layer" in data:  # a string column even when a row lacks it
        data["layer"] = pa.array([None if isinstance(v, float) else v for v in data["layer"]], pa.string())
    for key, value in config.items():
        data[key] = [value] * len(rows)
    return pa.table(data)


def esd_table(esd: Sequence[Tuple[int, str, Any]]) -> pa.Table:
    """Long table (step, layer, index, eigenvalue) from ``(step, layer, eigenvalues)``
    triples: every eigenvalue of each analysed matrix's W^T W at every probe step, ascending
    within a (step, layer)."""
    if not esd:
        return ESD_SCHEMA.empty_table()
    eigs = [np.asarray(e, dtype=np.float64) for _, _, e in esd]
    step_col = np.concatenate([np.full(len(e), s, dtype=np.int64) for (s, _, _), e in zip(esd, eigs)])
    layer_col = pa.array([layer for (_, layer, _), e in zip(esd, eigs) for _ in range(len(e))], pa.string())
    idx_col = np.concatenate([np.arange(len(e), dtype=np.int64) for e in eigs])
    val_col = np.concatenate(eigs)
    return pa.table([step_col, layer_col, idx_col, val_col], schema=ESD_SCHEMA)


def overlap_key(kind: str, layer: str, step: int) -> str:
    """Name of one overlap matrix in overlaps.npz: ``u_<step>`` / ``v_<step>`` for the
    two-layer model's ``W`` (the name before version 0.2), ``<layer>/u_<step>`` otherwise."""
    return f"{kind}_{step}" if layer == "W" else f"{layer}/{kind}_{step}"


def write_overlaps(overlaps: Mapping[Tuple[int, str], Tuple[Any, Any]], path: Path) -> None:
    """Atomically write the full overlap matrices (probe.overlaps=full) as a compressed .npz:
    O(U_{W_t}, U_{M_{t-1}}) and O(V_{W_t}, V_{M_{t-1}}) per (step, layer) under
    :func:`overlap_key`, stored as :data:`~htsweep.records.schema.OVERLAP_DTYPE` (entries are
    squared cosines in [0, 1])."""
    arrays = {}
    for (step, layer), (o_u, o_v) in sorted(overlaps.items()):
        arrays[overlap_key("u", layer, step)] = np.asarray(o_u, dtype=OVERLAP_DTYPE)
        arrays[overlap_key("v", layer, step)] = np.asarray(o_v, dtype=OVERLAP_DTYPE)

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, _write)


def array_key(kind: str, layer: str, step: int) -> str:
    """Name of one array in arrays.npz: ``<kind>/<layer>/<step>``."""
    return f"{kind}/{layer}/{step}"


def parse_array_key(key: str) -> Tuple[str, str, int]:
    """(kind, layer, step) of an arrays.npz name (:func:`array_key`)."""
    kind, rest = key.split("/", 1)
    layer, step = rest.rsplit("/", 1)
    return kind, layer, int(step)


def write_arrays(arrays: Mapping[Tuple[int, str, str], Any], path: Path) -> None:
    """Atomically write named arrays ((step, kind, layer) -> ndarray: top-r singular subspaces,
    saved weights) as an uncompressed .npz under :func:`array_key` (float data does not
    compress)."""
    named = {array_key(kind, layer, step): np.asarray(a) for (step, kind, layer), a in sorted(arrays.items())}

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **named)

    atomic_write(path, _write)
