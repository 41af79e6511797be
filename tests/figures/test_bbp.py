"""htsweep.figures.bbp (one GD step against the BBP predictions), on a real tiny one_step_bbp
sweep: three learning rates x two seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.bbp import applies, threshold
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.figures.smoke import smoke_sweep
from tests.sweep.synthetic import grid_sweep

LRS = (10.0, 100.0, 1000.0)


@pytest.fixture(scope="module")
def one_step_bbp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = {"lr": ",".join(f"{v:g}" for v in LRS), "seed": "1,2"}
    return smoke_sweep(tmp_path_factory.mktemp("bbp"), "one_step_bbp", params)


@pytest.mark.slow
def test_bbp_plots_step_1_against_the_predictions_and_the_threshold(one_step_bbp: Path, tmp_path: Path, monkeypatch):
    tables = tables_of(one_step_bbp)
    assert tables.grid == ["lr"] and applies(tables) is None
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.bbp(tables, out)
    assert_written(out, "bbp", data)
    assert (out / "bbp.png").stat().st_size > 10_000
    assert list(data["lr"]) == list(LRS) and (data["step"] == 1).all()
    s1 = tables.summary[tables.summary["step"] == 1]
    for _, r in data.iterrows():
        runs = s1[s1["lr"] == r["lr"]]
        assert len(runs) == 2 and r["lambda_max_count"] == 2
        assert r["lambda_max_mean"] == pytest.approx(runs["lambda_max"].mean())
        assert r["lambda_max_std"] == pytest.approx(runs["lambda_max"].std())
        assert r["sim_w_beta_mean"] == pytest.approx(runs["sim_w_beta"].mean())
        assert r["lambda_max_pred"] == pytest.approx(runs["bbp_lambda_max_pred"].mean())
        assert r["overlap_pred"] == pytest.approx(runs["bbp_overlap_pred"].mean())
        assert r["mp_lambda_plus"] == pytest.approx(s1["mp_lambda_plus"].median())
    # the threshold: the median over runs of the probe's own lr_c, where theta crosses theta_c
    per_run = tables.summary.drop_duplicates("run_dir")
    assert (data["lr_c"] == threshold(tables.summary)).all()
    assert data["lr_c"].iloc[0] == pytest.approx(float(np.median(per_run["bbp_lr_c"])))
    for _, run in per_run.iterrows():
        above = run["bbp_theta"] > run["bbp_theta_c"]
        assert above == (run["lr"] > run["bbp_lr_c"]), run[["lr", "bbp_theta", "bbp_lr_c"]]
    # records without bbp_lr_c: lr * theta_c / theta, which is the threshold when theta is
    # linear in lr
    linear = per_run.assign(bbp_theta=per_run["lr"] * 0.01).drop(columns="bbp_lr_c")
    assert threshold(linear) == pytest.approx(float(np.median(linear["bbp_theta_c"] / 0.01)))
    # the drawn threshold and MP lines sit where the data say
    lam_ax, sim_ax = kept[0].axes[:2]
    for ax in (lam_ax, sim_ax):
        assert ax.get_xscale() == "log"
        vertical = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(vertical) == 1 and vertical[0].get_xdata()[0] == pytest.approx(data["lr_c"].iloc[0])
    dotted = [ln for ln in lam_ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(dotted) == 1 and dotted[0].get_ydata()[0] == pytest.approx(data["mp_lambda_plus"].iloc[0])
    csv = pd.read_csv(out / "bbp.csv")
    np.testing.assert_allclose(csv["lambda_max_mean"], data["lambda_max_mean"])
    np.testing.assert_allclose(csv["lr_c"], data["lr_c"])


def test_bbp_needs_a_learning_rate_grid_and_the_predictions(tmp_path: Path) -> None:
    no_pred = tmp_path / "a"
    grid_sweep(no_pred, {"lr": [0.1, 1.0]}, [1], 1)
    assert "no BBP predictions" in applies(tables_of(no_pred))
    one_lr = tmp_path / "b"
    grid_sweep(one_lr, {"data.n": [100, 200]}, [1], 1)
    assert applies(tables_of(one_lr)) == "the learning rate does not vary"
    step0 = tmp_path / "c"
    grid_sweep(step0, {"lr": [0.1, 1.0]}, [1], 0, lambda p, s, t: {"bbp_theta": p["lr"], "bbp_theta_c": 0.5})
    assert applies(tables_of(step0)) == "step 1 was not probed"
