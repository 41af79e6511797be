"""htsweep.figures.subspace_angles (seed 001: principal angles between paired runs), on a real
tiny ntk_vs_mf sweep (top-5 subspaces every step, W every 5th) and on hand-written arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import subspace_angles

from htsweep import figures as figs
from htsweep import records
from htsweep.figures.subspace_angles import COLUMN_SPACE, TOP_R, applies, principal_angles, sweep_root
from tests.figures.helpers import assert_written, keep_figures, tables_of
from tests.figures.smoke import smoke_sweep
from tests.sweep.synthetic import D, H, grid_sweep


def scipy_mean_deg(A: np.ndarray, B: np.ndarray) -> float:
    return float(np.degrees(subspace_angles(np.asarray(A, np.float64), np.asarray(B, np.float64))).mean())


def npz(folder: Path) -> Dict[str, np.ndarray]:
    with np.load(folder / records.ARRAYS_FILE) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def ntk_vs_mf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smoke_sweep(tmp_path_factory.mktemp("ntk_vs_mf"), "ntk_vs_mf")


@pytest.mark.slow
def test_subspace_angles_of_ntk_vs_mf_match_scipy(ntk_vs_mf: Path, tmp_path: Path, monkeypatch) -> None:
    tables = tables_of(ntk_vs_mf)
    assert sweep_root(tables) == ntk_vs_mf.resolve() and applies(tables) is None
    out = tmp_path / "figs"
    kept = keep_figures(monkeypatch)
    data = figs.subspace_angles(tables, out)
    assert_written(out, "subspace_angles", data)
    assert (out / "subspace_angles.png").stat().st_size > 10_000
    assert set(data["pair"]) == {"mf vs ntk"} and set(data["column"]) == {"model.output_scale"}
    per_run = tables.summary.drop_duplicates("run_dir").set_index("model.output_scale")["run_dir"]
    assert data["run_a"].iloc[0] == per_run["mf"] and data["run_b"].iloc[0] == per_run["ntk"]
    a, b = npz(ntk_vs_mf / per_run["mf"]), npz(ntk_vs_mf / per_run["ntk"])
    top = data[data["kind"] == TOP_R]
    assert sorted(top["r"].unique()) == [1, 2, 5]
    steps = sorted(int(k.rsplit("/", 1)[1]) for k in a if k.startswith("subspace/"))
    assert sorted(top["step"].unique()) == steps and len(steps) > 2
    for _, r in top.iterrows():
        k, t = int(r["r"]), int(r["step"])
        want = scipy_mean_deg(a[f"subspace/W/{t}"][:, :k], b[f"subspace/W/{t}"][:, :k])
        assert r["mean_angle_deg"] == pytest.approx(want, abs=1e-3), (k, t)
    # the notebook's column spaces at the steps W was saved (every 5th)
    cols = data[data["kind"] == COLUMN_SPACE]
    assert sorted(cols["step"]) == sorted(int(k.rsplit("/", 1)[1]) for k in a if k.startswith("weights/"))
    for _, r in cols.iterrows():
        t = int(r["step"])
        assert r["mean_angle_deg"] == pytest.approx(scipy_mean_deg(a[f"weights/W/{t}"], b[f"weights/W/{t}"]), abs=1e-3)
    # both students start from the same W_0: no angle at step 0; training moves them apart
    assert data[data["step"] == 0]["mean_angle_deg"].abs().max() < 1e-3
    assert top[top["step"] == top["step"].max()]["mean_angle_deg"].min() > 1.0
    csv = pd.read_csv(out / "subspace_angles.csv")
    np.testing.assert_allclose(csv["mean_angle_deg"].to_numpy(), data["mean_angle_deg"].to_numpy())
    titles = [ax.get_title() for ax in kept[0].axes]
    assert titles == ["top-$r$ right singular subspaces", "notebook parity: column spaces of $W$"]


def test_principal_angles_of_a_subspace_with_itself_are_zero_and_random_ones_match_scipy() -> None:
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.standard_normal((40, 5)))[0].astype(np.float32)
    np.testing.assert_allclose(np.degrees(principal_angles(V, V)), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.degrees(principal_angles(V, 3.0 * V @ rng.standard_normal((5, 5)))), 0.0, atol=1e-5)
    A, B = rng.standard_normal((40, 5)), rng.standard_normal((40, 5))
    np.testing.assert_allclose(principal_angles(A, B), np.sort(subspace_angles(A, B)), atol=1e-10)
    e = np.eye(4)
    np.testing.assert_allclose(np.degrees(principal_angles(e[:, :2], e[:, 2:])), [90.0, 90.0])


def hand_written(sweep: Path, esd: bool = True) -> List[Path]:
    """scale {ntk, mf} x activation {relu, sigmoid}: the relu pair stores the same arrays,
    the sigmoid pair independent random ones (top-5 vectors at steps 0-2, W at 0 and 2)."""
    grid = {"model.output_scale": ["ntk", "mf"], "model.activation": ["relu", "sigmoid"]}
    dirs = grid_sweep(sweep, grid, [1], 2, esd=esd)
    rng = np.random.default_rng(1)
    shared = {}
    for folder, (scale, act) in zip(dirs, [("ntk", "relu"), ("ntk", "sigmoid"), ("mf", "relu"), ("mf", "sigmoid")]):
        arrays = {}
        for t in range(3):
            V = np.linalg.qr(rng.standard_normal((D, 5)))[0].astype(np.float32)
            W = rng.standard_normal((H, D)).astype(np.float32)
            if act == "relu":
                V, W = shared.setdefault(("V", t), V), shared.setdefault(("W", t), W)
            arrays[(t, "subspace", "W")] = V
            if t != 1:
                arrays[(t, "weights", "W")] = W
        records.write_arrays(arrays, folder / records.ARRAYS_FILE)
    return dirs


def test_pairs_differ_in_one_column_and_identical_runs_have_zero_angles(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    dirs = hand_written(sweep)
    tables = tables_of(sweep)
    assert applies(tables) is None
    default = figs.subspace_angles(tables, tmp_path / "default")
    assert set(default["column"]) == {"model.activation"}  # preferred: the notebook's ReLU vs sigmoid
    data = figs.subspace_angles(tables, tmp_path / "figs", column="model.output_scale")
    assert set(data["column"]) == {"model.output_scale"}
    assert set(data["pair"]) == {r"mf vs ntk: $\sigma$=relu", r"mf vs ntk: $\sigma$=sigmoid"}
    relu = data[data["pair"].str.endswith("relu")]
    np.testing.assert_allclose(relu["mean_angle_deg"], 0.0, atol=1e-5)
    sig = data[data["pair"].str.endswith("sigmoid")]
    a, b = npz(dirs[3]), npz(dirs[1])  # mf, ntk
    assert len(sig[sig["kind"] == TOP_R]) == 3 * 3 and sorted(sig[sig["kind"] == COLUMN_SPACE]["step"]) == [0, 2]
    for _, r in sig.iterrows():
        t, k = int(r["step"]), int(r["r"])
        if r["kind"] == TOP_R:
            want = scipy_mean_deg(a[f"subspace/W/{t}"][:, :k], b[f"subspace/W/{t}"][:, :k])
        else:
            assert k == D  # W is H x D with H > D: a D-dimensional column space
            want = scipy_mean_deg(a[f"weights/W/{t}"], b[f"weights/W/{t}"])
        assert r["mean_angle_deg"] == pytest.approx(want, abs=1e-6)
        assert 0.0 < r["mean_angle_deg"] <= r["max_angle_deg"] <= 90.0
    by_act = figs.subspace_angles(tables, tmp_path / "act", column="model.activation")
    assert set(by_act["pair"]) == {r"relu vs sigmoid: scale=mf", r"relu vs sigmoid: scale=ntk"}
    assert (tmp_path / "figs" / "subspace_angles.png").stat().st_size > 10_000


def test_run_folders_come_from_sweep_dir_when_the_tables_do_not_tell(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    hand_written(sweep, esd=False)  # no eigenvalue files: the tables hold no absolute path
    tables = tables_of(sweep)
    assert "no run folder" in applies(tables)
    data = figs.subspace_angles(tables, tmp_path / "figs", sweep_dir=sweep)
    assert len(data) == 2 * (3 * 3 + 2)


def test_subspace_angles_need_stored_subspaces(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"model.output_scale": ["ntk", "mf"]}, [1], 2)
    assert "no run folder with arrays.npz" in applies(tables_of(sweep))
