"""Distance between two ESDs: the Jensen-Shannon distance of their histograms on one shared,
log-spaced binning.

Binning (:func:`shared_log_bins`).  Both ESDs (eigenvalues of W^T W, N_a and N_b values) are
histogrammed on the same B + 1 edges, log-spaced (``numpy.geomspace``) from

    lo = max(smallest positive eigenvalue of the union, ZERO_RTOL * largest of the union)

to hi = the largest eigenvalue of the union; every eigenvalue below lo (exact zeros, round-off
of a rank-deficient W) is counted in the first bin and hi in the last, so each histogram holds
all of its eigenvalues.  B = clip(round(2 sqrt(min(N_a, N_b))), 10, 80) unless given (the ESD
figures' rule; 63 bins at N = 1000).  Log-spaced because an ESD spans decades: on linear bins
a spike at 100 lambda_+ squeezes the whole Marchenko-Pastur bulk into one or two bins, and
two quite different bulks would be indistinguishable.  ZERO_RTOL = 1e-12 sits well above the
Gram route's absolute eigenvalue error (~eps lambda_max, htsweep.spectral.esd).

Distance.  With p, q the two histograms normalised to sum 1 and m = (p + q) / 2,

    JS(p, q) = sqrt( (KL(p || m) + KL(q || m)) / 2 ),   KL in base 2 (0 log 0 = 0),

so 0 <= JS <= 1, JS = 0 iff the histograms are equal, JS is symmetric and a metric (Endres &
Schindelin 2003); it is ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.  Natural-log
values are JS * sqrt(ln 2).

What it sees: *mass* moved between bins, not how far.  A single outlier (a spike, a trap)
moves 1/N of the mass and changes JS by at most ~sqrt(1/(2N)); a bulk that reshapes (a heavy
tail that holds 10% of the eigenvalues, a bulk that widens) moves a finite fraction and gives
JS of order 0.1-1.  Count outliers with the Marchenko-Pastur edge instead (htsweep.spectral.mp).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from htsweep.spectral.esd import as_float64

ZERO_RTOL = 1e-12
MIN_BINS, MAX_BINS = 10, 80


def _as_np(x) -> np.ndarray:
    return as_float64(x).cpu().numpy()


def default_bins(n: int) -> int:
    """B = clip(round(2 sqrt(n)), 10, 80)."""
    return int(np.clip(round(2 * math.sqrt(max(n, 1))), MIN_BINS, MAX_BINS))


def shared_log_bins(a, b, bins: Optional[int] = None) -> np.ndarray:
    """The B + 1 shared log-spaced edges of the module docstring; a single bin when every
    eigenvalue of both ESDs is the same (or zero)."""
    x, y = _as_np(a), _as_np(b)
    if x.size == 0 or y.size == 0:
        raise ValueError("shared_log_bins: both ESDs need at least one eigenvalue")
    B = default_bins(min(x.size, y.size)) if bins is None else int(bins)
    if B < 1:
        raise ValueError(f"bins: must be >= 1, got {bins}")
    both = np.concatenate([x, y])
    hi = float(both.max())
    if not hi > 0:  # every eigenvalue is zero: one bin holds both ESDs
        return np.array([0.0, 1.0])
    pos = both[both > 0]
    lo = max(float(pos.min()), ZERO_RTOL * hi)
    if not hi > lo:
        return np.array([lo, hi])
    return np.geomspace(lo, hi, B + 1)


def esd_histograms(a, b, bins: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, edges): the counts of each ESD on the shared edges, normalised to sum 1 (values
    below the first edge are counted in the first bin, the largest in the last)."""
    x, y = _as_np(a), _as_np(b)
    edges = shared_log_bins(x, y, bins)
    lo, hi = edges[0], edges[-1]
    out = []
    for v in (x, y):
        counts, _ = np.histogram(np.clip(v, lo, hi), bins=edges)
        out.append(counts / counts.sum())
    return out[0], out[1], edges


def js_distance_of(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) of two probability vectors on the same bins."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = 0.5 * (p + q)

    def kl(u: np.ndarray) -> float:
        nz = u > 0  # where u > 0, m > 0 too
        return float(np.sum(u[nz] * np.log2(u[nz] / m[nz])))

    return math.sqrt(max(0.5 * (kl(p) + kl(q)), 0.0))


def js_distance(a, b, bins: Optional[int] = None) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the ESDs ``a`` and ``b`` on their
    shared log-spaced binning (module docstring); NaN if either holds a NaN or infinity."""
    x, y = _as_np(a), _as_np(b)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    p, q, _ = esd_histograms(x, y, bins)
    return js_distance_of(p, q)
