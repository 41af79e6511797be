"""Minibatch SGD, the null optimiser and the minibatch schedule (htsweep.optim.sgd / null)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from htsweep.loop import build_run, gradient, run, step
from htsweep.optim.sgd import Batches
from tests.helpers import small_spec

CPU, F64 = torch.device("cpu"), torch.float64


def test_every_epoch_is_a_seeded_permutation_of_the_training_set():
    b = Batches(n=10, batch_size=4, seed=3)
    assert b.per_epoch == 3  # 4 + 4 + 2: the last batch is smaller (no drop_last)
    for epoch in range(3):
        idx = torch.cat([b.indices(epoch * 3 + k) for k in range(3)])
        assert sorted(idx.tolist()) == list(range(10))
        assert [len(b.indices(epoch * 3 + k)) for k in range(3)] == [4, 4, 2]
    assert not torch.equal(b.permutation(0), b.permutation(1))  # reshuffled every epoch
    again = Batches(n=10, batch_size=4, seed=3)
    assert all(torch.equal(again.indices(t), b.indices(t)) for t in (7, 0, 4))  # order of calls does not matter
    assert not torch.equal(Batches(10, 4, seed=4).permutation(0), b.permutation(0))


def test_an_sgd_step_is_a_gd_step_on_its_minibatch():
    spec = small_spec("optimizer=sgd", "optimizer.batch_size=32", "lr=0.5")
    built = build_run(spec, CPU, F64)
    state = built.initial
    W0 = state.params["W"].clone()
    idx = built.dynamics.batches.indices(0)
    sub = built.data.train.X[idx], built.data.train.y[idx]
    # reference: the model's full-batch gradient (tested against autograd in
    # tests/models/test_two_layer.py) on the 32 chosen samples, indexed here by hand
    from htsweep.data.base import Split

    _, grads = built.dynamics.model.loss_and_grad(state.params, Split(*sub), built.dynamics.loss)
    G = grads["W"]
    new, _ = step(state, built.dynamics, built.dynamics.batches.split(built.data.train, 0))
    torch.testing.assert_close(new.params["W"], W0 - 0.5 * G, rtol=1e-12, atol=1e-12)


def test_sgd_with_the_whole_set_as_its_batch_follows_gd():
    gd = pd.DataFrame(run(small_spec("optimizer=gd", "lr=2.0")).log.rows)
    sgd = pd.DataFrame(run(small_spec("optimizer=sgd", "optimizer.batch_size=300", "lr=2.0")).log.rows)
    # the same mean gradient, summed in another order: equal to rounding
    for col in ("stage1_loss", "lambda_max", "delta_w_frobenius", "test_loss"):
        assert sgd[col].to_numpy() == pytest.approx(gd[col].to_numpy(), rel=1e-10, abs=1e-12)


def test_probe_steps_log_the_full_batch_loss_under_sgd():
    res = run(small_spec("optimizer=sgd", "optimizer.batch_size=16", "steps=4", "probe.every=2"))
    built = build_run(small_spec("optimizer=sgd", "optimizer.batch_size=16"), CPU, F64)
    full = float(built.dynamics.model.loss(built.initial.params, built.data.train, built.dynamics.loss))
    assert res.log.rows[0]["stage1_loss"] == pytest.approx(full, rel=1e-12)


def test_the_null_optimiser_leaves_the_weights_and_computes_no_gradient(monkeypatch):
    spec = small_spec("optimizer=none", "steps=3")
    built = build_run(spec, CPU, F64)

    def fail(*args, **kwargs):
        raise AssertionError("the null optimiser asked for a gradient")

    monkeypatch.setattr(type(built.dynamics.model), "loss_and_grad", fail)
    g = gradient(built.initial, built.dynamics, built.data.train)
    assert not g.full and all(not G.any() for G in g.grads.values())
    res = run(spec)
    rows = pd.DataFrame(res.log.rows)
    assert (rows["delta_w_frobenius"] == 0).all() and (rows.loc[rows.step > 0, "update_frobenius"] == 0).all()
    assert rows["stage1_loss"].nunique() == 1  # W never moves


@pytest.mark.parametrize(
    "override,field",
    [("optimizer.batch_size=0", "optimizer.batch_size: must be an integer >= 1"),
     ("optimizer.batch_size=301", "optimizer.batch_size: must be <= data.n=300, got 301")],
)  # fmt: skip
def test_bad_batch_sizes(override, field):
    from htsweep.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        small_spec("optimizer=sgd", override)
    assert str(info.value).startswith(field)
