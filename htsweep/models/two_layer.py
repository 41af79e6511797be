"""The two-layer student of eq. (2) and its closed-form full-batch gradient (cf. eq. 8).

    f(x) = g a^T sigma(c W x),   c = 1/sqrt(d) (ntk, eq. 2) or 1 (mean_field, eq. 37),

with the output scale g = 1/sqrt(h) of eq. (2) (``output_scale=ntk``), 1/h (``mf``, the
mean-field output scale of seed 001) or a given number.  Seed 001's notebook writes
f = gamma a_nb^T s(W_nb x) with unit rows W_nb = W / sqrt(d) and a_nb = a / sqrt(h), so its
gamma is g sqrt(h) here (:attr:`TwoLayer.gamma`: 1 for ntk, 1/sqrt(h) for mf).
``paper_code=true`` applies gamma twice as the committed ``network_forward`` does (g -> gamma^2 /
sqrt(h); quirk Q1); with ``a_init=notebook`` (the ReLU-vs-Sigmoid cells' a in {-1, 0}, quirk Q2)
or ``gaussian`` (the NTK-vs-MF cells) it reproduces the notebook as committed.

Stage 1 (Sec. 3.1) trains W with the second layer a fixed at its initial value.  For a loss
l(f, y) with per-sample derivative l'_i = dl/df(x_i) (htsweep.losses), the gradient of the mean
loss L(W) = (1/n) sum_i l(f(x_i), y_i) is

    G = dL/dW = (c g / n) diag(a) [ l' 1^T  (.)  sigma'(c X W^T) ]^T X,

two GEMMs of n d h multiply-adds and a few element-wise passes over n x h.  For the MSE of
the paper's code, l' = 2 (f - y): G = -2 x eq. (8) (eq. 8 as printed is the negative gradient
of the 1/(2n) risk of eq. 3).

Tensors may carry a leading batch dimension B on W (B x h x d, e.g. one learning rate per
element): every operation here broadcasts over it, with a shared second layer a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep import activations
from htsweep.activations import Activation
from htsweep.data.base import Split
from htsweep.losses import Loss
from htsweep.models.base import ModelConfig, Params
from htsweep.seeding import generator


class Parametrisation(str, Enum):
    """``ntk``: eq. (2), W_ij, a_i ~ N(0, 1), pre-activation W x / sqrt(d).
    ``mean_field``: eq. (37) of App. D, W_ij ~ N(0, 1/d), a_i ~ N(0, 1/h), pre-activation W x."""

    ntk = "ntk"
    mean_field = "mean_field"


class AInit(str, Enum):
    """Law of the fixed second layer a (times the parametrisation's scale): N(0, 1), Rademacher
    +-1 (seed 001's Gradient_Alignment and Spectrum_Plotting use signs), or ``notebook``: {-1, 0}
    with probability 1/2 each, the draw ``(randint(0, 2) - 1) / sqrt(k)`` of the notebook's
    ReLU-vs-Sigmoid cells (quirk Q2: half the neurons get a_j = 0 and never move)."""

    gaussian = "gaussian"
    rademacher = "rademacher"
    notebook = "notebook"


OUTPUT_SCALES = ("ntk", "mf")


def parse_output_scale(value: str, h: int) -> float:
    """g of the module docstring from ``model.output_scale``: ntk -> 1/sqrt(h), mf -> 1/h, or
    a positive number; ValueError otherwise."""
    text = str(value).strip()
    if text == "ntk":
        return 1.0 / math.sqrt(h)
    if text == "mf":
        return 1.0 / h
    try:
        g = float(text)
    except ValueError:
        raise ValueError(f"must be ntk, mf or a number > 0, got {text!r}") from None
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"must be ntk, mf or a finite number > 0, got {text}")
    return g


@dataclass
class TwoLayerConfig(ModelConfig):
    """Eq. (2): hidden width ``h``, student activation ``activation`` (sigma), parametrisation
    ``param`` (ntk, eq. 2; mean_field, eq. 37), output scale ``output_scale`` (ntk: 1/sqrt(h),
    mf: 1/h, or a number), second-layer law ``a_init``, and ``paper_code`` (seed 001's notebook
    as committed: module docstring)."""

    OPTION = "two_layer"
    name: str = "two_layer"
    h: int = 1500
    activation: Activation = Activation.tanh
    param: Parametrisation = Parametrisation.ntk
    output_scale: str = "ntk"
    a_init: AInit = AInit.gaussian
    paper_code: bool = False

    def check(self) -> None:
        self.require(self.h >= 1, "h", f"must be an integer >= 1, got {self.h}")
        try:
            parse_output_scale(self.output_scale, max(self.h, 1))
        except ValueError as ex:
            self.require(False, "output_scale", str(ex))


class TwoLayer:
    """The student of eq. (2) on inputs of dimension ``d``; parameters ``{"W": (h, d), "a": (h,)}``."""

    trained = ("W",)
    hidden = ("W",)  # hidden-layer weights (layer name = matrix name): noise and pruning act on these

    def __init__(self, cfg: TwoLayerConfig, d: int) -> None:
        self.h = cfg.h
        self.d = d
        self.act = cfg.activation
        self.param = cfg.param
        self.a_init = cfg.a_init
        self.paper_code = cfg.paper_code
        g = parse_output_scale(cfg.output_scale, cfg.h)
        self.gamma = g * math.sqrt(cfg.h)  # the notebook's gamma (1 under ntk)
        # g as applied: once, or (paper_code) the notebook's gamma twice; ntk's 1/sqrt(h) is
        # computed as before the option existed, bit for bit
        self.out_scale = g if not cfg.paper_code else self.gamma * self.gamma / math.sqrt(cfg.h)

    @property
    def preact_scale(self) -> float:
        """c in sigma(c W x): 1/sqrt(d) for ntk (eq. 2), 1 for mean_field (eq. 37)."""
        return 1.0 / math.sqrt(self.d) if self.param is Parametrisation.ntk else 1.0

    @property
    def w_init_std(self) -> float:
        """Entry scale of W_0: 1 (ntk, Sec. 3) or 1/sqrt(d) (mean_field, App. D)."""
        return 1.0 if self.param is Parametrisation.ntk else 1.0 / math.sqrt(self.d)

    @property
    def a_init_std(self) -> float:
        """Entry scale of a: 1 (ntk) or 1/sqrt(h) (mean_field)."""
        return 1.0 if self.param is Parametrisation.ntk else 1.0 / math.sqrt(self.h)

    def init(self, seed: int) -> Params:
        """(W_0, a) in float64 on the CPU from the streams ``init/W`` and ``init/a``: a ~ N(0, 1),
        +-1 or {-1, 0} (``a_init``), times the parametrisation's scale."""
        W = torch.randn(self.h, self.d, generator=generator(seed, "init/W"), dtype=torch.float64)
        gen_a = generator(seed, "init/a")
        if self.a_init is AInit.notebook:
            a = torch.randint(0, 2, (self.h,), generator=gen_a).to(torch.float64).sub_(1.0)
        elif self.a_init is AInit.rademacher:
            a = torch.randint(0, 2, (self.h,), generator=gen_a).to(torch.float64).mul_(2.0).sub_(1.0)
        else:
            a = torch.randn(self.h, generator=gen_a, dtype=torch.float64)
        return {"W": W.mul_(self.w_init_std), "a": a.mul_(self.a_init_std)}

    def matrices(self, params: Params) -> Dict[str, Tensor]:
        return {"W": params["W"]}

    def init_std(self, name: str) -> float:
        if name != "W":
            raise KeyError(f"two_layer: no matrix {name!r}; matrices: W")
        return self.w_init_std

    def preactivation(self, W: Tensor, X: Tensor, extra_scale: float = 1.0) -> Tensor:
        """c X W^T (m x h, or B x m x h); the scale multiplies W (h x d), not the larger product."""
        scale = self.preact_scale * extra_scale
        return X @ (W if scale == 1.0 else W * scale).mT

    def features(self, params: Params, X: Tensor, extra_scale: float = 1.0) -> Tensor:
        """Post-activation features Z = sigma(c X W^T) / sqrt(h), (m x h): the rows of Z-bar^T
        in eq. (6).  ``extra_scale`` multiplies the pre-activation (probe.feature_scale)."""
        Z = activations.value_(self.act, self.preactivation(params["W"], X, extra_scale))
        return Z.mul_(1.0 / math.sqrt(self.h))

    def predict(self, params: Params, X: Tensor) -> Tensor:
        """f(x) for every row of X, eq. (2) with output scale g."""
        S = activations.value_(self.act, self.preactivation(params["W"], X))
        return S.mul_(self.out_scale) @ params["a"]  # the order of eq. (2)'s features Z @ a

    def loss(self, params: Params, split: Split, loss: Loss) -> Tensor:
        return loss.mean(self.predict(params, split.X), split.y)

    def loss_and_grad(
        self, params: Params, split: Split, loss: Loss, keep: Optional[Dict[str, Tensor]] = None
    ) -> Tuple[Tensor, Params]:
        """The mean loss and G = dL/dW in closed form (module docstring), one n x h buffer for
        tanh / sigmoid (sigma' from sigma, fused with the multiplication by l').

        ``keep``: a dict that receives the pass's intermediates for the probes of this step
        (the alignment probe's decomposition): ``r`` = l' (n) and ``D`` = sigma'(c X W^T)
        (n x h), copied before the fused kernels overwrite them, so G's arithmetic is the same
        with or without it."""
        W, a = params["W"], params["a"]
        X, n = split.X, split.m
        g = self.out_scale
        Z = self.preactivation(W, X)
        if activations.grad_from_value(self.act):  # Z, then S, then dS in one buffer
            S = activations.value_(self.act, Z)
            if keep is not None:
                keep["D"] = activations.grad_from_value_copy(self.act, S)
            value, dloss = loss.mean_and_dvalue((S @ a).mul_(g), split.y)
            dS = activations.scale_by_grad_from_value_(self.act, S, dloss.unsqueeze(-1))
        else:
            S, dS = activations.value_and_grad(self.act, Z)
            value, dloss = loss.mean_and_dvalue((S @ a).mul_(g), split.y)
            del S, Z
            if keep is not None:
                keep["D"] = dS.clone()
            dS.mul_(dloss.unsqueeze(-1))  # l'_i sigma'(.)_ij
        if keep is not None:
            keep["r"] = dloss
        G = dS.mT @ X  # (h x d)
        G.mul_((a * (self.preact_scale * g / n)).unsqueeze(-1))
        return value, {"W": G}
