"""htsweep.figures.loss_curves (Fig. 28)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest

from htsweep import figures as figs
from htsweep.figures.loss_curves import applies
from tests.figures.helpers import assert_written, tables_of
from tests.sweep.synthetic import grid_sweep


def test_loss_curves_one_panel_per_varied_study_column(tmp_path: Path) -> None:
    """Two one-factor studies in one sweep: n in {500, 2000} at rho_e = 0.3, and rho_e in
    {0.3, 0.7} at n = 2000 (the shared baseline point appears once)."""

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        return {"train_loss": 1.0 / p["data.n"] + t, "test_loss": p["data.label_noise_std"] + t}

    points = [
        {"data.n": 500, "data.label_noise_std": 0.3},
        {"data.n": 2000, "data.label_noise_std": 0.3},
        {"data.n": 2000, "data.label_noise_std": 0.7},
    ]
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [1, 2], 4, value, points=points)
    out = tmp_path / "figs"
    tables = tables_of(sweep)
    assert tables.grid == ["data.n", "data.label_noise_std"] and applies(tables) is None
    data = figs.loss_curves(tables, out)
    assert_written(out, "loss_curves", data)
    assert list(data["panel"].unique()) == ["data.n", "data.label_noise_std"]
    n_panel = data[data["panel"] == "data.n"]
    assert sorted(n_panel["data.n"].unique()) == [500, 2000]
    assert set(n_panel["data.label_noise_std"]) == {0.3}
    noise_panel = data[data["panel"] == "data.label_noise_std"]
    assert sorted(noise_panel["data.label_noise_std"].unique()) == [0.3, 0.7]
    assert set(noise_panel["data.n"]) == {2000}
    # every line runs over all steps, with train and test
    for _, g in data.groupby(["panel", "series", "loss"]):
        assert list(g["step"]) == [0, 1, 2, 3, 4]
    r = data[(data["panel"] == "data.n") & (data["data.n"] == 500) & (data["loss"] == "train_loss") & (data["step"] == 4)]
    assert r["mean"].iloc[0] == pytest.approx(4.002) and r["count"].iloc[0] == 2


def test_loss_curves_of_two_layers_draw_each_step_once(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"data.n": [500, 2000]}, [1], 2, layers=("W1", "W2"))
    data = figs.loss_curves(tables_of(sweep), tmp_path / "figs")
    assert len(data) == 2 * 2 * 3  # n values x {train, test} x steps, not doubled by layers


def test_gamma_of_a_step_schedule_is_a_study_column(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr_schedule.gamma": [0.2, 0.8]}, [1], 2, base={"lr_schedule.name": "step"})
    tables = tables_of(sweep)
    assert tables.grid == ["lr_schedule.gamma"] and applies(tables) is None
    data = figs.loss_curves(tables, tmp_path / "figs")
    assert set(data["series"]) == {r"$\gamma$=0.2", r"$\gamma$=0.8"}
    flat = tmp_path / "flat"
    grid_sweep(flat, {"lr": [0.1, 1.0]}, [1], 2)
    assert applies(tables_of(flat)) == "none of n, reg_lambda, label_noise_std, StepLR gamma varies"
