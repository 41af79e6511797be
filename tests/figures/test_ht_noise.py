"""htsweep.figures.ht_noise (seed 002: heavy-tailed iterate noise and compressibility), on a real
tiny sweep: 2 widths x 2 alphas x 2 noise ratios x 2 seeds of FB-Adam, plus the null optimizer at
the larger width and ratio, each run a real point (htsweep.job.run_and_record) with the
compress probe; the figure's values are checked against the runs' own files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.config import compose, task_node
from htsweep.figures.ht_noise import CURVE_KIND, applies, plotted_data
from htsweep.job import run_and_record
from tests.figures.helpers import assert_written, keep_figures, tables_of

BASE = (
    "data.n=60",
    "data.d=12",
    "data.n_test=30",
    "steps=3",
    "dtype=float64",
    "device=cpu",
    "progress=false",
    "probe.compress=true",
    "probe.min_fit_eigs=5",  # d = 12 eigenvalues: fit the ESD anyway, so that panel B has values
    "noise=alpha_stable",
    "noise.type=subgaussian",
)
WIDTHS, ALPHAS, RATIOS, SEEDS = (16, 32), (1.5, 2.0), (0.0, 1.0), (0, 1)
STEPS = 3
# run folder -> (optimizer, h, alpha, ratio, seed)
Point = Tuple[str, int, float, float, int]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Tuple[Path, Dict[Path, Point]]:
    """The sweep, one sub-folder per alpha (``a1.5/``: a sweep of its own where alpha is fixed)."""
    root = tmp_path_factory.mktemp("ht_noise")
    points: List[Point] = [
        ("adam", h, a, r, s) for a in ALPHAS for r in RATIOS for h in WIDTHS for s in SEEDS
    ] + [("none", WIDTHS[-1], a, RATIOS[-1], s) for a in ALPHAS for s in SEEDS]
    runs = {}
    for i, (opt, h, a, r, s) in enumerate(points):
        folder = root / f"a{a}" / str(i)
        extra = ["optimizer=none"] if opt == "none" else []
        node = task_node(compose([*BASE, *extra, f"model.h={h}", f"noise.alpha={a}", f"noise.ratio={r}", f"seed={s}"]))
        run_and_record(node, folder)
        runs[folder] = (opt, h, a, r, s)
    return root, runs


def final_metric(runs: Dict[Path, Point], column: str, **where) -> List[float]:
    """``column`` at the final step of W, read from each matching run's metrics.parquet."""
    keys = ("opt", "h", "alpha", "ratio", "seed")
    out = []
    for folder, point in runs.items():
        if all(dict(zip(keys, point))[k] == v for k, v in where.items()):
            m = pd.read_parquet(folder / "metrics.parquet")
            out.append(float(m[(m["step"] == STEPS) & (m["layer"] == "W")][column].iloc[0]))
    return out


