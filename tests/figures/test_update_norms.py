"""htsweep.figures.update_norms (Fig. 8) and its least-squares line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from htsweep import figures as figs
from htsweep.figures.update_norms import applies
from tests.figures.helpers import assert_written, tables_of
from tests.sweep.synthetic import grid_sweep


def test_update_norms_fit_a_line_in_sqrt_hd(tmp_path: Path) -> None:
    lr = 2.0
    rng = np.random.default_rng(0)
    noise = {k: float(rng.normal(0, 0.5)) for k in range(4)}
    points = [{"model.h": 15 * k, "data.d": 10 * k, "data.n": 20 * k} for k in range(1, 5)]

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        root = math.sqrt(p["model.h"] * p["data.d"])
        if t == 0:
            return {}
        k = p["data.d"] // 10 - 1
        # FB-Adam's bias-corrected first step is lr * sign(G_0): ||M_0||_F = lr * sqrt(h d)
        return {"update_frobenius": lr * root, "update_spectral": lr * (0.8 * root + noise[k]) + seed, "lr_t": lr}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [0, 2], 1, value, points=points, base={"lr": lr}, esd=False)
    out = tmp_path / "figs"
    tables = tables_of(sweep)
    assert tables.grid == ["data.n", "data.d", "model.h"] and applies(tables) is None
    data = figs.update_norms(tables, out)
    assert_written(out, "update_norms", data)
    fro = data[data["norm"] == "frobenius"]
    assert list(fro["sqrt_hd"]) == pytest.approx([math.sqrt(150 * k * k) for k in range(1, 5)])
    assert list(fro["matrix_rows"]) == [15, 30, 45, 60] and list(fro["n"]) == [20, 40, 60, 80]
    assert fro["mean"].to_numpy() == pytest.approx(fro["sqrt_hd"].to_numpy())  # ||M_0|| / eta
    assert fro["slope"].iloc[0] == pytest.approx(1.0) and fro["r2"].iloc[0] == pytest.approx(1.0)
    assert fro["intercept"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    spec = data[data["norm"] == "spectral"]
    x, y = spec["sqrt_hd"].to_numpy(), spec["mean"].to_numpy()  # mean over seeds 0, 2: + 1 / lr
    assert y == pytest.approx(0.8 * x + np.array([noise[k] for k in range(4)]) + 1 / lr)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - np.sum((y - slope * x - intercept) ** 2) / np.sum((y - y.mean()) ** 2)
    assert spec["slope"].iloc[0] == pytest.approx(slope) and spec["r2"].iloc[0] == pytest.approx(r2)
    assert spec["std"].to_numpy() == pytest.approx(np.full(4, math.sqrt(2) / lr))


def test_the_x_axis_is_the_recorded_matrix_shape(tmp_path: Path) -> None:
    """sqrt(h d) comes from matrix_rows x matrix_cols in the records, not from model.h / data.d."""
    points = [{"data.n": 100}, {"data.n": 200}]
    shapes = {100: (12, 3), 200: (48, 3)}

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        rows, cols = shapes[p["data.n"]]
        return {"matrix_rows": rows, "matrix_cols": cols}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [1], 1, value, points=points, esd=False)
    data = figs.update_norms(tables_of(sweep), tmp_path / "figs")
    assert sorted(set(data["sqrt_hd"])) == pytest.approx([6.0, 12.0])


def test_update_norms_needs_a_shape_that_varies_and_a_step_1(tmp_path: Path) -> None:
    flat = tmp_path / "a"
    grid_sweep(flat, {"lr": [0.1, 1.0]}, [1], 1, esd=False)
    assert applies(tables_of(flat)) == "the matrix shape h x d does not vary"
    only0 = tmp_path / "b"
    grid_sweep(only0, {}, [1], 0, points=[{"model.h": 30}, {"model.h": 60}], esd=False)
    assert applies(tables_of(only0)) == "no update norm at step 1"
    with pytest.raises(ValueError, match="step 1"):
        figs.update_norms(tables_of(only0), tmp_path / "figs")


def test_linear_fit_r2() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.1, 3.9, 6.2, 7.8])  # least squares: slope 1.94, intercept 0.15
    slope, intercept, r2 = figs.linear_fit(x, y)
    assert slope == pytest.approx(1.94) and intercept == pytest.approx(0.15)
    ss_res = np.sum((y - (1.94 * x + 0.15)) ** 2)
    assert r2 == pytest.approx(1 - ss_res / np.sum((y - y.mean()) ** 2))
    assert math.isnan(figs.linear_fit(np.array([2.0, 2.0]), np.array([1.0, 3.0]))[2])
    assert figs.linear_fit(x, np.full(4, 3.0))[2] == 1.0  # constant y, exactly fitted
