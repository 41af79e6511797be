"""ESD phase label per probe step: Martin & Mahoney's "5+1 phases" of training.

Martin & Mahoney (2021, JMLR 22(165), "Implicit Self-Regularization in Deep Neural Networks:
Evidence from Random Matrix Theory and Implications for Learning", Sec. 5 and their table of
operational definitions) describe the ESD of a layer as it trains by six shapes, paraphrased:

  random-like    ESD well fitted by a Marchenko-Pastur law; nothing beyond its edge.
  bleeding-out   ESD random-like, except eigenmass just above the MP edge.
  bulk+spikes    an MP-like bulk plus >= 1 spikes well above the edge (spiked covariance).
  bulk-decay     the MP fit degrades: the bulk's edge decays into a tail, not (yet) a heavy one.
  heavy-tailed   the ESD tail is a power law, rho(lambda) ~ lambda^-alpha, heavy enough that
                 no MP fit describes it (their moderately and very heavy-tailed classes).
  rank-collapse  a large mass of eigenvalues at lambda ~ 0.

The paper (Sec. 5.1, Fig. 4, App. F.3) adds how the phases follow one another in this model:
one large step makes a spike (Bulk+Spike), further steps "diffuse the spike into the bulk"
(Bulk-Decay: the spike comes back towards the edge while the bulk spreads), and the tail then
becomes heavy.  Neither source gives numbers for the boundaries.

The rule reads five quantities, each a continuous function of the eigenvalues (no argmin over
candidates, so none jumps between adjacent steps when the spectrum changes smoothly):

  z      zero fraction: share of eigenvalues <= zero_rtol * lambda_max;
  b      bulk misfit, N * KS: the KS distance between the eigenvalues below the Tracy-Widom
         threshold of the fitted MP law (mp.fit_mp: quantile matching, trim = bulk_trim,
         level = tw_level) and that law, times N.  Eigenvalue rigidity makes it O(1) for a
         random matrix at every size (measured 1.8-3.9 for N = 200-2000), while any fixed
         change of the bulk's shape grows it like N;
  g      spike gap lambda_max / lambda_+ (fitted edge), and lambda_max / (TW threshold);
  a      tail exponent: the trimmed Hill estimate (powerlaw.trimmed_hill) from the top
         tail_fraction * N eigenvalues with the top tail_trim * N trimmed, so that a few spikes
         do not count as a tail while a power law, which spans the whole top decile, does.

Each is turned into a score, the quantity over its threshold (>= 1: the criterion holds):

  rank_collapse = z / rank_collapse_fraction      outlier = lambda_max / TW threshold
  spike = g / spike_ratio                          decay   = b / decay_ks_n
  dominant = g / dominant_gap                      heavy   = heavy_tail_alpha / a

and the label is, in order:

  1. rank-collapse  if rank_collapse >= 1;
  2. heavy-tailed   if decay > 1 and heavy >= 1   (a non-MP bulk with a power-law tail);
  3. if decay <= 1 (the bulk is MP-like):
       random-like  outlier <= 1;  bulk+spikes  spike > 1;  bleeding-out otherwise;
  4. otherwise      bulk+spikes if dominant >= 1 (a spike far above a bulk that has started to
                    deform: the ESD is still the spike's), else bulk-decay.

The label is monotone in each score along the order random-like < bleeding-out < bulk+spikes
< bulk-decay < heavy-tailed (more misfit or a heavier tail never moves it back), except
``dominant``, which keeps a deformed bulk labelled bulk+spikes while a spike stands
dominant_gap times above the edge; as the paper describes, the spike coming back to the bulk
is what starts the decay.  ``margin`` is min |ln score| over the criteria the decision went
through: how far (in relative terms, 0.1 ~ 10%) the closest input was from changing the label.

Calibration (float64 ESDs, 30 draws per family and size, scripts in tests/spectral):
  * N * KS: Gaussian W 1.8-3.9 (N = 200-2000), Gaussian + 3 strong rank-one spikes 3.3-5.4,
    a lognormal column-variance profile exp(0.3 Z) (the "edge decaying into a tail" family)
    9.8-24 for N = 500-1000: decay_ks_n = 6.
  * Trimmed Hill a (top 10%, top 2% trimmed), N = 500 / 1000: Gaussian 6.1-6.9; Gaussian plus
    3 spikes 5.9-6.5; variance profile 5.35-5.85; i.i.d. Student-t entries with mu = 2.5
    (moderately heavy-tailed) 3.6-5.0; mu = 1.5 (very heavy-tailed) 1.6-2.2 (theory for mu <
    2: alpha = 1 + mu / 2 = 1.75): heavy_tail_alpha = 5.1.  a is a finite-size statistic, not
    an asymptotic exponent: the threshold is set between the families, not at the asymptotic
    class boundary alpha = 4 (PL_Alpha_KS on the same draws: 3.5-5.5 for mu = 2.5).
  * dominant_gap = 5: one FB-Adam step at lr = 1 in the paper's setting puts the spike at
    159 lambda_+ with N * KS = 21 (Bulk+Spike in the paper, Fig. 2c), FB-Adam at lr = 0.2
    has it at 1.8 lambda_+ by t = 5 with N * KS = 7.4 (onset of Bulk-Decay, Fig. 4b).
  * spike_ratio = 1.5: a rank-one term at twice the BBP strength lands at ~1.56 lambda_+
    (c = 2/3); outliers closer to the edge count as bleeding-out.
  * zero_rtol = 1e-10, rank_collapse_fraction = 0.1: square Gaussian W have ~1e-5 of their
    eigenvalues below 1e-10 lambda_max, a rank-N/20 W 95%.

What it cannot tell apart: below N ~ 400 the bulk misfit of a mildly decayed edge overlaps the
null (N = 200: 4.4-7.3 against <= 3.9) and i.i.d. entries with mu = 2.5 reach a = 5.4; at
N = 500-1000, i.i.d. entries with mu = 3 (a = 5.3-6.5) are mostly labelled bulk-decay: over
the top decile their tail is no heavier than a smoothly decaying edge.  The phase is relative
to a *fitted* MP law, i.e. scale-free; the paper's figures draw the MP law of W_0, relative
to which a uniformly rescaled bulk already looks "decayed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Dict, List, Optional, Tuple

import torch

from htsweep.spectral.esd import as_float64
from htsweep.spectral.mp import TW1_QUANTILES, MPFit, fit_mp
from htsweep.spectral.powerlaw import trimmed_hill


class ESDPhase(str, Enum):
    random_like = "random-like"
    bleeding_out = "bleeding-out"
    bulk_spikes = "bulk+spikes"
    bulk_decay = "bulk-decay"
    heavy_tailed = "heavy-tailed"
    rank_collapse = "rank-collapse"


SCORES = ("rank_collapse", "outlier", "spike", "decay", "dominant", "heavy")


class PhaseThresholdError(ValueError):
    """A threshold outside its range; ``field_name`` names the PhaseThresholds field (the
    caller knows where the thresholds live in its configuration)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message


