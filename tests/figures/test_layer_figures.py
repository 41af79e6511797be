"""htsweep.figures.layer_esd_grid (Fig. 33-37) and htsweep.figures.layer_alpha (Fig. 6) on a
synthetic sweep of a deep network: six layers (five pooled-slice convolutions and
downsamplings, a 10-class classifier too small to fit), whose records come from
htsweep.spectral.esd_report of the eigenvalues each run stores."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep import records
from htsweep.figures.layer_alpha import applies as alpha_applies
from htsweep.figures.layer_esd_grid import applies as grid_applies
from htsweep.figures.layer_esd_grid import choose_layers, fitted_layers, layer_order
import htsweep.figures.layer_esd_grid  # noqa: F401  (the module, for its constants)
import sys
from htsweep.spectral import MarchenkoPastur, esd_report
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.sweep.synthetic import config, grid_sweep, metric_row, write_multirun_yaml, write_run

layer_esd_grid = sys.modules["htsweep.figures.layer_esd_grid"]

# (module name, rows, cols, count): one matrix of the layer's ESD and how many are pooled
LAYERS = (
    ("conv1", 32, 16, 9),
    ("layer1.0.conv1", 32, 32, 9),
    ("layer2.0.conv1", 64, 32, 9),
    ("layer2.0.downsample.0", 64, 32, 1),
    ("layer3.0.conv1", 64, 64, 9),
    ("fc", 10, 64, 1),
)
SIGMA2 = 0.01
STEPS = 3
MIN_EIGS = 20


def layer_eigs(seed: int, step: int, lr: float, index: int, rows: int, cols: int, count: int) -> np.ndarray:
    """Pooled eigenvalues of ``count`` Gaussian rows x cols matrices (variance SIGMA2) whose
    singular values grow a power-law tail with lr * step (more in deeper layers)."""
    rng = np.random.default_rng([seed, step, index, int(1000 * lr)])
    out = []
    for _ in range(count):
        A = math.sqrt(SIGMA2) * rng.standard_normal((rows, cols))
        s = np.linalg.svd(A, compute_uv=False)
        s = s * (1.0 + lr * step * (1 + index) * 0.3 * np.linspace(0, 1, s.size) ** 4)
        out.append(s**2)
    return np.sort(np.concatenate(out))


def layer_sweep(sweep: Path, lrs=(0.1, 1.0), seeds=(2, 1), layer_sets=None) -> Dict[Tuple[str, int, str], np.ndarray]:
    """lr x seed runs of the deep network (jobs in Hydra's order), probed at 0..STEPS; returns
    every stored ESD keyed (run_dir, step, layer).  ``layer_sets``: lr -> that grid point's
    layers (a sweep over architectures), else LAYERS everywhere."""
    stored: Dict[Tuple[str, int, str], np.ndarray] = {}
    job = 0
    for lr in lrs:
        for seed in seeds:
            cfg = config(**{"lr": lr, "seed": seed, "steps": STEPS})
            rows: List[dict] = []
            esd = []
            for t in range(STEPS + 1):
                for i, (name, h, d, count) in enumerate(LAYERS if layer_sets is None else layer_sets[lr]):
                    eigs = layer_eigs(seed, t, lr, i, h, d, count)
                    report = esd_report(eigs, h, d, count=count, min_eigs=MIN_EIGS)
                    mp = MarchenkoPastur(h, d, SIGMA2)
                    values = {k: v for k, v in report.as_row().items()}
                    values.update(
                        fit_status=report.status, layer_index=i, matrix_count=count, matrix_rows=h, matrix_cols=d,
                        conv_matrix="slices" if count > 1 else "matrix", mp_sigma2=SIGMA2,
                        mp_lambda_plus=mp.lambda_plus, mp_spike_threshold=mp.spike_threshold(),
                    )  # fmt: skip
                    rows.append(metric_row(t, name, **values))
                    esd.append((t, name, eigs))
                    stored[(str(job), t, name)] = eigs
            run_dir = sweep / str(job)
            write_run(run_dir, cfg, rows, esd=False, overrides=[f"lr={lr}", f"seed={seed}"])
            records.write_table(records.esd_table(esd), run_dir / records.ESD_FILE)
            job += 1
    write_multirun_yaml(sweep, [f"lr={','.join(str(v) for v in lrs)}", f"seed={','.join(str(s) for s in seeds)}"])
    return stored


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Tuple[Path, Dict]:
    root = tmp_path_factory.mktemp("layers") / "sw"
    return root, layer_sweep(root)


def test_applies_needs_several_layers(tmp_path: Path, sweep) -> None:
    tables = tables_of(sweep[0])
    assert grid_applies(tables) is None and alpha_applies(tables) is None
    one = tmp_path / "one"
    grid_sweep(one, {"lr": [0.1, 1.0]}, [1], 2)  # the two-layer model: one matrix, W
    t1 = tables_of(one)
    assert grid_applies(t1) == "one analysed layer (a deep network has several)"
    assert alpha_applies(t1) == "one analysed layer (a deep network has several)"
    assert "layer_esd_grid" not in figs.choose(t1)[0] and "layer_alpha" not in figs.choose(t1)[0]
    kinds, _ = figs.choose(tables)
    assert "layer_esd_grid" in kinds and "layer_alpha" in kinds


def test_default_layers_are_spread_over_the_fitted_depth(sweep) -> None:
    tables = tables_of(sweep[0])
    assert layer_order(tables) == [name for name, *_ in LAYERS]
    assert fitted_layers(tables) == [name for name, *_ in LAYERS[:-1]]  # fc: 10 eigenvalues
    assert choose_layers(tables) == ["conv1", "layer1.0.conv1", "layer2.0.downsample.0", "layer3.0.conv1"]
    assert choose_layers(tables, k=2) == ["conv1", "layer3.0.conv1"]
    with pytest.raises(ValueError, match="no layer 'nope'"):
        choose_layers(tables, ["nope"])


def test_layer_esd_grid_cells_are_the_stored_esds(tmp_path: Path, sweep, monkeypatch) -> None:
    root, stored = sweep
    tables = tables_of(root)
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.layer_esd_grid(tables, out)
    assert_written(out, "layer_esd_grid", data)
    for ext in ("png", "pdf", "csv"):
        assert (out / f"layer_esd_grid.{ext}").stat().st_size > 10_000
    # the lowest seed of each learning rate (jobs 1 and 3: seed 1), the first and last step,
    # the default layers
    assert sorted(set(data["run_dir"])) == ["1", "3"]
    assert sorted(set(data["step"])) == [0, STEPS]
    assert list(dict.fromkeys(data["layer"])) == ["conv1", "layer1.0.conv1", "layer2.0.downsample.0", "layer3.0.conv1"]
    assert set(data["scale"]) == {"log"}
    (fig,) = kept
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2 * 2 * 4  # (2 points x 2 steps) x 4 layers
    titles = [ax.get_title() for ax in fig.axes]
    assert any(t.startswith("layer3.0.conv1, $t=3$") for t in titles)
    s = tables.summary.set_index(["run_dir", "step", "layer"])
    for (run_dir, step, layer, of), g in data.groupby(["run_dir", "step", "layer", "esd_of_step"]):
        ref = s.loc[(run_dir, step, layer)]
        for col in ("pl_alpha_ks", "pl_alpha_ks_xmin", "pl_alpha_hill", "mp_lambda_plus", "matrix_rows", "matrix_cols",
                    "mp_sigma2", "layer_index", "matrix_count"):  # fmt: skip
            assert (g[col] == ref[col]).all(), (run_dir, step, layer, col)
        assert (g["fit_status"] == ref["fit_status"]).all() and (g["conv_matrix"] == "slices").all() == (layer != "layer2.0.downsample.0")
        # each histogram holds the stored ESD of that layer: the cell's own step or, as the
        # grey underlay of a later step, step 0's
        eigs = stored[(run_dir, of, layer)]
        edges = np.append(g["bin_lo"].to_numpy(), g["bin_hi"].to_numpy()[-1])
        counts, _ = np.histogram(eigs, bins=edges)
        assert np.array_equal(g["count"].to_numpy(), counts) and (g["n_eigs"] == eigs.size).all()
        assert (g["n_below"] == (eigs < edges[0]).sum()).all() and counts.sum() + g["n_below"].iloc[0] == eigs.size
        assert g["density"].to_numpy() == pytest.approx(counts / (eigs.size * np.diff(edges)), rel=1e-12)
        assert of in (0, step)
    # every cell at step 3 has its step-0 underlay; a cell at step 0 has only itself
    cells = data.groupby(["run_dir", "step", "layer"])["esd_of_step"].apply(set)
    assert all(v == ({0, STEPS} if k[1] == STEPS else {0}) for k, v in cells.items())
    title = next(ax.get_title() for ax in fig.axes if ax.get_title().startswith("conv1, $t=3$"))
    assert f"{s.loc[('1', STEPS, 'conv1'), 'pl_alpha_ks']:.2f}" in title
    # the bins span DECADES decades below each cell's largest eigenvalue; the square layers'
    # smallest eigenvalues fall below and are counted
    for (run_dir, step, layer), g in data.groupby(["run_dir", "step", "layer"]):
        top = max(stored[(run_dir, of, layer)].max() for of in set(g["esd_of_step"]))
        assert g["bin_lo"].min() == pytest.approx(top * 10.0 ** -layer_esd_grid.DECADES, rel=1e-9) or g["n_below"].max() == 0
    assert data.loc[data["layer"] == "layer3.0.conv1", "n_below"].max() > 0  # 64 x 64 slices reach ~0
    full = figs.layer_esd_grid(tables, out, decades=None)
    assert (full["n_below"] == 0).all()


def test_layer_esd_grid_with_chosen_layers_and_steps(tmp_path: Path, sweep) -> None:
    tables = tables_of(sweep[0])
    out = tmp_path / "figs"
    data = figs.layer_esd_grid(tables, out, layers=["fc", "conv1"], steps=[1, 2], max_points=1)
    assert list(dict.fromkeys(data["layer"])) == ["fc", "conv1"]
    assert sorted(set(data["step"])) == [1, 2] and set(data["run_dir"]) == {"1"}
    fc = data[data["layer"] == "fc"]
    assert (fc["fit_status"] == "too_small: 10 eigenvalues").all() and fc["pl_alpha_ks"].isna().all()
    assert (fc["n_eigs"] == 10).all()


def test_layer_alpha_values_are_the_aggregate_means(tmp_path: Path, sweep, monkeypatch) -> None:
    tables = tables_of(sweep[0])
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.layer_alpha(tables, out)
    assert_written(out, "layer_alpha", data)
    for ext in ("png", "pdf"):
        assert (out / f"layer_alpha.{ext}").stat().st_size > 10_000
    assert set(data["panel"]) == {"step", "depth"} and set(data["metric"]) == {"pl_alpha_hill", "pl_alpha_ks"}
    assert "fc" not in set(data["layer"])  # never fitted: no value, no line
    agg = tables.aggregate.set_index(["lr", "step", "layer"])
    for _, r in data.iterrows():
        a = agg.loc[(r["lr"], r["step"], r["layer"])]
        assert r["mean"] == a[f"{r['metric']}_mean"] and r["count"] == a[f"{r['metric']}_count"] == 2
        assert (np.isnan(r["std"]) and np.isnan(a[f"{r['metric']}_std"])) or r["std"] == a[f"{r['metric']}_std"]
        assert r["layer_index"] == [name for name, *_ in LAYERS].index(r["layer"])
        assert r["depth"] == pytest.approx(r["layer_index"] / (len(LAYERS) - 1), rel=1e-12)
    # the mean over the two seeds, recomputed from the summary
    s = tables.summary
    sel = s[(s["lr"] == 1.0) & (s["step"] == STEPS) & (s["layer"] == "layer3.0.conv1")]
    row = data[(data["panel"] == "step") & (data["lr"] == 1.0) & (data["step"] == STEPS) & (data["layer"] == "layer3.0.conv1") & (data["metric"] == "pl_alpha_hill")]
    assert float(row["mean"].iloc[0]) == pytest.approx(float(sel["pl_alpha_hill"].mean()), rel=1e-12)
    depth = data[data["panel"] == "depth"]
    assert sorted(set(depth["step"])) == [0, STEPS]
    assert len(depth) == 2 * 2 * 2 * 5  # lr x step x metric x fitted layer
    by_step = data[data["panel"] == "step"]
    assert len(by_step) == 2 * (STEPS + 1) * 2 * 5
    (fig,) = kept
    assert sum(1 for ax in fig.axes if ax.lines) == 2 * 4  # 2 grid points x 4 panels
    # layers= restricts, steps= chooses the depth profile's steps
    data = figs.layer_alpha(tables, out, layers=["conv1", "layer3.0.conv1"], steps=[2])
    assert set(data["layer"]) == {"conv1", "layer3.0.conv1"} and set(data.loc[data["panel"] == "depth", "step"]) == {2}


def test_each_grid_point_gets_its_own_layers(tmp_path: Path, monkeypatch) -> None:
    """A sweep over architectures (here: two learning rates standing for two networks with
    different layers): each block of rows shows its own network's layers."""
    vgg = (("features.0", 32, 16, 9), ("features.3", 48, 32, 9), ("features.6", 64, 48, 9), ("classifier", 10, 64, 1))
    net = (("conv1", 32, 16, 9), ("layer1.0.conv1", 32, 32, 9), ("layer2.0.conv1", 64, 32, 9), ("layer3.0.conv1", 64, 64, 9),
           ("layer4.0.conv1", 64, 64, 9), ("fc", 10, 64, 1))  # fmt: skip
    root = tmp_path / "sw"
    layer_sweep(root, lrs=(0.1, 1.0), seeds=(1,), layer_sets={0.1: vgg, 1.0: net})
    tables = tables_of(root)
    kept = keep_figures(monkeypatch)
    data = figs.layer_esd_grid(tables, tmp_path / "figs")
    assert list(dict.fromkeys(data.loc[data["run_dir"] == "0", "layer"])) == ["features.0", "features.3", "features.6"]
    assert list(dict.fromkeys(data.loc[data["run_dir"] == "1", "layer"])) == ["conv1", "layer1.0.conv1", "layer3.0.conv1", "layer4.0.conv1"]
    (fig,) = kept
    assert not any("not probed" in t.get_text() for ax in fig.axes for t in ax.texts)
    alpha = figs.layer_alpha(tables, tmp_path / "figs")
    top = alpha.groupby("series")["layer_index"].max().to_dict()
    assert top == {"$\\eta$=0.1": 2.0, "$\\eta$=1": 4.0}  # the classifiers are not fitted
    # depth: over the network's last layer, the unfitted classifier included
    assert (alpha.loc[alpha["layer"] == "features.6", "depth"] == 2 / 3).all()
    assert (alpha.loc[alpha["layer"] == "layer4.0.conv1", "depth"] == 4 / 5).all()
