"""htsweep.spectral.conv (matricising a convolution) against numpy on each matrix, and the
pooled fits of esd_report: the MP law of one slice, the Tracy-Widom edge, tiny and broken
ESDs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.spectral import MarchenkoPastur, esd_report
from htsweep.spectral.conv import ConvMatrix, as_matrix, layer_eigenvalues, matricise
from htsweep.spectral.report import fit_status


def conv_weight(out: int, inp: int, k: int = 3, std: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return std * torch.randn(out, inp, k, k, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("out,inp", [(16, 8), (8, 16), (12, 12)])
def test_pooled_slices_are_the_union_of_each_slices_eigenvalues(out, inp):
    W = conv_weight(out, inp)
    eigs, m = layer_eigenvalues(W, ConvMatrix.slices)
    assert (m.kind, m.rows, m.cols, m.count) == ("slices", out, inp, 9)
    expected = []
    for i in range(3):
        for j in range(3):
            S = W[:, :, i, j].numpy()
            e = np.linalg.eigvalsh(S.T @ S)  # in x in: |in - out| structural zeros when in > out
            expected.append(e[len(e) - min(out, inp):])
    expected = np.sort(np.concatenate(expected))
    assert eigs.dtype == torch.float64 and eigs.numel() == 9 * min(out, inp) == m.n_eigs
    assert np.all(np.diff(eigs.numpy()) >= 0)
    np.testing.assert_allclose(eigs.numpy(), expected, rtol=1e-10, atol=1e-12 * expected.max())


@pytest.mark.parametrize("out,inp", [(16, 8), (4, 8)])
def test_reshape_is_the_out_by_in_k_k_matrix(out, inp):
    W = conv_weight(out, inp)
    eigs, m = layer_eigenvalues(W, "reshape")
    R = W.reshape(out, -1).numpy()
    assert (m.kind, m.rows, m.cols, m.count) == ("reshape", out, inp * 9, 1)
    e = np.linalg.eigvalsh(R @ R.T)[-min(R.shape):]
    np.testing.assert_allclose(eigs.numpy(), np.sort(e), rtol=1e-10, atol=1e-12 * e.max())
    assert torch.equal(as_matrix(W), W.reshape(out, -1))


@pytest.mark.parametrize("mode", ["slices", "reshape"])
def test_both_matricisations_carry_the_frobenius_mass(mode):
    """sum of the eigenvalues = ||W||_F^2 for either matricisation (WeightWatcher parity: the
    pooled slices of a Conv2d(32, 64, 3) spread the same mass over more, smaller eigenvalues)."""
    torch.manual_seed(0)
    W = torch.nn.Conv2d(32, 64, 3).weight.detach()
    eigs, _ = layer_eigenvalues(W, mode)
    fro2 = float((W.double() ** 2).sum())
    assert float(eigs.sum()) == pytest.approx(fro2, rel=1e-13)
    slices, _ = layer_eigenvalues(W, "slices")
    reshape, _ = layer_eigenvalues(W, "reshape")
    assert slices.numel() == 9 * 32 and reshape.numel() == 64
    assert float(slices.max()) < 0.5 * float(reshape.max())  # measured 0.212 vs 0.724


def test_a_2d_weight_is_its_own_matrix():
    W = torch.randn(10, 32, dtype=torch.float64)
    m = matricise(W, "slices")
    assert (m.kind, m.rows, m.cols, m.count) == ("matrix", 10, 32, 1)
    eigs, _ = layer_eigenvalues(W, "reshape")
    np.testing.assert_allclose(eigs.numpy(), np.linalg.eigvalsh(W.numpy() @ W.numpy().T), rtol=1e-10, atol=1e-12)


def test_float32_weights_are_decomposed_in_float64():
    W = conv_weight(16, 8).to(torch.float32)
    eigs, _ = layer_eigenvalues(W, "slices")
    ref, _ = layer_eigenvalues(W.to(torch.float64), "slices")
    assert eigs.dtype == torch.float64
    torch.testing.assert_close(eigs, ref, rtol=1e-12, atol=1e-14)


def test_the_largest_slice_eigenvalue_sits_at_the_mp_edge_of_the_init_law():
    """64x64x3x3, entries N(0, sigma^2): the pooled ESD's largest eigenvalue (the largest of 9
    slices' largest) lies within a few Tracy-Widom widths of the TW centre of one 64 x 64
    slice (measured -1.2 ... 1.6 widths over these 20 draws, mean 0.2: the maximum of 9 TW_1
    draws, whose mean is -1.2); the fitted scale recovers sigma^2, and the per-slice 99% margin
    is exceeded rarely (1 - 0.99^9 = 9% of draws expected; measured 0 of 20)."""
    sigma = 0.05
    mp = MarchenkoPastur(64, 64, sigma**2)
    z, clean = [], 0
    for seed in range(20):
        eigs, m = layer_eigenvalues(conv_weight(64, 64, std=sigma, seed=seed), "slices")
        z.append((float(eigs.max()) - mp.tw_center) / mp.tw_scale)
        report = esd_report(eigs, m.rows, m.cols, count=m.count)
        assert report.mp.sigma2 == pytest.approx(sigma**2, rel=0.03)
        assert report.mp.lambda_plus == pytest.approx(mp.lambda_plus, rel=0.03)
        clean += mp.num_spikes(eigs) == 0
    assert -4.0 < min(z) and max(z) < 4.0
    assert -1.0 < float(np.mean(z)) < 1.5
    assert clean >= 16


def test_pooled_phase_of_a_random_convolution_is_random_like():
    """The pooled bulk misfit sqrt(count) N KS keeps the single-matrix null (htsweep.spectral.phases):
    9 slices of 128 x 64, measured 1.7-3.5 over 20 draws; 18 of them random-like, 2 bleeding-out
    (a slice's largest eigenvalue past its own 99% TW margin: 9% of draws expected)."""
    labels = []
    for seed in range(6):
        eigs, m = layer_eigenvalues(conv_weight(128, 64, std=0.02, seed=seed), "slices")
        report = esd_report(eigs, m.rows, m.cols, count=m.count)
        assert report.phase.bulk_ks_n < 6.0
        labels.append(report.phase.phase.value)
    assert labels.count("random-like") >= 5, labels


def test_a_pooled_esd_needs_count_times_min_eigenvalues():
    eigs, m = layer_eigenvalues(conv_weight(16, 8), "slices")
    with pytest.raises(ValueError, match="9 \\* min"):
        esd_report(eigs[:20], m.rows, m.cols, count=m.count)


def test_tiny_empty_and_non_finite_esds_are_reported_not_raised():
    W = torch.randn(10, 512, dtype=torch.float64)
    eigs, m = layer_eigenvalues(W, "slices")
    assert fit_status(eigs, 20) == "too_small: 10 eigenvalues" and fit_status(eigs, 10) == "ok"
    r = esd_report(eigs, m.rows, m.cols, min_eigs=20)
    row = r.as_row()
    assert r.status == "too_small: 10 eigenvalues"
    for col in ("pl_alpha_hill", "pl_alpha_ks", "pl_alpha_ks_xmin", "mp_fit_sigma2", "esd_bulk_ks_n", "alpha_weighted"):
        assert math.isnan(row[col]), col
    assert row["esd_phase"] is None and row["mp_fit_num_spikes"] == 0
    assert row["lambda_max"] == pytest.approx(float(eigs.max()), rel=1e-15)
    assert row["lambda_sum"] == pytest.approx(float((W**2).sum()), rel=1e-12)
    assert math.isfinite(row["stable_rank"])
    empty = esd_report(torch.zeros(0, dtype=torch.float64), 0, 5)
    assert empty.status == "empty" and math.isnan(empty.as_row()["lambda_max"])
    bad = esd_report(torch.tensor([1.0, float("nan"), 2.0]), 3, 5)
    assert bad.status == "non_finite: 1 eigenvalues" and bad.as_row()["esd_phase"] is None
    # without a minimum a 10-eigenvalue ESD is fitted as before
    assert esd_report(eigs, m.rows, m.cols).status == "ok"


@pytest.mark.parametrize("shape", [(16, 8, 3, 3), (4, 8, 1, 5), (10, 32), (6, 4, 5)])
@pytest.mark.parametrize("mode", ["slices", "reshape"])
def test_matrix_shape_is_what_matricise_builds(shape, mode):
    from htsweep.spectral.conv import matrix_shape

    m = matricise(torch.zeros(shape), mode)
    assert matrix_shape(torch.zeros(shape), mode) == (m.kind, m.rows, m.cols, m.count)
    assert m.matrices.shape == (m.count, m.rows, m.cols)
