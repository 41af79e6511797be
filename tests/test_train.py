"""The command line: pre-flight checks with one-line errors, experiments without -m, the
smoke record, a real multirun."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from htsweep.train import preflight, user_error


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "htsweep.train", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


TINY = ["data.n=120", "data.d=20", "model.h=30", "data.n_test=20", "device=cpu", "progress=false"]


@pytest.mark.parametrize(
    "override,expected",
    [
        ("lr=-1", "lr: must be > 0"),
        ("lr=abc", "lr: Value 'abc'"),
        ("lr=inf", "lr: must be a finite number, got inf"),
        ("data.n=0", "data.n: must be an integer >= 1"),
        ("model.h=0", "model.h: must be an integer >= 1"),
        ("probe.every=0", "probe.every: must be an integer >= 1"),
        ("steps=-2", "steps: must be an integer >= 0"),
        ("optimizer=rmsprop", "optimizer: unknown option 'rmsprop'; allowed: adam, gd, none, sgd"),
        ("optimizer.name=sgd", "optimizer.name: is 'sgd' but the selected option is 'adam'"),
        ("activation=swish", "activation: unknown option 'swish'"),
        ("model=vgg", "model: unknown option 'vgg'; allowed: mlp, resnet18, two_layer, vgg11"),
        ("weight_norm=columns", "weight_norm: unknown option 'columns'; allowed: frobenius, none, rows, sigma_rows"),
        ("noise=levy", "noise: unknown option 'levy'; allowed: alpha_stable, none"),
        ("nosuchkey=1", "nosuchkey: Key 'nosuchkey' not in 'Config'"),
        ("+nosuchkey=1", "nosuchkey: unknown key"),
        ("model.activation=swish", "model.activation: Invalid value 'swish'"),
    ],
)
def test_preflight_rejects_bad_values_with_one_line(override, expected):
    with pytest.raises(Exception) as info:
        preflight([override])
    msg = user_error(info.value)
    assert msg is not None and "\n" not in msg
    assert msg.startswith(expected), msg


def test_preflight_checks_every_sweep_point():
    with pytest.raises(Exception) as info:
        preflight(["-m", "lr=0.1,1,-3", "optimizer=gd,adam"])
    assert user_error(info.value) == "lr: must be > 0, got -3.0"


def test_preflight_checks_an_experiments_own_grid():
    """The grid lives in the experiment file's hydra.sweeper.params: checked before any job."""
    with pytest.raises(Exception) as info:
        preflight(["-m", "+experiment=fig3", "smoke=true", "hydra.sweeper.params.lr='0.1,-1'"])
    assert user_error(info.value) == "lr: must be > 0, got -1.0"
    preflight(["-m", "+experiment=fig3", "smoke=true", "hydra.sweeper.params.lr='0.1,1'"])


def test_an_experiment_without_multirun_says_to_add_m():
    with pytest.raises(Exception) as info:
        preflight(["+experiment=fig5"])
    msg = user_error(info.value)
    assert msg.startswith("experiment: fig5 is a sweep over optimizer, lr, seed; add -m to run it"), msg
    preflight(["+experiment=fig4"])  # fig4 is one run (no sweeper params): fine without -m


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cli_bad_value_exits_2_with_one_line_and_writes_nothing(tmp_path):
    for args in ([*TINY, "lr=-1"], [*TINY, "device=cuda"], ["-m", *TINY, "lr=1,0"], ["+experiment=fig3"], [*TINY, "+foo=2"]):
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("htsweep: error: "), proc.stderr
        assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_smoke_is_recorded_truthfully(tmp_path):
    proc = _cli("smoke=true", "steps=2", "device=cpu", "progress=false", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "run"
    hydra_cfg = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    record = json.loads((run / "run.json").read_text())
    assert hydra_cfg == record["config"]
    assert hydra_cfg["data"]["n"] == 80 and hydra_cfg["model"]["h"] == 60 and hydra_cfg["smoke"] is True
    composed = yaml.safe_load((run / ".hydra" / "config.composed.yaml").read_text())
    assert composed["data"]["n"] == 2000  # what Hydra composed, before shrinking


@pytest.mark.slow
def test_a_single_run_ends_with_its_summary_and_a_sweep_does_not(tmp_path):
    run = tmp_path / "run"
    proc = _cli("steps=2", *TINY, f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tail = proc.stderr.rstrip().splitlines()[-5:]  # head, table header, step 0, step 2, command
    assert tail[0].startswith("htsweep: completed (2/2 steps") and tail[0].endswith(str(run))
    assert [row.split()[0] for row in tail[1:4]] == ["step", "0", "2"] and tail[4].startswith("  figures: ")
    proc = _cli("-m", "lr=0.1,1", "steps=1", *TINY, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert proc.returncode == 0 and "htsweep: completed" not in proc.stderr, proc.stderr


def test_cli_multirun_writes_four_complete_runs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _cli("-m", "optimizer=gd,adam", "lr=0.1,1", "steps=2", *TINY, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(runs) == 4
    frames = []
    for run in runs:
        assert json.loads((run / "run.json").read_text())["status"] == "completed"
        frames.append(pd.read_parquet(run / "metrics.parquet"))
    table = pd.concat(frames)
    assert len(table) == 4 * 3
    assert set(map(tuple, table[["optimizer.name", "lr"]].drop_duplicates().values)) == {
        ("gd", 0.1), ("gd", 1.0), ("adam", 0.1), ("adam", 1.0)
    }
    assert table[table.step == 0]["lambda_max"].nunique() == 1  # one seed: the same W_0 and data
