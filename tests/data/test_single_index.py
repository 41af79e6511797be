"""Single-index data (eq. 1): labels, noise, the teacher, independent split streams."""

from __future__ import annotations

import torch

from htsweep.activations import Activation
from htsweep.data.single_index import SingleIndexConfig, make


def test_labels_follow_eq1_and_beta_on_sphere():
    cfg = SingleIndexConfig(n=500, n_test=50, d=40, teacher=Activation.softplus, label_noise_std=0.0)
    data = make(cfg, seed=4)
    assert abs(float(torch.linalg.vector_norm(data.beta)) - 1.0) < 1e-14
    expected = torch.nn.functional.softplus(data.train.X @ data.beta)
    assert torch.allclose(data.train.y, expected, rtol=0, atol=1e-14)
    assert data.d == 40 and data.train.m == 500 and data.holdout.m == 500 and data.test.m == 50


def test_label_noise_has_the_requested_std():
    clean = make(SingleIndexConfig(n=20000, n_test=10, d=5, label_noise_std=0.0), seed=1)
    noisy = make(SingleIndexConfig(n=20000, n_test=10, d=5, label_noise_std=0.7), seed=1)
    xi = noisy.train.y - clean.train.y
    assert abs(float(xi.std()) - 0.7) < 0.02
    assert torch.equal(clean.train.X, noisy.train.X)  # the noise level does not move the inputs


def test_splits_are_independent_streams():
    a = make(SingleIndexConfig(n=100, n_test=10, d=8), seed=2)
    b = make(SingleIndexConfig(n=100, n_test=99, d=8), seed=2)
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.holdout.X, b.holdout.X)
    assert not torch.equal(a.train.X, a.holdout.X)
    c = make(SingleIndexConfig(n=100, n_test=10, d=8), seed=3)
    assert not torch.equal(a.train.X, c.train.X)


def test_inputs_are_standard_gaussian():
    data = make(SingleIndexConfig(n=4000, n_test=10, d=50), seed=0)
    X = data.train.X
    assert abs(float(X.mean())) < 0.01
    cov = X.T @ X / X.shape[0]
    assert torch.allclose(cov, torch.eye(50, dtype=cov.dtype), atol=0.08)


def test_to_moves_every_split_and_the_teacher():
    data = make(SingleIndexConfig(n=10, n_test=5, d=3), seed=0).to(torch.device("cpu"), torch.float32)
    assert data.beta.dtype == torch.float32
    assert {s.X.dtype for s in (data.train, data.holdout, data.test)} == {torch.float32}
