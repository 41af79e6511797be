"""Whole runs: reproducibility, shared sweep state, weight norm, the paper's one-step claims,
divergence and failure records, and the files a run writes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from htsweep import records
from htsweep.config import Activation, DType, OptimizerName, WeightNormName
from htsweep.probes import PROBE_COLUMNS
from htsweep.runner import COMPLETED, DIVERGED, train
from htsweep.train import run_and_record

from conftest import small_config

REPO = Path(__file__).resolve().parent.parent


def _frame(result):
    return pd.DataFrame(result.rows)


def test_same_seed_same_config_gives_identical_metrics():
    a = _frame(train(small_config()))
    b = _frame(train(small_config()))
    pd.testing.assert_frame_equal(a.drop(columns="elapsed_s"), b.drop(columns="elapsed_s"))


def test_sweep_points_share_data_and_initial_weights():
    """Different lr / optimiser, same seed: identical step-0 probe (same data, same W_0)."""
    runs = [
        train(small_config(lr=0.01, **{"optimizer.name": OptimizerName.gd})),
        train(small_config(lr=1.0)),
        train(small_config(lr=0.1, steps=1)),
    ]
    first = [r.rows[0] for r in runs]
    for row in first[1:]:
        for key in PROBE_COLUMNS:
            if isinstance(row[key], float) and math.isnan(row[key]):
                continue
            assert row[key] == first[0][key], key
    assert all(torch.equal(torch.as_tensor(r.esd[0]), torch.as_tensor(runs[0].esd[0])) for r in runs)
    other_seed = train(small_config(seed=1, steps=0))
    assert other_seed.rows[0]["train_loss"] != first[0]["train_loss"]


def test_data_and_init_seeds_override_seed():
    base = train(small_config(steps=0, seed=5))
    split = train(small_config(steps=0, seed=9, data_seed=5, init_seed=5))
    assert base.rows[0]["test_loss"] == split.rows[0]["test_loss"]


def test_frobenius_weight_norm_holds_after_every_step():
    cfg = small_config(steps=5, lr=2.0, **{"weight_norm.name": WeightNormName.frobenius})
    res = train(cfg)
    target = math.sqrt(cfg.model.h * cfg.data.d)
    norms = [row["frobenius_norm"] for row in res.rows[1:]]
    assert len(norms) == 5
    assert all(abs(v / target - 1) < 1e-12 for v in norms)
    free = train(small_config(steps=5, lr=2.0))
    assert abs(free.rows[-1]["frobenius_norm"] / target - 1) > 0.05  # the norm would drift


def test_probe_schedule_every_and_explicit_list():
    assert small_config(steps=7, **{"probe.every": 3}).probe_steps() == [0, 3, 6, 7]
    assert small_config(steps=12, **{"probe.at": [5, 1]}).probe_steps() == [0, 1, 5, 12]
    res = train(small_config(steps=4, **{"probe.every": 2}))
    assert [r["step"] for r in res.rows] == [0, 2, 4]
    assert res.esd_steps == [0, 2, 4]


def test_norm_bookkeeping_of_the_first_update():
    """Step 1: ||W_1 - W_0|| equals the norms of the first update M_0."""
    res = train(small_config(steps=1))
    r0, r1 = res.rows
    assert r0["delta_w_frobenius"] == 0 and math.isnan(r0["update_frobenius"])
    assert r1["delta_w_frobenius"] == pytest.approx(r1["update_frobenius"], rel=1e-10)
    assert r1["delta_w_spectral"] == pytest.approx(r1["update_spectral"], rel=1e-10)
    # Adam's first step ~ lr sign(G_0): ||M_0||_F ~ lr sqrt(h d)
    assert r1["update_frobenius"] == pytest.approx(math.sqrt(90 * 60), rel=1e-3)


@pytest.fixture(scope="module")
def paper_size():
    """n=500, d=250, h=375: the paper's ratios (n/d = 2, h/d = 1.5) at a quarter of the size."""

    def cfg(opt, lr):
        return small_config(
            steps=1,
            lr=lr,
            dtype=DType.float32,
            **{"optimizer.name": opt, "data.n": 500, "data.d": 250, "model.h": 375, "data.n_test": 200},
        )

    return cfg


