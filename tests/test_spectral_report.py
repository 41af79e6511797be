"""The per-step composition: esd_report / step_analysis agree with the individual functions,
and the ESD helpers agree with each other."""

from __future__ import annotations

import math

import pytest
import torch

from htsweep.spectral import (
    ESDPhase,
    MarchenkoPastur,
    alpha_hill,
    alpha_ks,
    esd_eigenvalues,
    esd_report,
    fit_mp,
    norm_metrics,
    singular_vector_overlaps,
    spectrum,
    spectrum_from_svd,
    step_analysis,
    thin_svd,
)
from spectral_helpers import gaussian, rank_one, single_thread, unit  # noqa: F401


@pytest.mark.parametrize("h,d", [(90, 60), (60, 90)])
def test_spectrum_and_thin_svd_agree(h, d):
    W = gaussian(h, d, 0) + rank_one(h, d, 30.0, 0)
    a, b = spectrum(W), spectrum_from_svd(thin_svd(W))
    torch.testing.assert_close(a.eigs, b.eigs, rtol=1e-10, atol=1e-9)
    assert abs(float(torch.dot(a.v1, b.v1))) == pytest.approx(1.0, abs=1e-10)


def test_esd_report_is_the_sum_of_its_parts():
    h, d = 300, 200
    W = gaussian(h, d, 1) + rank_one(h, d, 4 * MarchenkoPastur(h, d).bbp_threshold, 1)
    e = thin_svd(W).eigs
    r = esd_report(e, h, d)
    assert r.hill == alpha_hill(e)
    assert r.ks == alpha_ks(e)
    assert r.mp == fit_mp(e, h, d)
    assert r.norms == norm_metrics(e, alpha=r.ks.alpha)
    assert r.phase.phase is ESDPhase.bulk_spikes
    row = r.as_row()
    for col in [
        "pl_alpha_hill",
        "pl_alpha_ks",
        "pl_alpha_ks_xmin",
        "pl_alpha_ks_distance",
        "pl_alpha_ks_n_tail",
        "pl_alpha_ks_stderr",
        "mp_fit_num_spikes",
        "mp_fit_bulk_max",
        "mp_fit_spectral_gap",
        "mp_fit_ks_distance",
        "lambda_max",
        "stable_rank",
        "alpha_weighted",
        "matrix_entropy",
        "esd_phase",
    ]:
        assert col in row, col
    assert row["mp_fit_num_spikes"] == 1 and row["esd_phase"] == "bulk+spikes"


def test_step_analysis_with_update():
    h, d = 120, 80
    g = torch.Generator().manual_seed(0)
    beta = unit(d, g)
    W0 = gaussian(h, d, 2)
    M = 8.0 * math.sqrt(h) * torch.outer(unit(h, g), beta)
    G = -M
    W1 = W0 + M
    sa = step_analysis(W1, M_prev=M, G_prev=G, beta=beta, k=4)
    assert sa.esd.phase.phase is ESDPhase.bulk_spikes
    assert sa.overlaps.right.top_pair > 0.9 and sa.update.update_beta_alignment > 0.999
    assert sa.overlaps.left == singular_vector_overlaps(W1, M, k=4).left
    row = sa.as_row()
    assert {"overlap_v_top_pair", "overlap_u_max_offdiag", "update_beta_alignment", "grad_sv_0"} <= set(row)
    no_grad = step_analysis(W1, M_prev=M, beta=beta)
    assert no_grad.update.grad_top == () and no_grad.update.update_top == sa.update.update_top
    # without an update only the ESD part is there
    bare = step_analysis(W0)
    assert bare.overlaps is None and bare.update is None
    assert bare.esd.phase.phase is ESDPhase.random_like


def test_float32_esd_is_close_enough_for_the_fits():
    h, d = 300, 200
    W = gaussian(h, d, 5) + rank_one(h, d, 4 * MarchenkoPastur(h, d).bbp_threshold, 5)
    e64 = esd_eigenvalues(W)
    e32 = esd_eigenvalues(W, torch.float32)
    assert e32.dtype == torch.float64
    torch.testing.assert_close(e32, e64, rtol=0, atol=1e-5 * float(e64[-1]))
    assert esd_report(e32, h, d).ks.alpha == pytest.approx(esd_report(e64, h, d).ks.alpha, rel=1e-3)
