"""Martin & Mahoney phase labels from the documented thresholds."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from htsweep.spectral import (
    ESDPhase,
    MarchenkoPastur,
    PhaseThresholdError,
    PhaseThresholds,
    PowerLawFit,
    classify_phase,
    fit_mp,
)
from tests.spectral.helpers import esd, gaussian, rank_one, single_thread, student_t  # noqa: F401

SHAPES = [(300, 200), (200, 300), (250, 250), (600, 400)]


@pytest.mark.parametrize("h,d", SHAPES)
def test_gaussian_is_random_like(h, d):
    for seed in range(3):
        assert classify_phase(esd(gaussian(h, d, seed)), h, d).phase is ESDPhase.random_like


@pytest.mark.parametrize("h,d", SHAPES)
def test_gaussian_plus_strong_rank_one_is_bulk_plus_spikes(h, d):
    theta = 4.0 * MarchenkoPastur(h, d).bbp_threshold
    for seed in range(3):
        r = classify_phase(esd(gaussian(h, d, seed) + rank_one(h, d, theta, seed)), h, d)
        assert r.phase is ESDPhase.bulk_spikes, r
        assert r.num_outliers == 1 and r.num_separated == 1


@pytest.mark.parametrize("h,d", SHAPES)
def test_gaussian_plus_weak_rank_one_is_bleeding_out(h, d):
    # 1.5x the BBP strength: an outlier ~1.1-1.2 lambda_+, beyond the TW margin, below 1.5 lambda_+
    theta = 1.5 * MarchenkoPastur(h, d).bbp_threshold
    for seed in range(3):
        r = classify_phase(esd(gaussian(h, d, seed) + rank_one(h, d, theta, seed)), h, d)
        assert r.phase is ESDPhase.bleeding_out, r


@pytest.mark.parametrize("h,d", SHAPES)
def test_student_t_entries_are_heavy_tailed(h, d):
    for seed in range(3):
        r = classify_phase(esd(student_t(h, d, 1.5, seed)), h, d)
        assert r.phase is ESDPhase.heavy_tailed, r
        assert 1.3 < r.alpha < 2.5  # Martin & Mahoney: alpha ~ 1 + mu / 2 = 1.75 for mu < 2


def test_low_rank_is_rank_collapse():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(300, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 200, generator=g, dtype=torch.float64)
    r = classify_phase(esd(W), 300, 200)
    assert r.phase is ESDPhase.rank_collapse and r.zero_fraction > 0.9


def _fit(alpha: float) -> PowerLawFit:
    return PowerLawFit(alpha=alpha, xmin=1.0, D=0.05, n_tail=100)


def test_decision_rule_branches():
    """The rule of phases.py on hand-set inputs: MP-like or not x outliers x alpha."""
    h, d = 300, 200
    e = esd(gaussian(h, d, 1))
    mp = fit_mp(e, h, d)
    assert mp.num_spikes == 0
    non_mp = dataclasses.replace(mp, ks_distance=0.2)
    assert classify_phase(e, h, d, mp=non_mp, power_law=_fit(3.0)).phase is ESDPhase.heavy_tailed
    assert classify_phase(e, h, d, mp=non_mp, power_law=_fit(4.5)).phase is ESDPhase.bulk_decay
    assert classify_phase(e, h, d, mp=non_mp, power_law=_fit(math.nan)).phase is ESDPhase.bulk_decay
    th = PhaseThresholds(heavy_tail_alpha=5.0)
    assert classify_phase(e, h, d, th, mp=non_mp, power_law=_fit(4.5)).phase is ESDPhase.heavy_tailed
    # the KS threshold is max(mp_ks_max, mp_ks_per_n / N)
    edge = dataclasses.replace(mp, ks_distance=0.035)
    assert classify_phase(e, h, d, mp=edge, power_law=_fit(9.0)).phase is ESDPhase.random_like  # 8/200 = 0.04
    th = PhaseThresholds(mp_ks_per_n=0.0)
    assert classify_phase(e, h, d, th, mp=edge, power_law=_fit(9.0)).phase is ESDPhase.bulk_decay


def test_thresholds_are_used():
    h, d = 300, 200
    e = esd(student_t(h, d, 1.5, 0))
    assert classify_phase(e, h, d).phase is ESDPhase.heavy_tailed
    # accept any bulk as MP-like: the same spectrum now reads as a bulk with spikes
    loose = PhaseThresholds(mp_ks_max=1.0)
    assert classify_phase(e, h, d, loose).phase is ESDPhase.bulk_spikes
    # Hill on the same spectrum also sees the heavy tail
    assert classify_phase(e, h, d, PhaseThresholds(alpha_source="hill")).phase is ESDPhase.heavy_tailed


@pytest.mark.parametrize(
    "field,value",
    [
        ("tw_level", 0.98),
        ("bulk_trim", 0.5),
        ("mp_ks_max", 0.0),
        ("mp_ks_per_n", -1.0),
        ("spike_ratio", 0.9),
        ("heavy_tail_alpha", 1.0),
        ("alpha_source", "kuiper"),
        ("min_tail_fraction", 1.0),
        ("zero_rtol", 0.0),
        ("rank_collapse_fraction", 0.0),
    ],
)
def test_thresholds_validate(field, value):
    """A bad threshold raises PhaseThresholdError (a ValueError) naming the field, not where
    the thresholds sit in a configuration; the default of every field is valid."""
    with pytest.raises(PhaseThresholdError) as info:
        PhaseThresholds(**{field: value})
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field_name == field
    assert str(err).startswith(f"{field}: ") and str(value) in err.message
    assert "probe." not in str(err)
    default = getattr(PhaseThresholds(), field)
    assert PhaseThresholds(**{field: default}) == PhaseThresholds()


def test_phase_values_are_the_paper_names():
    assert [p.value for p in ESDPhase] == [
        "random-like",
        "bleeding-out",
        "bulk+spikes",
        "bulk-decay",
        "heavy-tailed",
        "rank-collapse",
    ]
