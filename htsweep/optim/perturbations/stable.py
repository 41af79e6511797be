"""Samplers of alpha-stable laws in torch (Chambers-Mallows-Stuck), in the parameterisation of
``scipy.stats.levy_stable`` (its default, S1: Samorodnitsky & Taqqu's), scale 1 unless given.

``symmetric_stable(alpha, shape, gen)``: S alpha S, beta = 0, characteristic function
exp(-|t|^alpha), 0 < alpha <= 2.  With V ~ U(-pi/2, pi/2) and E ~ Exp(1) independent,

    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / E)^((1 - alpha) / alpha)

(Chambers, Mallows & Stuck 1976; Weron 1996).  alpha = 1 is tan(V), the standard Cauchy;
alpha = 2 is N(0, 2) (exp(-t^2): scipy's ``levy_stable(2, 0)`` is ``norm(scale=sqrt(2))``),
drawn as sqrt(2) times a standard normal.

``positive_stable(alpha, shape, gen)``: beta = 1, 0 < alpha < 1, S1, support [0, inf):
E exp(-g X) = exp(-g^alpha / cos(pi alpha / 2)).  The CMS formula for beta = 1 (B = pi/2,
S = cos(pi alpha / 2)^(-1/alpha)) in the angle W = V + pi/2 ~ U(0, pi) is Kanter's
representation

    X = S * K,  K = sin(alpha W) / sin(W)^(1/alpha) * (sin((1 - alpha) W) / E)^((1 - alpha) / alpha),

with every sine positive on (0, pi): K >= 0 by construction, E exp(-g K) = exp(-g^alpha).
:func:`kanter` draws K (no S: it stays finite as alpha -> 1, where K -> 1).

Numerics.  Draws are made in float64 on the generator's device and cast to ``dtype`` (the
requested one, float64 by default) after scaling, in fixed blocks of :data:`BLOCK` elements (the
same numbers on every machine; bounded temporary memory).  Guards: V = pi (U - 1/2) with U in
[0, 1) in float64 lies within [-fl(pi)/2, fl(pi)/2] and fl(pi)/2 < pi/2, so cos V >= 6.1e-17 > 0
(V never reaches an endpoint of (-pi/2, pi/2)); W = pi (U + 2^-54) lies in (0, fl(pi)] and
fl(pi) < pi, so every sine in Kanter's formula is > 0; E = -log(U') with U' clamped to
[2^-54, 1 - 2^-53] lies in [1.1e-16, 37.4] (E > 0, finite).  Kanter's formula is evaluated in the
log domain, so positive draws are never negative or NaN.  The symmetric one is a product of
powers (fewer passes: it is the per-entry hot path) for alpha >= :data:`LOG_DOMAIN_BELOW` = 0.1,
where its factors cannot overflow together, and in the log domain below.  For very small alpha
(below ~0.1) the most extreme draws exceed float64's range and come out as +-inf (values of such
a law, not NaN).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

BLOCK = 1 << 22  # elements per float64 draw block (fixed: the numbers must not depend on the machine)
_TINY = 2.0**-54
# Below this alpha the symmetric sampler works in the log domain: above it its factors
# cos(V)^(-1/alpha) <= 1.6e16^(1/alpha) and (cos((1 - alpha) V) / E)^p <= 9e15^p stay below
# float64's range together (<= 5e305 at 0.1), so their product is never inf * 0 = NaN.
LOG_DOMAIN_BELOW = 0.1

Shape = Union[int, Sequence[int]]


def _numel(shape: Shape) -> int:
    return math.prod((shape,) if isinstance(shape, int) else tuple(shape))


def _uniforms(n: int, gen: torch.Generator, device: torch.device) -> Tuple[Tensor, Tensor]:
    """Two independent blocks of n U[0, 1) draws (float64; one call to the generator)."""
    u = torch.rand(2 * n, generator=gen, dtype=torch.float64, device=device)
    return u[:n], u[n:]


def _inverse_exponential(w: Tensor) -> Tensor:
    """1 / E in place, E = -log(w) ~ Exp(1) for w ~ U[0, 1); w is clamped to [2^-54, 1 - 2^-53]
    first, so E is in [1.1e-16, 37.4]: finite and > 0."""
    return w.clamp_(_TINY, 1.0 - 2.0**-53).log_().reciprocal_().neg_()


def _log_exponential(w: Tensor) -> Tensor:
    """log E in place (E as in :func:`_inverse_exponential`)."""
    return w.clamp_(_TINY, 1.0 - 2.0**-53).log_().neg_().log_()


def _check_alpha(alpha: float, low_open: float, high: float, high_closed: bool, what: str) -> float:
    alpha = float(alpha)
    ok = low_open < alpha and (alpha <= high if high_closed else alpha < high)
    if not ok:
        bracket = "]" if high_closed else ")"
        raise ValueError(f"{what}: alpha must be in ({low_open:g}, {high:g}{bracket}, got {alpha}")
    return alpha


def cms_symmetric(alpha: float, u: Tensor, w: Tensor, scale: float = 1.0) -> Tensor:
    """``scale`` S alpha S(1) values from U[0, 1) draws ``u`` (the angle) and ``w`` (the
    exponential), float64, 0 < alpha < 2; ``u`` and ``w`` are overwritten (the result is in one
    of them or a new tensor).  Never NaN: a product of finite positive factors and a sine for
    alpha >= LOG_DOMAIN_BELOW (see :data:`LOG_DOMAIN_BELOW`), the log domain below."""
    v = u.sub_(0.5).mul_(math.pi)  # V in [-fl(pi)/2, fl(pi)/2], fl(pi)/2 < pi/2: cos V > 0
    if alpha == 1.0:
        return v.tan_().mul_(scale)
    p = (1.0 - alpha) / alpha
    # scale sin(alpha V) cos(V)^(-1/alpha) (cos((1 - alpha) V) / E)^p; every factor but the
    # sine is > 0 (cos V >= 6.1e-17, E in [1.1e-16, 37.4])
    if alpha >= LOG_DOMAIN_BELOW:
        mag = torch.mul(v, 1.0 - alpha).cos_().mul_(_inverse_exponential(w)).pow_(p)
        mag.mul_(torch.cos(v).pow_(-1.0 / alpha))
    else:
        mag = torch.mul(v, 1.0 - alpha).cos_().log_().sub_(_log_exponential(w)).mul_(p)
        mag.sub_(torch.cos(v).log_(), alpha=1.0 / alpha).exp_()
    return mag.mul_(v.mul_(alpha).sin_()).mul_(scale)


def cms_kanter(alpha: float, u: Tensor, w: Tensor, scale: float = 1.0) -> Tensor:
    """``scale`` K (Kanter's positive alpha-stable, E exp(-g K) = exp(-g^alpha)) from U[0, 1)
    draws ``u`` (the angle) and ``w`` (the exponential), float64, 0 < alpha < 1, in the log
    domain: never negative or NaN (+inf only beyond float64's range); ``u`` and ``w`` are
    overwritten."""
    angle = u.add_(_TINY).mul_(math.pi)  # W = V + pi/2 in (0, fl(pi)], fl(pi) < pi: every sine > 0
    p = (1.0 - alpha) / alpha
    # log of sin(alpha W) sin(W)^(-1/alpha) (sin((1 - alpha) W) / E)^p, each sine > 0
    log_k = torch.mul(angle, 1.0 - alpha).sin_().log_().sub_(_log_exponential(w)).mul_(p)
    log_k.sub_(torch.sin(angle).log_(), alpha=1.0 / alpha)
    log_k.add_(angle.mul_(alpha).sin_().log_())
    return log_k.add_(math.log(scale)).exp_() if scale > 0 else log_k.exp_().mul_(scale)


def _symmetric_block(alpha: float, n: int, gen: torch.Generator, device: torch.device, scale: float) -> Tensor:
    if alpha == 2.0:  # N(0, 2): the CMS formula's value here (2 sin(V) sqrt(E)) in law, one draw
        return torch.randn(n, generator=gen, dtype=torch.float64, device=device).mul_(math.sqrt(2.0) * scale)
    return cms_symmetric(alpha, *_uniforms(n, gen, device), scale=scale)


def _kanter_block(alpha: float, n: int, gen: torch.Generator, device: torch.device, scale: float) -> Tensor:
    return cms_kanter(alpha, *_uniforms(n, gen, device), scale=scale)


def _blocked(block_fn, alpha: float, shape: Shape, gen: torch.Generator, dtype: torch.dtype,
             device: Optional[torch.device], scale: float) -> Tensor:  # fmt: skip
    device = torch.device(device) if device is not None else gen.device
    n = _numel(shape)
    out = torch.empty(n, dtype=dtype, device=device)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        out[start:stop].copy_(block_fn(alpha, stop - start, gen, device, scale))
    return out.view((shape,) if isinstance(shape, int) else tuple(shape))


def symmetric_stable(alpha: float, shape: Shape, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                     device: Optional[torch.device] = None, scale: float = 1.0) -> Tensor:  # fmt: skip
    """``scale`` times S alpha S(1) draws (scipy's ``levy_stable(alpha, 0)``), 0 < alpha <= 2;
    alpha = 2 is N(0, 2 scale^2).  Drawn in float64 on ``device`` (default: the generator's),
    returned as ``dtype``."""
    alpha = _check_alpha(alpha, 0.0, 2.0, True, "symmetric_stable")
    return _blocked(_symmetric_block, alpha, shape, generator, dtype, device, float(scale))


def kanter(alpha: float, shape: Shape, generator: torch.Generator, dtype: torch.dtype = torch.float64,
           device: Optional[torch.device] = None, scale: float = 1.0) -> Tensor:  # fmt: skip
    """``scale`` times Kanter's positive alpha-stable K, E exp(-g K) = exp(-g^alpha), 0 < alpha < 1
    (``levy_stable(alpha, 1, scale=cos(pi alpha / 2)^(1/alpha))``); never negative or NaN."""
    alpha = _check_alpha(alpha, 0.0, 1.0, False, "kanter")
    return _blocked(_kanter_block, alpha, shape, generator, dtype, device, float(scale))


def positive_stable(alpha: float, shape: Shape, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                    device: Optional[torch.device] = None, scale: float = 1.0) -> Tensor:  # fmt: skip
    """``scale`` times totally skewed (beta = 1) alpha-stable draws in S1, 0 < alpha < 1:
    scipy's ``levy_stable(alpha, 1)``; support [0, inf), never negative or NaN."""
    alpha = _check_alpha(alpha, 0.0, 1.0, False, "positive_stable")
    s1 = math.cos(math.pi * alpha / 2.0) ** (-1.0 / alpha)
    return _blocked(_kanter_block, alpha, shape, generator, dtype, device, float(scale) * s1)


def subgaussian_mixing(alpha: float, shape: Shape, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                       device: Optional[torch.device] = None) -> Tensor:  # fmt: skip
    """A >= 0 such that sqrt(A) g, g ~ N(0, I), has S alpha S(1) marginals (scipy's
    ``levy_stable(alpha, 0)``): A = 2 K with K Kanter's (alpha/2)-stable, i.e. the positive
    (alpha/2)-stable law of S1 scale 2 cos(pi alpha / 4)^(2/alpha)
    (E exp(-t^2 A / 2) = exp(-|t|^alpha)); A == 2 exactly at alpha = 2 (no stable draw)."""
    alpha = _check_alpha(alpha, 0.0, 2.0, True, "subgaussian_mixing")
    if alpha == 2.0:
        device = torch.device(device) if device is not None else generator.device
        return torch.full((shape,) if isinstance(shape, int) else tuple(shape), 2.0, dtype=dtype, device=device)
    return kanter(alpha / 2.0, shape, generator, dtype, device, scale=2.0)


def subgaussian_scale(alpha: float) -> float:
    """The S1 scale of A's positive (alpha/2)-stable law: 2 cos(pi alpha / 4)^(2/alpha)."""
    return 2.0 * math.cos(math.pi * alpha / 4.0) ** (2.0 / alpha)


__all__ = ["BLOCK", "cms_kanter", "cms_symmetric", "kanter", "positive_stable", "subgaussian_mixing", "subgaussian_scale", "symmetric_stable"]
