"""htsweep.figures.scale_compare (probe.feature_scale=both: the code's scaling vs the equations)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from htsweep import figures as figs
from htsweep.figures.scale_compare import applies
from tests.figures.helpers import assert_written, tables_of
from tests.sweep.synthetic import grid_sweep

LRS = [0.001, 0.01, 0.1, 1.0, 100.0]


def _alpha(p: Dict[str, Any], seed: int) -> float:
    """Distinct slopes and curvatures per seed: no ties after centring on the seed's mean."""
    sign = 1 if p.get("optimizer.name", "adam") == "adam" else -1
    k = math.log10(p["lr"])
    return 2.0 + (0.1 + 0.017 * seed) * k + 0.011 * seed * k * k + 0.013 * seed * sign


def _value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    a = round(_alpha(p, seed), 3)  # the synthetic records keep 3 decimals
    return {
        "pl_alpha_hill": a,
        "test_loss": 0.5 + a + 0.001 * t,  # rises with alpha: the claim holds
        "train_loss": 0.4 + 0.01 * seed,
        "kta": 0.1 * seed,
        "test_loss_paper_code": 3.0 - a,  # falls with alpha: the claim fails
        "train_loss_paper_code": 0.2,
        "kta_paper_code": 0.05 * seed,
    }


def test_scale_compare_overlays_both_scalings_and_ranks_the_claim(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": LRS}, [1, 2, 3], 2, _value)
    tables = tables_of(sweep)
    assert applies(tables) is None
    out = tmp_path / "figs"
    data = figs.scale_compare(tables, out)
    assert_written(out, "scale_compare", data)
    curves = data[data["panel"] == "curve"]
    assert set(curves["scaling"]) == {"equations", "paper_code"}
    assert (curves["step"] == 2).all()
    r = curves[(curves["metric"] == "kta") & (curves["scaling"] == "paper_code") & (curves["series"] == "GD") & (curves["lr"] == 1.0)]
    assert r["mean"].iloc[0] == pytest.approx(0.1)  # mean of 0.05 * {1, 2, 3}
    corr = data[data["panel"] == "correlation"].set_index(["series", "scaling"])
    # only the runs with 0.01 <= eta <= 1: 3 learning rates x 3 seeds per optimizer
    assert (corr["n_runs"] == 9).all()
    for series, opt in (("GD", "gd"), ("FB-Adam", "adam")):
        alphas = [round(_alpha({"lr": lr, "optimizer.name": opt}, s), 3) for lr in (0.01, 0.1, 1.0) for s in (1, 2, 3)]
        eq = [0.5 + a + 0.002 for a in alphas]
        expected = stats.spearmanr(alphas, eq).statistic  # uncentred
        assert corr.loc[(series, "equations"), "rho_raw"] == pytest.approx(expected)
        assert corr.loc[(series, "equations"), "rho"] == pytest.approx(1.0)
        assert corr.loc[(series, "paper_code"), "rho"] == pytest.approx(-1.0)
    scatter = data[data["panel"] == "scatter"]
    assert set(scatter["lr"]) == {0.01, 0.1, 1.0}
    assert len(scatter) == 2 * 2 * 9  # two scalings x two optimizers x 9 runs


def test_scale_compare_needs_both_scalings(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1], 1, lambda p, s, t: {"test_loss": 1.0})
    why = applies(tables_of(sweep))
    assert why is not None and "feature_scale=both" in why


def test_a_custom_range_changes_the_runs_ranked(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["adam"], "lr": LRS}, [1, 2], 1, _value)
    data = figs.scale_compare(tables_of(sweep), tmp_path / "f", lr_range=(0.001, 100.0))
    corr = data[data["panel"] == "correlation"]
    assert (corr["n_runs"] == 10).all()
    assert np.allclose(corr.set_index("scaling").loc[["equations", "paper_code"], "rho"], [1.0, -1.0])


def test_the_correlation_compares_learning_rates_within_a_seed(tmp_path: Path) -> None:
    """Seed 2's data are harder (test loss +10) and its alpha lower (-1): over all runs the
    seed effect makes alpha and test loss anti-correlated, while within each seed a lower
    alpha goes with a lower test loss.  rho (seed-centred) is +1, rho_raw negative."""

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        k = round(math.log10(p["lr"]))
        a = 2.0 + (0.1 + 0.01 * seed) * k + 0.02 * seed * k * k - (seed - 1)
        loss = 0.5 + (0.1 + 0.01 * seed) * k + 0.02 * seed * k * k + 10.0 * (seed - 1)
        return {"pl_alpha_hill": a, "test_loss": loss, "test_loss_paper_code": loss, "kta_paper_code": 0.1,
                "train_loss_paper_code": 0.1}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["adam"], "lr": [0.01, 0.1, 1.0]}, [1, 2], 1, value)
    data = figs.scale_compare(tables_of(sweep), tmp_path / "f")
    corr = data[data["panel"] == "correlation"]
    assert np.allclose(corr["rho"], 1.0)
    q = lambda s, k: (0.1 + 0.01 * s) * k + 0.02 * s * k * k  # noqa: E731
    runs = [(2.0 + q(s, k) - (s - 1), 0.5 + q(s, k) + 10.0 * (s - 1)) for k in (-2, -1, 0) for s in (1, 2)]
    raw = stats.spearmanr(*zip(*runs)).statistic
    assert raw < 0 and np.allclose(corr["rho_raw"], raw)
