"""htsweep.figures.lr_sweep (Fig. 3 / 5)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict

import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.lr_sweep import applies
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.sweep.synthetic import grid_sweep


def test_lr_sweep_plots_the_final_step_mean_and_std_per_optimizer(tmp_path: Path, monkeypatch) -> None:
    seed_loss = {1: 1.0, 2: 2.0, 3: 4.0}

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        return {"train_loss": seed_loss[seed] * p["lr"] + t, "kta": 0.1 * seed, "sim_w_beta": math.nan}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.01, 1.0, 100.0]}, [1, 2, 3], 2, value)
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    tables = tables_of(sweep)
    assert applies(tables) is None
    data = figs.lr_sweep(tables, out)
    assert_written(out, "lr_sweep", data)
    # GD has no beta1 and Adam has 0.9: the series are the optimizers, with no "beta1=nan"
    assert set(data["series"]) == {"GD", "FB-Adam"}
    assert (data["step"] == 2).all()  # the final step only
    # sim(W, beta) is NaN everywhere: left out rather than drawn as zeros
    assert set(data["metric"]) == {"train_loss", "test_loss", "kta", "pl_alpha_hill", "pl_alpha_ks"}
    r = data[(data["metric"] == "train_loss") & (data["series"] == "FB-Adam") & (data["lr"] == 100.0)]
    assert len(r) == 1
    assert r["mean"].iloc[0] == pytest.approx(700 / 3 + 2)  # 100 * (1 + 2 + 4) / 3 + step 2
    assert r["std"].iloc[0] == pytest.approx(100 * math.sqrt(7 / 3))
    assert r["count"].iloc[0] == 3
    assert len(data[data["metric"] == "kta"]) == 6  # 2 optimizers x 3 learning rates
    [fig] = kept
    text = fig.get_suptitle() + " ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
    assert "nan" not in text and "beta1" not in text and "FB-Adam" in text


def test_lr_sweep_does_not_apply_without_a_varied_lr(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"]}, [1], 1)
    assert applies(tables_of(sweep)) == "the learning rate does not vary"


def test_lr_sweep_draws_one_layer_of_a_multi_layer_sweep(tmp_path: Path, monkeypatch) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1], 1, lambda p, s, t: {"pl_alpha_hill": 2.0}, layers=("W1", "W2"))
    for run in (sweep / "0", sweep / "1"):
        df = pd.read_parquet(run / "metrics.parquet")
        df.loc[df["layer"] == "W2", "pl_alpha_hill"] = 7.0
        df.to_parquet(run / "metrics.parquet", index=False)
    tables = tables_of(sweep)
    kept = keep_figures(monkeypatch)
    first = figs.lr_sweep(tables, tmp_path / "a")
    hill = first[first["metric"] == "pl_alpha_hill"]
    assert len(hill) == 2 and (hill["mean"] == 2.0).all()  # W1, one row per lr
    second = figs.lr_sweep(tables, tmp_path / "b", layer="W2")
    assert (second.loc[second["metric"] == "pl_alpha_hill", "mean"] == 7.0).all()
    assert "layer W1" in kept[0].get_suptitle() and "layer W2" in kept[1].get_suptitle()
    with pytest.raises(ValueError, match="layers: W1, W2"):
        figs.lr_sweep(tables, tmp_path / "c", layer="W3")
