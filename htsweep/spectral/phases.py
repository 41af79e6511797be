"""ESD phase label per probe step: Martin & Mahoney's "5+1 phases" of training.

Martin & Mahoney (2021, JMLR 22(165), "Implicit Self-Regularization in Deep Neural Networks:
Evidence from Random Matrix Theory and Implications for Learning", Sec. 5 and Table 3) describe
the ESD of a layer as it trains by six shapes; their operational descriptions, paraphrased:

  random-like    ESD well fitted by a Marchenko-Pastur law; nothing beyond its edge.
  bleeding-out   ESD random-like, except eigenmass just above the MP edge.
  bulk+spikes    an MP-like bulk plus >= 1 spikes well above the edge.
  bulk-decay     the bulk is no longer MP-like, eigenmass "decays" above the edge; the tail is
                 not (yet) heavy.
  heavy-tailed   the ESD is better described by heavy-tailed RMT than by MP: a power-law tail
                 with exponent alpha below ~4 (their weakly / moderately / very heavy-tailed
                 classes; Table 1: alpha in (2, 4) moderately, alpha < 2 very heavy-tailed).
  rank-collapse  a large mass of eigenvalues at lambda ~ 0 (W has very low numerical rank).

They give no numbers for the boundaries; the thresholds below turn the descriptions into a
decision rule on quantities this package computes (fit_mp, alpha_ks, norms), and are ours:

  1. rank-collapse   if the fraction of eigenvalues <= zero_rtol * lambda_max is at least
                     rank_collapse_fraction;
  2. with the bulk's MP scale fitted by quantile matching (mp.fit_mp, trim = bulk_trim) and
     the spike threshold at its Tracy-Widom ``tw_level`` quantile, the bulk is *MP-like* if
     the KS distance between the eigenvalues below the threshold and the fitted law is at most
     mp_ks_max.  Then:
       random-like   no eigenvalue above the threshold;
       bulk+spikes   at least one eigenvalue above spike_ratio * lambda_+ (well separated);
       bleeding-out  eigenvalues above the threshold but none above spike_ratio * lambda_+;
  3. otherwise (bulk not MP-like):
       heavy-tailed  if the power-law exponent (``alpha_source``: PL_Alpha_KS by default) is
                     below heavy_tail_alpha (= 4, Martin & Mahoney's boundary);
       bulk-decay    otherwise.

Defaults and their basis: tw_level = 0.99 and bulk_trim = 0.2 (a Gaussian W has no spike in
~99% of draws; tests check >= 95/100); mp_ks_max = 0.05 (Gaussian W of N >= 200 have bulk KS
distance ~0.01-0.02, i.i.d. Student-t(1.5) entries > 0.2, and on the paper's main setting the
KS distance jumps from ~0.01 at t = 0-1 to > 0.1 once the bulk decays); spike_ratio = 1.5
(rank-one terms at twice the BBP strength land at ~1.5-2.8 lambda_+; outliers within 50% of
the edge count as bleeding-out); zero_rtol = 1e-6 and rank_collapse_fraction = 0.1 (a square
Gaussian W has ~0.1% of eigenvalues below 1e-6 lambda_max).

Pitfalls: PL_Alpha_KS can be inflated by spikes far from the bulk (App. G), so a spiked but
heavy-tailed bulk may read bulk-decay; ``alpha_source = "hill"`` uses PL_Alpha_Hill instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Dict, Optional

import torch

from htsweep.spectral.mp import TW1_QUANTILES, MPFit, fit_mp
from htsweep.spectral.powerlaw import PowerLawFit, alpha_hill, alpha_ks


class ESDPhase(str, Enum):
    random_like = "random-like"
    bleeding_out = "bleeding-out"
    bulk_spikes = "bulk+spikes"
    bulk_decay = "bulk-decay"
    heavy_tailed = "heavy-tailed"
    rank_collapse = "rank-collapse"


@dataclass
class PhaseThresholds:
    """Thresholds of the phase rule (module docstring; Martin & Mahoney 2021, Sec. 5, Table 3).

    tw_level: Tracy-Widom quantile of the spike threshold (0.9, 0.95, 0.99 or 0.999).
    bulk_trim: the MP scale is matched on the [trim, 1 - trim] quantiles of the ESD.
    mp_ks_max: the bulk is MP-like if its KS distance to the fitted law is at most this.
    spike_ratio: outliers above spike_ratio * lambda_+ are spikes, those between the threshold
        and there are bleeding-out.
    heavy_tail_alpha: a non-MP bulk with alpha below this is heavy-tailed, else bulk-decay.
    alpha_source: "ks" (PL_Alpha_KS) or "hill" (PL_Alpha_Hill).
    zero_rtol, rank_collapse_fraction: rank-collapse if at least that fraction of eigenvalues
        is <= zero_rtol * lambda_max."""

    tw_level: float = 0.99
    bulk_trim: float = 0.2
    mp_ks_max: float = 0.05
    spike_ratio: float = 1.5
    heavy_tail_alpha: float = 4.0
    alpha_source: str = "ks"
    zero_rtol: float = 1e-6
    rank_collapse_fraction: float = 0.1

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, msg: str) -> None:
            if not ok:
                raise ValueError(f"{name}: {msg}")

        need(self.tw_level in TW1_QUANTILES, "tw_level", f"must be one of {sorted(TW1_QUANTILES)}, got {self.tw_level}")
        need(0 <= self.bulk_trim < 0.5, "bulk_trim", f"must be in [0, 0.5), got {self.bulk_trim}")
        need(0 < self.mp_ks_max <= 1, "mp_ks_max", f"must be in (0, 1], got {self.mp_ks_max}")
        need(self.spike_ratio >= 1, "spike_ratio", f"must be >= 1, got {self.spike_ratio}")
        need(self.heavy_tail_alpha > 1, "heavy_tail_alpha", f"must be > 1, got {self.heavy_tail_alpha}")
        need(self.alpha_source in ("ks", "hill"), "alpha_source", f"must be 'ks' or 'hill', got {self.alpha_source!r}")
        need(0 < self.zero_rtol < 1, "zero_rtol", f"must be in (0, 1), got {self.zero_rtol}")
        need(0 < self.rank_collapse_fraction <= 1, "rank_collapse_fraction", f"must be in (0, 1], got {self.rank_collapse_fraction}")


@dataclass(frozen=True)
class PhaseResult:
    """The label and the quantities the rule looked at."""

    phase: ESDPhase
    zero_fraction: float
    num_outliers: int  # eigenvalues above the Tracy-Widom threshold of the fitted law
    num_separated: int  # of which above spike_ratio * lambda_+
    mp_ks_distance: float
    alpha: float

    def as_row(self, prefix: str = "esd") -> Dict[str, object]:
        return {
            f"{prefix}_phase": self.phase.value,
            f"{prefix}_zero_fraction": self.zero_fraction,
            f"{prefix}_num_separated_spikes": self.num_separated,
        }


def classify_phase(
    eigs,
    h: int,
    d: int,
    thresholds: Optional[PhaseThresholds] = None,
    *,
    mp: Optional[MPFit] = None,
    power_law: Optional[PowerLawFit] = None,
) -> PhaseResult:
    """Martin & Mahoney phase of the ESD of W (h x d), by the rule of the module docstring.

    ``mp`` / ``power_law`` reuse fits already made (they must come from the same eigenvalues
    and the same ``bulk_trim`` / ``tw_level`` / ``alpha_source``)."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    e = torch.sort(torch.as_tensor(eigs).detach().to(torch.float64).flatten()).values
    N = min(h, d)
    e = e[e.numel() - N :].clamp_min(0.0) if e.numel() >= N else e
    lam_max = float(e[-1]) if e.numel() else math.nan
    zero_fraction = float((e <= th.zero_rtol * lam_max).double().mean()) if lam_max > 0 else 1.0
    fit = mp if mp is not None else fit_mp(e, h, d, trim=th.bulk_trim, level=th.tw_level)
    if power_law is None:
        power_law = alpha_ks(e) if th.alpha_source == "ks" else alpha_hill(e)
    alpha = power_law.alpha
    n_out = fit.num_spikes
    n_sep = int((e > th.spike_ratio * fit.lambda_plus).sum())
    if zero_fraction >= th.rank_collapse_fraction:
        phase = ESDPhase.rank_collapse
    elif fit.ks_distance <= th.mp_ks_max:
        if n_out == 0:
            phase = ESDPhase.random_like
        elif n_sep >= 1:
            phase = ESDPhase.bulk_spikes
        else:
            phase = ESDPhase.bleeding_out
    elif math.isfinite(alpha) and alpha < th.heavy_tail_alpha:
        phase = ESDPhase.heavy_tailed
    else:
        phase = ESDPhase.bulk_decay
    return PhaseResult(
        phase=phase,
        zero_fraction=zero_fraction,
        num_outliers=n_out,
        num_separated=n_sep,
        mp_ks_distance=fit.ks_distance,
        alpha=alpha,
    )
