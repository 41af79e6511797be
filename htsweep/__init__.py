"""htsweep: heavy-tailed weight spectra of two-layer networks trained without gradient noise.

Reference: V. Kothapalli, T. Pang, S. Deng, Z. Liu, Y. Yang, "From Spikes to Heavy Tails:
Unveiling the Spectral Evolution of Neural Networks" (the paper, cited by section / equation).
"""

import os

# SciPy's OpenBLAS (the ?syrk Gram matrices, the eigensolvers) and torch's own BLAS run on the
# same cores one after the other.  After each call OpenBLAS's worker threads spin-wait for
# 2^28 cycles (~0.1 s) by default, and a torch GEMM started in that window runs 30-60% slower
# on a 2-core machine.  2^18 cycles (~0.1 ms) still bridges the gaps between the many small
# BLAS calls inside one LAPACK routine (?sytrd slows by half at 2^4) but frees the cores before
# the next torch kernel.  Set before numpy/scipy load OpenBLAS; a value the user exported wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

__version__ = "0.2.0"
