"""Early stopping rules (Config.stop): the run ends at the first probe step meeting the targets."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from htsweep.errors import ConfigError
from htsweep.job import run_and_record
from htsweep.loop import run
from htsweep.records import Status
from htsweep.config import compose, task_node
from tests.helpers import small_node, small_spec, spec

DIGITS = ["model=mlp", "data=digits", "loss=cross_entropy", "optimizer=adam", "lr=0.01", "model.width=64", "data.n=300",
          "steps=30", "probe.every=2", "progress=false", "device=cpu", "dtype=float64"]  # fmt: skip


def test_a_loss_target_stops_at_the_first_probe_step_that_meets_it():
    reference = pd.DataFrame(run(small_spec("steps=10", "probe.every=2")).log.rows)
    target = float(reference.loc[reference.step == 6, "stage1_loss"].iloc[0])
    first = int(reference.loc[reference.stage1_loss <= target, "step"].min())
    res = run(small_spec("steps=10", "probe.every=2", f"stop.train_loss={target!r}"))
    assert res.status is Status.completed and res.stopped_at == first and res.steps_done == first
    rows = pd.DataFrame(res.log.rows)
    assert rows.step.max() == first
    pd.testing.assert_frame_equal(rows.drop(columns="elapsed_s"),
                                  reference[reference.step <= first].drop(columns="elapsed_s"))  # fmt: skip


def test_an_accuracy_target_stops_a_classifier_and_run_json_says_where(tmp_path):
    reference = pd.DataFrame(run(spec(DIGITS)).log.rows)
    acc = reference.groupby("step")["net_train_accuracy"].first()
    first = int(acc[acc >= 0.9].index.min())
    assert 0 < first < 30  # the target is reached inside the run
    result = run_and_record(task_node(compose([*DIGITS, "stop.train_accuracy=0.9"])), tmp_path)
    assert result is not None and result.stopped_at == first
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["stopped_at_step"] == first and saved["steps_done"] == first and saved["status"] == "completed"
    assert saved["probe_steps"][-1] == first


def test_no_rule_never_stops():
    assert run(small_spec("steps=4")).stopped_at is None


@pytest.mark.parametrize(
    "overrides,expected",
    [(["stop.train_accuracy=1.5"], "stop.train_accuracy: must be a fraction in (0, 1] (or null), got 1.5"),
     (["stop.train_accuracy=0"], "stop.train_accuracy: must be a fraction in (0, 1]"),
     (["stop.train_loss=-1"], "stop.train_loss: must be >= 0 (or null), got -1.0"),
     (["stop.train_accuracy=0.9"], "stop.train_accuracy: needs a classification loss (cross_entropy, bce, hinge), got loss=mse")],
)  # fmt: skip
def test_bad_stop_values(overrides, expected):
    with pytest.raises(ConfigError) as info:
        small_spec(*overrides)
    assert str(info.value).startswith(expected), str(info.value)


def test_a_relaunch_skips_a_run_that_stopped_early(tmp_path):
    overrides = ("steps=10", "probe.every=2", "stop.train_loss=1e9")  # met at step 0
    first = run_and_record(small_node(*overrides), tmp_path)
    assert first is not None and first.stopped_at == 0 and first.steps_done == 0
    assert run_and_record(small_node(*overrides), tmp_path) is None  # completed and intact: skipped
