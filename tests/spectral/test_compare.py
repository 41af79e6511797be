"""htsweep.spectral.compare: the Jensen-Shannon distance of two ESDs on a shared log binning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from htsweep.spectral import esd_eigenvalues
from htsweep.spectral.compare import ZERO_RTOL, default_bins, esd_histograms, js_distance, shared_log_bins


def _esd(h: int, d: int, seed: int, scale: float = 1.0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    return esd_eigenvalues(scale * torch.randn(h, d, generator=g, dtype=torch.float64)).numpy()


def test_agrees_with_scipy_on_the_same_histograms():
    a, b = _esd(300, 200, 0), _esd(300, 200, 1, scale=1.3)
    p, q, edges = esd_histograms(a, b)
    assert p.sum() == pytest.approx(1.0) and q.sum() == pytest.approx(1.0)
    expected = float(jensenshannon(p, q, base=2))
    assert js_distance(a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert 0.1 < expected < 1.0  # a 1.3x wider bulk is far on the shared bins


def test_the_binning_is_shared_log_spaced_and_counts_every_eigenvalue():
    a = np.array([0.0, 1e-20, 1.0, 10.0, 100.0])
    b = np.array([2.0, 3.0, 1000.0])
    edges = shared_log_bins(a, b, bins=12)
    assert len(edges) == 13
    assert edges[0] == pytest.approx(ZERO_RTOL * 1000.0) and edges[-1] == pytest.approx(1000.0)
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))  # log-spaced
    p, q, _ = esd_histograms(a, b, bins=12)
    assert p[0] == pytest.approx(2 / 5)  # the zero and 1e-20 (below ZERO_RTOL lambda_max) in bin 0
    assert q[-1] == pytest.approx(1 / 3)  # the union's largest eigenvalue in the last bin
    assert default_bins(1000) == 63 and default_bins(4) == 10 and default_bins(10**6) == 80


def test_identical_esds_are_at_distance_zero():
    a = _esd(120, 80, 3)
    assert js_distance(a, a.copy()) == 0.0
    assert js_distance(np.zeros(5), np.zeros(5)) == 0.0  # W = 0 against itself: one bin


def test_symmetric_and_bounded_by_one_in_base_two():
    a, b = _esd(120, 80, 4), _esd(120, 80, 5, scale=3.0)
    assert js_distance(a, b) == js_distance(b, a)
    far = js_distance(np.full(50, 1.0), np.full(50, 1e6))  # disjoint supports
    assert far == pytest.approx(1.0)  # the maximum, sqrt(ln 2) in natural-log units
    for s in range(5):
        x, y = _esd(60, 40, 10 + s), _esd(60, 40, 20 + s, scale=1 + s)
        assert 0.0 <= js_distance(x, y) <= 1.0


def test_non_finite_input_gives_nan():
    assert math.isnan(js_distance(np.array([1.0, np.nan]), np.array([1.0, 2.0])))
