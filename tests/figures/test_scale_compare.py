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
    return 2.0 + 0.1 * math.log10(p["lr"]) + 0.013 * seed * (1 if p["optimizer.name"] == "adam" else -1)


def _value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    a = _alpha(p, seed)
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
        alphas = [_alpha({"lr": lr, "optimizer.name": opt}, s) for lr in (0.01, 0.1, 1.0) for s in (1, 2, 3)]
        eq = [0.5 + a + 0.002 for a in alphas]
        expected = stats.spearmanr(alphas, eq).statistic
        assert corr.loc[(series, "equations"), "rho"] == pytest.approx(expected)
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
