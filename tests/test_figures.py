"""htsweep.figures: each kind writes PNG + PDF + CSV and returns the data it plotted, drawn
from the aggregated tables of synthetic sweeps whose numbers the tests know."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.aggregate import aggregate
from synthetic_sweeps import D, H, MP_LAMBDA_PLUS, fake_eigs, grid_sweep


def tables_of(sweep: Path) -> figs.SweepTables:
    """Aggregate without figures; the tables the figure functions draw from."""
    tables = aggregate(sweep, figures=[]).tables
    assert tables is not None
    return tables


def assert_written(out: Path, name: str, data: pd.DataFrame) -> None:
    assert not data.empty
    png = mpimg.imread(out / f"{name}.png")
    assert png.ndim == 3 and png.shape[0] > 200 and png.shape[1] > 200
    assert png[..., :3].std() > 0.05  # not a blank canvas
    assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    saved = pd.read_csv(out / f"{name}.csv")
    assert len(saved) == len(data)


# --------------------------------------------------------------------------------------------
# Fig. 3 / 5


def test_lr_sweep_plots_the_final_step_mean_and_std_per_optimizer(tmp_path: Path) -> None:
    seed_loss = {1: 1.0, 2: 2.0, 3: 4.0}

    def value(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
        return {"train_loss": seed_loss[seed] * p["lr"] + t, "kta": 0.1 * seed, "sim_w_beta": math.nan}

    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.01, 1.0, 100.0]}, [1, 2, 3], 2, value)
    out = tmp_path / "figs"
    data = figs.lr_sweep(tables_of(sweep), out)
    assert_written(out, "lr_sweep", data)
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


# --------------------------------------------------------------------------------------------
# ESD panels and grids


def _integral(g: pd.DataFrame) -> float:
    return float((g["density"] * (g["bin_hi"] - g["bin_lo"])).sum())


def test_esd_panels_of_one_grid_point_show_every_step_of_the_lowest_seed(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {}, [5, 2], 2, base={"optimizer.name": "adam", "lr": 0.2})
    out = tmp_path / "figs"
    data = figs.esd(tables_of(sweep), out)
    assert_written(out, "esd", data)
    assert set(data["run_dir"]) == {"1"}  # job 1 is seed 2, the lowest seed
    assert sorted(data["step"].unique()) == [1, 2]
    assert set(data["scale"]) == {"linear", "log"}
    for (step, of, scale), g in data.groupby(["step", "esd_of_step", "scale"]):
        assert of in (0, step)
        assert g["count"].sum() == D and (g["n_eigs"] == D).all()
        assert _integral(g) == pytest.approx(1.0)  # a density over all D eigenvalues
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
    data = figs.esd(tables_of(sweep), out)
    assert_written(out, "esd", data)
    assert set(data["step"]) == {2}
    assert set(data["series"]) == {"GD", "FB-Adam"}  # lr is the same everywhere


def test_esd_grid_has_a_row_per_lr_and_a_column_per_step(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.01, 1.0]}, [1, 2], 3, base={"optimizer.name": "adam"})
    out = tmp_path / "figs"
    tables = tables_of(sweep)
    data = figs.esd_grid(tables, out)
    assert_written(out, "esd_grid", data)
    cells = data[["run_dir", "step"]].drop_duplicates()
    assert len(cells) == 2 * 3  # 2 learning rates x steps 1, 2, 3
    assert set(data["run_dir"]) == {"0", "2"}  # seed 1 of each learning rate
    assert set(data["scale"]) == {"log"}
    for _, g in data.groupby(["run_dir", "step", "esd_of_step"]):
        assert _integral(g) == pytest.approx(1.0)
    # with explicit steps, only those columns
    data = figs.esd_grid(tables, out, steps=[3])
    assert set(data["step"]) == {3}


# --------------------------------------------------------------------------------------------
# Fig. 28


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
    assert tables.grid == ["data.n", "data.label_noise_std"]
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


# --------------------------------------------------------------------------------------------
# Fig. 8


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
    data = figs.update_norms(tables_of(sweep), out)
    assert_written(out, "update_norms", data)
    fro = data[data["norm"] == "frobenius"]
    assert list(fro["sqrt_hd"]) == pytest.approx([math.sqrt(150 * k * k) for k in range(1, 5)])
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


# --------------------------------------------------------------------------------------------
# Choosing figures


def test_choose_follows_what_varies_and_the_experiment_tag(tmp_path: Path) -> None:
    lr_sweep = tmp_path / "a"
    grid_sweep(lr_sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.1, 1.0]}, [1], 1)
    kinds, skipped = figs.choose(tables_of(lr_sweep))
    assert kinds == ["lr_sweep", "esd"]  # 4 grid points, one probed step: no grid
    assert "esd_grid" in skipped and "update_norms" in skipped

    evolution = tmp_path / "b"
    grid_sweep(evolution, {"lr": [0.01, 0.1, 1.0]}, [1], 3)
    assert figs.choose(tables_of(evolution))[0] == ["lr_sweep", "esd", "esd_grid"]

    tagged = tmp_path / "c"
    grid_sweep(tagged, {"lr": [0.01, 0.1, 1.0]}, [1], 3, base={"experiment": "table1"})
    kinds, skipped = figs.choose(tables_of(tagged))
    assert kinds == ["esd_grid"] and "not part of table1" in skipped["lr_sweep"]

    norms = tmp_path / "d"
    grid_sweep(norms, {}, [1], 1, points=[{"model.h": 30, "data.d": 20}, {"model.h": 60, "data.d": 40}], esd=False)
    assert figs.choose(tables_of(norms))[0] == ["update_norms"]


def test_figure_names_and_aliases() -> None:
    assert figs.resolve_name("table1") == ["esd_grid"]
    assert figs.resolve_name("Fig5") == ["lr_sweep"]
    assert figs.resolve_name("fig29_30") == ["esd_grid", "lr_sweep"]
    with pytest.raises(figs.FigureNameError, match="kinds: lr_sweep"):
        figs.resolve_name("fig99")


def test_a_figure_that_cannot_be_drawn_is_reported_and_the_tables_still_written(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1], 0, esd=False)  # step 0 only: no first update
    res = aggregate(sweep, figures=["update_norms"])
    assert "update_norms" in res.figure_errors and "step 1" in res.figure_errors["update_norms"]
    assert (sweep / "summary.parquet").exists() and (sweep / "aggregate.parquet").exists()
    assert "FAILED" in res.report()


# --------------------------------------------------------------------------------------------
# The curves drawn over the histograms


def test_mp_density_is_the_spectral_module_law_and_integrates_to_one() -> None:
    torch = pytest.importorskip("torch")
    from htsweep.spectral import MarchenkoPastur

    for h, d, sigma2 in ((H, D, 1.0), (1500, 1000, 1.0), (100, 300, 0.01)):
        mp = MarchenkoPastur(h=h, d=d, sigma2=sigma2)
        x = np.linspace(mp.lambda_minus, mp.lambda_plus, 20_001)
        ours = figs.mp_density(x, mp.lambda_plus, h, d)
        theirs = mp.density(torch.as_tensor(x)).numpy()
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
        assert np.trapezoid(ours, x) == pytest.approx(1.0, abs=5e-3)


def test_powerlaw_density_holds_the_tail_fraction() -> None:
    alpha, xmin, k, n = 2.5, 3.0, 40, 200
    x = np.geomspace(xmin, xmin * 1e7, 400_001)
    dens = figs.powerlaw_density(x, alpha, xmin, k, n)
    assert np.trapezoid(dens, x) == pytest.approx(k / n, rel=1e-3)
    assert np.isnan(figs.powerlaw_density(np.array([xmin / 2]), alpha, xmin, k, n)).all()


def test_linear_fit_r2() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.1, 3.9, 6.2, 7.8])  # least squares: slope 1.94, intercept 0.15
    slope, intercept, r2 = figs.linear_fit(x, y)
    assert slope == pytest.approx(1.94) and intercept == pytest.approx(0.15)
    ss_res = np.sum((y - (1.94 * x + 0.15)) ** 2)
    assert r2 == pytest.approx(1 - ss_res / np.sum((y - y.mean()) ** 2))
    assert math.isnan(figs.linear_fit(np.array([2.0, 2.0]), np.array([1.0, 3.0]))[2])
