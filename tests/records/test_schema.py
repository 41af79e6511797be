"""The records schema: statuses, the run record round trip, column lists."""

from __future__ import annotations

import pytest

from htsweep.records import (
    KEY_COLUMNS,
    METRIC_COLUMNS,
    PROBE_COLUMNS,
    RENAMED_COLUMNS,
    UNHASHED_KEYS,
    RunRecord,
    Status,
)


def test_run_record_round_trips_through_json():
    rec = RunRecord(status=Status.diverged, steps_done=3, steps_requested=10, config_hash="abc", config={"lr": 1.0},
                    diverged_at_step=3, layers=["W"], probes=["update"], probes_skipped={"readout": "off"})
    obj = rec.to_json()
    assert obj["status"] == "diverged"
    back = RunRecord.from_json({**obj, "unknown_future_key": 1})
    assert back == rec


def test_a_record_without_a_known_status_is_rejected():
    with pytest.raises(ValueError):
        RunRecord.from_json({"status": "exploded"})


def test_a_pre_0_2_record_reads_with_defaults():
    old = {"status": "completed", "steps_done": 10, "steps_requested": 10, "config_hash": "h", "config": {}}
    rec = RunRecord.from_json(old)
    assert rec.layers == [] and rec.probes_skipped == {} and rec.status is Status.completed


def test_column_lists():
    assert PROBE_COLUMNS[: len(KEY_COLUMNS)] == KEY_COLUMNS == ("step", "layer")
    assert METRIC_COLUMNS[-3:] == ("lr_t", "stage1_loss", "elapsed_s")
    assert len(set(METRIC_COLUMNS)) == len(METRIC_COLUMNS)
    assert RENAMED_COLUMNS["activation.name"] == "model.activation"
    assert {"progress", "checkpoint", "resume"} <= set(UNHASHED_KEYS)