@dataclass
class PhaseThresholds:
    """Thresholds of the phase rule (module docstring).

    tw_level: Tracy-Widom quantile of the outlier threshold (0.9, 0.95, 0.99 or 0.999).
    bulk_trim: the MP scale is matched on the [trim, 1 - trim] quantiles of the ESD.
    decay_ks_n: the bulk is not MP-like when N * KS(bulk, fitted MP) exceeds this.
    spike_ratio: an eigenvalue above spike_ratio * lambda_+ is a separated spike.
    dominant_gap: a spike above dominant_gap * lambda_+ keeps a deformed bulk bulk+spikes.
    heavy_tail_alpha: a non-MP ESD whose tail exponent is at most this is heavy-tailed.
    tail_fraction, tail_trim: the tail exponent is the trimmed Hill estimate from the top
        tail_fraction * N eigenvalues, the top tail_trim * N of them trimmed.
    zero_rtol, rank_collapse_fraction: rank-collapse if at least that fraction of eigenvalues
        is <= zero_rtol * lambda_max."""

    tw_level: float = 0.99
    bulk_trim: float = 0.2
    decay_ks_n: float = 6.0
    spike_ratio: float = 1.5
    dominant_gap: float = 5.0
    heavy_tail_alpha: float = 5.1
    tail_fraction: float = 0.1
    tail_trim: float = 0.02
    zero_rtol: float = 1e-10
    rank_collapse_fraction: float = 0.1

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, msg: str) -> None:
            if not ok:
                raise PhaseThresholdError(name, msg)

        levels = sorted(TW1_QUANTILES)
        need(self.tw_level in levels, "tw_level", f"must be one of {levels}, got {self.tw_level}")
        need(0 <= self.bulk_trim < 0.5, "bulk_trim", f"must be in [0, 0.5), got {self.bulk_trim}")
        need(self.decay_ks_n > 0, "decay_ks_n", f"must be > 0, got {self.decay_ks_n}")
        need(self.spike_ratio >= 1, "spike_ratio", f"must be >= 1, got {self.spike_ratio}")
        need(
            self.dominant_gap >= self.spike_ratio,
            "dominant_gap",
            f"must be >= spike_ratio ({self.spike_ratio}), got {self.dominant_gap}",
        )
        need(self.heavy_tail_alpha > 1, "heavy_tail_alpha", f"must be > 1, got {self.heavy_tail_alpha}")
        need(0 < self.tail_fraction < 1, "tail_fraction", f"must be in (0, 1), got {self.tail_fraction}")
        need(
            0 <= self.tail_trim < self.tail_fraction,
            "tail_trim",
            f"must be in [0, tail_fraction = {self.tail_fraction}), got {self.tail_trim}",
        )
        need(0 < self.zero_rtol < 1, "zero_rtol", f"must be in (0, 1), got {self.zero_rtol}")
        need(
            0 < self.rank_collapse_fraction <= 1,
            "rank_collapse_fraction",
            f"must be in (0, 1], got {self.rank_collapse_fraction}",
        )


