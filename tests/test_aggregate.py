"""htsweep.aggregate on synthetic sweeps (hand-written run folders) and one real multirun."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from htsweep import aggregate as agg_mod
from htsweep.aggregate import AggregateError, aggregate, main
from synthetic_sweeps import config, grid_sweep, metric_row, write_multirun_yaml, write_run

REPO = Path(__file__).resolve().parents[1]
TABLES = ("summary.parquet", "aggregate.parquet", "problems.parquet", "problems.csv")

# train_loss per seed at the last step of the lr_grid sweep is SEED_LOSS[seed] * lr (+10 for GD)
SEED_LOSS = {1: 1.0, 2: 2.0, 3: 4.0}


def _lr_grid_value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    bump = 10.0 if p["optimizer.name"] == "gd" else 0.0
    return {
        "train_loss": SEED_LOSS[seed] * (p["lr"] if t == 2 else 1.0) + bump,
        "test_loss": 2.0 * SEED_LOSS[seed] + t,
        "kta": 0.1 * t + 0.01 * seed,
        "update_spectral": math.nan if t == 0 else p["lr"] * seed,
    }


@pytest.fixture
def lr_grid(tmp_path: Path) -> Path:
    """optimizer {gd, adam} x lr {0.1, 1} x seed {1, 2, 3}, 2 steps: 12 jobs, 0..11."""
    sweep = tmp_path / "lr_grid"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.1, 1.0]}, [1, 2, 3], 2, _lr_grid_value)
    return sweep


def _row(df: pd.DataFrame, **where: Any) -> pd.Series:
    mask = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        mask &= (df[k.replace("__", ".")] == v).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return df[mask].iloc[0]


def test_aggregate_mean_std_count_match_hand_computed_values(lr_grid: Path) -> None:
    res = aggregate(lr_grid, figures=[])
    assert res.grid == ["optimizer.name", "lr"]  # seed varies too but is the replicate axis
    agg = pd.read_parquet(lr_grid / "aggregate.parquet")
    assert len(agg) == 2 * 2 * 3  # grid points x steps 0..2
    r = _row(agg, optimizer__name="adam", lr=1.0, step=2)
    # seeds give 1, 2, 4: mean 7/3, sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3
    assert r["train_loss_mean"] == pytest.approx(7 / 3)
    assert r["train_loss_std"] == pytest.approx(math.sqrt(7 / 3))
    assert r["train_loss_count"] == 3
    assert r["n_runs"] == 3 and json.loads(r["seeds"]) == [1, 2, 3]
    r = _row(agg, optimizer__name="gd", lr=0.1, step=2)
    assert r["train_loss_mean"] == pytest.approx(10 + 0.7 / 3)  # 10 + 0.1 * (1 + 2 + 4) / 3
    # update norms are NaN at step 0: count 0, mean NaN; at step 1 seeds give lr * {1, 2, 3}
    r0 = _row(agg, optimizer__name="gd", lr=1.0, step=0)
    assert r0["update_spectral_count"] == 0 and math.isnan(r0["update_spectral_mean"])
    r1 = _row(agg, optimizer__name="gd", lr=1.0, step=1)
    assert r1["update_spectral_mean"] == pytest.approx(2.0)
    assert r1["update_spectral_std"] == pytest.approx(1.0)
    # constant config columns are carried along; seeds are not
    assert (agg["data.d"] == 20).all() and "seed" not in agg.columns
    # the stats are those of the in-memory result too
    pd.testing.assert_frame_equal(res.aggregate.reset_index(drop=True), agg, check_dtype=False)


def test_summary_has_one_row_per_run_and_step_with_config_and_status(lr_grid: Path) -> None:
    aggregate(lr_grid, figures=[])
    s = pd.read_parquet(lr_grid / "summary.parquet")
    assert len(s) == 12 * 3
    assert s.groupby("run_dir").size().eq(3).all()
    assert list(s["job"].drop_duplicates()) == list(range(12))
    assert (s["status"] == "completed").all()
    for col in ("optimizer.name", "lr", "seed", "data.n", "readout.reg_lambda", "config_hash", "train_loss"):
        assert col in s.columns
    # job 7 is (adam, lr=0.1, seed=2) in Hydra's order (the last override varies fastest)
    r = s[(s["job"] == 7) & (s["step"] == 2)].iloc[0]
    assert (r["optimizer.name"], r["lr"], r["seed"]) == ("adam", 0.1, 2)
    assert r["train_loss"] == pytest.approx(0.2)


def test_deleted_run_and_corrupted_parquet_are_reported_and_the_rest_is_drawn(lr_grid: Path, capsys) -> None:
    shutil.rmtree(lr_grid / "3")  # a gap: job 3 = (gd, lr=1, seed=1)
    shutil.rmtree(lr_grid / "11")  # the last job: only multirun.yaml says it should exist
    metrics = lr_grid / "2" / "metrics.parquet"  # (gd, lr=0.1, seed=3)
    metrics.write_bytes(metrics.read_bytes()[:200])  # truncated: no footer
    (lr_grid / "7").mkdir(exist_ok=True)
    esd = lr_grid / "7" / "esd.parquet"
    esd.write_bytes(b"not a parquet file at all")

    rc = main([str(lr_grid), "--figure", "lr_sweep"])
    out = capsys.readouterr().out
    assert rc == 0
    probs = pd.read_csv(lr_grid / "problems.csv")
    got = {(int(r.job), r.problem, r.file if isinstance(r.file, str) else "") for r in probs.itertuples()}
    assert got == {
        (3, "missing", ""),
        (11, "missing", ""),
        (2, "corrupted", "metrics.parquet"),
        (7, "corrupted", "esd.parquet"),
    }
    # the missing jobs' overrides are reconstructed from multirun.yaml, so they can be relaunched
    over = probs.set_index("job")["overrides"]
    assert over[3] == "optimizer.name=gd lr=1.0 seed=1"
    assert over[11] == "optimizer.name=adam lr=1.0 seed=3"
    assert "missing" in out and "corrupted" in out and "metrics.parquet" in out

    s = pd.read_parquet(lr_grid / "summary.parquet")
    assert sorted(s["job"].unique()) == [0, 1, 4, 5, 6, 7, 8, 9, 10]
    a = pd.read_parquet(lr_grid / "aggregate.parquet")
    assert _row(a, optimizer__name="gd", lr=1.0, step=2)["n_runs"] == 2  # seed 1 deleted
    assert _row(a, optimizer__name="gd", lr=0.1, step=2)["n_runs"] == 2  # seed 3 corrupted
    r = _row(a, optimizer__name="adam", lr=1.0, step=2)  # jobs 9, 10 left (seeds 1, 2)
    assert r["train_loss_mean"] == pytest.approx(1.5) and r["train_loss_count"] == 2
    for ext in ("png", "pdf"):
        assert (lr_grid / "figures" / f"lr_sweep.{ext}").stat().st_size > 0
    drawn = pd.read_csv(lr_grid / "figures" / "lr_sweep.csv")
    kta = drawn[drawn["metric"] == "kta"].set_index(["series", "lr"])["count"]
    assert kta.to_dict() == {("FB-Adam", 0.1): 3, ("FB-Adam", 1.0): 2, ("GD", 0.1): 2, ("GD", 1.0): 2}


def test_corrupted_data_page_behind_a_valid_footer_is_found_by_the_scan(lr_grid: Path) -> None:
    path = lr_grid / "2" / "metrics.parquet"
    raw = bytearray(path.read_bytes())
    raw[4:40] = b"\xff" * 36  # the first page header; the footer still reads fine
    path.write_bytes(bytes(raw))
    assert pq.read_metadata(path).num_rows == 3
    res = aggregate(lr_grid, figures=[])
    bad = res.problems[res.problems["problem"] == "corrupted"]
    assert list(bad["run_dir"]) == ["2"] and "data" in bad["detail"].iloc[0]
    assert "2" not in set(res.summary["run_dir"]) and res.summary["run_dir"].nunique() == 11


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
    r = _row(res.aggregate, step=1, probe__at='[1]')
    assert r["new_metric_mean"] == 3.0 and r["new_metric_count"] == 1
    r = res.aggregate[(res.aggregate["step"] == 1) & res.aggregate["probe.at"].isna()].iloc[0]
    assert r["new_metric_count"] == 0


def test_expected_jobs_expand_sweeper_params_and_command_line_overrides(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    write_multirun_yaml(
        sweep,
        ["+experiment=fig3", "seed=1,2", "data.n=200"],
        params={"optimizer": "gd,adam", "lr": "0.1,1,10"},
    )
    jobs = agg_mod.expected_jobs(sweep)
    assert jobs is not None and len(jobs) == 2 * 3 * 2
    assert jobs[0] == "optimizer=gd lr=0.1 +experiment=fig3 seed=1 data.n=200"
    assert jobs[-1] == "optimizer=adam lr=10 +experiment=fig3 seed=2 data.n=200"
    # nothing launched yet: every job is missing, and the CLI says so instead of crashing
    res = aggregate(sweep, figures=[])
    assert len(res.problems) == 12 and set(res.problems["problem"]) == {"missing"}
    assert res.summary.empty


def test_rerunning_gives_identical_files(lr_grid: Path) -> None:
    aggregate(lr_grid, figures=["loss_curves"])
    outputs = [*TABLES, "figures/loss_curves.png", "figures/loss_curves.pdf", "figures/loss_curves.csv"]
    first = {name: (lr_grid / name).read_bytes() for name in outputs}
    res = aggregate(lr_grid, figures=["loss_curves"])
    assert {name: (lr_grid / name).read_bytes() for name in outputs} == first
    assert res.summary["run_dir"].nunique() == 12  # its own outputs are not taken for runs
    assert not list(lr_grid.rglob("*.tmp"))  # no temporary files left behind


def test_out_folder_and_figure_aliases(lr_grid: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "elsewhere"
    assert main([str(lr_grid), "--out", str(out), "--figure", "fig28"]) == 0
    assert (out / "summary.parquet").exists() and (out / "figures" / "loss_curves.png").exists()
    assert not (lr_grid / "summary.parquet").exists()
    assert main([str(lr_grid), "--figure", "nope"]) == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err
    assert main([str(tmp_path / "does-not-exist")]) == 2
    assert main([str(lr_grid), "--no-figures"]) == 0
    assert not (lr_grid / "figures").exists()


def test_an_empty_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(AggregateError, match="no runs"):
        aggregate(tmp_path, figures=[])


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
    ]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True, timeout=300)
    done = subprocess.run(
        [sys.executable, "-m", "htsweep.aggregate", str(sweep), "--figure", "lr_sweep"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "problems: none" in done.stdout
    s = pd.read_parquet(sweep / "summary.parquet")
    a = pd.read_parquet(sweep / "aggregate.parquet")
    assert s["run_dir"].nunique() == 4 and len(s) == 4 * 3
    assert (s["status"] == "completed").all()
    assert {"optimizer.name", "lr"} <= set(a.columns) and len(a) == 2 * 3
    assert (a["n_runs"] == 2).all()
    # the mean over seeds is the mean of the runs' own numbers
    last = s[(s["step"] == 2) & (s["lr"] == 1.0)]
    r = _row(a, lr=1.0, step=2)
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


@pytest.mark.slow
def test_optional_callback_aggregates_at_the_end_of_a_multirun(tmp_path):
    """+hydra.callbacks.aggregate._target_=htsweep.aggregate.AggregateCallback writes the
    sweep's tables when every job succeeded."""
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "htsweep.train", "-m", "lr=0.1,1", "steps=1", "data.n=60", "data.d=12",
         "model.h=16", "data.n_test=10", "device=cpu", "progress=false", f"hydra.sweep.dir={sweep}",
         "+hydra.callbacks.aggregate._target_=htsweep.aggregate.AggregateCallback"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (sweep / "summary.parquet").exists() and (sweep / "aggregate.parquet").exists()
    assert "2 completed" in proc.stderr
