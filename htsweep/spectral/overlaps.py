"""Singular-vector overlaps between a weight matrix and an optimiser update (App. C), the
spectrum of the gradient / update, and the Theorem 4.1 norms of the first FB-Adam step.

Overlaps (App. C, Definition C.1, after Landau et al. 2023).  With the thin SVDs
W_{t+1} = U_W S_W V_W^T and M_t = U_M S_M V_M^T (b = min(h, d) columns, singular values
descending, eq. 36), the overlap matrices are

    O(U_{W_{t+1}}, U_{M_t}) = (U_W^T U_M)^{o2},   O(V_{W_{t+1}}, V_{M_t}) = (V_W^T V_M)^{o2},

b x b, entry (j, k) = (u_hat_j^T u_k)^2 in [0, 1] (squared cosine; the sign of a singular
vector drops out).  Each row and column sums to <= 1 (= 1 for the square factor).  Summaries
stored per probe step:

* ``top_pair``  O[0, 0], the overlap of the top singular pair (close to 1 in the Bulk+Spike
  regime after one large step, Fig. 9a-b);
* ``top_k_diag`` O[j, j], j < k (the decay along the diagonal, Fig. 9c-d);
* ``max_offdiag`` max_{j != k} O[j, k] and its position (the "outliers" of Fig. 16-18, 27);
* ``max`` the largest entry anywhere and its position.

Within a degenerate (or numerically near-degenerate) singular value the vectors are only
determined up to rotation, so individual bulk entries are noisy; the summaries above are
dominated by isolated singular values and are stable.

Update spectrum: the top singular values of G_t and M_t, and sim(M_t, beta) = |v_1(M_t)^T beta|,
the alignment of the update's top right singular vector with the teacher (as sim(W, beta) of
Sec. 3.2).

Theorem 4.1.  As eps -> 0 the first FB-Adam update is a scaled sign of the gradient, eq. (9):

    G~_0 = (1 - beta1) / sqrt(1 - beta2) * sign(G_0)        (eq. 4-5 as printed)
    G~_0 = sign(G_0)                                        (with Adam's bias correction)

and ||G~_0||_2, ||G~_0||_F = Theta(sqrt(h d)) (Thm 4.1, eq. 10; App. B.2, Fig. 8).  Since G_0
has no zero entry a.s., ||sign(G_0)||_F = sqrt(h d) exactly; the content of the theorem is that
the spectral norm is of the same order, i.e. the ratio ||.||_2 / ||.||_F stays bounded below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep.spectral.esd import ThinSVD, thin_svd, top_svd

# --------------------------------------------------------------------------------------------
# Overlaps
# --------------------------------------------------------------------------------------------


def overlap_matrix(J: Tensor, Q: Tensor) -> Tensor:
    """O(J, Q) = (J^T Q)^{o2} for column-orthonormal J (a x b) and Q (a x b'), Definition C.1."""
    if J.shape[0] != Q.shape[0]:
        raise ValueError(
            f"J, Q: need the same number of rows, got {tuple(J.shape)} and {tuple(Q.shape)}"
        )
    C = J.to(torch.float64).t() @ Q.to(torch.float64)
    return C.square_()


@dataclass(frozen=True)
class OverlapSummary:
    """Summaries of one overlap matrix O (b x b); indices are 0-based (row = W's singular index,
    column = M's)."""

    top_pair: float
    top_k_diag: Tuple[float, ...]
    max_offdiag: float
    max_offdiag_index: Tuple[int, int]
    max: float
    max_index: Tuple[int, int]

    def as_row(self, prefix: str) -> Dict[str, float]:
        row: Dict[str, float] = {
            f"{prefix}_top_pair": self.top_pair,
            f"{prefix}_max_offdiag": self.max_offdiag,
            f"{prefix}_max_offdiag_row": self.max_offdiag_index[0],
            f"{prefix}_max_offdiag_col": self.max_offdiag_index[1],
            f"{prefix}_max": self.max,
        }
        for j, v in enumerate(self.top_k_diag):
            row[f"{prefix}_diag_{j}"] = v
        return row


def summarize_overlap(O: Tensor, k: int = 10) -> OverlapSummary:
    """The summaries of the module docstring from an overlap matrix."""
    b0, b1 = O.shape
    if b0 == 0 or b1 == 0:
        raise ValueError("O: empty overlap matrix")
    diag = torch.diagonal(O)
    flat = int(torch.argmax(O))
    off = O.clone()
    torch.diagonal(off).fill_(-1.0)
    flat_off = int(torch.argmax(off)) if off.numel() > 1 else 0
    return OverlapSummary(
        top_pair=float(O[0, 0]),
        top_k_diag=tuple(float(v) for v in diag[:k]),
        max_offdiag=float(off.view(-1)[flat_off]) if off.numel() > 1 else math.nan,
        max_offdiag_index=(flat_off // b1, flat_off % b1),
        max=float(O.view(-1)[flat]),
        max_index=(flat // b1, flat % b1),
    )


@dataclass(frozen=True)
class Overlaps:
    """Left (U) and right (V) overlaps of W_{t+1} with M_t; the full matrices only if asked."""

    left: OverlapSummary
    right: OverlapSummary
    O_U: Optional[Tensor] = None
    O_V: Optional[Tensor] = None

    def as_row(self, prefix: str = "overlap") -> Dict[str, float]:
        row = self.left.as_row(f"{prefix}_u")
        row.update(self.right.as_row(f"{prefix}_v"))
        return row


def singular_vector_overlaps(
    W_next: Tensor,
    M: Tensor,
    k: int = 10,
    full: bool = False,
    svd_W: Optional[ThinSVD] = None,
    svd_M: Optional[ThinSVD] = None,
) -> Overlaps:
    """O(U_{W_{t+1}}, U_{M_t}) and O(V_{W_{t+1}}, V_{M_t}) (App. C) and their summaries.

    Pass ``svd_W`` / ``svd_M`` (from :func:`thin_svd`) to reuse decompositions already made for
    the ESD.  ``full=True`` also returns the two b x b float64 matrices (``probe.overlaps=full``);
    store them as float16/float32 if space matters: entries are in [0, 1]."""
    if W_next.shape != M.shape:
        raise ValueError(f"W_next, M: shapes differ, {tuple(W_next.shape)} vs {tuple(M.shape)}")
    sW = svd_W if svd_W is not None else thin_svd(W_next)
    sM = svd_M if svd_M is not None else thin_svd(M)
    O_U = overlap_matrix(sW.U, sM.U)
    O_V = overlap_matrix(sW.V, sM.V)
    return Overlaps(
        left=summarize_overlap(O_U, k),
        right=summarize_overlap(O_V, k),
        O_U=O_U if full else None,
        O_V=O_V if full else None,
    )


# --------------------------------------------------------------------------------------------
# Gradient / update spectrum
# --------------------------------------------------------------------------------------------


def top_singular_values(A: Tensor, k: int = 5) -> Tensor:
    """The k largest singular values of A, descending (float64, from the smaller Gram)."""
    return top_svd(A, k).S


def top_right_singular_vector(A: Tensor) -> Tensor:
    """v_1(A), unit norm, float64 (sign arbitrary)."""
    return top_svd(A, 1).V[:, 0]


def alignment(v: Tensor, beta: Tensor) -> float:
    """|v^T beta| / (|v| |beta|): the alignment of Sec. 3.2 for any direction v."""
    v64, b64 = v.to(torch.float64).flatten(), beta.to(torch.float64).flatten()
    den = float(torch.linalg.vector_norm(v64) * torch.linalg.vector_norm(b64))
    return abs(float(torch.dot(v64, b64))) / den if den > 0 else math.nan


@dataclass(frozen=True)
class UpdateSpectrum:
    """Top singular values of the gradient G_t and the update M_t, and |v_1(M_t)^T beta|."""

    grad_top: Tuple[float, ...]
    update_top: Tuple[float, ...]
    update_beta_alignment: float

    def as_row(self, prefix: str = "") -> Dict[str, float]:
        row: Dict[str, float] = {f"{prefix}update_beta_alignment": self.update_beta_alignment}
        for j, v in enumerate(self.grad_top):
            row[f"{prefix}grad_sv_{j}"] = v
        for j, v in enumerate(self.update_top):
            row[f"{prefix}update_sv_{j}"] = v
        return row


def update_spectrum(
    G: Optional[Tensor],
    M: Tensor,
    beta: Optional[Tensor],
    k: int = 5,
    svd_M: Optional[ThinSVD] = None,
) -> UpdateSpectrum:
    """Top-k singular values of G_t and M_t and sim(M_t, beta) = |v_1(M_t)^T beta|
    (``G=None`` skips the gradient: its singular values cost one more eigvalsh; ``beta=None``,
    no teacher, gives NaN for the alignment)."""
    if svd_M is not None:
        m_top = svd_M.S[:k]
        v1 = svd_M.V[:, 0]
    else:
        m_top = top_singular_values(M, k)
        v1 = top_right_singular_vector(M)
    return UpdateSpectrum(
        grad_top=() if G is None else tuple(float(x) for x in top_singular_values(G, k)),
        update_top=tuple(float(x) for x in m_top),
        update_beta_alignment=math.nan if beta is None else alignment(v1, beta),
    )


# --------------------------------------------------------------------------------------------
# Theorem 4.1
# --------------------------------------------------------------------------------------------


def first_adam_update(
    G0: Tensor, beta1: float = 0.9, beta2: float = 0.999, bias_correction: bool = False
) -> Tensor:
    """G~_0 of eq. (9), the eps -> 0 limit of the first FB-Adam direction:
    (1 - beta1) / sqrt(1 - beta2) * sign(G_0), or sign(G_0) with bias correction.
    (The update itself is M_0 = -lr * G~_0.)"""
    scale = 1.0 if bias_correction else (1.0 - beta1) / math.sqrt(1.0 - beta2)
    return torch.sign(G0.to(torch.float64)).mul_(scale)


@dataclass(frozen=True)
class Thm41Norms:
    """||G~_0||_2, ||G~_0||_F, their ratio, and sqrt(h d) (the theorem's scale)."""

    spectral: float
    frobenius: float
    sqrt_hd: float

    @property
    def ratio(self) -> float:
        """||G~_0||_2 / ||G~_0||_F in (0, 1]; Thm 4.1 says it stays Theta(1)."""
        return self.spectral / self.frobenius if self.frobenius > 0 else math.nan

    def as_row(self, prefix: str = "g0_tilde") -> Dict[str, float]:
        return {
            f"{prefix}_spectral": self.spectral,
            f"{prefix}_frobenius": self.frobenius,
            f"{prefix}_ratio": self.ratio,
        }


def thm41_norms(G_tilde: Tensor) -> Thm41Norms:
    """Spectral and Frobenius norms of a (normalised) first update, Thm 4.1 / Fig. 8."""
    h, d = G_tilde.shape
    return Thm41Norms(
        spectral=float(top_singular_values(G_tilde, 1)[0]),
        frobenius=float(torch.linalg.matrix_norm(G_tilde.to(torch.float64), "fro")),
        sqrt_hd=math.sqrt(h * d),
    )
