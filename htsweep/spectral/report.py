"""Everything the spectral module derives from one ESD.

:func:`esd_report` takes the ESD (eigenvalues of W^T W) and returns PL_Alpha_Hill,
PL_Alpha_KS, the fitted Marchenko-Pastur bulk, the norm metrics and the Martin-Mahoney phase;
:meth:`ESDReport.as_row` flattens it into metrics columns.  The decompositions that produce
the ESD, and the overlaps with an update, are orchestrated by the spectral probe
(htsweep.probes.spectrum), the only caller that needs them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from htsweep.spectral.mp import MPFit, fit_mp
from htsweep.spectral.norms import NormMetrics, norm_metrics
from htsweep.spectral.phases import PhaseResult, PhaseThresholds, classify_phase
from htsweep.spectral.powerlaw import PowerLawFit, alpha_hill, ks_candidates


@dataclass(frozen=True)
class ESDReport:
    hill: PowerLawFit
    ks: PowerLawFit
    mp: MPFit
    norms: NormMetrics  # alpha_weighted / log_alpha_norm use PL_Alpha_KS
    phase: PhaseResult

    def as_row(self) -> Dict[str, object]:
        row: Dict[str, object] = {}
        row.update(self.hill.as_row("pl_alpha_hill"))
        row.update(self.ks.as_row("pl_alpha_ks"))
        row.update(self.mp.as_row("mp_fit"))
        row.update(self.norms.as_row(""))
        row.update(self.phase.as_row("esd"))
        return row


def esd_report(
    eigs,
    h: int,
    d: int,
    thresholds: Optional[PhaseThresholds] = None,
    *,
    xmin_pos: float = 2,
    distance: str = "paper",
) -> ESDReport:
    """Hill, KS, MP fit, norms and phase of the ESD of W (h x d)."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    hill = alpha_hill(eigs, xmin_pos=xmin_pos)
    cand = ks_candidates(eigs, distance=distance)
    ks = cand.fit()
    mp = fit_mp(eigs, h, d, trim=th.bulk_trim, level=th.tw_level)
    norms = norm_metrics(eigs, alpha=ks.alpha)
    phase = classify_phase(eigs, h, d, th, mp=mp)
    return ESDReport(hill=hill, ks=ks, mp=mp, norms=norms, phase=phase)
