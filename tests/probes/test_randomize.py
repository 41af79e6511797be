"""The randomization control (probe.randomize): the shuffle, the traps against the MP edge of
the entries' variance, what shuffling keeps and destroys, and that it changes no other output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from htsweep import figures as figs
from htsweep import records
from htsweep.config import make_spec
from htsweep.job import run_and_record
from htsweep.loop import build_run, run
from htsweep.probes import ProbeView, build_probes, measure
from htsweep.probes.randomize import entry_variance, randomized_row, shuffle, stream_name
from htsweep.records.schema import is_derived_layer
from htsweep.resume import CHECKPOINT_FILE, Checkpointer, Interrupted
from htsweep.spectral import MarchenkoPastur, alpha_hill, esd_eigenvalues
from htsweep.spectral.compare import js_distance
from htsweep.train import preflight, user_error
from tests.figures.helpers import tables_of
from tests.helpers import StopAfter, small_node, small_spec, spec

TINY = ("data.n=200", "data.d=50", "model.h=75", "steps=3", "device=cpu", "progress=false")
ON = ("probe.randomize=true",)


def _gaussian(h: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(h, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _control(W: torch.Tensor, seed: int = 0, step: int = 1) -> dict:
    e = esd_eigenvalues(W)
    W_rand = shuffle(W, seed, "W", step)
    return randomized_row(W_rand, e, esd_eigenvalues(W_rand), 0.99)


# --- the shuffle ---------------------------------------------------------------------------


def test_shuffle_is_a_permutation_of_the_entries():
    W = _gaussian(90, 60, 0)
    R = shuffle(W, 7, "W", 3)
    assert R.shape == W.shape and not torch.equal(R, W)
    assert torch.equal(torch.sort(R.flatten()).values, torch.sort(W.flatten()).values)  # same multiset
    assert float(torch.linalg.matrix_norm(R)) == pytest.approx(float(torch.linalg.matrix_norm(W)), rel=1e-14)
    assert entry_variance(R) == pytest.approx(entry_variance(W), rel=1e-12)
    # rows and columns are mixed: far from the original arrangement
    assert float((R == W).double().mean()) < 0.01


def test_same_seed_and_step_same_shuffle_else_a_different_one():
    W = _gaussian(40, 30, 1)
    assert torch.equal(shuffle(W, 5, "W", 2), shuffle(W, 5, "W", 2))
    assert not torch.equal(shuffle(W, 5, "W", 2), shuffle(W, 5, "W", 3))  # another step
    assert not torch.equal(shuffle(W, 5, "W", 2), shuffle(W, 6, "W", 2))  # another seed
    assert not torch.equal(shuffle(W, 5, "W", 2), shuffle(W, 5, "W2", 2))  # another layer
    assert stream_name("W", 2) == "probe.randomize/W/2"


def test_shuffle_does_not_touch_the_global_generator():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    shuffle(_gaussian(20, 10, 0), 1, "W", 1)
    assert torch.equal(torch.rand(3), before)


# --- what shuffling keeps and destroys ---------------------------------------------------


def test_a_spike_from_correlations_is_above_the_edge_but_the_shuffled_copy_has_no_trap():
    """W = G + theta u v^T, theta = 3 theta_c: one outlier above the TW threshold of the MP law
    of the entries' variance; shuffled, the rank-one term is spread into the bulk."""
    h, d = 600, 400
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        u = torch.randn(h, 1, generator=g, dtype=torch.float64)
        v = torch.randn(d, 1, generator=g, dtype=torch.float64)
        W = _gaussian(h, d, 100 + seed) + 3 * (h * d) ** 0.25 * (u / u.norm()) @ (v / v.norm()).T
        row = _control(W, seed)
        law = MarchenkoPastur(h, d, entry_variance(W))  # = the shuffled copy's, to rounding
        assert row["rand_mp_sigma2"] == pytest.approx(law.sigma2, rel=1e-12)
        assert row["rand_mp_threshold"] == pytest.approx(law.spike_threshold(0.99), rel=1e-12)
        assert law.num_spikes(esd_eigenvalues(W)) == 1
        assert row["rand_num_traps"] == 0
        assert row["rand_lambda_max"] < row["rand_mp_threshold"]


