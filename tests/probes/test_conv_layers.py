"""The spectral and update probes on a network with several layers: a fake model with a 4-D
convolution and two Linear layers (one too small for a fit), measured through
htsweep.probes.measure as the loop does."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Dict

import numpy as np
import pytest
import torch
from torch import Tensor

from htsweep.config import OverlapMode, ProbeConfig
from htsweep.probes import ProbeSet, ProbeSetup, ProbeView, measure
from htsweep.probes.spectrum import SpectrumProbe
from htsweep.probes.update import UpdateProbe
from htsweep.records import PROBE_COLUMNS
from htsweep.spectral import MarchenkoPastur
from htsweep.spectral.conv import ConvMatrix

LAYERS = ("conv", "hidden", "classifier")


class FakeConvNet:
    """matrices() keyed by module name in module order, read from ``<name>.weight`` parameters
    (biases are not analysed): a Conv2d 16x8x3x3, a Linear 32x144 and a 10x32 classifier, each
    drawn i.i.d. N(0, init_std^2)."""

    features = None
    SHAPES = {"conv": (16, 8, 3, 3), "hidden": (32, 144), "classifier": (10, 32)}
    STD = {"conv": 0.1, "hidden": 1.0 / 12.0, "classifier": 0.2}

    def __init__(self) -> None:
        self.trained = tuple(f"{n}.{p}" for n in self.SHAPES for p in ("weight", "bias"))

    def init(self, seed: int) -> Dict[str, Tensor]:
        g = torch.Generator().manual_seed(seed)
        params = {}
        for name, shape in self.SHAPES.items():
            params[f"{name}.weight"] = self.STD[name] * torch.randn(*shape, generator=g, dtype=torch.float64)
            params[f"{name}.bias"] = torch.zeros(shape[0], dtype=torch.float64)
        return params

    def matrices(self, params: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return {name: params[f"{name}.weight"] for name in self.SHAPES}

    def init_std(self, name: str) -> float:
        return self.STD[name]


def setup_of(model: FakeConvNet, params0: Dict[str, Tensor], **probe: object) -> ProbeSetup:
    return ProbeSetup(probe=ProbeConfig(**probe), readout=None, model=model, data=SimpleNamespace(beta=None), params0=params0)


def probes_of(setup: ProbeSetup) -> ProbeSet:
    return ProbeSet(probes=[SpectrumProbe(setup), UpdateProbe()])


def one_step(model: FakeConvNet, params0: Dict[str, Tensor], scale: float = 0.05):
    """W_1 = W_0 + M_0 with a rank-one M_0 per weight (as matrices: its reshape), biases too."""
    g = torch.Generator().manual_seed(7)
    update = {}
    for k, p in params0.items():
        if p.dim() == 1:
            update[k] = torch.full_like(p, 0.01)
            continue
        u = torch.randn(p.shape[0], 1, generator=g, dtype=torch.float64)
        v = torch.randn(1, p[0].numel(), generator=g, dtype=torch.float64)
        update[k] = (scale * u @ v).reshape(p.shape)
    return {k: params0[k] + update[k] for k in params0}, update


def rows_by_layer(m) -> Dict[str, dict]:
    return {r["layer"]: r for r in m.rows}


def test_rows_per_layer_in_module_order_with_their_matricisation():
    model = FakeConvNet()
    params0 = model.init(0)
    setup = setup_of(model, params0)
    m = measure(probes_of(setup), ProbeView(step=0, params=params0, update=None, setup=setup))
    assert [r["layer"] for r in m.rows] == list(LAYERS) and list(m.esd) == list(LAYERS)
    rows = rows_by_layer(m)
    assert all(set(PROBE_COLUMNS) <= set(r) for r in m.rows)
    assert [rows[n]["layer_index"] for n in LAYERS] == [0, 1, 2]
    assert (rows["conv"]["conv_matrix"], rows["conv"]["matrix_count"]) == ("slices", 9)
    assert (rows["conv"]["matrix_rows"], rows["conv"]["matrix_cols"]) == (16, 8)
    assert (rows["hidden"]["conv_matrix"], rows["hidden"]["matrix_count"], rows["hidden"]["matrix_rows"]) == ("matrix", 1, 32)
    assert m.esd["conv"].numel() == 72 and m.esd["hidden"].numel() == 32 and m.esd["classifier"].numel() == 10
    # the MP law of one slice with the layer's own init variance
    mp = MarchenkoPastur(16, 8, 0.1**2)
    assert rows["conv"]["mp_sigma2"] == pytest.approx(0.01, rel=1e-15)
    assert rows["conv"]["mp_lambda_plus"] == pytest.approx(mp.lambda_plus, rel=1e-14)
    assert rows["conv"]["mp_spike_threshold"] == pytest.approx(mp.spike_threshold(), rel=1e-14)
    assert rows["conv"]["num_spikes"] == mp.num_spikes(m.esd["conv"])
    # pooled eigenvalues: the union of each slice's, lambda_max and the Frobenius mass
    W = params0["conv.weight"].numpy()
    union = np.sort(np.concatenate([np.linalg.eigvalsh(W[:, :, i, j].T @ W[:, :, i, j]) for i in range(3) for j in range(3)]))
    np.testing.assert_allclose(m.esd["conv"].numpy(), union, rtol=1e-10, atol=1e-12 * union.max())
    assert rows["conv"]["lambda_max"] == pytest.approx(union.max(), rel=1e-12)
    assert rows["conv"]["lambda_sum"] == pytest.approx(float((W**2).sum()), rel=1e-12)
    assert rows["conv"]["fit_status"] == "ok" and math.isfinite(rows["conv"]["pl_alpha_hill"])
    assert math.isfinite(rows["conv"]["pl_alpha_ks"]) and math.isfinite(rows["conv"]["mp_fit_sigma2"])
    assert rows["conv"]["esd_phase"] is not None
    # no teacher: the teacher columns are NaN; no update at t = 0
    assert all(math.isnan(r["sim_w_beta"]) for r in m.rows)
    assert all(r["delta_w_spectral"] == 0.0 and math.isnan(r["update_spectral"]) for r in m.rows)


def test_a_layer_too_small_to_fit_is_recorded_with_nan_fits():
    model = FakeConvNet()
    params0 = model.init(1)
    setup = setup_of(model, params0)
    row = rows_by_layer(measure(probes_of(setup), ProbeView(step=0, params=params0, update=None, setup=setup)))["classifier"]
    assert row["fit_status"] == "too_small: 10 eigenvalues"
    for col in ("pl_alpha_hill", "pl_alpha_hill_xmin", "pl_alpha_ks", "pl_alpha_ks_xmin", "pl_alpha_ks_distance",
                "mp_fit_sigma2", "mp_fit_lambda_plus", "esd_tail_alpha", "alpha_weighted"):  # fmt: skip
        assert math.isnan(row[col]), col
    assert row["esd_phase"] is None
    C = params0["classifier.weight"].numpy()
    assert row["lambda_max"] == pytest.approx(np.linalg.norm(C, 2) ** 2, rel=1e-12)  # norms are kept
    assert row["stable_rank"] == pytest.approx(np.linalg.norm(C) ** 2 / np.linalg.norm(C, 2) ** 2, rel=1e-12)
    assert math.isfinite(row["mp_lambda_plus"]) and row["layer_index"] == 2
    # probe.min_fit_eigs=10 fits it
    setup = setup_of(model, params0, min_fit_eigs=10)
    row = rows_by_layer(measure(probes_of(setup), ProbeView(step=0, params=params0, update=None, setup=setup)))["classifier"]
    assert row["fit_status"] == "ok" and math.isfinite(row["pl_alpha_hill"])


def test_reshape_mode_analyses_the_out_by_in_k_k_matrix():
    model = FakeConvNet()
    params0 = model.init(2)
    setup = setup_of(model, params0, conv_matrix=ConvMatrix.reshape)
    m = measure(probes_of(setup), ProbeView(step=0, params=params0, update=None, setup=setup))
    row = rows_by_layer(m)["conv"]
    assert (row["conv_matrix"], row["matrix_count"], row["matrix_rows"], row["matrix_cols"]) == ("reshape", 1, 16, 72)
    R = params0["conv.weight"].reshape(16, -1).numpy()
    e = np.linalg.eigvalsh(R @ R.T)
    np.testing.assert_allclose(m.esd["conv"].numpy(), e, rtol=1e-10, atol=1e-12 * e.max())
    assert row["mp_lambda_plus"] == pytest.approx(MarchenkoPastur(16, 72, 0.01).lambda_plus, rel=1e-14)
    assert float(m.esd["conv"].sum()) == pytest.approx(float((R**2).sum()), rel=1e-12)
    assert rows_by_layer(m)["hidden"]["conv_matrix"] == "matrix"  # 2-D layers are unchanged


@pytest.mark.parametrize("mode", ["slices", "reshape"])
@pytest.mark.parametrize("overlaps", ["summary", "full"])
def test_update_norms_and_overlaps_of_a_convolution_use_its_reshape(mode, overlaps):
    model = FakeConvNet()
    params0 = model.init(3)
    params1, update = one_step(model, params0)
    setup = setup_of(model, params0, conv_matrix=ConvMatrix(mode), overlaps=OverlapMode(overlaps))
    m = measure(probes_of(setup), ProbeView(step=1, params=params1, update=update, setup=setup))
    rows = rows_by_layer(m)
    for name in LAYERS:
        row = rows[name]
        W1 = params1[f"{name}.weight"].reshape(model.SHAPES[name][0], -1).numpy()
        M = update[f"{name}.weight"].reshape(model.SHAPES[name][0], -1).numpy()
        delta = W1 - params0[f"{name}.weight"].reshape(model.SHAPES[name][0], -1).numpy()
        assert row["update_spectral"] == pytest.approx(np.linalg.norm(M, 2), rel=1e-9), name
        assert row["update_sv_0"] == pytest.approx(row["update_spectral"], rel=1e-12), name
        assert row["update_frobenius"] == pytest.approx(np.linalg.norm(M), rel=1e-12), name
        assert row["delta_w_spectral"] == pytest.approx(np.linalg.norm(delta, 2), rel=1e-9), name
        assert row["delta_w_frobenius"] == pytest.approx(np.linalg.norm(delta), rel=1e-12), name
        # the top pair: u1(W_1) against u1(M_0) of the (out x in k k) matrices
        U, _, _ = np.linalg.svd(W1, full_matrices=False)
        Um, _, _ = np.linalg.svd(M, full_matrices=False)
        assert row["overlap_u_top_pair"] == pytest.approx(float(U[:, 0] @ Um[:, 0]) ** 2, abs=1e-8), name
    if overlaps == "full":
        O_U, O_V = m.overlaps["conv"]
        assert O_U.shape == (16, 16) and O_V.shape == (16, 16)  # b = min(16, 72)
    # the ESD is still the chosen matricisation's
    assert m.esd["conv"].numel() == (72 if mode == "slices" else 16)


def test_the_update_can_be_keyed_by_layer_when_the_model_cannot_map_it():
    """An update dict keyed by layer name (what a model whose matrices() reads untrained
    tensors hands the probes) gives the same norms."""
    model = FakeConvNet()
    params0 = model.init(4)
    params1, update = one_step(model, params0)
    setup = setup_of(model, params0)
    by_param = rows_by_layer(measure(probes_of(setup), ProbeView(step=1, params=params1, update=update, setup=setup)))
    by_layer = {name: update[f"{name}.weight"] for name in LAYERS}
    other = rows_by_layer(measure(probes_of(setup), ProbeView(step=1, params=params1, update=by_layer, setup=setup)))
    for name in LAYERS:
        assert other[name]["update_spectral"] == by_param[name]["update_spectral"]
        assert other[name]["delta_w_spectral"] == by_param[name]["delta_w_spectral"]


def test_the_two_layer_model_is_one_matrix_with_the_columns_it_had():
    from htsweep.loop import build_run
    from tests.helpers import small_spec

    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    m = measure(built.probes, ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup))
    (row,) = m.rows
    assert row["layer"] == "W" and row["layer_index"] == 0 and row["matrix_count"] == 1
    assert row["conv_matrix"] == "matrix" and row["fit_status"] == "ok"
    assert (row["matrix_rows"], row["matrix_cols"]) == (90, 60)
    assert m.esd["W"].numel() == 60 and math.isfinite(row["pl_alpha_ks"])
