"""htsweep.figures.normalisation (seed 003: sim(W, beta) at the final step against n, per weight
normalisation and per data.r), on synthetic tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.normalisation import applies
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.sweep.synthetic import grid_sweep

GRID = {"data.n": [100, 1000, 10000], "weight_norm.name": ["rows", "sigma_rows"], "data.r": [1, 3]}
STEPS = 3


def sim(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    """Grows with log n, more with sigma_rows, less with r; only the last step is plotted."""
    gain = 0.2 if p["weight_norm.name"] == "sigma_rows" else 0.1
    value = gain * np.log10(p["data.n"]) / p["data.r"] + 0.01 * seed
    return {"sim_w_beta": value if t == STEPS else -1.0}


def test_normalisation_plots_the_final_step_per_weight_norm_and_r(tmp_path: Path, monkeypatch) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, GRID, [1, 2, 3], STEPS, sim)
    tables = tables_of(sweep)
    assert set(tables.grid) == set(GRID) and applies(tables) is None
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    everything = figs.normalisation(tables, out)
    assert_written(out, "normalisation", everything)
    assert (out / "normalisation.png").stat().st_size > 10_000
    assert set(everything["metric"]) == {"sim_w_beta", "test_loss"}  # no sim_w_beta_sigma in this sweep
    data = everything[everything["metric"] == "sim_w_beta"]
    assert len(data) == 3 * 2 * 2 and (data["step"] == STEPS).all() and (data["count"] == 3).all()
    assert list(dict.fromkeys(data["panel"])) == ["$r$=1", "$r$=3"]
    assert set(data["series"]) == {"WN=rows", "WN=sigma_rows"}
    summary = tables.summary[tables.summary["step"] == STEPS]
    for _, r in data.iterrows():
        runs = summary[
            (summary["data.n"] == r["data.n"])
            & (summary["weight_norm.name"] == r["weight_norm.name"])
            & (summary["data.r"] == r["data.r"])
        ]["sim_w_beta"]
        assert len(runs) == 3
        assert r["mean"] == pytest.approx(runs.mean()) and r["std"] == pytest.approx(runs.std())
        assert r["mean"] == pytest.approx(sim(r, 2, STEPS)["sim_w_beta"])  # the middle seed is the mean
    csv = pd.read_csv(out / "normalisation.csv")
    np.testing.assert_allclose(csv["mean"], everything["mean"])
    axes = [ax for ax in kept[0].axes if ax.get_visible()]
    assert len(axes) == 2 * 2 and all(ax.get_xscale() == "log" for ax in axes)
    assert [len(ax.get_lines()) for ax in axes] == [2, 2, 2, 2]
    np.testing.assert_allclose(axes[0].get_lines()[0].get_xdata(), GRID["data.n"])


def test_a_row_of_panels_per_recorded_metric(tmp_path: Path, monkeypatch) -> None:
    """sim_w_beta, sim_w_beta_sigma and test_loss, each a row of panels (one per data.r)."""
    sweep = tmp_path / "m"

    def three(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        base = sim(p, seed, t)["sim_w_beta"]
        return {"sim_w_beta": base, "sim_w_beta_sigma": base + 0.5, "test_loss": 2.0 - base}

    grid_sweep(sweep, GRID, [1, 2], STEPS, three)
    kept = keep_figures(monkeypatch)
    data = figs.normalisation(tables_of(sweep), tmp_path / "figs")
    assert list(dict.fromkeys(data["metric"])) == ["sim_w_beta", "sim_w_beta_sigma", "test_loss"]
    by = data.set_index(["metric", "panel", "series", "data.n"])["mean"]
    for key, value in by["sim_w_beta"].items():
        assert by["sim_w_beta_sigma"][key] == pytest.approx(value + 0.5)
        assert by["test_loss"][key] == pytest.approx(2.0 - value)
    axes = [ax for ax in kept[0].axes if ax.get_visible()]
    assert len(axes) == 3 * 2


def test_one_panel_without_r_and_applies_needs_n_and_the_norm(tmp_path: Path) -> None:
    sweep = tmp_path / "a"
    grid = {"data.n": [100, 1000], "weight_norm.name": ["rows", "sigma_rows"]}
    grid_sweep(sweep, grid, [1], STEPS, lambda p, s, t: sim({**p, "data.r": 1}, s, t))
    data = figs.normalisation(tables_of(sweep), tmp_path / "figs")
    assert set(data["panel"]) == {"all runs"} and len(data[data["metric"] == "sim_w_beta"]) == 4
    only_n = tmp_path / "b"
    grid_sweep(only_n, {"data.n": [100, 1000]}, [1], 1)
    assert applies(tables_of(only_n)) == "the weight normalisation does not vary"
    only_wn = tmp_path / "c"
    grid_sweep(only_wn, {"weight_norm.name": ["rows", "sigma_rows"]}, [1], 1)
    assert applies(tables_of(only_wn)) == "the sample size data.n does not vary"
