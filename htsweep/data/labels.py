"""Labels of a teacher-student source: what the targets y are, given the teacher's value.

For an input x the teacher gives s = sigma_*(beta^T x / norm) (or a sum of links, multi-index).
The label kind turns s into y:

* ``real``: y = s + tau xi, xi ~ N(0, 1), tau = ``label_noise_std`` (eq. 1; regression, MSE);
* ``soft``: y = s, the teacher's value as a soft target in [0, 1] (seed 001's BCE labels,
  ``get_y(..., "bce")``); needs a link with values in [0, 1];
* ``bernoulli``: y ~ Bernoulli(s) in {0, 1} (a logistic-model class label); needs a link with
  values in [0, 1];
* ``sign``: y = +1 if s > s_0 else -1 with s_0 = the teacher's value at beta^T x = 0, the
  median of s for a monotone link of a centred Gaussian pre-activation (seed 001 thresholds a
  sigmoid teacher at 0.5 = sigmoid(0)), so the classes are balanced.

Only ``real`` labels carry the label noise; the classification labels are functions of s
(``soft``, ``sign``) or of s and one uniform draw per sample (``bernoulli``, stream
``<split>/labels``).  ``auto`` picks the kind the training loss is defined on
(:func:`natural`): mse -> real, bce -> bernoulli, hinge -> sign.
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from htsweep.activations import Activation
from htsweep.seeding import generator


class Labels(str, Enum):
    auto = "auto"
    real = "real"
    soft = "soft"
    bernoulli = "bernoulli"
    sign = "sign"


# Training loss -> the labels it is defined on, first the one ``auto`` picks.
ACCEPTED: Dict[str, Tuple[Labels, ...]] = {
    "mse": (Labels.real, Labels.soft, Labels.bernoulli, Labels.sign),
    "bce": (Labels.bernoulli, Labels.soft),
    "hinge": (Labels.sign,),
}
# Teacher links whose values lie in [0, 1] (soft / Bernoulli labels need a probability).
UNIT_INTERVAL_LINKS = (Activation.sigmoid,)


def natural(loss_name: str) -> Labels:
    """The labels ``auto`` resolves to for training loss ``loss_name``."""
    return ACCEPTED.get(loss_name, (Labels.real,))[0]


def resolve(kind: Labels, loss_name: str) -> Labels:
    return natural(loss_name) if kind is Labels.auto else kind


def incompatibility(kind: Labels, loss_name: str, links: Tuple[Activation, ...]) -> Optional[Tuple[str, str]]:
    """(field, message) when labels ``kind`` cannot train loss ``loss_name`` or cannot be made
    from the teacher ``links``; None when they fit."""
    resolved = resolve(kind, loss_name)
    accepted = ACCEPTED.get(loss_name)
    if accepted is not None and resolved not in accepted:
        allowed = ", ".join(["auto", *(k.value for k in accepted)])
        return "data.labels", f"loss={loss_name} needs labels {allowed}; got {resolved.value}"
    if resolved in (Labels.soft, Labels.bernoulli):
        bad = [a.value for a in links if a not in UNIT_INTERVAL_LINKS]
        if bad or len(links) != 1:
            allowed = ", ".join(a.value for a in UNIT_INTERVAL_LINKS)
            got = ", ".join(a.value for a in links)
            return "data.teacher", f"{resolved.value} labels need one teacher link with values in [0, 1] ({allowed}); got {got}"
    return None


def make_labels(kind: Labels, s: Tensor, s_at_zero: float, noise_std: float, seed: int, stream: str) -> Tensor:
    """y for teacher values ``s`` (module docstring); ``kind`` already resolved (not auto)."""
    m = s.shape[0]
    if kind is Labels.real:
        xi = torch.randn(m, generator=generator(seed, f"{stream}/noise"), dtype=s.dtype)
        return s + noise_std * xi
    if kind is Labels.soft:
        return s.clone()
    if kind is Labels.bernoulli:
        u = torch.rand(m, generator=generator(seed, f"{stream}/labels"), dtype=s.dtype)
        return (u < s).to(s.dtype)
    if kind is Labels.sign:
        return torch.where(s > s_at_zero, 1.0, -1.0).to(s.dtype)
    raise ValueError(f"data.labels: cannot make labels of kind {kind.value!r} (resolve auto first)")
