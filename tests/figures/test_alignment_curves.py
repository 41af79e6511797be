"""htsweep.figures.alignment_curves (seed 001's training plots), on a real tiny ntk_vs_mf sweep
and on synthetic tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.alignment_curves import LOG_Y, METRICS, applies, style_column
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.figures.smoke import smoke_sweep
from tests.sweep.synthetic import grid_sweep


@pytest.fixture(scope="module")
def ntk_vs_mf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smoke_sweep(tmp_path_factory.mktemp("ntk_vs_mf"), "ntk_vs_mf")


@pytest.mark.slow
def test_alignment_curves_of_a_real_sweep_are_its_runs_values(ntk_vs_mf: Path, tmp_path: Path, monkeypatch) -> None:
    tables = tables_of(ntk_vs_mf)
    assert tables.grid == ["model.output_scale"] and applies(tables) is None
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.alignment_curves(tables, out)
    assert_written(out, "alignment_curves", data)
    assert (out / "alignment_curves.png").stat().st_size > 10_000
    assert list(dict.fromkeys(data["metric"])) == list(METRICS)  # every panel has data
    assert set(data["series"]) == {"scale=ntk", "scale=mf"}
    # one seed: each plotted mean is the run's own value at that step
    summary = tables.summary
    for (scale, metric), g in data.groupby(["model.output_scale", "metric"]):
        run = summary[summary["model.output_scale"] == scale].set_index("step")[metric]
        assert list(g["step"]) == sorted(run.dropna().index)
        np.testing.assert_allclose(g["mean"].to_numpy(), run.loc[g["step"]].to_numpy())
        assert (g["count"] == 1).all()
    csv = pd.read_csv(out / "alignment_curves.csv")
    np.testing.assert_allclose(csv["mean"].to_numpy(), data["mean"].to_numpy())
    axes = kept[0].axes
    for ax, metric in zip(axes, METRICS):
        assert ax.get_yscale() == ("log" if metric in LOG_Y else "linear"), metric
        assert len(ax.get_lines()) == 2
    # the mean-field network fits better than the NTK one (the notebook: 0.925 vs 14.36)
    loss = data[data["metric"] == "stage1_loss"]
    last = loss[loss["step"] == loss["step"].max()].set_index("model.output_scale")
    assert last.loc["mf", "mean"] < last.loc["ntk", "mean"]


def curves(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    return {
        "stage1_loss": 1.0 / (1 + t) + 0.1 * seed,
        "net_test_loss": 2.0 / (1 + t),
        "grad_residue_align": 0.5 + 0.1 * seed,
        "grad_data_align": 0.1 * t,
        "energy": 0.2 + 0.01 * t * p["lr"],
        "w_q_align": 0.3,
        "sim_w_beta": 0.4,
        "grad_norm": p["lr"] * (1 + t),
    }


def test_alignment_curves_average_over_seeds_and_skip_absent_metrics(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1, 2, 3], 3, curves)
    tables = tables_of(sweep)
    assert applies(tables) is None
    data = figs.alignment_curves(tables, tmp_path / "figs")
    assert "grad_init_align" not in set(data["metric"])  # not recorded: no panel
    r = data[(data["metric"] == "stage1_loss") & (data["lr"] == 1.0) & (data["step"] == 3)].iloc[0]
    assert r["mean"] == pytest.approx(0.25 + 0.2) and r["std"] == pytest.approx(0.1) and r["count"] == 3
    assert style_column(data, tables.grid) is None  # one varied column: colours only


def test_many_series_of_several_columns_get_a_line_style(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid = {"data.teacher": ["relu", "tanh"], "model.activation": ["relu", "tanh"], "lr": [0.1, 1.0]}
    grid_sweep(sweep, grid, [1], 2, curves)
    tables = tables_of(sweep)
    data = figs.alignment_curves(tables, tmp_path / "figs")
    assert data["series"].nunique() == 8
    assert style_column(data, tables.grid) == "lr"


def test_alignment_curves_need_probe_values_and_several_steps(tmp_path: Path) -> None:
    no_probe = tmp_path / "a"
    grid_sweep(no_probe, {"lr": [0.1, 1.0]}, [1], 3)
    assert "no alignment-probe values" in applies(tables_of(no_probe))
    one_step = tmp_path / "b"
    grid_sweep(one_step, {"lr": [0.1, 1.0]}, [1], 0, curves)
    assert applies(tables_of(one_step)) == "only one probed step"
