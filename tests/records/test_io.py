"""Atomic writers and the table builders."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from htsweep import records
from htsweep.records.io import overlap_key


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    records.write_json({"a": 1}, path)

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        records.write_json({"a": Unserialisable()}, path)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_written_files_get_the_usual_mode(tmp_path):
    records.write_json({"a": 1}, tmp_path / "r.json")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_json_non_finite_floats_become_null(tmp_path):
    records.write_json({"a": math.nan, "b": [math.inf, 1.0]}, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": None, "b": [None, 1.0]}


def test_metrics_table_orders_columns_and_fills_missing_with_nan():
    rows = [{"step": 0, "layer": "W", "extra": 1.0}, {"step": 1, "layer": "W", "train_loss": 0.5}]
    table = records.metrics_table(rows, {"lr": 0.1, "optimizer.name": "gd"})
    names = table.column_names
    assert names[: len(records.METRIC_COLUMNS)] == list(records.METRIC_COLUMNS)
    assert names[len(records.METRIC_COLUMNS)] == "extra" and names[-2:] == ["lr", "optimizer.name"]
    df = table.to_pandas()
    assert math.isnan(df["train_loss"][0]) and df["train_loss"][1] == 0.5
    assert str(table.schema.field("layer").type) == "string"


def test_esd_table_schema_and_order(tmp_path):
    table = records.esd_table([(0, "W", np.array([1.0, 2.0])), (3, "W", np.array([0.5, 4.0, 9.0]))])
    assert table.schema == records.ESD_SCHEMA
    df = table.to_pandas()
    assert list(df["step"]) == [0, 0, 3, 3, 3] and list(df["index"]) == [0, 1, 0, 1, 2]
    assert set(df["layer"]) == {"W"}
    assert records.esd_table([]).num_rows == 0 and records.esd_table([]).schema == records.ESD_SCHEMA
    records.write_table(table, tmp_path / "esd.parquet")
    assert pq.read_table(tmp_path / "esd.parquet").equals(table)


def test_overlaps_keep_their_pre_0_2_names_for_w(tmp_path):
    o = np.eye(3)
    records.write_overlaps({(1, "W"): (o, o), (2, "conv1"): (o, o)}, tmp_path / "o.npz")
    saved = np.load(tmp_path / "o.npz")
    assert sorted(saved.files) == sorted(["u_1", "v_1", "conv1/u_2", "conv1/v_2"])
    assert saved["u_1"].dtype == records.OVERLAP_DTYPE
    assert overlap_key("u", "W", 5) == "u_5"


def test_config_hash_is_order_independent_and_sensitive():
    a = records.config_hash({"lr": 1.0, "data": {"n": 2, "d": 3}})
    assert a == records.config_hash({"data": {"d": 3, "n": 2}, "lr": 1.0})
    assert a != records.config_hash({"lr": 1.5, "data": {"n": 2, "d": 3}})
    assert records.flatten({"a": {"b": 1}, "c": [1, 2]}) == {"a.b": 1, "c": "[1, 2]"}
