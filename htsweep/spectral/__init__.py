"""Spectral analysis of a weight matrix: its ESD, power-law tail fits, the Marchenko-Pastur
bulk and norm metrics.  Pure functions: eigenvalues (or matrices) in, numbers out."""

from htsweep.spectral.esd import Spectrum, spectrum, spectral_norm
from htsweep.spectral.mp import MarchenkoPastur
from htsweep.spectral.powerlaw import PowerLawFit, alpha_hill, alpha_ks

__all__ = [
    "MarchenkoPastur",
    "PowerLawFit",
    "Spectrum",
    "alpha_hill",
    "alpha_ks",
    "spectral_norm",
    "spectrum",
]
