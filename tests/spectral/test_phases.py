"""Martin & Mahoney phase labels: the rule of htsweep/spectral/phases.py on synthetic spectra of
known phase (each family labelled correctly in >= 95% of seeds at two sizes), its branches on
hand-set scores, its margin, and the trimmed Hill estimator against a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htsweep.spectral import (
    ESDPhase,
    MarchenkoPastur,
    PhaseThresholdError,
    PhaseThresholds,
    classify_phase,
    decide,
    trimmed_hill,
)
from tests.spectral.helpers import esd, gaussian, rank_one, single_thread, student_t  # noqa: F401

SEEDS = 20


def _family(name: str, h: int, d: int, seed: int) -> torch.Tensor:
    """W (h x d, float64) of a family with a known phase."""
    g = torch.Generator().manual_seed(50_000 + seed)
    G = gaussian(h, d, seed)
    if name == "mp":
        return G
    if name == "spikes":  # 3 rank-one terms at 2.5, 3.5, 4.5 x the BBP strength (h d)^(1/4)
        return G + sum(rank_one(h, d, (2.5 + i) * (h * d) ** 0.25, 100 * seed + i) for i in range(3))
    if name == "decay":  # column variances exp(0.3 Z): a generalised MP law whose edge decays smoothly
        return G * torch.exp(0.15 * torch.randn(d, generator=g, dtype=torch.float64))[None, :]
    if name == "t2.5":  # i.i.d. entries with tail index mu = 2.5 (moderately heavy-tailed)
        return student_t(h, d, 2.5, seed)
    if name == "t1.5":  # mu = 1.5 (very heavy-tailed)
        return student_t(h, d, 1.5, seed)
    if name == "rank":  # rank N / 20
        r = max(2, min(h, d) // 20)
        return torch.randn(h, r, generator=g, dtype=torch.float64) @ torch.randn(r, d, generator=g, dtype=torch.float64)
    raise KeyError(name)


EXPECTED = {
    "mp": ESDPhase.random_like,
    "spikes": ESDPhase.bulk_spikes,
    "decay": ESDPhase.bulk_decay,
    "t2.5": ESDPhase.heavy_tailed,
    "t1.5": ESDPhase.heavy_tailed,
    "rank": ESDPhase.rank_collapse,
}


def _labels(name, h, d):
    return [classify_phase(esd(_family(name, h, d, s)), h, d).phase for s in range(SEEDS)]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_family_gets_its_phase_at_n_500(name):
    labels = _labels(name, 750, 500)
    hits = sum(lab is EXPECTED[name] for lab in labels)
    assert hits >= 0.95 * SEEDS, (name, [lab.value for lab in labels])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_family_gets_its_phase_at_n_1000(name):
    labels = _labels(name, 1500, 1000)
    hits = sum(lab is EXPECTED[name] for lab in labels)
    assert hits >= 0.95 * SEEDS, (name, [lab.value for lab in labels])


@pytest.mark.parametrize("h,d", [(300, 200), (200, 300), (600, 400)])
def test_weak_rank_one_is_bleeding_out(h, d):
    # 1.5x the BBP strength: an outlier ~1.1-1.2 lambda_+, beyond the TW margin, below 1.5 lambda_+
    theta = 1.5 * MarchenkoPastur(h, d).bbp_threshold
    for seed in range(3):
        r = classify_phase(esd(gaussian(h, d, seed) + rank_one(h, d, theta, seed)), h, d)
        assert r.phase is ESDPhase.bleeding_out, r
        assert r.num_outliers >= 1 and r.num_separated == 0


def test_very_heavy_tail_exponent_matches_theory():
    """Martin & Mahoney: i.i.d. entries with mu < 2 give an ESD tail alpha = 1 + mu / 2 (1.75)."""
    alphas = [classify_phase(esd(student_t(750, 500, 1.5, s)), 750, 500).tail_alpha for s in range(5)]
    assert 1.5 < float(np.median(alphas)) < 2.2, alphas


def _brute_trimmed_hill(x: np.ndarray, k: int, k0: int) -> float:
    """Bhattacharya, Kallitsis & Stoev (2019), eq. 2.2, term by term (1-based order statistics)."""
    xs = sorted(x, reverse=True)
    X = lambda i: xs[i - 1]  # noqa: E731
    xi = (k0 + 1) / (k - k0) * math.log(X(k0 + 1) / X(k + 1))
    for i in range(k0 + 2, k + 1):
        xi += math.log(X(i) / X(k + 1)) / (k - k0)
    return 1 + 1 / xi


def test_trimmed_hill_matches_the_formula_and_hill():
    rng = np.random.default_rng(0)
    x = rng.pareto(2.0, size=500) + 1.0  # density exponent 3
    for k, k0 in [(50, 0), (50, 5), (200, 10), (10, 9)]:
        assert trimmed_hill(torch.from_numpy(x), k, k0) == pytest.approx(_brute_trimmed_hill(x, k, k0), rel=1e-12)
    # k0 = 0 is Hill's estimator: alpha = 1 + k / sum ln(x_i / x_{k+1})
    xs = np.sort(x)[::-1]
    assert trimmed_hill(torch.from_numpy(x), 100, 0) == pytest.approx(1 + 100 / np.log(xs[:100] / xs[100]).sum())
    # consistent on a pure power law (density exponent 3), and blind to the trimmed top values
    assert 2.6 < trimmed_hill(torch.from_numpy(x), 100, 5) < 3.4
    y = x.copy()
    y[np.argsort(y)[-5:]] *= 1e6
    assert trimmed_hill(torch.from_numpy(y), 100, 5) == pytest.approx(trimmed_hill(torch.from_numpy(x), 100, 5))
    assert math.isnan(trimmed_hill(torch.ones(5, dtype=torch.float64), 10, 2))
    with pytest.raises(ValueError, match="k0"):
        trimmed_hill(torch.from_numpy(x), 10, 10)


def _scores(**kw):
    s = dict(rank_collapse=0.0, outlier=0.9, spike=0.5, decay=0.5, dominant=0.2, heavy=0.8)
    s.update(kw)
    return s


@pytest.mark.parametrize(
    "scores,phase",
    [
        (_scores(), ESDPhase.random_like),
        (_scores(outlier=1.1), ESDPhase.bleeding_out),
        (_scores(outlier=3.0, spike=2.0), ESDPhase.bulk_spikes),
        (_scores(outlier=3.0, spike=2.0, decay=1.5), ESDPhase.bulk_decay),
        (_scores(outlier=30.0, spike=20.0, decay=1.5, dominant=6.0), ESDPhase.bulk_spikes),
        (_scores(outlier=3.0, spike=2.0, decay=1.5, heavy=1.2), ESDPhase.heavy_tailed),
        (_scores(outlier=30.0, spike=20.0, decay=1.5, dominant=6.0, heavy=1.2), ESDPhase.heavy_tailed),
        (_scores(heavy=2.0), ESDPhase.random_like),  # a heavy tail needs a non-MP bulk
        (_scores(decay=1.5, heavy=math.nan), ESDPhase.bulk_decay),  # no tail estimate: not heavy
        (_scores(rank_collapse=1.0, decay=5.0, heavy=3.0), ESDPhase.rank_collapse),
    ],
)
def test_decision_branches(scores, phase):
    assert decide(scores)[0] is phase


ORDER = [ESDPhase.random_like, ESDPhase.bleeding_out, ESDPhase.bulk_spikes, ESDPhase.bulk_decay, ESDPhase.heavy_tailed]


@pytest.mark.parametrize("name,up", [("outlier", True), ("spike", True), ("decay", True), ("heavy", True), ("dominant", False)])
def test_label_is_monotone_in_each_score(name, up):
    """Raising one score never moves the label back along random-like < ... < heavy-tailed
    (``dominant`` is the documented exception: it can only move it back, to bulk+spikes)."""
    rng = np.random.default_rng(1)
    grid = np.exp(np.linspace(-2, 2, 41))
    for _ in range(200):
        base = {k: float(np.exp(rng.uniform(-1.5, 1.5))) for k in ("outlier", "spike", "decay", "dominant", "heavy")}
        base["rank_collapse"] = 0.0
        base["spike"] = min(base["spike"], base["outlier"] * 3)
        ranks = [ORDER.index(decide({**base, name: float(v)})[0]) for v in grid]
        steps = np.diff(ranks)
        assert (steps >= 0).all() if up else (steps <= 0).all(), (name, base, ranks)


def test_margin_is_the_closest_criterion():
    h, d = 750, 500
    W = gaussian(h, d, 3) + rank_one(h, d, 4.0 * (h * d) ** 0.25, 3)
    r = classify_phase(esd(W), h, d)
    assert r.phase is ESDPhase.bulk_spikes
    assert r.path == ("rank_collapse", "decay", "outlier", "spike")
    expected = min(abs(math.log(r.scores[k])) for k in r.path if r.scores[k] > 0)
    assert r.margin == pytest.approx(expected)
    # moving the closest threshold onto the input gives margin 0 and can flip the label
    closest = min((k for k in r.path if r.scores[k] > 0), key=lambda k: abs(math.log(r.scores[k])))
    assert closest == "decay"
    at = PhaseThresholds(decay_ks_n=r.bulk_ks_n)
    assert classify_phase(esd(W), h, d, at).margin == pytest.approx(0.0, abs=1e-12)
    assert classify_phase(esd(W), h, d, PhaseThresholds(decay_ks_n=0.9 * r.bulk_ks_n)).phase is ESDPhase.bulk_decay


def test_row_has_the_scores_and_inputs():
    h, d = 300, 200
    row = classify_phase(esd(student_t(h, d, 1.5, 0)), h, d).as_row()
    assert row["esd_phase"] == "heavy-tailed"
    for k in ("rank_collapse", "outlier", "spike", "decay", "dominant", "heavy"):
        assert f"esd_phase_score_{k}" in row
    assert row["esd_phase_score_decay"] == pytest.approx(row["esd_bulk_ks_n"] / 6.0)
    assert row["esd_phase_score_heavy"] == pytest.approx(5.1 / row["esd_tail_alpha"])
    assert row["esd_phase_margin"] >= 0


def test_low_rank_is_rank_collapse():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(300, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 200, generator=g, dtype=torch.float64)
    r = classify_phase(esd(W), 300, 200)
    assert r.phase is ESDPhase.rank_collapse and r.zero_fraction > 0.9


@pytest.mark.parametrize(
    "field,value",
    [
        ("tw_level", 0.98),
        ("bulk_trim", 0.5),
        ("decay_ks_n", 0.0),
        ("spike_ratio", 0.9),
        ("dominant_gap", 1.2),
        ("heavy_tail_alpha", 1.0),
        ("tail_fraction", 1.0),
        ("tail_trim", 0.2),
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
