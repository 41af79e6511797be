"""htsweep.sweep.cli: python -m htsweep.aggregate and the Hydra callback."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from htsweep import figures as figs
from htsweep.aggregate import AggregateCallback, main
from tests.sweep.synthetic import config, metric_row, row, write_run


def test_deleted_run_and_corrupted_parquet_are_reported_and_the_rest_is_drawn(lr_grid: Path, capsys) -> None:
    shutil.rmtree(lr_grid / "3")  # a gap: job 3 = (gd, lr=1, seed=1)
    shutil.rmtree(lr_grid / "11")  # the last job: only multirun.yaml says it should exist
    metrics = lr_grid / "2" / "metrics.parquet"  # (gd, lr=0.1, seed=3)
    metrics.write_bytes(metrics.read_bytes()[:200])  # truncated: no footer
    (lr_grid / "7" / "esd.parquet").write_bytes(b"not a parquet file at all")

    assert main([str(lr_grid), "--figure", "lr_sweep"]) == 0
    out = capsys.readouterr().out
    probs = pd.read_csv(lr_grid / "problems.csv")
    got = {(int(r.job), r.problem, r.file if isinstance(r.file, str) else "") for r in probs.itertuples()}
    assert got == {(3, "missing", ""), (11, "missing", ""), (2, "corrupted", "metrics.parquet"), (7, "corrupted", "esd.parquet")}
    # the missing jobs' overrides are reconstructed from multirun.yaml, so they can be relaunched
    over = probs.set_index("job")["overrides"]
    assert over[3] == "optimizer.name=gd lr=1.0 seed=1"
    assert over[11] == "optimizer.name=adam lr=1.0 seed=3"
    assert "missing" in out and "corrupted" in out and "metrics.parquet" in out

    s = pd.read_parquet(lr_grid / "summary.parquet")
    assert sorted(s["job"].unique()) == [0, 1, 4, 5, 6, 7, 8, 9, 10]
    a = pd.read_parquet(lr_grid / "aggregate.parquet")
    assert row(a, optimizer__name="gd", lr=1.0, step=2)["n_runs"] == 2  # seed 1 deleted
    assert row(a, optimizer__name="gd", lr=0.1, step=2)["n_runs"] == 2  # seed 3 corrupted
    r = row(a, optimizer__name="adam", lr=1.0, step=2)  # jobs 9, 10 left (seeds 1, 2)
    assert r["train_loss_mean"] == pytest.approx(1.5) and r["train_loss_count"] == 2
    for ext in ("png", "pdf"):
        assert (lr_grid / "figures" / f"lr_sweep.{ext}").stat().st_size > 0
    drawn = pd.read_csv(lr_grid / "figures" / "lr_sweep.csv")
    kta = drawn[drawn["metric"] == "kta"].set_index(["series", "lr"])["count"]
    assert kta.to_dict() == {("FB-Adam", 0.1): 3, ("FB-Adam", 1.0): 2, ("GD", 0.1): 2, ("GD", 1.0): 2}


def test_out_folder_experiment_names_and_exit_codes(lr_grid: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "elsewhere"
    assert main([str(lr_grid), "--out", str(out), "--figure", "fig28_n"]) == 0  # fig28_n.yaml: loss_curves
    assert (out / "summary.parquet").exists() and (out / "figures" / "loss_curves.png").exists()
    assert not (lr_grid / "summary.parquet").exists()
    assert main([str(lr_grid), "--figure", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown figure 'nope'" in err and "lr_sweep" in err and "fig28_n" in err
    assert main([str(tmp_path / "does-not-exist")]) == 2
    assert main([str(lr_grid), "--no-figures", "--figure", "esd"]) == 2
    assert main([str(lr_grid), "--no-figures"]) == 0
    assert not (lr_grid / "figures").exists()


def test_exit_status_1_when_no_run_is_readable(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path / "0", config(seed=1), [metric_row(0)])
    (run / "metrics.parquet").write_bytes(b"PAR1 broken")
    assert main([str(tmp_path), "--no-figures"]) == 1
    assert "no readable run" in capsys.readouterr().err


def test_include_diverged_averages_diverged_runs(tmp_path: Path) -> None:
    write_run(tmp_path / "0", config(seed=1), [metric_row(t, train_loss=1.0) for t in range(2)])
    write_run(tmp_path / "1", config(seed=2), [metric_row(t, train_loss=3.0) for t in range(2)], status="diverged", diverged_at=2)
    assert main([str(tmp_path), "--no-figures"]) == 0
    assert pd.read_parquet(tmp_path / "aggregate.parquet")["train_loss_mean"].tolist() == [1.0, 1.0]
    assert main([str(tmp_path), "--no-figures", "--include-diverged"]) == 0
    assert pd.read_parquet(tmp_path / "aggregate.parquet")["train_loss_mean"].tolist() == [2.0, 2.0]


def test_callbacks_group_enables_the_aggregate_callback(lr_grid: Path, capsys) -> None:
    """hydra/callbacks=aggregate (the group is in Hydra's own defaults list, so no '+')
    composes to an AggregateCallback that aggregates the sweep dir at the multirun's end."""
    with initialize_config_dir(str(figs.CONF_DIR), version_base=None):
        cfg = compose(config_name=None, overrides=["hydra/callbacks=aggregate"], return_hydra_config=True)
    callback = instantiate(cfg.hydra.callbacks.aggregate)
    assert isinstance(callback, AggregateCallback)
    callback.on_multirun_end(SimpleNamespace(hydra=SimpleNamespace(sweep=SimpleNamespace(dir=str(lr_grid)))))
    assert (lr_grid / "aggregate.parquet").exists() and "12 completed" in capsys.readouterr().err
    callback.on_multirun_end(SimpleNamespace(hydra=SimpleNamespace(sweep=SimpleNamespace(dir=str(lr_grid / "nope")))))
    assert "could not aggregate" in capsys.readouterr().err  # logged, never raised


@pytest.mark.slow
def test_optional_callback_aggregates_at_the_end_of_a_multirun(tmp_path: Path) -> None:
    """hydra/callbacks=aggregate writes the sweep's tables when every job succeeded."""
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "htsweep.train", "-m", "lr=0.1,1", "steps=1", "data.n=60", "data.d=12",
         "model.h=16", "data.n_test=10", "device=cpu", "progress=false", f"hydra.sweep.dir={sweep}",
         "hydra/callbacks=aggregate"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (sweep / "summary.parquet").exists() and (sweep / "aggregate.parquet").exists()
    assert "2 completed" in proc.stderr
