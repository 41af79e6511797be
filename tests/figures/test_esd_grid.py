"""htsweep.figures.esd_grid (Tables 1, 3, 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.esd_grid import applies
from tests.figures.helpers import assert_written, tables_of
from tests.sweep.synthetic import grid_sweep


def integral(g: pd.DataFrame) -> float:
    return float((g["density"] * (g["bin_hi"] - g["bin_lo"])).sum())


def test_esd_grid_has_a_row_per_lr_and_a_column_per_step(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.01, 1.0]}, [1, 2], 3, base={"optimizer.name": "adam"})
    out = tmp_path / "figs"
    tables = tables_of(sweep)
    assert applies(tables) is None
    data = figs.esd_grid(tables, out)
    assert_written(out, "esd_grid", data)
    cells = data[["run_dir", "step"]].drop_duplicates()
    assert len(cells) == 2 * 3  # 2 learning rates x steps 1, 2, 3
    assert set(data["run_dir"]) == {"0", "2"}  # seed 1 of each learning rate
    assert set(data["scale"]) == {"log"}
    for _, g in data.groupby(["run_dir", "step", "esd_of_step"]):
        assert integral(g) == pytest.approx(1.0)
    # with explicit steps, only those columns
    data = figs.esd_grid(tables, out, steps=[3])
    assert set(data["step"]) == {3}
    with pytest.raises(ValueError, match="scale"):
        figs.esd_grid(tables, out, scale="sqrt")


def test_esd_grid_needs_several_points_and_steps(tmp_path: Path) -> None:
    one_step = tmp_path / "a"
    grid_sweep(one_step, {"lr": [0.01, 1.0]}, [1], 1)
    assert applies(tables_of(one_step)) == "needs several grid points and several probed steps"
    one_point = tmp_path / "b"
    grid_sweep(one_point, {}, [1], 3)
    assert applies(tables_of(one_point)) == "needs several grid points and several probed steps"
