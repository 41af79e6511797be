"""The compressibility probe (htsweep.probes.compress): the mce rule on hand-made matrices, the
pruning operations against brute force (numpy SVD, direct ridge solves), and the probe's
curves on the two-layer student and on a torch MLP against direct evaluations of the pruned
networks."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from htsweep import records
from htsweep.config import ProbeConfig, ReadoutConfig
from htsweep.losses import CrossEntropy
from htsweep.loop import build_run, step
from htsweep.probes import build_probes, measure
from htsweep.models.torch_module import TorchModule, on_meta
from htsweep.probes.base import ProbeSetup, ProbeView
from htsweep.probes.compress import (
    KINDS,
    MAGNITUDE,
    NEURON_KEPT,
    NEURON_REFIT,
    SINGULAR,
    build,
    magnitude_pruned,
    mce_count,
    mce_fraction,
    nested_ridge,
    prune_count,
    singular_truncations,
)
from htsweep.readouts import moments
from htsweep.records.schema import COMPRESS_COLUMNS
from tests.helpers import small_spec, spec
from tests.models.images import tiny_images

CPU = torch.device("cpu")


@dataclasses.dataclass
class CompressOn(ProbeConfig):
    """ProbeConfig with the probe's options (until htsweep.config declares them)."""

    compress: bool = True
    compress_rho: float = 0.1
    compress_curves: bool = True


def compress_setup(built, **options):
    return dataclasses.replace(built.setup, probe=CompressOn(**options))


# --- rules ----------------------------------------------------------------------------------


def test_mce_prefix_on_hand_made_norms():
    norms = np.array([10.0, 1.0, 1.0, 1.0])  # squared 100, 1, 1, 1: c = 1/103, 2/103, 3/103, 1
    assert mce_count(norms, 0.0) == 0
    assert mce_count(norms, 1.5 / 103) == 1
    assert mce_count(norms, 3 / 103) == 3  # the boundary itself is prunable (c_k <= rho)
    assert mce_count(norms, np.nextafter(3 / 103, 0.0)) == 2
    assert mce_count(norms, 0.5) == 3
    assert mce_count(norms, 1.0) == 4
    assert mce_count(np.ones(10), 0.3) == 3  # all equal: c_k = k / 10, 0.3 hit exactly
    assert mce_count(np.ones(10), 0.29) == 2
    assert mce_count(np.zeros(5), 0.1) == 5  # a zero matrix is wholly prunable
    W = torch.diag(torch.tensor([1.0, 10.0, 1.0, 1.0]))  # rows of norms 1, 10, 1, 1
    assert mce_fraction(W, 3 / 103) == 0.75 and mce_fraction(W, 0.009) == 0.0


def test_centred_variant_removes_a_common_column_offset():
    base = torch.diag(torch.tensor([1.0, 1.0, 1.0, 10.0, 0.0]))  # every column's median is 0
    offset = torch.tensor([1000.0, -2000.0, 3000.0, 500.0, 700.0])
    W = base + offset  # every row shifted by the same vector
    assert mce_fraction(W, 0.1) == 0.0  # raw: every row ~ ||offset||, none prunable
    # centred: W - column median = base, norms 0, 1, 1, 1, 10: c_4 = 3 / 103 <= 0.1 < c_5 = 1
    assert mce_fraction(W, 0.1, centred=True) == 0.8
    assert mce_fraction(base, 0.1) == 0.8


def test_prune_count_rounds_half_up_in_integers():
    assert [prune_count(i, 10) for i in range(11)] == list(range(11))
    assert prune_count(3, 1500) == 450 and prune_count(7, 1500) == 1050
    assert prune_count(5, 15) == 8 and prune_count(1, 15) == 2 and prune_count(1, 14) == 1


