"""Spiked inputs (seed 001), the multi-index target and the spiked covariance (seed 003): the
law, the latent z, the spike direction, the target normalisation and the labels per loss."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.activations import Activation, value
from htsweep.data.labels import Labels, incompatibility, natural
from htsweep.data.spiked import MultiIndexConfig, SpikeDirection, SpikedConfig, TargetNorm, make
from htsweep.data.spiked_cov import SpikedCovConfig
from htsweep.data.spiked_cov import make as make_cov


def test_inputs_are_bulk_plus_spike_with_the_latent_kept():
    """X = X_B + zeta z q^T exactly (the decomposition's premise) and X_B has the diagonal
    covariance diag(i^-alpha): the residual after removing the spike is X's own sampler."""
    cfg = SpikedConfig(n=3000, n_test=10, d=12, alpha=0.8, nu=0.25, label_noise_std=0.0)
    data = make(cfg, seed=0)
    law, X, z = data.law, data.train.X, data.train.z
    assert law.zeta == pytest.approx(3000**0.25, rel=1e-14)
    assert abs(float(torch.linalg.vector_norm(law.q)) - 1.0) < 1e-14
    XB = X - law.zeta * torch.outer(z, law.q)
    lam = torch.arange(1, 13, dtype=torch.float64) ** -0.8
    assert torch.allclose(law.bulk_var, lam, rtol=1e-15)
    cov_B = XB.T @ XB / X.shape[0]
    assert torch.allclose(torch.diagonal(cov_B), lam, rtol=0.08)  # 3000 samples: ~2.6% per entry
    assert float((cov_B - torch.diag(torch.diagonal(cov_B))).abs().max()) < 0.08
    assert abs(float(z.std()) - 1.0) < 0.05 and abs(float(torch.corrcoef(torch.stack([z, XB[:, 0]]))[0, 1])) < 0.06


def test_empirical_covariance_matches_the_law():
    cfg = SpikedConfig(n=20000, n_test=10, d=6, alpha=0.5, zeta=2.0, label_noise_std=0.0)
    data = make(cfg, seed=1)
    X = data.train.X
    emp = X.T @ X / X.shape[0]
    assert torch.allclose(emp, data.law.covariance(), atol=0.12)
    W = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    quad = data.law.quadratic_form(W)
    assert torch.allclose(quad, torch.einsum("jd,de,je->j", W, data.law.covariance(), W), rtol=1e-13)


@pytest.mark.parametrize("rho", [-0.6, 0.0, 0.3, 1.0])
def test_spike_direction_at_a_given_overlap_with_beta(rho):
    data = make(SpikedConfig(n=10, n_test=5, d=50, q_beta_overlap=rho), seed=2)
    assert float(torch.dot(data.law.q, data.beta)) == pytest.approx(rho, abs=1e-13)
    assert float(torch.linalg.vector_norm(data.law.q)) == pytest.approx(1.0, abs=1e-14)
    aligned = make(SpikedConfig(n=10, n_test=5, d=50, q=SpikeDirection.beta), seed=2)
    assert torch.equal(aligned.law.q, aligned.beta)


def test_target_norm_std_divides_by_the_std_of_beta_x():
    cfg = SpikedConfig(n=500, n_test=5, d=20, zeta=5.0, q=SpikeDirection.beta, teacher=Activation.identity,
                       label_noise_std=0.0, target_norm=TargetNorm.std)  # fmt: skip
    data = make(cfg, seed=3)
    beta = data.beta
    expected = data.train.X @ beta / math.sqrt(float(beta @ data.law.covariance() @ beta))
    assert torch.allclose(data.train.y, expected, rtol=1e-13)
    assert float(beta @ data.law.covariance() @ beta) == pytest.approx(1.0 + 25.0, rel=1e-12)  # q = beta


def test_same_seed_same_data_and_splits_independent():
    a = make(SpikedConfig(n=50, n_test=5, d=10), seed=4)
    b = make(SpikedConfig(n=50, n_test=9, d=10), seed=4)
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.train.y, b.train.y) and torch.equal(a.law.q, b.law.q)
    assert not torch.equal(a.train.z, a.holdout.z)


def test_multi_index_target_is_the_sum_of_its_links():
    cfg = MultiIndexConfig(n=200, n_test=5, d=30, label_noise_std=0.0)
    data = make(cfg, seed=5)
    assert data.betas.shape == (3, 30) and torch.equal(data.betas[0], data.beta)
    X = data.train.X
    expected = sum(value(a, X @ b) for a, b in zip(cfg.teachers, data.betas))
    assert torch.allclose(data.train.y, expected, rtol=1e-13)


def test_spiked_cov_is_identity_plus_kappa_mu_mu():
    cfg = SpikedCovConfig(n=30000, n_test=5, d=8, r=0.5)
    data = make_cov(cfg, seed=6)
    kappa = 8**0.5
    assert data.law.zeta**2 == pytest.approx(kappa, rel=1e-13) and torch.equal(data.law.q, data.beta)
    X = data.train.X
    expected = torch.eye(8, dtype=torch.float64) + kappa * torch.outer(data.beta, data.beta)
    assert torch.allclose(X.T @ X / X.shape[0], expected, atol=0.1)
    tilted = make_cov(SpikedCovConfig(n=10, n_test=5, d=40, mu_beta_overlap=0.5), seed=6)
    assert float(tilted.law.q @ tilted.beta) == pytest.approx(0.5, abs=1e-13)


def test_labels_per_loss():
    cfg = SpikedConfig(n=4000, n_test=5, d=10, teacher=Activation.sigmoid)
    soft = make(SpikedConfig(**{**cfg.__dict__, "labels": Labels.soft}), seed=7)
    bern = make(cfg, seed=7, loss_name="bce")
    sign = make(cfg, seed=7, loss_name="hinge")
    real = make(cfg, seed=7, loss_name="mse")
    s = soft.train.y
    assert bool(((s > 0) & (s < 1)).all())
    assert set(bern.train.y.unique().tolist()) == {0.0, 1.0}
    assert abs(float(bern.train.y.mean() - s.mean())) < 0.03  # Bernoulli(s): E[y] = E[s]
    assert set(sign.train.y.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(sign.train.y, torch.where(s > 0.5, 1.0, -1.0).to(s.dtype))  # threshold sigmoid(0)
    assert abs(float(sign.train.y.mean())) < 0.05  # balanced classes
    assert abs(float((real.train.y - s).std()) - 1.0) < 0.05  # tau = 1 Gaussian noise
    assert natural("mse") is Labels.real and natural("bce") is Labels.bernoulli and natural("hinge") is Labels.sign


def test_incompatible_labels_are_named():
    assert incompatibility(Labels.real, "hinge", (Activation.sigmoid,))[0] == "data.labels"
    assert incompatibility(Labels.auto, "bce", (Activation.softplus,))[0] == "data.teacher"
    assert incompatibility(Labels.auto, "bce", (Activation.sigmoid,)) is None
    assert incompatibility(Labels.sign, "mse", (Activation.relu,)) is None
