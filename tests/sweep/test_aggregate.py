"""htsweep.sweep.aggregate (through htsweep.aggregate, its public entry point) on synthetic
sweeps (hand-written run folders) and one real multirun."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from htsweep.aggregate import AggregateError, aggregate
from tests.sweep.synthetic import config, metric_row, row, write_run

REPO = Path(__file__).resolve().parents[2]
TABLES = ("summary.parquet", "aggregate.parquet", "problems.parquet", "problems.csv")


def test_aggregate_mean_std_count_match_hand_computed_values(lr_grid: Path) -> None:
    res = aggregate(lr_grid, figures=[])
    assert res.grid == ["optimizer.name", "lr"]  # seed varies too but is the replicate axis
    agg = pd.read_parquet(lr_grid / "aggregate.parquet")
    assert len(agg) == 2 * 2 * 3  # grid points x steps 0..2 (one layer)
    assert list(agg.columns[:6]) == ["optimizer.name", "lr", "step", "layer", "n_runs", "seeds"]
    r = row(agg, optimizer__name="adam", lr=1.0, step=2)
    # seeds give 1, 2, 4: mean 7/3, sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3
    assert r["train_loss_mean"] == pytest.approx(7 / 3)
    assert r["train_loss_std"] == pytest.approx(math.sqrt(7 / 3))
    assert r["train_loss_count"] == 3
    assert r["n_runs"] == 3 and json.loads(r["seeds"]) == [1, 2, 3] and r["layer"] == "W"
    r = row(agg, optimizer__name="gd", lr=0.1, step=2)
    assert r["train_loss_mean"] == pytest.approx(10 + 0.7 / 3)  # 10 + 0.1 * (1 + 2 + 4) / 3
    # update norms are NaN at step 0: count 0, mean NaN; at step 1 seeds give lr * {1, 2, 3}
    r0 = row(agg, optimizer__name="gd", lr=1.0, step=0)
    assert r0["update_spectral_count"] == 0 and math.isnan(r0["update_spectral_mean"])
    r1 = row(agg, optimizer__name="gd", lr=1.0, step=1)
    assert r1["update_spectral_mean"] == pytest.approx(2.0)
    assert r1["update_spectral_std"] == pytest.approx(1.0)
    # config columns constant within each point are carried along (Adam's beta1 is null on GD
    # rows); seeds and unhashed keys are not
    assert (agg["data.d"] == 20).all() and "seed" not in agg.columns and "progress" not in agg.columns
    assert agg.loc[agg["optimizer.name"] == "adam", "optimizer.beta1"].eq(0.9).all()
    assert agg.loc[agg["optimizer.name"] == "gd", "optimizer.beta1"].isna().all()
    # the written stats are those of the in-memory result
    stats = ["optimizer.name", "lr", "step", "layer", "n_runs", "seeds", *(c for c in agg.columns if c.endswith(("_mean", "_std", "_count")))]
    pd.testing.assert_frame_equal(res.aggregate[stats], agg[stats], check_dtype=False)


def test_summary_has_one_row_per_run_step_and_layer_with_config_and_status(lr_grid: Path) -> None:
    aggregate(lr_grid, figures=[])
    s = pd.read_parquet(lr_grid / "summary.parquet")
    assert len(s) == 12 * 3
    assert s.groupby("run_dir").size().eq(3).all()
    assert list(s["job"].drop_duplicates()) == list(range(12))
    assert (s["status"] == "completed").all() and (s["layer"] == "W").all()
    for col in ("optimizer.name", "lr", "seed", "data.n", "readout.reg_lambda", "config_hash", "train_loss", "matrix_rows"):
        assert col in s.columns
    # job 7 is (adam, lr=0.1, seed=2) in Hydra's order (the last override varies fastest)
    r = s[(s["job"] == 7) & (s["step"] == 2)].iloc[0]
    assert (r["optimizer.name"], r["lr"], r["seed"]) == ("adam", 0.1, 2)
    assert r["train_loss"] == pytest.approx(0.2)


def test_failed_diverged_incomplete_and_empty_runs_are_listed(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    rows = [metric_row(t) for t in range(3)]
    write_run(sweep / "0", config(lr=0.1, seed=0), rows)
    write_run(sweep / "1", config(lr=1.0, seed=0), rows[:2], status="diverged", diverged_at=2)
    write_run(sweep / "2", config(lr=10.0, seed=0), rows[:1], status="failed")
    write_run(sweep / "3", config(lr=100.0, seed=0), rows, record=False)  # killed before run.json
    write_run(sweep / "4", config(lr=1000.0, seed=0), [])  # completed but no probe rows
    (sweep / "5" / ".hydra").mkdir(parents=True)  # started, nothing written yet
    res = aggregate(sweep, figures=[])
    got = sorted(zip(res.problems["job"].astype(int), res.problems["problem"]))
    assert got == [(1, "diverged"), (2, "failed"), (3, "incomplete"), (4, "empty"), (5, "missing")]
    assert "step 2" in res.problems.set_index("problem").loc["diverged", "detail"]
    assert "boom" in res.problems.set_index("problem").loc["failed", "detail"]
    # summary keeps every readable row with its status; aggregate averages completed runs only
    status = res.summary.drop_duplicates("run_dir").set_index("job")["status"]
    assert status.to_dict() == {0: "completed", 1: "diverged", 2: "failed", 3: "incomplete"}
    assert sorted(res.aggregate["lr"].unique()) == [0.1]
    res2 = aggregate(sweep, figures=[], statuses=("completed", "diverged"))
    assert sorted(res2.aggregate["lr"].unique()) == [0.1, 1.0]


def test_metrics_files_with_different_columns_and_types_are_unified(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    write_run(sweep / "0", config(lr=0.1, seed=1), [metric_row(t) for t in range(2)])
    cfg = config(lr=0.1, seed=2, data_seed=7, **{"probe.at": [1]})  # null vs int / list text
    run = write_run(sweep / "1", cfg, [metric_row(t) for t in range(2)])
    df = pd.read_parquet(run / "metrics.parquet")
    df["new_metric"] = [1.0, 3.0]  # a metric column added in a later version
    df["num_spikes"] = df["num_spikes"].astype(float)  # int in one run, float in the other
    df.to_parquet(run / "metrics.parquet", index=False)
    res = aggregate(sweep, figures=[])
    assert res.problems.empty
    assert "new_metric" in res.metrics
    assert res.grid == ["probe.at"]  # data_seed varies too but is a seed
    r = row(res.aggregate, step=1, probe__at="[1]")
    assert r["new_metric_mean"] == 3.0 and r["new_metric_count"] == 1
    r = res.aggregate[(res.aggregate["step"] == 1) & res.aggregate["probe.at"].isna()].iloc[0]
    assert r["new_metric_count"] == 0


def test_rerunning_gives_identical_files(lr_grid: Path) -> None:
    aggregate(lr_grid, figures=["loss_curves"])
    outputs = [*TABLES, "figures/loss_curves.png", "figures/loss_curves.pdf", "figures/loss_curves.csv"]
    first = {name: (lr_grid / name).read_bytes() for name in outputs}
    res = aggregate(lr_grid, figures=["loss_curves"])
    assert {name: (lr_grid / name).read_bytes() for name in outputs} == first
    assert res.summary["run_dir"].nunique() == 12  # its own outputs are not taken for runs
    assert not list(lr_grid.rglob("*.tmp"))  # no temporary files left behind
    assert set(res.written) == {lr_grid / name for name in outputs}


def test_an_empty_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(AggregateError, match="no runs"):
        aggregate(tmp_path, figures=[])
    with pytest.raises(AggregateError, match="does not exist"):
        aggregate(tmp_path / "nope", figures=[])


def test_single_run_folder_aggregates_as_a_sweep_of_one(tmp_path: Path) -> None:
    run = write_run(tmp_path / "outputs" / "run", config(lr=0.5, seed=3), [metric_row(t) for t in range(2)])
    res = aggregate(run, figures=[])
    assert list(res.summary["run_dir"].unique()) == ["."]
    assert res.grid == [] and len(res.aggregate) == 2
    assert (res.aggregate["n_runs"] == 1).all()


@pytest.mark.slow
def test_real_multirun_then_aggregate(tmp_path: Path) -> None:
    """A real tiny sweep through Hydra in a subprocess, aggregated by the CLI, then one run
    deleted and one metrics file corrupted."""
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable, "-m", "htsweep.train", "-m",
        "optimizer=adam", "lr=0.01,1", "seed=1,2",
        "data.n=100", "data.n_test=50", "data.d=24", "model.h=36", "steps=2",
        "device=cpu", "progress=false", f"hydra.sweep.dir={sweep}",
    ]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True, timeout=300)
    done = subprocess.run(
        [sys.executable, "-m", "htsweep.aggregate", str(sweep), "--figure", "lr_sweep"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "problems: none" in done.stdout
    s = pd.read_parquet(sweep / "summary.parquet")
    a = pd.read_parquet(sweep / "aggregate.parquet")
    assert s["run_dir"].nunique() == 4 and len(s) == 4 * 3
    assert (s["status"] == "completed").all()
    assert {"optimizer.name", "lr", "layer"} <= set(a.columns) and len(a) == 2 * 3
    assert (a["n_runs"] == 2).all()
    # the mean over seeds is the mean of the runs' own numbers
    last = s[(s["step"] == 2) & (s["lr"] == 1.0)]
    r = row(a, lr=1.0, step=2)
    assert r["test_loss_mean"] == pytest.approx(last["test_loss"].mean())
    assert r["test_loss_std"] == pytest.approx(last["test_loss"].std(ddof=1))
    assert (sweep / "figures" / "lr_sweep.png").stat().st_size > 0

    shutil.rmtree(sweep / "3")
    (sweep / "1" / "metrics.parquet").write_bytes(b"PAR1 broken")
    res = aggregate(sweep, figures=["lr_sweep"])
    got = sorted(zip(res.problems["job"].astype(int), res.problems["problem"]))
    assert got == [(1, "corrupted"), (3, "missing")]
    assert res.summary["run_dir"].nunique() == 2
    assert "lr_sweep" in res.figures and not res.figure_errors