@dataclass(frozen=True)
class PhaseResult:
    """The label, its margin and the quantities and scores the rule looked at."""

    phase: Optional[ESDPhase]  # None: not classified (an ESD too small to fit, report.py)
    margin: float  # min |ln score| over the criteria on the decision path
    zero_fraction: float
    num_outliers: int  # eigenvalues above the Tracy-Widom threshold of the fitted law
    num_separated: int  # of which above spike_ratio * lambda_+
    bulk_ks_n: float  # N * KS(bulk, fitted MP)
    spike_gap: float  # lambda_max / lambda_+ (fitted)
    tail_alpha: float  # trimmed Hill exponent of the top tail_fraction
    scores: Dict[str, float] = field(default_factory=dict)
    path: Tuple[str, ...] = ()  # the scores the decision went through

    def as_row(self, prefix: str = "esd") -> Dict[str, object]:
        row: Dict[str, object] = {
            f"{prefix}_phase": None if self.phase is None else self.phase.value,
            f"{prefix}_phase_margin": self.margin,
            f"{prefix}_zero_fraction": self.zero_fraction,
            f"{prefix}_num_separated_spikes": self.num_separated,
            f"{prefix}_bulk_ks_n": self.bulk_ks_n,
            f"{prefix}_spike_gap": self.spike_gap,
            f"{prefix}_tail_alpha": self.tail_alpha,
        }
        for name in SCORES:
            row[f"{prefix}_phase_score_{name}"] = self.scores.get(name, math.nan)
        return row


def tail_sizes(N: int, thresholds: PhaseThresholds) -> Tuple[int, int]:
    """(k, k0) of the tail exponent: k = max(2, ceil(tail_fraction N)) eigenvalues, the top
    k0 = min(ceil(tail_trim N), k - 1) trimmed."""
    k = max(2, int(math.ceil(thresholds.tail_fraction * N)))
    return k, min(int(math.ceil(thresholds.tail_trim * N)), k - 1)


def _ratio(x: float, t: float) -> float:
    if t > 0:
        return x / t
    return math.inf if x > 0 else math.nan


