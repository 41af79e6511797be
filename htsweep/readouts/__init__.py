"""Stage 2: the readout a_hat fitted on the hold-out features Z, one solver per training loss.

Every regularised readout minimises (1/n) sum_i l(z_i^T a, y_i) + (lambda / h) ||a||^2, eq. (6)'s
convention, in float64:

    ``ridge``          l = (f - y)^2, eq. (6), closed form on the h x h moments (:mod:`.ridge`);
    ``logistic``       l = softplus(f) - y f, y in [0, 1], Newton (:mod:`.logistic`);
    ``squared_hinge``  l = max(0, 1 - y f)^2, y in {-1, +1}, finite Newton (:mod:`.squared_hinge`);
    ``pinv``           a = pinv(Z) y, the minimum-norm least-squares solution, no lambda (:mod:`.pinv`).

``readout.method=auto`` is the training loss's own readout (:data:`NATURAL`): mse -> ridge,
bce -> logistic, hinge -> squared_hinge.  ridge and pinv take any labels (ridge on sign labels is
the "ridge on +-1" baseline of a hinge run); logistic needs labels in [0, 1], squared_hinge sign
labels (:func:`incompatibility`, checked at start-up).  KTA (eq. 7) lives with ridge's moments.
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from htsweep.data.labels import Labels
from htsweep.readouts.logistic import logistic_solve
from htsweep.readouts.pinv import pinv_solve
from htsweep.readouts.ridge import Moments, kta, moments, outputs, readout_mse, ridge_solve
from htsweep.readouts.squared_hinge import squared_hinge_solve


class ReadoutMethod(Enum):
    """``readout.method``: the stage-2 solver (module docstring); ``auto`` = the loss's own."""

    auto = "auto"
    ridge = "ridge"
    logistic = "logistic"
    squared_hinge = "squared_hinge"
    pinv = "pinv"


# Training loss -> the readout ``auto`` picks (ridge for a loss not listed).
NATURAL: Dict[str, ReadoutMethod] = {
    "mse": ReadoutMethod.ridge,
    "bce": ReadoutMethod.logistic,
    "hinge": ReadoutMethod.squared_hinge,
}
# Readout -> the labels it is defined on, and how to get them (methods not listed take any).
NEEDS: Dict[ReadoutMethod, Tuple[Tuple[Labels, ...], str]] = {
    ReadoutMethod.logistic: (
        (Labels.soft, Labels.bernoulli),
        "labels in [0, 1] (loss=bce, or data.labels=soft or bernoulli)",
    ),
    ReadoutMethod.squared_hinge: ((Labels.sign,), "sign labels (loss=hinge, or data.labels=sign)"),
}


def resolve(method: ReadoutMethod, loss_name: str) -> ReadoutMethod:
    """The solver ``method`` names for training loss ``loss_name`` (``auto`` resolved)."""
    return NATURAL.get(loss_name, ReadoutMethod.ridge) if method is ReadoutMethod.auto else method


def allowed(labels: Labels) -> List[str]:
    """The ``readout.method`` values that fit labels ``labels`` (resolved, not auto)."""
    return [m.value for m in ReadoutMethod if m not in NEEDS or labels in NEEDS[m][0]]


def incompatibility(method: ReadoutMethod, loss_name: str, labels: Labels) -> Optional[Tuple[str, str]]:
    """(field, message) when readout ``method`` cannot fit the run's ``labels`` (the resolved
    label kind of loss ``loss_name``); None when it can."""
    resolved = resolve(method, loss_name)
    if resolved not in NEEDS or labels in NEEDS[resolved][0]:
        return None
    return "readout.method", (
        f"{resolved.value} needs {NEEDS[resolved][1]}; got labels={labels.value} with loss={loss_name}; "
        f"allowed here: {', '.join(allowed(labels))}"
    )


def fit(method: ReadoutMethod, Z: Tensor, y: Tensor, reg_lambda: float, mom: Optional[Moments] = None) -> Tensor:
    """a_hat (h, float64) of the resolved ``method`` on features Z and targets y; ridge reuses
    ``mom`` (:func:`moments` of (Z, y)) when given."""
    if method is ReadoutMethod.ridge:
        return ridge_solve(mom if mom is not None else moments(Z, y), reg_lambda)
    if method is ReadoutMethod.logistic:
        return logistic_solve(Z, y, reg_lambda)
    if method is ReadoutMethod.squared_hinge:
        return squared_hinge_solve(Z, y, reg_lambda)
    if method is ReadoutMethod.pinv:
        return pinv_solve(Z, y)
    raise ValueError(f"readout.method: resolve {method.value!r} first")


def zero_one_error(f: Tensor, y: Tensor, labels: Labels) -> float:
    """The fraction of samples the outputs f misclassify: sign labels, sign(f) != y; labels in
    [0, 1] (Bernoulli, soft), 1[f > 0] != 1[y > 1/2] (p = sigmoid(f) > 1/2)."""
    if labels is Labels.sign:
        wrong = torch.sign(f) != y
    else:
        wrong = (f > 0) != (y > 0.5)
    return float(wrong.to(torch.float64).mean())


__all__ = [
    "NATURAL",
    "Moments",
    "ReadoutMethod",
    "allowed",
    "fit",
    "incompatibility",
    "kta",
    "logistic_solve",
    "moments",
    "outputs",
    "pinv_solve",
    "readout_mse",
    "resolve",
    "ridge_solve",
    "squared_hinge_solve",
    "zero_one_error",
]
