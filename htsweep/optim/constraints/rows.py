"""Row normalisation: every neuron's weight vector back to a fixed norm after each update.

``weight_norm=rows``: w_j <- r_0 w_j / ||w_j||, r_0 = sqrt(d) sigma_W (sigma_W the entry scale of
W_0's law), i.e. the rows stay on the sphere of their initial norm scale.  In eq. (2)'s 1/sqrt(d)
pre-activation scale this is seed 001's unit-sphere projection (``W /= ||W||_row``: its rows are
W / sqrt(d) here) and the "spherical gradient dynamics" of seed 003 (Mousavi-Hosseini et al.,
NeurIPS 2023).

``weight_norm=sigma_rows``: w_j <- r_0 w_j / ||Sigma^(1/2) w_j||, the rows on the Sigma-sphere,
so every pre-activation c w_j^T x has the variance it has at initialisation under isotropic
inputs.  Seed 003's remedy for spherical dynamics under a spiked covariance (a normalisation
"reminiscent of batch normalization"); Sigma is the empirical covariance X^T X / n of the
training inputs (``sigma=empirical``, d x d, formed once) or the data set's known law
(``sigma=known``, O(h d) per step).  With Sigma = I both equal ``rows``.

Both project W_0 too (``at_init``): the dynamics start on the constraint set, as the notebook's
rows start on the unit sphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import torch
from torch import Tensor

from htsweep.data.base import Dataset
from htsweep.models.base import Model, Params
from htsweep.optim.constraints.base import ConstraintConfig


@dataclass
class RowsConfig(ConstraintConfig):
    """Every row of W back to norm sqrt(d) sigma_W after each update (unit sphere in the
    notebook's units)."""

    OPTION = "rows"
    name: str = "rows"


class SigmaSource(str, Enum):
    empirical = "empirical"
    known = "known"


@dataclass
class SigmaRowsConfig(ConstraintConfig):
    """Rows back to ||Sigma^(1/2) w_j|| = sqrt(d) sigma_W; Sigma empirical or known."""

    OPTION = "sigma_rows"
    name: str = "sigma_rows"
    sigma: SigmaSource = SigmaSource.empirical


def row_target(model: Model, name: str, cols: int) -> float:
    """r_0 = sqrt(d) sigma_W: the expected row norm of W_0 (to leading order)."""
    return math.sqrt(cols) * model.init_std(name)


class Rows:
    at_init = True

    def __init__(self, cfg: RowsConfig, model: Model, data: Dataset) -> None:
        del cfg, data
        self.model = model

    def project_(self, params: Params) -> None:
        for name, W in self.model.matrices(params).items():
            norms = torch.linalg.vector_norm(W, dim=-1, keepdim=True)
            W.mul_(row_target(self.model, name, W.shape[-1]) / norms)


class SigmaRows:
    at_init = True

    def __init__(self, cfg: SigmaRowsConfig, model: Model, data: Dataset) -> None:
        self.model = model
        self.sigma = cfg.sigma
        if cfg.sigma is SigmaSource.known:
            if data.law is None:
                raise ValueError("weight_norm.sigma: known needs a data source with a known Gaussian law; use empirical")
            self.law = data.law
        else:
            X = data.train.X.reshape(data.train.m, -1)
            self.cov = (X.T @ X).div_(X.shape[0])  # Sigma-hat, d x d, run dtype

    def quadratic_form(self, W: Tensor) -> Tensor:
        """w_j^T Sigma w_j per row (..., h)."""
        if self.sigma is SigmaSource.known:
            flat = W.reshape(-1, W.shape[-1])
            return self.law.quadratic_form(flat).to(W.dtype).reshape(W.shape[:-1])
        return ((W @ self.cov) * W).sum(dim=-1)

    def project_(self, params: Params) -> None:
        for name, W in self.model.matrices(params).items():
            norms = self.quadratic_form(W).clamp_min_(0.0).sqrt_().unsqueeze(-1)
            W.mul_(row_target(self.model, name, W.shape[-1]) / norms)
