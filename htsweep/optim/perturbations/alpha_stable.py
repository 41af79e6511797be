"""``noise=alpha_stable``: heavy-tailed noise added to the hidden-layer weights after every update.

Wan, Barsbey, Zaidi & Simsekli, "Implicit Compressibility of Overparametrized Neural Networks
Trained with Heavy-Tailed SGD" (ICML 2024; code mbarsbey/implicit-compressibility, main.py's
iterate noise): after update t, made at step size lr,

    W <- W + c N_t,   c = sigma lr^(1/alpha)  (``lr_scaling=true``, the source's), or c = sigma,

the Euler step of dW = -grad L dt + sigma dL^alpha_t with t = k lr.  ``lr`` is the step size of the
update (lr_t: after the schedule and ``optimizer.lr_scaling``).  N_t goes to every matrix of
``model.hidden`` (two_layer: W; mlp / vgg11 / resnet18: every Conv2d / Linear layer but the
output layer), never to a fixed readout (two_layer's ``a``) or the output layer.  Rows are
neurons: a row of a Linear weight, a filter (out index) of a Conv2d weight (out, in, k, k), viewed
as (out, in k k).  ``type`` (the source's numbering):

- ``per_neuron`` (type 1): one S alpha S(1) scalar per row, added to every entry of the row
  (rank one per step: it plants a spike along 1/sqrt(cols); an ablation);
- ``per_entry`` (type 2): i.i.d. S alpha S(1) per entry;
- ``subgaussian`` (type 3, the default): per row sqrt(A_i) g_i, g_i ~ N(0, I), A_i >= 0 positive
  (alpha/2)-stable, rotation-invariant per neuron.

Conventions (htsweep's, one for all three types).  S alpha S(1) is scipy's
``levy_stable(alpha, 0)`` (default S1 parameterisation, scale 1), characteristic function
exp(-|t|^alpha).  For ``subgaussian`` A has S1 scale 2 cos(pi alpha / 4)^(2/alpha) (A = 2 K, K
Kanter's (alpha/2)-stable with E exp(-g K) = exp(-g^(alpha/2))), so every marginal of sqrt(A) g is
S alpha S(1) as well (the source's main.py uses scale cos(pi alpha / 4)^(2/alpha), whose marginals
have scale 2^(-1/2); its exp_utils.simulate_mv_stable uses ours).  At alpha = 2 every type's
marginals are the alpha -> 2 limit, N(0, 2): variance 2 c^2 per entry; ``subgaussian`` uses A == 2
exactly (no stable draw), so it is then the same law as ``per_entry``; ``per_neuron`` draws
N(0, 2) per row (the source mixes N(0, 1), N(0, 2) and A ~ 0 here).

Draws: one named stream per update and layer, ``noise/<t>/<layer>`` (htsweep.seeding.stream_seed),
on the weights' device (a CPU generator on the CPU, a CUDA generator on a GPU: the numbers depend
on the device type, and are reproducible on it; a resumed run draws the same ones).  Samples are
computed in float64 (htsweep.optim.perturbations.stable) in fixed blocks of 2^20 entries and cast
to the weights' dtype after scaling by c.

``ratio`` (instead of ``sigma``; notes ht_noise.md sec. 6): a noise-to-weight ratio r fixes sigma
per layer from the run's horizon, so one grid of r means the same amount of noise at every lr,
width and alpha.  After T = ``steps`` updates at lr the accumulated i.i.d. noise of an entry is
S alpha S of scale sigma (lr T)^(1/alpha) (sigma T^(1/alpha) without ``lr_scaling``); r sets that
scale to r times the layer's initial entry std (``model.init_std``):
sigma_layer = r std_0(layer) / (lr T)^(1/alpha), with lr the base step size (before a schedule).
At alpha = 2 the accumulated entry std is then sqrt(2) r std_0.  ``sigma = 0`` adds nothing and draws nothing: the run
is bit-identical to ``noise=none``.  ``apply_`` returns the added noise c N_t per matrix name, in
the matrix's shape and dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep.errors import ConfigError
from htsweep.models import hidden_names
from htsweep.models.base import Model, Params
from htsweep.optim.perturbations.base import PerturbationConfig
from htsweep.optim.perturbations import stable
from htsweep.optim.perturbations.stable import subgaussian_mixing, symmetric_stable
from htsweep.seeding import stream_seed


class NoiseType(str, Enum):
    per_neuron = "per_neuron"  # type 1: one S alpha S scalar per row
    per_entry = "per_entry"  # type 2: i.i.d. S alpha S entries
    subgaussian = "subgaussian"  # type 3: sqrt(A_i) g_i per row


@dataclass
class AlphaStableConfig(PerturbationConfig):
    """alpha-stable iterate noise of scale sigma lr^(1/alpha) (or sigma) on the hidden layers."""

    OPTION = "alpha_stable"
    name: str = "alpha_stable"
    type: NoiseType = NoiseType.subgaussian
    alpha: float = 1.75
    sigma: float = 0.0
    lr_scaling: bool = True
    ratio: Optional[float] = None  # noise-to-weight ratio r; null: use sigma (module docstring)

    def check(self) -> None:
        if not isinstance(self.type, NoiseType):
            allowed = ", ".join(t.value for t in NoiseType)
            self.require(self.type in {t.value for t in NoiseType}, "type",
                         f"Invalid value {self.type!r}, expected one of [{allowed}]")  # fmt: skip
            self.type = NoiseType(self.type)
        self.require(0.0 < self.alpha <= 2.0, "alpha", f"must be in (0, 2], got {self.alpha}")
        self.require(self.sigma >= 0.0, "sigma", f"must be >= 0, got {self.sigma}")
        if self.ratio is not None:
            self.require(self.ratio >= 0.0, "ratio", f"must be >= 0 (or null: use noise.sigma), got {self.ratio}")
            self.require(self.sigma == 0.0, "ratio",
                         f"set noise.sigma or noise.ratio, not both (sigma={self.sigma}, ratio={self.ratio})")  # fmt: skip

    def incompatibility(self, model_cfg: Any, data_cfg: Any) -> Optional[Tuple[str, str]]:
        """(field, message) when the model has no hidden layer to perturb (a start-up check
        across groups, htsweep.config), else None."""
        hidden = hidden_names(model_cfg, data_cfg)
        if hidden is None or hidden:
            return None
        return "noise", no_hidden_message(model_cfg)


def no_hidden_message(model_cfg: Any) -> str:
    depth = getattr(model_cfg, "depth", None)
    where = f"model={model_cfg.name}" + ("" if depth is None else f" with depth={depth}")
    return (f"alpha_stable needs a model with hidden layers (it never perturbs the output layer); "
            f"{where} has none")  # fmt: skip


def draw_noise(cfg: AlphaStableConfig, shape: Tuple[int, ...], gen: torch.Generator, dtype: torch.dtype,
               device: torch.device, scale: float = 1.0) -> Tensor:  # fmt: skip
    """``scale`` N for a weight of ``shape`` (rows = shape[0], the rest flattened), drawn from
    ``gen`` in float64 on ``device`` and returned contiguous in ``dtype``."""
    alpha, rows = float(cfg.alpha), int(shape[0])
    cols = math.prod(shape[1:])
    kind = NoiseType(cfg.type)
    if kind is NoiseType.per_entry:
        return symmetric_stable(alpha, shape, gen, dtype, device, scale=scale)
    if kind is NoiseType.per_neuron:
        s = symmetric_stable(alpha, rows, gen, torch.float64, device, scale=scale)
        return s.to(dtype).view(rows, *([1] * (len(shape) - 1))).expand(shape).contiguous()
    root = subgaussian_mixing(alpha, rows, gen, torch.float64, device).sqrt_().mul_(scale)
    out = torch.empty(rows, cols, dtype=dtype, device=device)
    step = max(1, stable.BLOCK // max(cols, 1))
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        g = torch.randn(stop - start, cols, generator=gen, dtype=torch.float64, device=device)
        out[start:stop].copy_(g.mul_(root[start:stop, None]))
    return out.view(shape)


def layer_generator(seed: int, t: int, layer: str, device: torch.device) -> torch.Generator:
    """The generator of update ``t``'s noise on ``layer``: stream ``noise/<t>/<layer>``, on
    ``device`` (a fresh generator per step and layer, never one carried across steps)."""
    gen = torch.Generator(device=device)
    return gen.manual_seed(stream_seed(seed, f"noise/{t}/{layer}"))


class AlphaStable:
    def __init__(self, cfg: AlphaStableConfig, model: Model, seed: int) -> None:
        self.cfg = cfg
        self.model = model
        self.seed = int(seed)
        self.hidden: Tuple[str, ...] = tuple(getattr(model, "hidden", ()))
        if not self.hidden:
            where = type(model).__name__
            raise ConfigError("noise", f"alpha_stable needs a model with hidden layers; {where} has none "
                                       "(it never perturbs the output layer)")  # fmt: skip
        self.sigma: Dict[str, float] = {layer: float(cfg.sigma) for layer in self.hidden}

    def calibrate(self, lr: float, steps: int) -> None:
        """With ``ratio``: sigma per layer from the horizon (module docstring)."""
        if self.cfg.ratio is None:
            return
        horizon = max(int(steps), 1) * (float(lr) if self.cfg.lr_scaling else 1.0)
        for layer in self.hidden:
            self.sigma[layer] = float(self.cfg.ratio) * self.model.init_std(layer) / horizon ** (1.0 / self.cfg.alpha)

    def scale(self, lr: float, layer: Optional[str] = None) -> float:
        sigma = self.sigma[layer if layer is not None else self.hidden[0]]
        return sigma * (float(lr) ** (1.0 / float(self.cfg.alpha)) if self.cfg.lr_scaling else 1.0)

    def apply_(self, params: Params, t: int, lr: float) -> Params:
        matrices = self.model.matrices(params)
        added: Dict[str, Tensor] = {}
        for layer in self.hidden:
            c = self.scale(lr, layer)
            if c == 0.0:
                continue
            W = matrices[layer]
            N = draw_noise(self.cfg, tuple(W.shape), layer_generator(self.seed, t, layer, W.device), W.dtype,
                           W.device, scale=c)  # fmt: skip
            W.add_(N)
            added[layer] = N
        return added


__all__ = ["AlphaStable", "AlphaStableConfig", "NoiseType", "draw_noise", "layer_generator"]