def test_ht_noise_values_are_the_runs_own(tmp_path: Path, sweep, monkeypatch) -> None:
    root, runs = sweep
    tables = tables_of(root)
    assert set(tables.grid) == {"model.h", "optimizer.name", "noise.alpha", "noise.ratio"}
    assert applies(tables) is None and "ht_noise" in figs.KINDS
    assert figs.resolve_name("ht_noise") == ["ht_noise"]  # the kind, and conf/experiment/ht_noise.yaml's list
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.ht_noise(tables, out)
    assert_written(out, "ht_noise", data)
    csv = pd.read_csv(out / "ht_noise.csv")
    assert list(csv.columns) == list(data.columns) and set(csv["panel"]) == {"A", "B", "C", "D"}
    assert (csv["layer"].dropna() == "W").all() and (csv["step"].dropna() == STEPS).all()

    # (A) compress_fraction against h: FB-Adam (the first of gd, adam present), the largest ratio
    a = csv[csv["panel"] == "A"]
    noisy, base = a[a["role"] == "noise"], a[a["role"] == "baseline"]
    assert len(noisy) == len(WIDTHS) * len(ALPHAS) and len(base) == len(WIDTHS)
    assert (a["optimizer.name"] == "adam").all() and (noisy["noise.ratio"] == 1.0).all() and (base["noise.ratio"] == 0).all()
    for _, r in noisy.iterrows():
        values = final_metric(runs, "compress_fraction", opt="adam", h=r["x"], alpha=r["noise.alpha"], ratio=1.0)
        assert len(values) == len(SEEDS) and r["count"] == len(SEEDS)
        assert r["mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert r["std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
    for _, r in base.iterrows():  # one copy of the noise-free point; every alpha's is the same run
        for alpha in ALPHAS:
            values = final_metric(runs, "compress_fraction", opt="adam", h=r["x"], alpha=alpha, ratio=0.0)
            assert r["mean"] == pytest.approx(np.mean(values), abs=1e-12)

    # (B) PL_Alpha at the largest h and ratio, with the heuristic 1 + alpha/2 and the baseline band
    b = csv[csv["panel"] == "B"]
    for _, r in b[b["role"] == "noise"].iterrows():
        assert r["model.h"] == max(WIDTHS) and r["noise.ratio"] == 1.0
        values = final_metric(runs, r["metric"], opt="adam", h=max(WIDTHS), alpha=r["x"], ratio=1.0)
        assert r["mean"] == pytest.approx(np.nanmean(values), abs=1e-12)
    assert set(b.loc[b["role"] == "noise", "metric"]) == {"pl_alpha_ks", "pl_alpha_hill"}
    ref = b[b["role"] == "reference"]
    assert sorted(ref["x"]) == list(ALPHAS) and np.allclose(ref["mean"], 1 + ref["x"] / 2)
    assert ref["series"].str.contains("heuristic").all()
    assert set(b.loc[b["role"] == "baseline", "metric"]) == {"pl_alpha_ks", "pl_alpha_hill"}
    assert b.loc[b["role"] == "baseline", "x"].isna().all()  # a horizontal band

    # (C) the baseline curve is the mean over seeds of the runs' prune_neuron_kept arrays
    c = csv[csv["panel"] == "C"]
    assert set(c.loc[c["role"] == "noise", "noise.alpha"]) == set(ALPHAS)
    curve = c[c["role"] == "baseline"].sort_values("x")
    assert len(curve) == 11 and (curve["model.h"] == max(WIDTHS)).all()
    stored = np.stack([
        np.load(f / "arrays.npz")[f"{CURVE_KIND}/W/{STEPS}"]
        for f, (opt, h, alpha, ratio, _) in runs.items() if opt == "adam" and h == max(WIDTHS) and ratio == 0 and alpha == max(ALPHAS)
    ])  # fmt: skip
    assert stored.shape == (len(SEEDS), 11, 3)
    np.testing.assert_allclose(curve["x"], stored[:, :, 0].mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["mean"], stored[:, :, 1].mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["std"], stored[:, :, 1].std(axis=0, ddof=1), rtol=0, atol=1e-12)
    assert curve["x"].iloc[0] == 0 and curve["x"].iloc[-1] == 1

    # (D) tail indices with the identity reference and the null optimizer's runs
    d = csv[csv["panel"] == "D"]
    ident = d[d["role"] == "reference"]
    assert (ident["metric"] == "identity").all() and sorted(ident["x"]) == list(ALPHAS)
    np.testing.assert_array_equal(ident["x"], ident["mean"])
    null = d[d["role"] == "null_optimizer"]
    assert len(null) == 2 * len(ALPHAS) and (null["optimizer.name"] == "none").all()
    for _, r in null.iterrows():
        values = final_metric(runs, r["metric"], opt="none", h=max(WIDTHS), alpha=r["x"], ratio=1.0)
        assert r["mean"] == pytest.approx(np.mean(values), abs=1e-12)
    assert set(d.loc[d["role"] == "noise", "metric"]) == {"tail_alpha_rows", "tail_alpha_entries"}

    axes = [ax for ax in kept[0].axes if ax.get_visible()]
    assert len(axes) == 4 and axes[0].get_xscale() == "log"
    assert "FB-Adam" in axes[0].get_title() and "$h$=32" in axes[3].get_title()


def test_applies_needs_alpha_to_vary_and_a_baseline_is_optional(tmp_path: Path, sweep) -> None:
    root, _ = sweep
    one_alpha = tables_of(root / "a1.5")  # the sub-folder is a sweep with alpha fixed
    assert "noise.alpha does not vary" in applies(one_alpha)
    tables = tables_of(root)
    no_compress = replace(tables, summary=tables.summary.drop(columns=["compress_fraction"]))
    assert "compress_fraction" in applies(no_compress)
    quiet = replace(tables, summary=tables.summary[tables.summary["noise.ratio"] == 0])
    assert "no run drew noise" in applies(quiet)
    # one noise ratio (no noise-free runs): drawn without a baseline
    noisy = replace(
        tables,
        summary=tables.summary[tables.summary["noise.ratio"] == 1.0],
        aggregate=tables.aggregate[tables.aggregate["noise.ratio"] == 1.0],
        grid=[c for c in tables.grid if c != "noise.ratio"],
    )
    data = figs.ht_noise(noisy, tmp_path / "figs")
    assert not (data["role"] == "baseline").any() and set(data["panel"]) == {"A", "B", "C", "D"}
    # the null control chosen as the optimizer: no separate null markers
    own, _ = plotted_data(tables, optimizer="none")
    assert set(own["optimizer.name"].dropna()) == {"none"} and not (own["role"] == "null_optimizer").any()
    with pytest.raises(ValueError, match="optimizer 'gd' is not in the sweep"):
        plotted_data(tables, optimizer="gd")