def decide(scores: Dict[str, float]) -> Tuple[ESDPhase, Tuple[str, ...]]:
    """The label from the scores (module docstring, steps 1-4) and the scores it went through.
    A NaN score never satisfies its criterion."""

    def holds(name: str, strict: bool = False) -> bool:
        s = scores[name]
        return s > 1 if strict else s >= 1

    path: List[str] = ["rank_collapse"]
    if holds("rank_collapse"):
        return ESDPhase.rank_collapse, tuple(path)
    path.append("decay")
    if holds("decay", strict=True):
        path.append("heavy")
        if holds("heavy"):
            return ESDPhase.heavy_tailed, tuple(path)
        path.append("dominant")
        return (ESDPhase.bulk_spikes if holds("dominant") else ESDPhase.bulk_decay), tuple(path)
    path.append("outlier")
    if not holds("outlier", strict=True):
        return ESDPhase.random_like, tuple(path)
    path.append("spike")
    return (ESDPhase.bulk_spikes if holds("spike", strict=True) else ESDPhase.bleeding_out), tuple(path)


def margin_of(scores: Dict[str, float], path: Tuple[str, ...]) -> float:
    """min |ln score| over ``path``: 0 at a threshold, ln 2 ~ 0.69 a factor 2 away."""
    values = []
    for name in path:
        s = scores[name]
        if math.isnan(s):
            continue
        values.append(math.inf if s <= 0 or math.isinf(s) else abs(math.log(s)))
    return min(values) if values else math.nan


def classify_phase(
    eigs,
    h: int,
    d: int,
    thresholds: Optional[PhaseThresholds] = None,
    *,
    mp: Optional[MPFit] = None,
    count: int = 1,
) -> PhaseResult:
    """Martin & Mahoney phase of the ESD of W (h x d), by the rule of the module docstring.

    ``mp`` reuses a fit already made from the same eigenvalues with
    ``fit_mp(trim=bulk_trim, level=tw_level, count=count)``.

    ``count`` > 1: the ESD pools the eigenvalues of that many h x d matrices (a convolution's
    slices, htsweep.spectral.conv).  The bulk misfit is then sqrt(count) N KS (N = min(h, d)):
    each matrix's empirical CDF deviates O(1 / N) from the law (rigidity) and the pooled one
    averages count independent deviations, O(1 / (N sqrt(count))), so this keeps the
    calibrated null (random 3x3 convolutions, 9 slices of 64x64 ... 512x512, 12 draws each:
    1.7-4.6, against 1.8-3.9 for one matrix; N KS alone would read 0.6-1.5, count N KS 5-14).
    The zero fraction and the tail exponent read the pooled eigenvalues."""
    th = thresholds if thresholds is not None else PhaseThresholds()
    e = torch.sort(as_float64(eigs)).values
    N = min(h, d)
    total = count * N
    e = e[e.numel() - total :].clamp_min(0.0) if e.numel() >= total else e
    lam_max = float(e[-1]) if e.numel() else math.nan
    zero_fraction = float((e <= th.zero_rtol * lam_max).double().mean()) if lam_max > 0 else 1.0
    fit = mp if mp is not None else fit_mp(e, h, d, trim=th.bulk_trim, level=th.tw_level, count=count)
    k, k0 = tail_sizes(int(e.numel()), th)
    tail_alpha = trimmed_hill(e, k, k0)  # NaN when fewer than k + 1 positive eigenvalues
    bulk_ks_n = N * fit.ks_distance if count == 1 else math.sqrt(count) * N * fit.ks_distance
    gap = _ratio(lam_max, fit.lambda_plus)
    scores = {
        "rank_collapse": zero_fraction / th.rank_collapse_fraction,
        "outlier": _ratio(lam_max, fit.threshold),
        "spike": gap / th.spike_ratio,
        "decay": bulk_ks_n / th.decay_ks_n,
        "dominant": gap / th.dominant_gap,
        "heavy": _ratio(th.heavy_tail_alpha, tail_alpha) if tail_alpha == tail_alpha else math.nan,
    }
    phase, path = decide(scores)
    return PhaseResult(
        phase=phase,
        margin=margin_of(scores, path),
        zero_fraction=zero_fraction,
        num_outliers=fit.num_spikes,
        num_separated=int((e > th.spike_ratio * fit.lambda_plus).sum()),
        bulk_ks_n=bulk_ks_n,
        spike_gap=gap,
        tail_alpha=tail_alpha,
        scores=scores,
        path=path,
    )
