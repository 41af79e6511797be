"""ESD phase label per probe step: Martin & Mahoney's "5+1 phases" of training.

Martin & Mahoney (2021, JMLR 22(165), "Implicit Self-Regularization in Deep Neural Networks:
Evidence from Random Matrix Theory and Implications for Learning", the "5+1 phases of training"
taxonomy) describe the ESD of a layer as it trains by six shapes; their operational
descriptions, paraphrased:

  random-like    ESD well fitted by a Marchenko-Pastur law; nothing beyond its edge.
  bleeding-out   ESD random-like, except eigenmass just above the MP edge.
  bulk+spikes    an MP-like bulk plus >= 1 spikes well above the edge.
  bulk-decay     the bulk is no longer MP-like, eigenmass "decays" above the edge; the tail is
                 not (yet) heavy.
  heavy-tailed   the ESD is better described by heavy-tailed RMT than by MP: a power-law tail
                 with exponent alpha below ~4 (their heavy-tailed universality classes:
                 roughly alpha in (2, 4) moderately, alpha < 2 very heavy-tailed).
  rank-collapse  a large mass of eigenvalues at lambda ~ 0 (W has very low numerical rank).

They give no numbers for the boundaries; the thresholds below turn the descriptions into a
decision rule on quantities this package computes (mp.fit_mp, powerlaw.alpha_ks); they are
ours, and the defaults were calibrated as stated:

  1. rank-collapse   if the fraction of eigenvalues <= zero_rtol * lambda_max is at least
                     rank_collapse_fraction;
  2. with the bulk's MP scale fitted by quantile matching (mp.fit_mp, trim = bulk_trim) and
     the spike threshold at its Tracy-Widom ``tw_level`` quantile, the bulk is *MP-like* if
     the KS distance between the eigenvalues below the threshold and the fitted law is at most
     max(mp_ks_max, mp_ks_per_n / N).  Then:
       random-like   no eigenvalue above the threshold;
       bulk+spikes   at least one eigenvalue above spike_ratio * lambda_+ (well separated);
       bleeding-out  eigenvalues above the threshold but none above spike_ratio * lambda_+;
  3. otherwise (bulk not MP-like):
       heavy-tailed  if the power-law exponent is below heavy_tail_alpha (= 4, the boundary of
                     Martin & Mahoney's heavy-tailed classes);
       bulk-decay    otherwise.
     The exponent is PL_Alpha_KS restricted to tails of at least min_tail_fraction * N
     eigenvalues (``alpha_source = "ks"``): a handful of outliers is a spike, not a power-law
     tail, and without the restriction KS often fits the few largest eigenvalues alone, which
     inflates alpha (App. G).  ``alpha_source = "hill"`` uses PL_Alpha_Hill instead; Hill is
     ~2.1-2.5 on a pure MP bulk, so pair it with a smaller heavy_tail_alpha (e.g. 2).

Calibration of the defaults (float64 ESDs):
  * Gaussian W: N * KS(bulk, fitted MP) is at most 2.6-4.1 over 40 draws each for
    N = 50 .. 1000 (KS ~ 0.017 at N = 200, 0.004 at N = 1000), so mp_ks_per_n = 8 leaves a
    factor ~2; no spike above the TW(0.99) threshold in ~98% of draws (tests: >= 95/100).
  * i.i.d. Student-t(1.5) entries: KS > 0.12 and PL_Alpha_KS ~ 1.7-1.95 (theory for tail
    index mu < 2: alpha = 1 + mu/2 = 1.75): heavy-tailed.
  * Paper's main setting (h=1500, d=1000, n=2000, seed 0): W_0 KS 0.003 (random-like); one
    FB-Adam step lr=1: KS 0.021, lambda_1 = 159 lambda_+ (bulk+spikes, Fig. 2c; hence the floor
    mp_ks_max = 0.03); one GD step lr=2000: lambda_1 = 1.6 lambda_+ (bulk+spikes, Fig. 2b);
    GD lr=0.1: random-like (Fig. 2a); FB-Adam lr=1, t = 3-5: KS 0.1-0.13, alpha ~ 4.2
    (bulk-decay), t = 10-20: KS 0.17-0.19, alpha ~ 3.3-3.5 (heavy-tailed, Sec. 5.1);
    FB-Adam lr=0.2 (Fig. 4): bulk+spikes up to t = 10 (KS <= 0.017), bulk-decay at t = 20-50
    (KS 0.034-0.046, alpha 5.1-4.4); GD lr=2000, t = 5-10: bulk-decay.
  * spike_ratio = 1.5: a rank-one term at twice the BBP strength lands at ~1.56 lambda_+
    (c = 2/3); outliers closer to the edge count as bleeding-out.
  * zero_rtol = 1e-10 (singular values below 1e-5 s_max), rank_collapse_fraction = 0.1:
    square Gaussian W have ~1e-5 of their eigenvalues below 1e-10 lambda_max, square
    Student-t(1.5) W (lambda_max / lambda_min up to 1e11) <= 0.3%, a rank-5 W of N = 200 97.5%.

Pitfalls: the full-range PL_Alpha_KS (the paper's column) is inflated by spikes far from the
bulk (App. G); the phase rule therefore uses the restricted fit described above.  The phase
is a summary of the ESD's shape relative to a *fitted* MP law; the paper's figures compare
with the MP law of W_0 (sigma^2 = 1), relative to which a rescaled bulk already "decays".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Dict, Optional

import torch

from htsweep.spectral.esd import as_float64
from htsweep.spectral.mp import TW1_QUANTILES, MPFit, fit_mp
from htsweep.spectral.powerlaw import PowerLawFit, alpha_hill, ks_candidates


class ESDPhase(str, Enum):
    random_like = "random-like"
    bleeding_out = "bleeding-out"
    bulk_spikes = "bulk+spikes"
    bulk_decay = "bulk-decay"
    heavy_tailed = "heavy-tailed"
    rank_collapse = "rank-collapse"


class PhaseThresholdError(ValueError):
    """A threshold outside its range; ``field_name`` names the PhaseThresholds field (the
    caller knows where the thresholds live in its configuration)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message


