"""htsweep.sweep.discover: run folders, their records and footers, and the jobs multirun.yaml
says a sweep has."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from htsweep.aggregate import aggregate
from htsweep.sweep.discover import add_missing_jobs, discover, expected_jobs, find_run_dirs, inspect_run
from tests.sweep.synthetic import config, metric_row, write_multirun_yaml, write_run


def test_expected_jobs_expand_sweeper_params_and_command_line_overrides(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    write_multirun_yaml(sweep, ["+experiment=fig3", "seed=1,2", "data.n=200"], params={"optimizer": "gd,adam", "lr": "0.1,1,10"})
    jobs = expected_jobs(sweep)
    assert jobs is not None and len(jobs) == 2 * 3 * 2
    assert jobs[0] == "optimizer=gd lr=0.1 +experiment=fig3 seed=1 data.n=200"
    assert jobs[-1] == "optimizer=adam lr=10 +experiment=fig3 seed=2 data.n=200"
    # nothing launched yet: every job is missing, and aggregation says so instead of crashing
    res = aggregate(sweep, figures=[])
    assert len(res.problems) == 12 and set(res.problems["problem"]) == {"missing"}
    assert res.summary.empty and res.expected_jobs == 12
    assert list(res.problems["overrides"])[:2] == jobs[:2]


def test_expected_jobs_is_none_for_other_sweepers_and_unparsable_files(tmp_path: Path) -> None:
    assert expected_jobs(tmp_path) is None  # no multirun.yaml
    write_multirun_yaml(tmp_path, ["lr=0.1,1"])
    doc = yaml.safe_load((tmp_path / "multirun.yaml").read_text())
    doc["hydra"]["sweeper"]["_target_"] = "hydra_plugins.hydra_optuna_sweeper.OptunaSweeper"
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump(doc))
    assert expected_jobs(tmp_path) is None
    write_multirun_yaml(tmp_path, ["lr=interval(0,1)"])  # not a discrete sweep
    assert expected_jobs(tmp_path) is None
    (tmp_path / "multirun.yaml").write_text("hydra: [not, a, mapping")
    assert expected_jobs(tmp_path) is None


def test_run_folders_are_found_below_the_sweep_and_aggregation_outputs_skipped(tmp_path: Path) -> None:
    rows = [metric_row(0)]
    write_run(tmp_path / "a" / "0", config(seed=1), rows)
    write_run(tmp_path / "a" / "1", config(seed=2), rows)
    write_run(tmp_path / "b" / "nested" / "2", config(seed=3), rows)
    (tmp_path / "figures" / "x").mkdir(parents=True)
    (tmp_path / "figures" / "x" / "metrics.parquet").write_bytes(b"")  # never a run
    (tmp_path / ".hidden" / "3").mkdir(parents=True)
    found = [p.relative_to(tmp_path).as_posix() for p in find_run_dirs(tmp_path)]
    assert found == ["a/0", "a/1", "b/nested/2"]
    run, schema = inspect_run(tmp_path, tmp_path / "b" / "nested" / "2")
    assert run.run_dir == "b/nested/2" and run.job == 2 and run.metrics_rows == 1 and run.esd_rows == 20
    assert schema is not None and {"step", "layer", "matrix_rows"} <= set(schema.names)
    assert run.record is not None and run.record.config["seed"] == 3 and run.status == "completed"


def test_gaps_and_jobs_past_the_last_folder_become_missing_runs(tmp_path: Path) -> None:
    rows = [metric_row(0)]
    write_run(tmp_path / "0", config(seed=1), rows)
    write_run(tmp_path / "2", config(seed=3), rows)
    runs = add_missing_jobs([inspect_run(tmp_path, tmp_path / d)[0] for d in ("0", "2")], ["a=1", "a=2", "a=3", "a=4"])
    assert [(r.job, r.status, r.overrides) for r in runs] == [
        (0, "completed", None), (1, "missing", "a=2"), (2, "completed", None), (3, "missing", "a=4"),
    ]  # fmt: skip


def test_an_unusable_run_json_is_an_incomplete_run(tmp_path: Path) -> None:
    run = write_run(tmp_path / "0", config(seed=1), [metric_row(0)], overrides=["seed=1"])
    rec = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**rec, "status": "exploded"}))
    found = discover(tmp_path)
    [r] = found.runs
    assert r.record is None and "exploded" in (r.record_error or "") and r.status == "incomplete"
    assert r.overrides == "seed=1"  # read back from .hydra/overrides.yaml, to relaunch it
    (run / "run.json").write_text("{ not json")
    assert discover(tmp_path).runs[0].record_error == "unreadable run.json: not a JSON object"