def test_magnitude_prune_zeroes_exactly_round_r_n_smallest_entries():
    W = torch.randn(7, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    N = W.numel()
    counts = [prune_count(i, N) for i in range(11)]
    for c, Wr in magnitude_pruned(W, counts):
        zeroed = Wr == 0
        assert int(zeroed.sum()) == c == round(c)  # W has no zero entries
        if 0 < c < N:
            assert float(W.abs()[zeroed].max()) < float(W.abs()[~zeroed].min())
            assert torch.equal(Wr[~zeroed], W[~zeroed])
    # ties at the threshold go by position
    T = torch.tensor([[2.0, 1.0, 1.0], [1.0, 3.0, 1.0]])
    (_, Tr), = list(magnitude_pruned(T, [2]))
    assert torch.equal(Tr, torch.tensor([[2.0, 0.0, 0.0], [1.0, 3.0, 1.0]]))


@pytest.mark.parametrize("shape", [(6, 11), (13, 5)])
def test_singular_prune_matches_numpy_svd_reconstruction(shape):
    W = torch.randn(*shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    U, s, Vt = np.linalg.svd(W.numpy(), full_matrices=False)
    R = min(shape)
    for k, Wk in singular_truncations(W, [0, 1, 3, R]):
        expected = (U[:, :k] * s[:k]) @ Vt[:k]
        assert Wk.shape == W.shape
        np.testing.assert_allclose(Wk.numpy(), expected, atol=1e-12 * s[0])


def test_nested_ridge_equals_direct_solves_on_the_kept_features():
    g = torch.Generator().manual_seed(2)
    n, h, lam = 40, 12, 0.3
    Z = torch.randn(n, h, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    desc = torch.randperm(h, generator=g)
    keeps = [h, 9, 5, 1, 0]
    A = nested_ridge(moments(Z, y), lam, h, desc, keeps)
    for i, m in enumerate(keeps):
        cols = desc[:m].numpy()
        Zk = Z.numpy()[:, cols]
        direct = np.linalg.solve(Zk.T @ Zk + lam * n / h * np.eye(m), Zk.T @ y.numpy())
        np.testing.assert_allclose(A[cols, i].numpy(), direct, rtol=1e-10, atol=1e-12)
        assert not A[desc[m:], i].any()  # pruned neurons: zero readout


# --- the probe on the two-layer student -------------------------------------------------------


def trained(*overrides, steps=1):
    built = build_run(small_spec(*overrides), CPU, torch.float64)
    state = built.initial
    for _ in range(steps):
        state, _ = step(state, built.dynamics, built.data.train)
    return built, state


def probe_step(built, state, **options):
    setup = compress_setup(built, **options)
    probes = build_probes(setup)
    assert probes.names[-1] == "compress"
    m = measure(probes, ProbeView(step=state.t, params=state.params, update=state.update, setup=setup))
    return setup, m


def mse(f, y):
    return float(((f - y) ** 2).mean())


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_two_layer_curves_against_direct_evaluations(activation):
    built, state = trained(f"model.activation={activation}")
    setup, m = probe_step(built, state)
    model, data, params = setup.model, setup.data, state.params
    W, a = params["W"], params["a"]
    h = W.shape[0]
    X, y = data.test.X, data.test.y
    (row,) = m.rows
    assert set(COMPRESS_COLUMNS) <= set(row)
    assert sorted(m.arrays) == sorted((k, "W") for k in KINDS)
    for arr in m.arrays.values():
        assert arr.shape == (11, 3) and arr.dtype == np.float64
        assert np.isnan(arr[:, 2]).all()  # mse: no accuracy
    kept, refit = m.arrays[(NEURON_KEPT, "W")], m.arrays[(NEURON_REFIT, "W")]
    np.testing.assert_allclose(kept[:, 0], [prune_count(i, h) / h for i in range(11)])

    # r = 0: the network as trained (the network probe) and the readout as fitted (readout probe)
    assert kept[0, 1] == pytest.approx(row["net_test_loss"], rel=1e-12)
    assert refit[0, 1] == pytest.approx(row["test_loss"], rel=1e-9)
    # r = 1: every a_i zeroed: f = 0 whatever s(0) (sigmoid(0) = 1/2 would add a_i / 2 g)
    zero = mse(torch.zeros_like(y), y)
    assert kept[10, 1] == pytest.approx(zero, rel=1e-12) and refit[10, 1] == pytest.approx(zero, rel=1e-12)

    # r = 0.3 by brute force: rows of W and entries of a zeroed, readout refitted by a direct solve
    order = np.argsort(W.norm(dim=1).numpy(), kind="stable")
    pruned = order[: prune_count(3, h)]
    Wp, ap = W.clone(), a.clone()
    Wp[pruned] = 0
    ap[pruned] = 0
    assert kept[3, 1] == pytest.approx(mse(model.predict({"W": Wp, "a": ap}, X), y), rel=1e-10)
    keep = np.sort(order[prune_count(3, h):])
    Zh = model.features(params, data.holdout.X).numpy()[:, keep]
    lam, n = setup.readout.reg_lambda, Zh.shape[0]
    a_hat = np.linalg.solve(Zh.T @ Zh + lam * n / h * np.eye(keep.size), Zh.T @ data.holdout.y.numpy())
    f = model.features(params, X).numpy()[:, keep] @ a_hat
    assert refit[3, 1] == pytest.approx(float(np.mean((f - y.numpy()) ** 2)), rel=1e-9)

    # magnitude: the smallest |w| zeroed; singular: W's rank truncation; a as trained
    mag = m.arrays[(MAGNITUDE, "W")]
    (_, Wm), = list(magnitude_pruned(W, [prune_count(4, W.numel())]))
    assert mag[4, 1] == pytest.approx(mse(model.predict({"W": Wm, "a": a}, X), y), rel=1e-12)
    assert mag[4, 0] == prune_count(4, W.numel()) / W.numel()
    sing = m.arrays[(SINGULAR, "W")]
    U, s, Vt = np.linalg.svd(W.numpy(), full_matrices=False)
    R = s.size
    k = R - prune_count(6, R)
    Wk = torch.from_numpy((U[:, :k] * s[:k]) @ Vt[:k])
    assert sing[6, 1] == pytest.approx(mse(model.predict({"W": Wk, "a": a}, X), y), rel=1e-9)
    assert sing[0, 1] == kept[0, 1]
    at_zero = mse(model.predict({"W": torch.zeros_like(W), "a": a}, X), y)  # W = 0: f = s(0) g sum a
    assert sing[10, 1] == pytest.approx(at_zero, rel=1e-12) and mag[10, 1] == pytest.approx(at_zero, rel=1e-12)

    # the row's columns
    assert row["compress_fraction"] == mce_fraction(W, 0.1)
    assert row["compress_fraction_centred"] == mce_fraction(W, 0.1, centred=True)
    n_mce = mce_count(W.norm(dim=1).numpy(), 0.1)
    Wp, ap = W.clone(), a.clone()
    Wp[order[:n_mce]] = 0
    ap[order[:n_mce]] = 0
    assert row["compress_test_loss"] == pytest.approx(mse(model.predict({"W": Wp, "a": ap}, X), y), rel=1e-10)
    assert math.isnan(row["compress_test_accuracy"])
    for name in ("tail_alpha_entries", "tail_alpha_rows", "tail_alpha_norms"):
        assert 0.5 < row[name] <= 2.0
    assert row["tail_hill_entries"] > 0


def test_two_layer_classification_accuracy_and_options():
    built, state = trained("loss=hinge", "data.labels=sign")
    setup, m = probe_step(built, state, compress_rho=0.3)
    (row,) = m.rows
    y, f = setup.data.test.y, setup.model.predict(state.params, setup.data.test.X)
    kept = m.arrays[(NEURON_KEPT, "W")]
    assert kept[0, 2] == pytest.approx(float((torch.sign(f) == y).double().mean()))
    assert row["compress_fraction"] == mce_fraction(state.params["W"], 0.3)
    assert np.isfinite(m.arrays[(NEURON_REFIT, "W")][:, 1:]).all()  # squared-hinge refit
    _, off = probe_step(built, state, compress_rho=0.3, compress_curves=False)
    assert off.arrays == {}  # the columns only, the same numbers
    assert {k: off.rows[0][k] for k in COMPRESS_COLUMNS} == {k: row[k] for k in COMPRESS_COLUMNS}


def test_probe_is_deterministic_and_arrays_round_trip(tmp_path):
    built, state = trained()
    _, m1 = probe_step(built, state)
    _, m2 = probe_step(built, state)
    assert {k: m1.rows[0][k] for k in COMPRESS_COLUMNS} == {k: m2.rows[0][k] for k in COMPRESS_COLUMNS}
    path = tmp_path / records.ARRAYS_FILE
    records.write_arrays({(1, kind, "features.0"): arr for (kind, _), arr in m1.arrays.items()}, path)
    with np.load(path) as z:
        back = {records.parse_array_key(k): z[k] for k in z.files}
    assert sorted(back) == sorted((kind, "features.0", 1) for kind in KINDS)
    for (kind, _), arr in m1.arrays.items():
        np.testing.assert_array_equal(back[(kind, "features.0", 1)], arr)


def test_skipped_when_off_or_without_hidden_layers():
    built = build_run(small_spec(), CPU, torch.float64)
    assert build_probes(built.setup).skipped["compress"] == "disabled (probe.compress=false)"
    flat = dataclasses.replace(compress_setup(built), model=SimpleNamespace(hidden=(), predict=None))
    assert build(flat).reason == "the model has no hidden layers to prune"
    other = dataclasses.replace(built.setup, probe=CompressOn(layers=["nothing"]))
    assert "names none" in build(other).reason


# --- a torch model ---------------------------------------------------------------------------


def test_torch_mlp_curves_and_nan_refit():
    overrides = ["data=digits", "model=mlp", "loss=cross_entropy", "model.depth=2", "model.width=24", "model.bias=true",
                 "data.n=200", "device=cpu", "progress=false", "dtype=float64", "steps=1"]  # fmt: skip
    built = build_run(spec(overrides), CPU, torch.float64)
    state, _ = step(built.initial, built.dynamics, built.data.train)
    setup, m = probe_step(built, state)
    model, params, test = setup.model, state.params, setup.data.test
    assert model.hidden == ("fc1", "fc2")
    rows = {r["layer"]: r for r in m.rows}
    assert "compress_fraction" not in rows["out"]  # the output layer is not pruned (NaN in the table)
    assert sorted(m.arrays) == sorted((k, layer) for k in KINDS for layer in ("fc1", "fc2"))

    def evaluate(p):
        f = model.predict(p, test.X)
        return float(setup.loss.mean(f, test.y)), float((f.argmax(-1) == test.y.long()).double().mean())

    for layer in ("fc1", "fc2"):
        refit = m.arrays[(NEURON_REFIT, layer)]
        assert np.isnan(refit[:, 1:]).all() and refit[10, 0] == 1.0
        kept = m.arrays[(NEURON_KEPT, layer)]
        net = (rows[layer]["net_test_loss"], rows[layer]["net_test_accuracy"])
        assert tuple(kept[0, 1:]) == pytest.approx(net, rel=1e-12)
        W, b = params[f"{layer}.weight"], params[f"{layer}.bias"]
        order = torch.argsort(W.norm(dim=1), stable=True)
        for i in (5, 10):
            c = prune_count(i, W.shape[0])
            Wp, bp = W.clone(), b.clone()
            Wp[order[:c]] = 0
            bp[order[:c]] = 0  # a pruned neuron loses its bias too
            direct = evaluate({**params, f"{layer}.weight": Wp, f"{layer}.bias": bp})
            assert tuple(kept[i, 1:]) == pytest.approx(direct, rel=1e-12)
        sing = m.arrays[(SINGULAR, layer)]
        U, s, Vt = np.linalg.svd(W.numpy(), full_matrices=False)
        k = s.size - prune_count(7, s.size)
        Wk = torch.from_numpy((U[:, :k] * s[:k]) @ Vt[:k])
        assert tuple(sing[7, 1:]) == pytest.approx(evaluate({**params, f"{layer}.weight": Wk}), rel=1e-9)
        assert rows[layer]["compress_fraction"] == mce_fraction(W, 0.1)
        assert 0.0 <= rows[layer]["compress_test_accuracy"] <= 1.0


def test_conv_layer_neurons_are_filters():
    data = tiny_images(channels=2, side=6, m=30, num_classes=3)
    net = lambda: nn.Sequential(nn.Conv2d(2, 7, 3), nn.ReLU(), nn.Flatten(), nn.Linear(7 * 4 * 4, 3))  # noqa: E731
    model = TorchModule(on_meta(net))
    params = model.init(0)
    setup = ProbeSetup(probe=CompressOn(), readout=ReadoutConfig(), model=model, data=data, params0=params, seed=0,
                       loss=CrossEntropy())  # fmt: skip
    out = build(setup)(ProbeView(step=0, params=params, update=None, setup=setup))
    assert list(out.layer_values) == ["0"] and model.hidden == ("0",)
    W, b = params["0.weight"], params["0.bias"]  # (7, 2, 3, 3): 7 filters of 18 weights
    M = W.reshape(7, -1)
    assert out.layer_values["0"]["compress_fraction"] == mce_fraction(M, 0.1)

    def evaluate(p):
        f = model.predict(p, data.test.X)
        return float(CrossEntropy().mean(f, data.test.y)), float((f.argmax(-1) == data.test.y.long()).double().mean())

    kept = out.arrays[(NEURON_KEPT, "0")]
    np.testing.assert_allclose(kept[:, 0], [prune_count(i, 7) / 7 for i in range(11)])
    order = torch.argsort(M.norm(dim=1), stable=True)
    c = prune_count(4, 7)  # 3 filters
    Wp, bp = W.clone(), b.clone()
    Wp[order[:c]] = 0
    bp[order[:c]] = 0
    assert tuple(kept[4, 1:]) == pytest.approx(evaluate({**params, "0.weight": Wp, "0.bias": bp}), rel=1e-12)
    sing = out.arrays[(SINGULAR, "0")]
    U, s, Vt = np.linalg.svd(M.numpy(), full_matrices=False)
    k = 7 - prune_count(5, 7)
    Wk = torch.from_numpy((U[:, :k] * s[:k]) @ Vt[:k]).reshape(W.shape)
    assert tuple(sing[5, 1:]) == pytest.approx(evaluate({**params, "0.weight": Wk}), rel=1e-9)
    mag = out.arrays[(MAGNITUDE, "0")]
    assert mag[3, 0] == prune_count(3, W.numel()) / W.numel()
