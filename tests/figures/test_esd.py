"""htsweep.figures.esd (Fig. 2 / 4) and the ESD cells it shares with esd_grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures._cells import MP_LABEL
from htsweep.figures.esd import applies
from htsweep.spectral import MarchenkoPastur
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.sweep.synthetic import D, MP_LAMBDA_PLUS, fake_eigs, grid_sweep


def integral(g: pd.DataFrame) -> float:
    return float((g["density"] * (g["bin_hi"] - g["bin_lo"])).sum())


def test_esd_panels_of_one_grid_point_show_every_step_of_the_lowest_seed(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [5, 2], 2, base={"optimizer.name": "adam", "lr": 0.2})
    out = tmp_path / "figs"
    data = figs.esd(tables_of(sweep), out)
    assert_written(out, "esd", data)
    assert set(data["run_dir"]) == {"1"}  # job 1 is seed 2, the lowest seed
    assert sorted(data["step"].unique()) == [1, 2]
    assert set(data["scale"]) == {"linear", "log", "bulk"} and set(data["layer"]) == {"W"}
    for (step, of, scale), g in data[data["scale"] != "bulk"].groupby(["step", "esd_of_step", "scale"]):
        assert of in (0, step)
        assert g["count"].sum() == D and (g["n_eigs"] == D).all()
        assert integral(g) == pytest.approx(1.0)  # a density over all D eigenvalues
    # the bins hold the eigenvalues that run wrote (seed 2, step 2: a spike at 50 * 0.2 * 2)
    g = data[(data["step"] == 2) & (data["esd_of_step"] == 2) & (data["scale"] == "linear")]
    eigs = fake_eigs(2, 2, 0.2)
    assert g["bin_hi"].max() == pytest.approx(eigs.max(), rel=1e-6)
    top = g[g["count"] > 0].iloc[-1]
    assert top["bin_lo"] <= eigs.max() <= top["bin_hi"]
    assert np.allclose(data["mp_lambda_plus"], MP_LAMBDA_PLUS)
    assert (data["pl_alpha_ks"] == 3.0).all() and (data["pl_alpha_ks_xmin"] == 40.0).all()


def test_esd_panels_of_several_grid_points_show_each_last_step(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [10.0]}, [1], 2)
    out = tmp_path / "figs"
    tables = tables_of(sweep)
    assert applies(tables) is None
    data = figs.esd(tables, out)
    assert_written(out, "esd", data)
    assert set(data["step"]) == {2}
    assert set(data["series"]) == {"GD", "FB-Adam"}  # lr is the same everywhere


def test_mp_curve_is_the_law_of_the_recorded_matrix_shape(tmp_path: Path, monkeypatch) -> None:
    """The red curve is MarchenkoPastur(matrix_rows, matrix_cols, mp_sigma2).density at the
    plotted x, with the shape the records give (40 x 20, sigma^2 = 0.5), not model.h = 30."""
    rows, cols, sigma2 = 40, 20, 0.5
    law = MarchenkoPastur(h=rows, d=cols, sigma2=sigma2)
    shape = {"matrix_rows": rows, "matrix_cols": cols, "mp_sigma2": sigma2, "mp_lambda_plus": law.lambda_plus}
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [1], 1, lambda p, s, t: shape, base={"model.h": 30})
    kept = keep_figures(monkeypatch)
    data = figs.esd(tables_of(sweep), tmp_path / "figs")
    assert (data["matrix_rows"] == rows).all() and (data["mp_sigma2"] == sigma2).all()
    [fig] = kept
    curves = [line for ax in fig.axes for line in ax.get_lines() if line.get_label() == MP_LABEL]
    assert len(curves) == 2  # the linear and the log-log panel
    for line in curves:
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        expected = law.density(x).numpy()
        inside = expected > 0
        assert inside.sum() > 50  # the curve covers the bulk
        assert y[inside] == pytest.approx(expected[inside], rel=1e-12)
        assert np.isnan(y[~inside]).all()  # outside the support: not drawn
    edges = [line for ax in fig.axes for line in ax.get_lines() if line.get_label().startswith("MP edge")]
    assert [float(e.get_xdata()[0]) for e in edges] == pytest.approx([law.lambda_plus] * 2)


def test_esd_of_a_multi_layer_sweep_draws_the_first_layer_unless_told(tmp_path: Path, monkeypatch) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [1], 1, layers=("W1", "W2"))
    tables = tables_of(sweep)
    kept = keep_figures(monkeypatch)
    first = figs.esd(tables, tmp_path / "a")
    second = figs.esd(tables, tmp_path / "b", layer="W2")
    assert set(first["layer"]) == {"W1"} and set(second["layer"]) == {"W2"}
    g = second[(second["esd_of_step"] == 1) & (second["scale"] == "linear")]
    assert g["bin_hi"].max() == pytest.approx(fake_eigs(1, 1, layer="W2").max(), rel=1e-6)
    assert "ESD of layer W1" in kept[0].get_suptitle() and "ESD of layer W2" in kept[1].get_suptitle()


def test_one_layer_sweeps_say_nothing_about_layers(tmp_path: Path, monkeypatch) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [1], 1)
    kept = keep_figures(monkeypatch)
    figs.esd(tables_of(sweep), tmp_path / "a")
    assert "layer" not in kept[0].get_suptitle()


def test_esd_does_not_apply_without_eigenvalues_or_with_too_many_points(tmp_path: Path) -> None:
    none = tmp_path / "none"
    grid_sweep(none, {"lr": [0.1, 1.0]}, [1], 1, esd=False)
    assert applies(tables_of(none)) == "no eigenvalues (esd.parquet)"
    many = tmp_path / "many"
    grid_sweep(many, {"lr": [0.01 * 2**k for k in range(9)]}, [1], 1)
    assert applies(tables_of(many)) == "9 grid points (> 8 panels)"


def test_powerlaw_density_holds_the_tail_fraction() -> None:
    alpha, xmin, k, n = 2.5, 3.0, 40, 200
    x = np.geomspace(xmin, xmin * 1e7, 400_001)
    dens = figs.powerlaw_density(x, alpha, xmin, k, n)
    assert np.trapezoid(dens, x) == pytest.approx(k / n, rel=1e-3)
    assert np.isnan(figs.powerlaw_density(np.array([xmin / 2]), alpha, xmin, k, n)).all()


def test_histogram_density_integrates_to_the_fraction_inside() -> None:
    values = np.array([0.5, 1.5, 1.5, 2.5, 9.0])
    counts, dens = figs.histogram(values, np.array([0.0, 1.0, 2.0, 3.0]))
    assert list(counts) == [1, 2, 1]
    assert float(np.sum(dens * 1.0)) == pytest.approx(4 / 5)


def test_a_spike_far_out_gives_the_linear_panel_a_truncated_inset(tmp_path: Path, monkeypatch) -> None:
    """lr 100: a spike at ~1e4 squeezes the bulk (edge ~ 60) into the first bin: the linear
    panel gets an inset whose bins end at 1.05 x the largest of the recorded fitted bulk's
    largest eigenvalue and edge and W_0's largest eigenvalue, and count the eigenvalues beyond;
    lr 0.01 adds no outlier: no inset."""
    fitted = {"mp_fit_bulk_max": 60.0, "mp_fit_lambda_plus": 70.0}
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.01, 100.0]}, [1], 2, lambda p, s, t: fitted)
    kept = keep_figures(monkeypatch)
    data = figs.esd(tables_of(sweep), tmp_path / "figs")
    [fig] = kept
    main_axes = [ax for ax in fig.axes if ax.get_title() and "$t=" in ax.get_title()]
    insets = [child for ax in fig.axes for child in ax.child_axes if child.get_title().startswith("bulk")]
    assert len(main_axes) == 4 and len(insets) == 1
    trunc = data[(data["scale"] == "bulk") & (data["esd_of_step"] == 2)]
    for lr, g in trunc.groupby(data["run_dir"]):
        eigs = fake_eigs(2, 1, {"0": 0.01, "1": 100.0}[lr])
        initial = fake_eigs(0, 1)
        upper = 1.05 * max(60.0, 70.0, initial.max())
        assert g["bin_hi"].max() == pytest.approx(upper, rel=1e-6)
        assert g["count"].sum() == int((eigs <= g["bin_hi"].max()).sum())
    assert insets[0].get_title().endswith("1 beyond)")  # the spike
    # the inset draws no labelled artist: the figure legend is the one without insets
    assert all(not line.get_label() or line.get_label().startswith("_") for line in insets[0].get_lines())
