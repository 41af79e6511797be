"""htsweep.figures.grad_anatomy (seed 001: the gradient at initialisation against nu)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.figures.grad_anatomy import ALIGNMENTS, NORMS, applies
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.sweep.synthetic import grid_sweep

GRID = {
    "data.nu": [0.0, 0.25, 0.5],
    "model.activation": ["relu", "tanh"],
    "model.output_scale": ["ntk", "mf"],
    "loss.name": ["mse", "bce"],
}
ACT = {"relu": 1.0, "tanh": 2.0}


def anatomy(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    """Residue alignment falls with nu, data alignment rises; norms scale with the point."""
    scale = ACT[p["model.activation"]] * (10.0 if p["model.output_scale"] == "ntk" else 1.0)
    nu = p["data.nu"]
    return {
        "grad_residue_align": 1.0 - nu - 0.01 * seed,
        "grad_data_align": nu + 0.01 * seed,
        "decomp_s1": scale * (1.0 + seed),
        "decomp_s1p": scale * 0.1 * (1.0 + nu),
        "decomp_s2": scale * 0.01 * (1.0 + 10 * nu) * seed,
        "decomp_e": scale * 0.5,
    }


def test_grad_anatomy_plots_the_seed_means_at_step_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, GRID, [1, 2], 0, anatomy, base={"data.name": "spiked"})
    tables = tables_of(sweep)
    assert set(tables.grid) == set(GRID) and applies(tables) is None
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.grad_anatomy(tables, out)
    assert_written(out, "grad_anatomy", data)
    assert (out / "grad_anatomy.png").stat().st_size > 10_000
    assert set(data["metric"]) == {m for m, _ in ALIGNMENTS} | set(NORMS)
    assert len(data) == 3 * 2 * 2 * 2 * 6  # nu x activation x scale x loss x metrics
    # each value is the mean over the two seeds of what the runs recorded at step 0
    summary = tables.summary
    for _, r in data.sample(40, random_state=0).iterrows():
        runs = summary[
            (summary["step"] == 0)
            & (summary["data.nu"] == r["data.nu"])
            & (summary["model.activation"] == r["model.activation"])
            & (summary["model.output_scale"] == r["model.output_scale"])
            & (summary["loss.name"] == r["loss.name"])
        ]
        assert len(runs) == 2 and r["count"] == 2
        assert r["mean"] == pytest.approx(runs[r["metric"]].mean())
        assert r["std"] == pytest.approx(runs[r["metric"]].std())
    # the CSV holds the same numbers
    csv = pd.read_csv(out / "grad_anatomy.csv")
    np.testing.assert_allclose(csv["mean"].to_numpy(), data["mean"].to_numpy())
    # one panel row per (loss, scale), the loss first; columns: alignment + one per activation
    axes = np.array(kept[0].axes).reshape(4, 3)
    titles = [axes[i, 0].get_title() for i in range(4)]
    assert titles == ["loss=bce, scale=mf", "loss=bce, scale=ntk", "loss=mse, scale=mf", "loss=mse, scale=ntk"]
    assert [a.get_yscale() for a in axes[0, 1:]] == ["log", "log"]
    assert len(axes[0, 0].get_lines()) == 2 * 2  # two activations x residue / data
    assert all(len(a.get_lines()) == 4 for a in axes[:, 1:].flat)  # S1, S1', S2, E
    row = axes[3, 0]  # loss=mse, scale=ntk: the relu residue line is 1 - nu - 0.015
    residue = row.get_lines()[0]
    np.testing.assert_allclose(residue.get_ydata(), [1.0 - nu - 0.015 for nu in GRID["data.nu"]])


def test_grad_anatomy_applies_only_with_nu_and_alignment_values(tmp_path: Path) -> None:
    no_nu = tmp_path / "a"
    grid_sweep(no_nu, {"model.activation": ["relu", "tanh"]}, [1], 0, anatomy_without_nu)
    assert applies(tables_of(no_nu)) == "the spike exponent data.nu does not vary"
    no_probe = tmp_path / "b"
    grid_sweep(no_probe, {"data.nu": [0.0, 0.5]}, [1], 0)
    assert "no alignment-probe values" in applies(tables_of(no_probe))


def anatomy_without_nu(p: Dict[str, Any], seed: int, t: int) -> Dict[str, float]:
    return anatomy({**p, "data.nu": 0.0, "model.output_scale": "ntk"}, seed, t)
