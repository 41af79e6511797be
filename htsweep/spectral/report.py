"""Everything the spectral module derives from one ESD.

:func:`esd_report` takes the ESD (eigenvalues of W^T W) and returns PL_Alpha_Hill,
PL_Alpha_KS, the fitted Marchenko-Pastur bulk, the norm metrics and the Martin-Mahoney phase;
:meth:`ESDReport.as_row` flattens it into metrics columns.  The decompositions that produce
the ESD, and the overlaps with an update, are orchestrated by the spectral probe
(htsweep.probes.spectrum), the only caller that needs them together.

An ESD can also pool the eigenvalues of ``count`` matrices of one shape (a convolution's k^2
slices, htsweep.spectral.conv): the fits then read all count * min(h, d) of them against the
law of one h x d matrix (htsweep.spectral.mp.fit_mp, htsweep.spectral.phases.classify_phase).

Fit status (:func:`fit_status`).  The fits need a sample: an ESD of fewer than ``min_eigs``
eigenvalues (e.g. the 10 of a 10 x 512 classifier), an empty one or one with a NaN / infinite
eigenvalue is reported by :func:`unfitted_report`: the norms it can compute (lambda_max,
stable rank, ... ; NaN when not finite), every fit NaN (Hill, KS, the MP fit, the phase
scores) and the phase None, never an exception; the status string says why (``ok``,
``too_small: 10 eigenvalues``, ``empty``, ``non_finite: 3 eigenvalues``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch

from htsweep.spectral.esd import as_float64
from htsweep.spectral.mp import MPFit, fit_mp
from htsweep.spectral.norms import NormMetrics, norm_metrics
from htsweep.spectral.phases import SCORES, PhaseResult, PhaseThresholds, classify_phase
from htsweep.spectral.powerlaw import PowerLawFit, alpha_hill, ks_candidates

FIT_OK = "ok"
TOO_SMALL = "too_small"
EMPTY = "empty"
NON_FINITE = "non_finite"


@dataclass(frozen=True)
class ESDReport:
    hill: PowerLawFit
    ks: PowerLawFit
    mp: MPFit
    norms: NormMetrics  # alpha_weighted / log_alpha_norm use PL_Alpha_KS
    phase: PhaseResult
    status: str = FIT_OK  # fit_status(): "ok", or why the fits are NaN

    def as_row(self) -> Dict[str, object]:
        row: Dict[str, object] = {}
        row.update(self.hill.as_row("pl_alpha_hill"))
        row.update(self.ks.as_row("pl_alpha_ks"))
        row.update(self.mp.as_row("mp_fit"))
        row.update(self.norms.as_row(""))
        row.update(self.phase.as_row("esd"))
        return row


def fit_status(eigs, min_eigs: int = 0) -> str:
    """``ok`` when the ESD can be fitted; else ``empty``, ``non_finite: <k> eigenvalues`` or
    ``too_small: <n> eigenvalues`` (fewer than ``min_eigs``)."""
    e = as_float64(eigs)
    n = int(e.numel())
    if n == 0:
        return EMPTY
    bad = int((~torch.isfinite(e)).sum())
    if bad:
        return f"{NON_FINITE}: {bad} eigenvalues"
    if n < min_eigs:
        return f"{TOO_SMALL}: {n} eigenvalues"
    return FIT_OK


def _nan_mp(h: int, d: int, level: float, lambda_max: float) -> MPFit:
    nan = math.nan
    return MPFit(h=h, d=d, sigma2=nan, level=level, lambda_minus=nan, lambda_plus=nan, threshold=nan,
                 num_spikes=0, lambda_max=lambda_max, bulk_max=nan, spectral_gap=nan, ks_distance=nan,
                 mp_softrank=nan)  # fmt: skip


def unfitted_report(
    eigs, h: int, d: int, thresholds: Optional[PhaseThresholds] = None, *, status: str = EMPTY, distance: str = "paper"
) -> ESDReport:
    """The report of an ESD that is not fitted (module docstring): norms (NaN when an
    eigenvalue is not finite), NaN fits, 0 counts, phase None, ``status`` kept."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    e = as_float64(eigs)
    n = int(e.numel())
    norms = norm_metrics(e)  # NaN for an empty or non-finite ESD; alpha NaN
    nan_fit = PowerLawFit(math.nan, math.nan, math.nan, 0, -1, n, distance)
    nan = math.nan
    phase = PhaseResult(phase=None, margin=nan, zero_fraction=nan, num_outliers=0, num_separated=0, bulk_ks_n=nan,
                        spike_gap=nan, tail_alpha=nan, scores={name: nan for name in SCORES})  # fmt: skip
    return ESDReport(hill=nan_fit, ks=nan_fit, mp=_nan_mp(h, d, th.tw_level, norms.lambda_max), norms=norms,
                     phase=phase, status=status)  # fmt: skip


def esd_report(
    eigs,
    h: int,
    d: int,
    thresholds: Optional[PhaseThresholds] = None,
    *,
    xmin_pos: float = 2,
    distance: str = "paper",
    count: int = 1,
    min_eigs: int = 0,
) -> ESDReport:
    """Hill, KS, MP fit, norms and phase of the ESD of W (h x d), or of ``count`` h x d
    matrices pooled.  An ESD with fewer than ``min_eigs`` eigenvalues, empty or not finite is
    not fitted (:func:`unfitted_report`, ``status`` says why)."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    status = fit_status(eigs, min_eigs)
    if status != FIT_OK:
        return unfitted_report(eigs, h, d, th, status=status, distance=distance)
    hill = alpha_hill(eigs, xmin_pos=xmin_pos)
    cand = ks_candidates(eigs, distance=distance)
    ks = cand.fit()
    mp = fit_mp(eigs, h, d, trim=th.bulk_trim, level=th.tw_level, count=count)
    norms = norm_metrics(eigs, alpha=ks.alpha)
    phase = classify_phase(eigs, h, d, th, mp=mp, count=count)
    return ESDReport(hill=hill, ks=ks, mp=mp, norms=norms, phase=phase)