def test_one_adam_step_makes_a_spike_and_aligns_with_beta(paper_size):
    """Sec. 4.1 / Fig. 2(c), Fig. 3(d): FB-Adam with lr = 1 gives a Bulk+Spike ESD after one
    step, and the top singular vector of W_1 aligns with beta."""
    r0, r1 = train(paper_size(OptimizerName.adam, 1.0)).rows
    assert r0["num_spikes"] == 0
    assert r1["lambda_max"] > 10 * r1["mp_spike_threshold"]
    assert r0["sim_w_beta"] < 3 / math.sqrt(250)  # a random direction: ~ 1/sqrt(d)
    assert r1["sim_w_beta"] > 0.3


def test_one_small_gd_step_leaves_the_bulk_alone(paper_size):
    """Fig. 2(a): GD with lr = 0.1 barely moves W: no spike, no alignment."""
    r0, r1 = train(paper_size(OptimizerName.gd, 0.1)).rows
    assert r1["num_spikes"] == 0
    assert r1["lambda_max"] == pytest.approx(r0["lambda_max"], rel=1e-3)
    assert r1["sim_w_beta"] < 0.2


def test_diverging_run_is_recorded_as_diverged(tmp_path):
    cfg = small_config(
        steps=6,
        lr=1e30,
        **{"optimizer.name": OptimizerName.gd, "activation.name": Activation.identity},
    )
    res = train(cfg)
    assert res.status == DIVERGED and res.diverged_at is not None
    assert all(math.isfinite(r["lambda_max"]) for r in res.rows)


def test_completed_run_writes_three_consistent_files(tmp_path):
    cfg = OmegaConf.structured(small_config(steps=2))
    run_and_record(cfg, tmp_path)
    metrics = pd.read_parquet(tmp_path / records.METRICS_FILE)
    esd = pd.read_parquet(tmp_path / records.ESD_FILE)
    run = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert run["status"] == COMPLETED and run["steps_done"] == 2
    assert list(metrics["step"]) == [0, 1, 2]
    assert {"optimizer.name", "lr", "data.n", "seed", "model.h"} <= set(metrics.columns)
    assert (metrics["optimizer.name"] == "adam").all() and (metrics["data.n"] == 300).all()
    assert len(esd) == 3 * 60 and set(esd["step"]) == {0, 1, 2}
    last = esd[esd.step == 2].sort_values("index")["eigenvalue"]
    assert last.is_monotonic_increasing
    assert last.iloc[-1] == pytest.approx(metrics["lambda_max"].iloc[-1], rel=1e-12)
    assert not list(tmp_path.glob("*.tmp"))


def test_diverged_run_record(tmp_path):
    cfg = OmegaConf.structured(
        small_config(steps=6, lr=1e30, **{"optimizer.name": OptimizerName.gd, "activation.name": Activation.identity})
    )
    run_and_record(cfg, tmp_path)  # returns normally: a sweep goes on
    run = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert run["status"] == "diverged"
    metrics = pd.read_parquet(tmp_path / records.METRICS_FILE)
    assert len(metrics) >= 1 and metrics["lambda_max"].notna().all()


def test_failed_run_is_recorded_and_reraised(tmp_path, monkeypatch):
    import htsweep.runner as runner_mod

    def boom(*args, **kwargs):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(runner_mod, "probe", boom)
    cfg = OmegaConf.structured(small_config(steps=2))
    with pytest.raises(RuntimeError, match="probe exploded"):
        run_and_record(cfg, tmp_path)
    run = json.loads((tmp_path / records.RUN_FILE).read_text())
    assert run["status"] == "failed" and "probe exploded" in run["error"]


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "x.json"
    records.write_json({"a": 1}, path)

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        records.write_json({"a": Unserialisable()}, path)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "htsweep.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


TINY = ["data.n=120", "data.d=20", "model.h=30", "data.n_test=20", "device=cpu", "progress=false"]


