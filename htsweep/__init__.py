"""htsweep: heavy-tailed weight spectra of two-layer networks trained without gradient noise.

Reference: V. Kothapalli, T. Pang, S. Deng, Z. Liu, Y. Yang, "From Spikes to Heavy Tails:
Unveiling the Spectral Evolution of Neural Networks" (the paper, cited by section / equation).
"""

__version__ = "0.1.0"
