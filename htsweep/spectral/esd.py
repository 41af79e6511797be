"""Empirical spectral density of W^T W and the singular vectors the probes need.

The ESD is the N = min(h, d) eigenvalues of W^T W, i.e. the squared singular values of W
(Sec. 3.2).  It is computed from the smaller of the two Gram matrices, W^T W (d x d) or W W^T
(h x h), in float64, so the d - h (or h - d) structural zeros never enter a fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Spectrum:
    eigs: Tensor  # (N,), ascending, float64: squared singular values of W
    v1: Tensor  # (d,), top right singular vector of W, float64, unit norm


def _small_gram(A: Tensor) -> tuple[Tensor, bool]:
    """(Gram of the smaller side in float64, True if it is A^T A)."""
    A64 = A.to(torch.float64)
    if A.shape[1] <= A.shape[0]:
        return A64.t() @ A64, True
    return A64 @ A64.t(), False


def spectrum(W: Tensor) -> Spectrum:
    """Eigenvalues of W^T W (ascending, float64) and W's top right singular vector."""
    gram, right = _small_gram(W)
    eigs, vecs = torch.linalg.eigh(gram)
    top = vecs[:, -1]
    if right:
        v1 = top
    else:  # top left singular vector u1 -> v1 = W^T u1 / s1
        v1 = W.to(torch.float64).t() @ top
        v1 = v1 / torch.linalg.vector_norm(v1)
    return Spectrum(eigs=eigs.clamp_min_(0.0), v1=v1)


def spectral_norm(A: Tensor) -> float:
    """||A||_2 = largest singular value, from the float64 Gram of the smaller side."""
    gram, _ = _small_gram(A)
    return float(torch.linalg.eigvalsh(gram)[-1].clamp_min(0.0).sqrt())
