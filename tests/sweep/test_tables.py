"""htsweep.sweep.tables: the grid, the aggregate's grouping by layer, the problem rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict

import pandas as pd
import pytest

from htsweep.records import Problem, RunRecord, Status
from htsweep.sweep.discover import Run
from htsweep.sweep.tables import build_problems, grid_columns, implied_columns, run_problems
from htsweep.aggregate import aggregate
from tests.sweep.synthetic import config, grid_sweep, metric_row, row, write_run


def test_two_layers_of_one_run_give_separate_aggregate_rows(tmp_path: Path) -> None:
    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        return {"train_loss": float(seed + t), "pl_alpha_hill": 2.0 + seed}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1, 2], 2, value, layers=("W1", "W2"))
    for run in sweep.iterdir():  # make the second layer's per-layer metric differ
        if run.is_dir():
            df = pd.read_parquet(run / "metrics.parquet")
            df.loc[df["layer"] == "W2", "pl_alpha_hill"] += 10.0
            df.to_parquet(run / "metrics.parquet", index=False)
    res = aggregate(sweep, figures=[])
    assert res.grid == ["lr"]
    assert len(res.summary) == 4 * 3 * 2  # runs x steps x layers
    agg = res.aggregate
    assert len(agg) == 2 * 3 * 2  # grid points x steps x layers
    assert list(agg.loc[(agg["lr"] == 1.0) & (agg["step"] == 2), "layer"]) == ["W1", "W2"]  # order of appearance
    w1, w2 = row(agg, lr=1.0, step=2, layer="W1"), row(agg, lr=1.0, step=2, layer="W2")
    assert w1["n_runs"] == w2["n_runs"] == 2  # each layer row averages the two seeds, not four rows
    assert w1["pl_alpha_hill_mean"] == pytest.approx(3.5) and w2["pl_alpha_hill_mean"] == pytest.approx(13.5)
    assert w1["pl_alpha_hill_count"] == 2
    # a step-level metric, repeated on each layer row, averages to the same value on both
    assert w1["train_loss_mean"] == w2["train_loss_mean"] == pytest.approx(3.5)


def test_mixed_gd_and_adam_runs_give_two_optimizer_points(tmp_path: Path) -> None:
    """GD runs have no optimizer.beta1 (null), Adam runs 0.9: beta1 and the other Adam keys
    vary, but only with optimizer.name, so they add no grid axis and split no point."""
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.1, 1.0]}, [1, 2], 1)
    res = aggregate(sweep, figures=[])
    assert res.grid == ["optimizer.name", "lr"]
    per_run = res.summary.drop_duplicates("run_dir")
    assert per_run["optimizer.beta1"].isna().sum() == 4 and (per_run["optimizer.beta1"] == 0.9).sum() == 4
    at1 = res.aggregate[res.aggregate["step"] == 1]
    assert len(at1) == 4 and len(at1.drop_duplicates("optimizer.name")) == 2
    assert (at1["n_runs"] == 2).all()  # no point split by beta1
    for k in ("beta1", "beta2", "eps", "bias_correction"):
        assert at1.groupby("optimizer.name")[f"optimizer.{k}"].apply(lambda s: s.isna().all()).to_dict()["gd"]


def _per_run(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_implied_columns_drop_option_parameters_and_keep_relabelled_axes() -> None:
    nan = math.nan
    # beta1 is a key of Adam only: implied by optimizer.name even where the map is one-to-one
    df = _per_run(**{"optimizer.name": ["gd", "gd", "adam", "adam"], "lr": [0.1, 1, 0.1, 1],
                     "optimizer.beta1": [nan, nan, 0.9, 0.9]})  # fmt: skip
    assert implied_columns(df, ["optimizer.name", "lr", "optimizer.beta1"]) == ["optimizer.beta1"]
    # a beta1 sweep of Adam beside GD is an axis of its own: kept
    df = _per_run(**{"optimizer.name": ["gd", "adam", "adam"], "optimizer.beta1": [nan, 0.9, 0.99]})
    assert implied_columns(df, ["optimizer.name", "optimizer.beta1"]) == []
    # a parameter beside a varying <group>.name, set by the option (no nulls): implied
    df = _per_run(**{"lr_schedule.name": ["a", "a", "b", "b"], "lr": [1, 2, 1, 2], "lr_schedule.gamma": [1, 1, 2, 2]})
    assert implied_columns(df, ["lr_schedule.name", "lr", "lr_schedule.gamma"]) == ["lr_schedule.gamma"]
    # Table 2: (n, h, d) = k (1000, 750, 500) are one axis, each a value worth a label: kept
    k = [1, 2, 3]
    df = _per_run(**{"data.n": [1000 * i for i in k], "model.h": [750 * i for i in k], "data.d": [500 * i for i in k]})
    assert implied_columns(df, ["data.n", "model.h", "data.d"]) == []


def test_grid_leaves_out_seeds_and_unhashed_keys() -> None:
    summary = pd.DataFrame(
        {"run_dir": ["0", "1", "2"], "lr": [0.1, 0.1, 1.0], "seed": [1, 2, 1], "data_seed": [5, 6, 7],
         "progress": [True, False, True], "checkpoint.every": [0, 5, 0], "figures": ['["esd"]', None, None]}
    )  # fmt: skip
    cols = ["lr", "seed", "data_seed", "progress", "checkpoint.every", "figures"]
    assert grid_columns(summary, cols) == ["lr"]


def _run(status: Status, **record: Any) -> Run:
    rec = RunRecord(status=status, steps_done=3, steps_requested=10, config_hash="x", config={}, **record)
    return Run(run_dir="0", job=0, path=Path("."), record=rec, metrics_rows=4)


def test_problem_rows_per_status() -> None:
    assert run_problems(_run(Status.completed)) == []
    [(kind, file, detail)] = run_problems(_run(Status.interrupted))
    assert kind is Problem.incomplete and file == "run.json" and "after step 3 of 10" in detail
    [(kind, _, detail)] = run_problems(_run(Status.diverged, diverged_at_step=3))
    assert kind is Problem.diverged and "step 3 (of 10)" in detail
    both = _run(Status.failed, error="ValueError: x")
    both.esd_error = "unreadable parquet: ..."
    assert [p for p, _, _ in run_problems(both)] == [Problem.corrupted, Problem.failed]
    table = build_problems([both, Run(run_dir="1", job=1, path=None)])
    assert list(table["problem"]) == ["corrupted", "failed", "missing"]
    assert list(table.columns) == ["job", "run_dir", "problem", "file", "detail", "overrides"]


def test_interrupted_run_is_reported_and_not_averaged(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    write_run(sweep / "0", config(lr=0.1, seed=1), [metric_row(t) for t in range(3)])
    write_run(sweep / "1", config(lr=0.1, seed=2), [metric_row(t) for t in range(2)], status="interrupted")
    res = aggregate(sweep, figures=[])
    assert list(res.problems["problem"]) == ["incomplete"] and "relaunch to resume" in res.problems["detail"][0]
    assert (res.aggregate["n_runs"] == 1).all() and json.loads(res.aggregate["seeds"][0]) == [1]
