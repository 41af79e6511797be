"""Matricising a convolution: which matrices' eigenvalues make the ESD of a Conv2d layer.

A Conv2d weight W has shape (out, in, k, k) (PyTorch's layout; a k1 x k2 kernel works the
same way).  Two matricisations are in use:

``slices`` (default; WeightWatcher's, ``weightwatcher.WeightWatcher`` with its default
    ``conv2d_fft=False``): the k * k slices W[:, :, i, j], each an (out x in) matrix, their
    eigenvalues pooled into one ESD of k^2 min(out, in) eigenvalues.  Each slice's Gram is
    formed from its smaller side, in float64, all k^2 at once: one (k^2, s, s) batch,
    s = min(out, in), and one batched symmetric eigensolver (LAPACK ?syevd per slice through
    numpy's stacked ``eigvalsh`` on the CPU; torch's batched solver elsewhere).  Under an
    i.i.d. initialisation with entry std sigma each slice is an (out x in) i.i.d. matrix, so
    the pooled ESD follows the Marchenko-Pastur law of shape (out, in) and variance sigma^2
    (only the sample is k^2 times larger): :class:`Matricised` records that shape (``rows``,
    ``cols``) and ``count`` = k^2.
``reshape``: the single (out x in k k) matrix W.reshape(out, -1) (each output channel's whole
    filter as one row), min(out, in k^2) eigenvalues, Marchenko-Pastur of shape (out, in k^2).

Both carry the same total mass, sum of the eigenvalues = ||W||_F^2 (the slices partition the
entries), but not the same spread: for ``torch.manual_seed(0); torch.nn.Conv2d(32, 64, 3)``
(PyTorch's default init) the pooled slices' largest eigenvalue is 0.212, the reshape's 0.724
(both sum to 21.34).  Numbers from the two are not comparable; the ``conv_matrix`` column
says which ran (``matrix`` for a 2-D layer, analysed as it is).

Scaling.  WeightWatcher's ``analyze()`` multiplies Conv2d weights by sqrt(1/2) before its
fits (its default ``conv2d_norm=True``: the eigenvalues are halved, the power-law exponents
unchanged), while its ``get_ESD()`` does not.  The eigenvalues here are **unscaled**:
lambda_max, the norms and the ESD are those of W's own slices (halve them to compare with
``analyze()``'s ``lambda_max`` / ``spectral_norm`` of a conv layer; alphas compare directly).

Which eigenvalues: the non-zero part only, min(rows, cols) per matrix (the larger Gram's
|rows - cols| structural zeros never enter), ascending, clamped at 0, float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from torch import Tensor

from htsweep.spectral.esd import esd_eigenvalues


class ConvMatrix(Enum):
    """How a Conv2d weight (out, in, k, k) becomes the matrices of its ESD (module docstring)."""

    slices = "slices"
    reshape = "reshape"


MATRIX = "matrix"  # the ``conv_matrix`` value of a 2-D layer (analysed as it is)


@dataclass(frozen=True)
class Matricised:
    """The matrices of one layer's ESD: ``count`` matrices of ``rows`` x ``cols`` (stacked in
    ``matrices``: (count, rows, cols), a view of the weight where possible), and which
    matricisation made them (``kind``: ``slices``, ``reshape`` or ``matrix``)."""

    kind: str
    matrices: Tensor
    rows: int
    cols: int
    count: int

    @property
    def n_eigs(self) -> int:
        """Eigenvalues of the pooled ESD: count * min(rows, cols)."""
        return self.count * min(self.rows, self.cols)


def as_matrix(W: Tensor) -> Tensor:
    """A 2-D view of a weight: W itself when 2-D, else the (out x in k k) reshape (the
    ``reshape`` matricisation; used for whatever needs one matrix per layer: the overlaps with
    the update, ||W_t - W_0||, ||M||)."""
    if W.dim() == 2:
        return W
    if W.dim() < 2:
        raise ValueError(f"a weight needs >= 2 dimensions, got shape {tuple(W.shape)}")
    return W.reshape(W.shape[0], -1)


def matrix_shape(W: Tensor, mode: "ConvMatrix | str" = ConvMatrix.slices) -> tuple[str, int, int, int]:
    """(kind, rows, cols, count) of :func:`matricise` without building the matrices."""
    mode = ConvMatrix(mode)
    shape = tuple(int(s) for s in W.shape)
    if len(shape) == 2:
        return MATRIX, shape[0], shape[1], 1
    if mode is ConvMatrix.slices and len(shape) == 4:
        return ConvMatrix.slices.value, shape[0], shape[1], shape[2] * shape[3]
    return ConvMatrix.reshape.value, shape[0], int(np.prod(shape[1:])), 1


def matricise(W: Tensor, mode: "ConvMatrix | str" = ConvMatrix.slices) -> Matricised:
    """The matrices of ``W``'s ESD: a 2-D W as it is (``matrix``); a 4-D (out, in, k1, k2)
    W as its k1 k2 slices W[:, :, i, j] (``slices``, in row-major (i, j) order) or as the
    (out, in k1 k2) reshape (``reshape``).  Other shapes: ``reshape`` (out, prod(rest))."""
    mode = ConvMatrix(mode)
    if W.dim() == 2:
        return Matricised(MATRIX, W.unsqueeze(0), int(W.shape[0]), int(W.shape[1]), 1)
    if mode is ConvMatrix.slices and W.dim() == 4:
        out, inp, k1, k2 = (int(s) for s in W.shape)
        stack = W.permute(2, 3, 0, 1).reshape(k1 * k2, out, inp)
        return Matricised(ConvMatrix.slices.value, stack, out, inp, k1 * k2)
    M = as_matrix(W)
    return Matricised(ConvMatrix.reshape.value, M.unsqueeze(0), int(M.shape[0]), int(M.shape[1]), 1)


def batched_grams(stack: Tensor) -> Tensor:
    """The float64 Gram of each matrix of ``stack`` (count, rows, cols) from its smaller side:
    A^T A (cols x cols) when cols <= rows, else A A^T; one batched product."""
    A = stack.to(torch.float64)
    if A.shape[-1] <= A.shape[-2]:
        return torch.bmm(A.mT, A)
    return torch.bmm(A, A.mT)


def batched_eigvalsh(G: Tensor) -> Tensor:
    """All eigenvalues of each symmetric matrix of the batch G (count, s, s), ascending per
    matrix, float64: numpy's stacked ``eigvalsh`` (LAPACK ?syevd, values only) on the CPU,
    torch's batched solver elsewhere."""
    if G.device.type == "cpu":
        return torch.from_numpy(np.linalg.eigvalsh(G.numpy()))
    return torch.linalg.eigvalsh(G)


def pooled_eigenvalues(m: Matricised) -> Tensor:
    """The pooled ESD of a :class:`Matricised`: every matrix's min(rows, cols) eigenvalues of
    its Gram, sorted ascending into one float64 CPU vector, clamped at 0.

    One matrix (``matrix``, ``reshape``) goes through :func:`htsweep.spectral.esd_eigenvalues`
    (one Gram by ?syrk, one ?syevr: the two-layer model's path, bit for bit); ``slices`` through
    one batched Gram and one batched eigensolver."""
    if m.count == 1:
        return esd_eigenvalues(m.matrices[0]).cpu()
    vals = batched_eigvalsh(batched_grams(m.matrices)).reshape(-1).cpu()
    return torch.sort(vals).values.clamp_min_(0.0)


def layer_eigenvalues(W: Tensor, mode: "ConvMatrix | str" = ConvMatrix.slices) -> tuple[Tensor, Matricised]:
    """(pooled ESD, its matricisation) of one layer's weight (:func:`matricise`,
    :func:`pooled_eigenvalues`)."""
    m = matricise(W, mode)
    return pooled_eigenvalues(m), m
