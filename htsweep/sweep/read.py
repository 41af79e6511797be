"""Reading a sweep's run records: parquet footers, one dataset scan of every metrics file, and
the eigenvalues of esd.parquet on demand.

Every metrics file of a sweep is read in one pass through a pyarrow dataset whose files carry
their run folder as a partition expression (filtering on ``run_dir`` skips whole files).  The
files' schemas are unified first, so a column added in a later version, or an integer column
that is a float elsewhere, does not stop the scan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from htsweep.records import ESD_SCHEMA

RUN_DIR = "run_dir"


def one_line(ex: BaseException) -> str:
    """'TypeName: first line of the message' (for tables and reports)."""
    text = str(ex).strip().splitlines()
    return f"{type(ex).__name__}: {text[0] if text else ''}"


def footer(path: Path) -> Tuple[Optional[pa.Schema], Optional[int], Optional[str]]:
    """(arrow schema, row count, error) of a parquet file from its footer alone (the data
    pages are not read); (None, None, None) when the file does not exist."""
    if not path.exists():
        return None, None, None
    try:
        meta = pq.read_metadata(path)
        return meta.schema.to_arrow_schema(), meta.num_rows, None
    except Exception as ex:  # pyarrow raises ArrowInvalid / OSError / others on a bad footer
        return None, None, f"unreadable parquet: {one_line(ex)}"


def unify_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """One schema for every metrics file: missing columns become null, ints widen to floats,
    all-null columns take the other files' type; a column whose types cannot be reconciled
    (e.g. int in one run, string in another) is read as string."""
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    fields: Dict[str, List[pa.Field]] = {}
    for schema in schemas:
        for f in schema:
            fields.setdefault(f.name, []).append(f)
    out = []
    for name, fs in fields.items():
        try:
            unified = pa.unify_schemas([pa.schema([f]) for f in fs], promote_options="permissive")
            out.append(unified.field(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            out.append(pa.field(name, pa.string()))
    return pa.schema(out)


def parquet_dataset(files: Mapping[str, Path], schema: pa.Schema, key: str = RUN_DIR) -> ds.FileSystemDataset:
    """A pyarrow dataset of ``files`` (run_dir -> parquet path) with a ``key`` column holding
    each file's run_dir (a partition expression: filtering on it skips whole files)."""
    full = schema.append(pa.field(key, pa.string())) if key not in schema.names else schema
    return ds.FileSystemDataset.from_paths(
        [str(p) for p in files.values()],
        schema=full,
        format=ds.ParquetFileFormat(),
        filesystem=pafs.LocalFileSystem(),
        partitions=[ds.field(key) == run_dir for run_dir in files],
    )


def scan_metrics(files: Mapping[str, Path], schema: pa.Schema) -> Tuple[pa.Table, Dict[str, str]]:
    """All rows of every file in one dataset scan -> (table, {run_dir: error}).

    A file whose footer is fine but whose data pages are not fails the whole scan; then each
    file is scanned alone to name the bad ones, and the others are read again."""
    try:
        return parquet_dataset(files, schema).to_table(), {}
    except (pa.ArrowException, OSError):
        pass
    bad: Dict[str, str] = {}
    for run_dir, path in files.items():
        try:
            parquet_dataset({run_dir: path}, schema).to_table()
        except (pa.ArrowException, OSError) as ex:
            bad[run_dir] = f"unreadable parquet data: {one_line(ex)}"
    good = {k: v for k, v in files.items() if k not in bad}
    return parquet_dataset(good, schema).to_table(), bad


class EsdSource(Protocol):
    """Where ESD figures read eigenvalues: :class:`EsdStore` (the sweep's esd.parquet files)
    or :class:`FrameEsd` (a frame in memory)."""

    @property
    def run_dirs(self) -> List[str]: ...

    def load(
        self,
        run_dirs: Optional[Sequence[str]] = None,
        steps: Optional[Sequence[int]] = None,
        layers: Optional[Sequence[str]] = None,
    ) -> pd.DataFrame:
        """Columns run_dir, step, layer, index, eigenvalue, sorted by run_dir, step, layer,
        index; each argument, when given, keeps only those values."""
        ...


_ESD_ORDER = [RUN_DIR, "step", "layer", "index"]


class EsdStore:
    """The eigenvalues of each analysed matrix's W^T W for the sweep's runs, read on demand
    from their esd.parquet files through one pyarrow dataset (step and layer filters are
    pushed down to the scan)."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self.files = dict(files)

    @property
    def run_dirs(self) -> List[str]:
        return list(self.files)

    def load(
        self,
        run_dirs: Optional[Sequence[str]] = None,
        steps: Optional[Sequence[int]] = None,
        layers: Optional[Sequence[str]] = None,
    ) -> pd.DataFrame:
        chosen = {k: v for k, v in self.files.items() if run_dirs is None or k in set(run_dirs)}
        filters = []
        if steps is not None:
            filters.append(ds.field("step").isin([int(s) for s in steps]))
        if layers is not None:
            filters.append(ds.field("layer").isin([str(v) for v in layers]))
        where = None
        for f in filters:
            where = f if where is None else where & f
        table = parquet_dataset(chosen, ESD_SCHEMA).to_table(filter=where)
        return table.to_pandas().sort_values(_ESD_ORDER, kind="stable").reset_index(drop=True)


class FrameEsd:
    """An :class:`EsdSource` over a frame already in memory (run_dir, step, layer, index,
    eigenvalue; ``layer`` and ``index`` may be absent)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        frame = frame.copy()
        if "layer" not in frame.columns:
            frame["layer"] = None
        if "index" not in frame.columns:
            frame["index"] = frame.groupby([RUN_DIR, "step", "layer"], dropna=False).cumcount()
        self.frame = frame

    @property
    def run_dirs(self) -> List[str]:
        return sorted(self.frame[RUN_DIR].unique())

    def load(
        self,
        run_dirs: Optional[Sequence[str]] = None,
        steps: Optional[Sequence[int]] = None,
        layers: Optional[Sequence[str]] = None,
    ) -> pd.DataFrame:
        df = self.frame
        for column, keep in ((RUN_DIR, run_dirs), ("step", steps), ("layer", layers)):
            if keep is not None:
                df = df[df[column].isin(list(keep))]
        return df.sort_values(_ESD_ORDER, kind="stable").reset_index(drop=True)
