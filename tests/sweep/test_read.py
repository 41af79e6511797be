"""htsweep.sweep.read: footers, schema unification, the one-scan read and the eigenvalue stores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from htsweep.aggregate import aggregate
from htsweep.sweep.read import EsdStore, FrameEsd, footer, unify_schemas
from tests.sweep.synthetic import D, config, fake_eigs, metric_row, write_run


def test_corrupted_data_page_behind_a_valid_footer_is_found_by_the_scan(lr_grid: Path) -> None:
    path = lr_grid / "2" / "metrics.parquet"
    raw = bytearray(path.read_bytes())
    raw[4:40] = b"\xff" * 36  # the first page header; the footer still reads fine
    path.write_bytes(bytes(raw))
    assert pq.read_metadata(path).num_rows == 3
    assert footer(path)[2] is None
    res = aggregate(lr_grid, figures=[])
    bad = res.problems[res.problems["problem"] == "corrupted"]
    assert list(bad["run_dir"]) == ["2"] and "data" in bad["detail"].iloc[0]
    assert "2" not in set(res.summary["run_dir"]) and res.summary["run_dir"].nunique() == 11


def test_footer_of_missing_and_truncated_files(tmp_path: Path) -> None:
    assert footer(tmp_path / "none.parquet") == (None, None, None)
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 broken")
    schema, rows, err = footer(tmp_path / "bad.parquet")
    assert schema is None and rows is None and err is not None and err.startswith("unreadable parquet")


def test_unify_schemas_widens_numbers_and_falls_back_to_string() -> None:
    a = pa.schema([("step", pa.int64()), ("x", pa.int64()), ("tag", pa.int64())])
    b = pa.schema([("step", pa.int64()), ("x", pa.float64()), ("tag", pa.string()), ("new", pa.float64())])
    u = unify_schemas([a, b])
    assert u.field("x").type == pa.float64() and u.field("tag").type == pa.string()
    assert u.names == ["step", "x", "tag", "new"]


def test_esd_store_filters_runs_steps_and_layers(tmp_path: Path) -> None:
    rows = [metric_row(t, layer) for t in range(3) for layer in ("W1", "W2")]
    a = write_run(tmp_path / "0", config(seed=1, lr=0.5), rows)
    b = write_run(tmp_path / "1", config(seed=2), rows)
    store = EsdStore({"0": a / "esd.parquet", "1": b / "esd.parquet"})
    df = store.load(["0"], [0, 2], ["W2"])
    assert set(df["run_dir"]) == {"0"} and sorted(df["step"].unique()) == [0, 2] and set(df["layer"]) == {"W2"}
    assert len(df) == 2 * D
    got = df[df["step"] == 2]["eigenvalue"].to_numpy()
    assert got == pytest.approx(fake_eigs(2, 1, 0.5, layer="W2"))  # ascending, as written
    assert len(store.load()) == 2 * 3 * 2 * D
    # FrameEsd answers the same query over the same rows
    mem = FrameEsd(store.load())
    pd.testing.assert_frame_equal(mem.load(["0"], [0, 2], ["W2"]), df)
    assert mem.run_dirs == ["0", "1"]
