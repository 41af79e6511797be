"""The training loop: step() against autograd, and whole runs (reproducibility, shared sweep
state, weight norm, the paper's one-step claims, divergence)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from htsweep.activations import Activation
from htsweep.device import TORCH_DTYPES
from htsweep.loop import apply_update, build_run, run, step
from htsweep.models.two_layer import Parametrisation
from htsweep.records import Status
from tests.helpers import small_spec
from tests.models.test_two_layer import reference_forward


def _frame(result):
    return pd.DataFrame(result.log.rows)


@pytest.mark.parametrize("act", list(Activation))
@pytest.mark.parametrize("param", list(Parametrisation))
@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_step_equals_an_autograd_update(act, param, optimizer):
    """One step() from W_0 equals W_0 + M_0 with M_0 from autograd's gradient (GD: -lr G;
    bias-corrected Adam's first step: -lr G / (|G| + eps))."""
    spec = small_spec(f"model.activation={act.value}", f"model.param={param.value}", f"optimizer={optimizer}", "lr=0.3")
    built = build_run(spec, torch.device("cpu"), torch.float64)
    state = built.initial
    W0, a, split = state.params["W"].clone(), state.params["a"], built.data.train
    Wp = W0.clone().requires_grad_(True)
    loss_ref = ((reference_forward(built.dynamics.model, Wp, a, split.X) - split.y) ** 2).mean()
    loss_ref.backward()
    G = Wp.grad
    expected = W0 - 0.3 * G if optimizer == "gd" else W0 - 0.3 * G / (G.abs() + 1e-8)
    new, loss = step(state, built.dynamics, split)
    assert loss == pytest.approx(float(loss_ref.detach()), rel=1e-12)
    assert new.t == 1 and new.lr == 0.3
    assert torch.allclose(new.params["W"], expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(new.update["W"], expected - W0, rtol=1e-9, atol=1e-12)


def test_same_seed_same_config_gives_identical_metrics():
    a = _frame(run(small_spec()))
    b = _frame(run(small_spec()))
    pd.testing.assert_frame_equal(a.drop(columns="elapsed_s"), b.drop(columns="elapsed_s"))


def test_sweep_points_share_data_and_initial_weights():
    """Different lr / optimiser, same seed: identical step-0 probe (same data, same W_0)."""
    runs = [run(small_spec("optimizer=gd", "lr=0.01")), run(small_spec("lr=1.0")), run(small_spec("lr=0.1", "steps=1"))]
    first = [r.log.rows[0] for r in runs]
    for row in first[1:]:
        for key, value in first[0].items():
            if key == "elapsed_s" or (isinstance(value, float) and math.isnan(value)):
                continue
            assert row[key] == value, key
    assert all((r.log.esd[0][2] == runs[0].log.esd[0][2]).all() for r in runs)
    other_seed = run(small_spec("seed=1", "steps=0"))
    assert other_seed.log.rows[0]["train_loss"] != first[0]["train_loss"]


def test_data_and_init_seeds_override_seed():
    base = run(small_spec("steps=0", "seed=5"))
    split = run(small_spec("steps=0", "seed=9", "data_seed=5", "init_seed=5"))
    assert base.log.rows[0]["test_loss"] == split.log.rows[0]["test_loss"]


def test_frobenius_weight_norm_holds_after_every_step():
    res = run(small_spec("steps=5", "lr=2.0", "weight_norm=frobenius"))
    target = math.sqrt(90 * 60)
    norms = [row["frobenius_norm"] for row in res.log.rows[1:]]
    assert len(norms) == 5 and all(abs(v / target - 1) < 1e-12 for v in norms)
    free = run(small_spec("steps=5", "lr=2.0"))
    assert abs(free.log.rows[-1]["frobenius_norm"] / target - 1) > 0.05  # the norm would drift


def test_probe_schedule_every_and_explicit_list():
    assert small_spec("steps=7", "probe.every=3").probe_steps() == [0, 3, 6, 7]
    assert small_spec("steps=12", "probe.at=[5,1]").probe_steps() == [0, 1, 5, 12]
    res = run(small_spec("steps=4", "probe.every=2"))
    assert [r["step"] for r in res.log.rows] == [0, 2, 4]
    assert [s for s, _, _ in res.log.esd] == [0, 2, 4]
    assert {r["layer"] for r in res.log.rows} == {"W"} and res.layers == ["W"]


def test_rows_carry_the_loop_columns():
    res = run(small_spec("steps=2", "optimizer=gd", "lr=0.5"))
    r0, r1, r2 = res.log.rows
    assert math.isnan(r0["lr_t"]) and r1["lr_t"] == 0.5 and r2["lr_t"] == 0.5
    assert r0["stage1_loss"] > r2["stage1_loss"] > 0  # GD descends on the training loss
    assert r0["elapsed_s"] <= r1["elapsed_s"] <= r2["elapsed_s"]


def test_step_lr_schedule_reaches_the_rows():
    res = run(small_spec("steps=3", "lr_schedule=step", "lr_schedule.gamma=0.5", "lr=0.8"))
    assert [r["lr_t"] for r in res.log.rows[1:]] == [0.8, 0.4, 0.2]


def test_norm_bookkeeping_of_the_first_update():
    """Step 1: ||W_1 - W_0|| equals the norms of the first update M_0."""
    r0, r1 = run(small_spec("steps=1")).log.rows
    assert r0["delta_w_frobenius"] == 0 and math.isnan(r0["update_frobenius"])
    assert r1["delta_w_frobenius"] == pytest.approx(r1["update_frobenius"], rel=1e-10)
    assert r1["delta_w_spectral"] == pytest.approx(r1["update_spectral"], rel=1e-10)
    assert r1["update_frobenius"] == pytest.approx(math.sqrt(90 * 60), rel=1e-3)  # ~ lr sqrt(hd)


@pytest.fixture(scope="module")
def paper_size():
    """n=500, d=250, h=375: the paper's ratios (n/d = 2, h/d = 1.5) at a quarter of the size."""
    return lambda opt, lr: small_spec(
        "steps=1", f"lr={lr}", "dtype=float32", f"optimizer={opt}", "data.n=500", "data.d=250", "model.h=375", "data.n_test=200"
    )


def test_one_adam_step_makes_a_spike_and_aligns_with_beta(paper_size):
    """Sec. 4.1 / Fig. 2(c), Fig. 3(d): FB-Adam with lr = 1 gives a Bulk+Spike ESD after one
    step, and the top singular vector of W_1 aligns with beta."""
    r0, r1 = run(paper_size("adam", 1.0)).log.rows
    assert r0["num_spikes"] == 0
    assert r1["lambda_max"] > 10 * r1["mp_spike_threshold"]
    assert r0["sim_w_beta"] < 3 / math.sqrt(250)  # a random direction: ~ 1/sqrt(d)
    assert r1["sim_w_beta"] > 0.3


def test_one_small_gd_step_leaves_the_bulk_alone(paper_size):
    """Fig. 2(a): GD with lr = 0.1 barely moves W: no spike, no alignment."""
    r0, r1 = run(paper_size("gd", 0.1)).log.rows
    assert r1["num_spikes"] == 0
    assert r1["lambda_max"] == pytest.approx(r0["lambda_max"], rel=1e-3)
    assert r1["sim_w_beta"] < 0.2


def test_a_diverging_run_is_marked_by_the_loops_check():
    """float32 (the default): one GD step of lr 1e30 makes the training loss overflow."""
    res = run(small_spec("steps=6", "lr=1e30", "optimizer=gd", "model.activation=identity", "dtype=float32"))
    assert res.status is Status.diverged and res.diverged_at is not None
    assert res.steps_done >= res.diverged_at - 1
    assert all(math.isfinite(r["lambda_max"]) for r in res.log.rows)
    assert max(r["step"] for r in res.log.rows) <= res.diverged_at


def test_a_probe_error_on_a_finite_state_is_a_failure_not_divergence(monkeypatch):
    """Only the loop's finiteness check marks a run diverged: a FloatingPointError raised by
    a probe while loss, gradient and weights are finite propagates (the run fails)."""
    import htsweep.probes.readout as readout_probe

    def broken(*args, **kwargs):
        raise FloatingPointError("a numeric bug in a probe")

    monkeypatch.setattr(readout_probe.readouts, "ridge_solve", broken)
    with pytest.raises(FloatingPointError, match="numeric bug"):
        run(small_spec("steps=1"))


def test_float32_is_the_default_dtype_and_data_move_with_it():
    spec = small_spec("dtype=float32")
    built = build_run(spec, torch.device("cpu"), TORCH_DTYPES[spec.dtype.value])
    assert built.initial.params["W"].dtype == torch.float32 and built.data.train.X.dtype == torch.float32


def test_inverse_gamma_lr_scaling_divides_the_step_by_the_notebooks_gamma():
    """optimizer.lr_scaling=inverse_gamma: W <- W - (lr / gamma) G with gamma = g sqrt(h), the
    notebook's output scale (1 under ntk, 1/sqrt(h) under mf), seed 001's ``lr / gamma``."""
    from htsweep.loop import build_run, gradient

    for scale, gamma in (("ntk", 1.0), ("mf", 1 / math.sqrt(90)), ("0.01", 0.01 * math.sqrt(90))):
        built = build_run(small_spec("optimizer=gd", "lr=2", "optimizer.lr_scaling=inverse_gamma", f"model.output_scale={scale}"),
                          torch.device("cpu"), torch.float64)  # fmt: skip
        state = built.initial
        W0 = state.params["W"].clone()
        G = gradient(state, built.dynamics, built.data.train).grads["W"].clone()
        new = apply_update(state, gradient(state, built.dynamics, built.data.train), built.dynamics)
        assert new.lr == pytest.approx(2 / gamma, rel=1e-14)
        assert torch.allclose(new.params["W"], W0 - (2 / gamma) * G, rtol=1e-13, atol=1e-13)


def test_row_constraints_start_on_the_sphere():
    """weight_norm=rows projects W_0 as well (the notebook's rows start on the unit sphere)."""
    from htsweep.loop import build_run

    built = build_run(small_spec("weight_norm=rows"), torch.device("cpu"), torch.float64)
    norms = torch.linalg.vector_norm(built.initial.params["W"], dim=1)
    assert torch.allclose(norms, torch.full_like(norms, math.sqrt(60)), rtol=1e-14)
    assert torch.equal(built.setup.params0["W"], built.initial.params["W"])  # W_0 of the probes too