@dataclass
class PhaseThresholds:
    """Thresholds of the phase rule (module docstring; Martin & Mahoney 2021, "5+1 phases").

    tw_level: Tracy-Widom quantile of the spike threshold (0.9, 0.95, 0.99 or 0.999).
    bulk_trim: the MP scale is matched on the [trim, 1 - trim] quantiles of the ESD.
    mp_ks_max, mp_ks_per_n: the bulk is MP-like if its KS distance to the fitted law is at
        most max(mp_ks_max, mp_ks_per_n / N).
    spike_ratio: outliers above spike_ratio * lambda_+ are spikes, those between the threshold
        and there are bleeding-out.
    heavy_tail_alpha: a non-MP bulk with alpha below this is heavy-tailed, else bulk-decay.
    alpha_source: "ks" (PL_Alpha_KS) or "hill" (PL_Alpha_Hill).
    min_tail_fraction: with "ks", only tails of at least this fraction of N are candidates.
    zero_rtol, rank_collapse_fraction: rank-collapse if at least that fraction of eigenvalues
        is <= zero_rtol * lambda_max."""

    tw_level: float = 0.99
    bulk_trim: float = 0.2
    mp_ks_max: float = 0.03
    mp_ks_per_n: float = 8.0
    spike_ratio: float = 1.5
    heavy_tail_alpha: float = 4.0
    alpha_source: str = "ks"
    min_tail_fraction: float = 0.05
    zero_rtol: float = 1e-10
    rank_collapse_fraction: float = 0.1

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, msg: str) -> None:
            if not ok:
                raise PhaseThresholdError(name, msg)

        levels = sorted(TW1_QUANTILES)
        need(self.tw_level in levels, "tw_level", f"must be one of {levels}, got {self.tw_level}")
        need(0 <= self.bulk_trim < 0.5, "bulk_trim", f"must be in [0, 0.5), got {self.bulk_trim}")
        need(0 < self.mp_ks_max <= 1, "mp_ks_max", f"must be in (0, 1], got {self.mp_ks_max}")
        need(self.mp_ks_per_n >= 0, "mp_ks_per_n", f"must be >= 0, got {self.mp_ks_per_n}")
        need(
            0 <= self.min_tail_fraction < 1,
            "min_tail_fraction",
            f"must be in [0, 1), got {self.min_tail_fraction}",
        )
        need(self.spike_ratio >= 1, "spike_ratio", f"must be >= 1, got {self.spike_ratio}")
        need(
            self.heavy_tail_alpha > 1,
            "heavy_tail_alpha",
            f"must be > 1, got {self.heavy_tail_alpha}",
        )
        need(
            self.alpha_source in ("ks", "hill"),
            "alpha_source",
            f"must be 'ks' or 'hill', got {self.alpha_source!r}",
        )
        need(0 < self.zero_rtol < 1, "zero_rtol", f"must be in (0, 1), got {self.zero_rtol}")
        need(
            0 < self.rank_collapse_fraction <= 1,
            "rank_collapse_fraction",
            f"must be in (0, 1], got {self.rank_collapse_fraction}",
        )


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


def phase_min_tail(N: int, thresholds: PhaseThresholds) -> int:
    """Smallest tail the phase rule's PL_Alpha_KS may choose: max(2, ceil(fraction * N))."""
    return max(2, int(math.ceil(thresholds.min_tail_fraction * N)))


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

    ``mp`` / ``power_law`` reuse fits already made; they must come from the same eigenvalues and
    the same settings (``fit_mp(trim=bulk_trim, level=tw_level)``; for alpha_source "ks",
    ``ks_candidates(eigs).fit(phase_min_tail(N, thresholds))``)."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    e = torch.sort(as_float64(eigs)).values
    N = min(h, d)
    e = e[e.numel() - N :].clamp_min(0.0) if e.numel() >= N else e
    lam_max = float(e[-1]) if e.numel() else math.nan
    zero_fraction = float((e <= th.zero_rtol * lam_max).double().mean()) if lam_max > 0 else 1.0
    fit = mp if mp is not None else fit_mp(e, h, d, trim=th.bulk_trim, level=th.tw_level)
    if power_law is None:
        if th.alpha_source == "ks":
            power_law = ks_candidates(e).fit(phase_min_tail(N, th))
        else:
            power_law = alpha_hill(e)
    alpha = power_law.alpha
    n_out = fit.num_spikes
    n_sep = int((e > th.spike_ratio * fit.lambda_plus).sum())
    ks_max = max(th.mp_ks_max, th.mp_ks_per_n / N)
    if zero_fraction >= th.rank_collapse_fraction:
        phase = ESDPhase.rank_collapse
    elif fit.ks_distance <= ks_max:
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
