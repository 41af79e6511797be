"""Spectral analysis of a weight matrix: its ESD, power-law tail fits, the Marchenko-Pastur
bulk and its spikes, norm metrics, the Martin-Mahoney phase, and the singular-vector overlaps
with an optimiser update.  Pure functions: eigenvalues (or matrices) in, numbers out.

See each module's docstring for formulas and references:
esd (ESD / thin SVD), powerlaw (PL_Alpha_Hill, PL_Alpha_KS, tail likelihood ratios),
mp (Marchenko-Pastur, Tracy-Widom, BBP, bulk fit), norms, phases, overlaps (App. C, Thm 4.1),
report (everything derived from one ESD).
"""

from htsweep.spectral.esd import (
    Spectrum,
    ThinSVD,
    esd_eigenvalues,
    spectral_norm,
    spectrum,
    spectrum_and_top_svd,
    spectrum_from_svd,
    thin_svd,
    top_svd,
    eigvalsh,
    top_eigh,
)
from htsweep.spectral.mp import MarchenkoPastur, MPFit, fit_mp, fit_mp_scale, ks_to_law
from htsweep.spectral.norms import NormMetrics, matrix_entropy, norm_metrics, numerical_rank
from htsweep.spectral.overlaps import (
    OverlapSummary,
    Overlaps,
    Thm41Norms,
    UpdateSpectrum,
    alignment,
    first_adam_update,
    overlap_matrix,
    singular_vector_overlaps,
    summarize_overlap,
    thm41_norms,
    top_right_singular_vector,
    top_singular_values,
    update_spectrum,
)
from htsweep.spectral.phases import (
    ESDPhase,
    PhaseResult,
    PhaseThresholdError,
    PhaseThresholds,
    classify_phase,
    phase_min_tail,
)
from htsweep.spectral.powerlaw import (
    KSCandidates,
    LikelihoodRatio,
    PowerLawFit,
    TailComparison,
    alpha_hill,
    alpha_ks,
    ks_candidates,
    ks_distances,
    tail_comparison,
)
from htsweep.spectral.report import ESDReport, esd_report

__all__ = [
    "spectrum_and_top_svd",
    "eigvalsh",
    "top_eigh",
    "top_svd",
    "ESDPhase",
    "ESDReport",
    "KSCandidates",
    "LikelihoodRatio",
    "MPFit",
    "MarchenkoPastur",
    "NormMetrics",
    "OverlapSummary",
    "Overlaps",
    "PhaseResult",
    "PhaseThresholdError",
    "PhaseThresholds",
    "PowerLawFit",
    "Spectrum",
    "TailComparison",
    "ThinSVD",
    "Thm41Norms",
    "UpdateSpectrum",
    "alignment",
    "alpha_hill",
    "alpha_ks",
    "classify_phase",
    "esd_eigenvalues",
    "esd_report",
    "first_adam_update",
    "fit_mp",
    "fit_mp_scale",
    "ks_candidates",
    "ks_distances",
    "ks_to_law",
    "matrix_entropy",
    "norm_metrics",
    "numerical_rank",
    "overlap_matrix",
    "phase_min_tail",
    "singular_vector_overlaps",
    "spectral_norm",
    "spectrum",
    "spectrum_from_svd",
    "summarize_overlap",
    "tail_comparison",
    "thin_svd",
    "thm41_norms",
    "top_right_singular_vector",
    "top_singular_values",
    "update_spectrum",
]