@pytest.mark.parametrize(
    "override,expected",
    [
        ("lr=-1", "lr: must be > 0"),
        ("lr=abc", "lr: Value 'abc'"),
        ("data.n=0", "data.n: must be an integer >= 1"),
        ("model.h=0", "model.h: must be an integer >= 1"),
        ("probe.every=0", "probe.every: must be an integer >= 1"),
        ("steps=-2", "steps: must be an integer >= 0"),
        ("optimizer=sgd", "optimizer: unknown option 'sgd'; allowed: adam, gd"),
        ("optimizer.name=sgd", "optimizer.name: Invalid value 'sgd', expected one of [gd, adam]"),
        ("activation=swish", "activation: unknown option 'swish'"),
        ("nosuchkey=1", "nosuchkey: Key 'nosuchkey' not in 'Config'"),
    ],
)
def test_preflight_rejects_bad_values_with_one_line(override, expected):
    from htsweep.train import preflight, user_error

    with pytest.raises(Exception) as info:
        preflight([override])
    msg = user_error(info.value)
    assert msg is not None and "\n" not in msg
    assert msg.startswith(expected), msg


def test_preflight_checks_every_sweep_point():
    from htsweep.train import preflight, user_error

    with pytest.raises(Exception) as info:
        preflight(["-m", "lr=0.1,1,-3", "optimizer=gd,adam"])
    assert user_error(info.value) == "lr: must be > 0, got -3.0"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cli_bad_value_exits_2_with_one_line_and_writes_nothing(tmp_path):
    for args in ([*TINY, "lr=-1"], [*TINY, "device=cuda"], ["-m", *TINY, "lr=1,0"]):
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("htsweep: error: "), proc.stderr
        assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_multirun_writes_four_complete_runs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _cli("-m", "optimizer=gd,adam", "lr=0.1,1", "steps=2", *TINY, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(runs) == 4
    frames = []
    for run in runs:
        rec = json.loads((run / "run.json").read_text())
        assert rec["status"] == "completed"
        frames.append(pd.read_parquet(run / "metrics.parquet"))
    table = pd.concat(frames)
    assert len(table) == 4 * 3
    assert set(map(tuple, table[["optimizer.name", "lr"]].drop_duplicates().values)) == {
        ("gd", 0.1), ("gd", 1.0), ("adam", 0.1), ("adam", 1.0)
    }
    # one seed: every sweep point starts from the same W_0 and data
    assert table[table.step == 0]["lambda_max"].nunique() == 1


def test_overlap_summaries_match_between_summary_and_full_modes(tmp_path):
    """probe.overlaps=summary (top-k SVDs) and =full (all triplets) give the same summary
    columns; full also writes the b x b matrices, whose top-k block the summaries describe."""
    import numpy as np

    from htsweep.config import OverlapMode

    summary = train(small_config(steps=2))
    full_cfg = small_config(steps=2, **{"probe.overlaps": OverlapMode.full})
    full = train(full_cfg)
    cols = [c for c in summary.rows[1] if c.startswith(("overlap_", "update_"))]
    assert "overlap_u_top_pair" in cols and "overlap_v_diag_9" in cols
    for a, b in zip(summary.rows[1:], full.rows[1:]):
        for c in cols:
            assert a[c] == pytest.approx(b[c], rel=1e-6, abs=1e-9), c
    O_U, O_V = full.overlaps[1]
    assert O_U.shape == (60, 60) and O_U.dtype == np.float16
    assert float(O_U[0, 0]) == pytest.approx(summary.rows[1]["overlap_u_top_pair"], abs=1e-3)
    # rows of a squared orthogonal matrix sum to 1 (V is square here: d = 60 <= h = 90)
    assert np.allclose(O_V.astype(np.float64).sum(axis=1), 1.0, atol=1e-2)
    run_and_record(OmegaConf.structured(full_cfg), tmp_path)
    saved = np.load(tmp_path / records.OVERLAPS_FILE)
    assert sorted(saved.files) == ["u_1", "u_2", "v_1", "v_2"]
    assert np.array_equal(saved["u_2"], full.overlaps[2][0])


def test_spectral_columns_of_a_probe():
    res = train(small_config(steps=1))
    r0, r1 = res.rows
    assert r0["esd_phase"] == "random-like" and r1["esd_phase"] != "random-like"
    assert r1["mp_fit_num_spikes"] >= 1 and r1["mp_fit_spectral_gap"] > 1
    assert r1["lambda_sum"] == pytest.approx(r1["frobenius_norm"] ** 2, rel=1e-12)
    assert r1["alpha_weighted"] == pytest.approx(r1["pl_alpha_ks"] * math.log10(r1["lambda_max"]), rel=1e-12)
    assert 0 <= r1["update_beta_alignment"] <= 1 and r1["update_sv_0"] == pytest.approx(r1["update_spectral"])