def test_a_gaussian_matrix_has_no_trap_and_a_small_distance():
    for seed in range(3):
        row = _control(_gaussian(600, 400, seed), seed)
        assert row["rand_num_traps"] == 0 and row["rand_js_distance"] < 0.12


@pytest.mark.parametrize("draw", ["cauchy", "pareto"])
def test_heavy_tailed_entries_stay_heavy_tailed_when_shuffled(draw):
    """i.i.d. heavy-tailed entries: shuffling changes nothing in law, so PL_Alpha_Hill of the
    shuffled ESD stays close to W's (measured |diff| <= 0.06 over 5 draws) and the largest
    entries are correlation traps."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        if draw == "cauchy":
            x = rng.standard_cauchy((600, 400))
        else:
            x = rng.pareto(1.5, (600, 400)) * rng.choice([-1.0, 1.0], (600, 400))
        W = torch.from_numpy(x)
        row = _control(W, seed)
        hill = alpha_hill(esd_eigenvalues(W)).alpha
        assert hill < 2.0  # heavier than a Marchenko-Pastur bulk (~2.45 at this shape)
        assert row["rand_pl_alpha_hill"] == pytest.approx(hill, abs=0.1)
        assert row["rand_num_traps"] >= 1


def test_a_heavy_tail_from_correlations_disappears_when_shuffled():
    """W = Q1 diag(s) Q2^T with power-law singular values: a heavy-tailed ESD made entirely by
    correlations; shuffled it is a Marchenko-Pastur bulk (Hill ~2.45), far in JS distance."""
    h, d = 600, 400
    g = torch.Generator().manual_seed(0)
    q1, _ = torch.linalg.qr(torch.randn(h, d, generator=g, dtype=torch.float64))
    q2, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    s = 50 * torch.arange(1, d + 1, dtype=torch.float64) ** -0.6
    W = q1 @ torch.diag(s) @ q2.T
    row = _control(W)
    assert alpha_hill(esd_eigenvalues(W)).alpha < 2.0 and row["rand_pl_alpha_hill"] > 2.3
    assert row["rand_js_distance"] > 0.4 and row["rand_num_traps"] == 0
    gaussian = _control(_gaussian(h, d, 1))["rand_js_distance"]
    assert row["rand_js_distance"] > 4 * gaussian


# --- the probe in a run ------------------------------------------------------------------


def test_the_probe_reuses_the_recorded_esd_and_reproduces_its_columns():
    built = build_run(small_spec(*ON), torch.device("cpu"), torch.float64)
    view = ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup)
    m = measure(built.probes, view)
    row, W = m.rows[0], built.initial.params["W"]
    assert list(m.esd) == ["W", "W:shuffled"]
    R = shuffle(W, built.setup.seed, "W", 0)
    e_rand = np.linalg.eigvalsh(R.numpy().T @ R.numpy())
    assert np.allclose(m.esd["W:shuffled"].numpy(), e_rand, rtol=1e-10, atol=1e-10 * e_rand.max())
    assert row["rand_js_distance"] == js_distance(m.esd["W"], m.esd["W:shuffled"])
    assert row["rand_lambda_max"] == pytest.approx(e_rand[-1], rel=1e-12)
    assert row["rand_num_traps"] == int((m.esd["W:shuffled"] > row["rand_mp_threshold"]).sum())


def test_on_changes_no_other_column_and_writes_derived_esd_rows(tmp_path):
    off_dir, on_dir = tmp_path / "sweep" / "0", tmp_path / "sweep_on" / "0"
    run_and_record(small_node(*TINY), off_dir)
    run_and_record(small_node(*TINY, *ON), on_dir)
    off, on = (pd.read_parquet(p / records.METRICS_FILE) for p in (off_dir, on_dir))
    added = [c for c in on.columns if c not in off.columns]
    assert added == ["rand_lambda_max", "rand_pl_alpha_hill", "rand_pl_alpha_ks", "rand_pl_alpha_ks_n_tail",
                     "rand_mp_sigma2", "rand_mp_threshold", "rand_num_traps", "rand_js_distance"]  # fmt: skip
    for c in off.columns:
        if c not in ("elapsed_s", "probe.randomize"):
            assert off[c].equals(on[c]), c  # bit for bit
    assert on[added].notna().all().all() and (on["rand_num_traps"] == 0).all()
    e_off, e_on = (pd.read_parquet(p / records.ESD_FILE) for p in (off_dir, on_dir))
    own = e_on[~e_on["layer"].map(is_derived_layer)].reset_index(drop=True)
    pd.testing.assert_frame_equal(own, e_off)  # W's rows unchanged
    assert set(e_on["layer"]) == {"W", "W:shuffled"} and len(e_on) == 2 * len(e_off)
    rec_off, rec_on = (records.read_record(p) for p in (off_dir, on_dir))
    assert rec_on["layers"] == ["W"] and rec_on["probes"] == rec_off["probes"] + ["randomize"]
    assert rec_off["probes_skipped"]["randomize"] == "disabled (probe.randomize=false)"
    assert records.check_outputs(on_dir, rec_on) is None  # the relaunch check still passes
    # figures draw the run's own layer only: the same ESD panels with the option on or off
    assert tables_of(tmp_path / "sweep_on").layers == ["W"]
    a = figs.esd(tables_of(tmp_path / "sweep"), tmp_path / "fa")
    b = figs.esd(tables_of(tmp_path / "sweep_on"), tmp_path / "fb")
    pd.testing.assert_frame_equal(a, b)


def test_a_resumed_run_gives_the_same_values(tmp_path):
    cfg = small_spec("steps=5", "probe.every=2", *ON)
    reference = run(cfg)
    ckpt = Checkpointer(tmp_path / CHECKPOINT_FILE, every=0, config_hash="h")
    with pytest.raises(Interrupted):
        run(cfg, checkpointer=ckpt, stop=StopAfter(3))
    resumed = run(cfg, checkpointer=ckpt)
    assert resumed.resumed_from == 3
    rows = [pd.DataFrame(r.log.rows).drop(columns="elapsed_s") for r in (resumed, reference)]
    pd.testing.assert_frame_equal(*rows)
    for (sa, la, a), (sb, lb, b) in zip(resumed.log.esd, reference.log.esd):
        assert (sa, la) == (sb, lb) and (a == b).all()


def test_off_by_default_and_skipped_with_the_reason():
    assert spec().probe.randomize is False
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    assert build_probes(built.setup).skipped["randomize"] == "disabled (probe.randomize=false)"


def test_the_option_is_a_bool():
    with pytest.raises(Exception) as info:
        preflight(["probe.randomize=maybe", "device=cpu", "progress=false"])
    msg = user_error(info.value)  # what htsweep.train prints before exiting with status 2
    assert msg.startswith("probe.randomize: Value 'maybe' is not a valid bool") and "\n" not in msg
    assert make_spec(["probe.randomize=true"]).probe.randomize is True


def test_step_zero_values_are_finite():
    res = run(small_spec("steps=0", *ON))
    row = res.log.rows[0]
    assert all(math.isfinite(row[c]) for c in row if c.startswith("rand_"))


def test_the_memory_estimate_counts_the_controls_only_when_on():
    from htsweep import memory

    off, on = memory.estimate(spec()), memory.estimate(spec(["probe.randomize=true", "probe.delta_esd=true"]))
    assert "probe controls" not in off.parts and off.parts == {k: v for k, v in on.parts.items() if k != "probe controls"}
    h, d, b = 1500, 1000, 4  # the default run, float32
    expected = memory.SLACK * (h * d * (8 + b + 8) + h * d * 8 + 2 * min(h, d) ** 2 * 8)
    assert on.parts["probe controls"] == pytest.approx(expected)
