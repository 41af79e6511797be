"""The stage-2 readout probe: the readout's losses and 0-1 error, and kernel-target alignment (eq. 7).

The readout a_hat (htsweep.readouts; ``readout.method``, ``auto`` = the training loss's own:
ridge for mse, eq. 6; logistic for bce; squared hinge for hinge) is fitted on the hold-out
features Z (rows sigma(c W x_i) / sqrt(h)).  ``train_loss`` / ``test_loss`` are the training
loss's mean of its outputs f = Z a_hat on the hold-out / test split (the MSE for mse runs, the
log-loss for bce, the hinge max(0, 1 - y f) for hinge, whatever the method).  A classification
loss adds ``train_error`` / ``test_error``, the 0-1 error of f (sign(f) against sign labels,
1[f > 0] against 1[y > 1/2] for labels in [0, 1]); other runs leave them NaN.  ``kta`` is eq. (7)
from the hold-out's h x h moments.  ``probe.feature_scale=both`` adds every column under the
public code's feature scale with a ``_paper_code`` suffix (README, the erratum), so one
training run answers both.  Skipped when the model has no hidden-feature map or the run asks for
none (``probe.readout=false``).
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import torch
from torch import Tensor

from htsweep import readouts
from htsweep.data import labels as label_kinds
from htsweep.losses import MSE
from htsweep.probes.base import READOUT_MOMENTS, Built, ProbeOutput, ProbeSetup, ProbeView, Skipped
from htsweep.records.schema import PAPER_CODE_SUFFIX


def feature_scales(setup: ProbeSetup) -> Dict[str, float]:
    """Column suffix -> extra pre-activation scale of every readout the run fits: 1 for the
    paper's equations, 1/sqrt(d) for the public code (its probes feed sigma(X W^T / d) to the
    readout).  One entry, or with ``probe.feature_scale=both`` the paper's (no suffix) and the
    code's (``_paper_code``)."""
    mode, code = setup.probe.feature_scale.value, 1.0 / math.sqrt(setup.data.d)
    if mode == "both":
        return {"": 1.0, PAPER_CODE_SUFFIX: code}
    return {"": code if mode == "paper_code" else 1.0}


class ReadoutProbe:
    name = "readout"

    def __init__(self, setup: ProbeSetup) -> None:
        self.reg_lambda = setup.readout.reg_lambda
        self.scales = feature_scales(setup)
        self.loss = setup.loss if setup.loss is not None else MSE()
        self.method = readouts.resolve(setup.readout.method, self.loss.name)
        self.labels = label_kinds.natural(self.loss.name)  # the labels a classification loss takes

    def _scores(self, f: Tensor, y: Tensor, split: str) -> Dict[str, float]:
        """The training loss's mean of outputs f (float64) on one split, and its 0-1 error for
        a classification loss."""
        y64 = y.to(torch.float64)
        out = {f"{split}_loss": float(self.loss.mean(f, y64))}
        if self.loss.classification:
            out[f"{split}_error"] = readouts.zero_one_error(f, y64, self.labels)
        return out

    def _fit(self, view: ProbeView, scale: float) -> Dict[str, float]:
        """The readout at one feature scale: fitted on the hold-out features, its losses (and
        0-1 errors) on the hold-out and test splits, and the KTA of the hold-out moments."""
        model, data = view.setup.model, view.setup.data
        Z = model.features(view.params, data.holdout.X, scale)
        mom = readouts.moments(Z, data.holdout.y)
        view.cache[(READOUT_MOMENTS, scale)] = mom  # shared with htsweep.probes.compress
        a_hat = readouts.fit(self.method, Z, data.holdout.y, self.reg_lambda, mom)
        values = self._scores(readouts.outputs(Z, a_hat), data.holdout.y, "train")
        del Z
        Z_test = model.features(view.params, data.test.X, scale)
        values.update(self._scores(readouts.outputs(Z_test, a_hat), data.test.y, "test"))
        values["kta"] = readouts.kta(mom)
        return values

    def __call__(self, view: ProbeView) -> ProbeOutput:
        values: Dict[str, float] = {}
        for suffix, scale in self.scales.items():
            values.update({f"{k}{suffix}": v for k, v in self._fit(view, scale).items()})
        return ProbeOutput(step_values=values)


def applies(setup: ProbeSetup) -> Optional[str]:
    if not setup.probe.readout:
        return "disabled (probe.readout=false)"
    if getattr(setup.model, "features", None) is None:
        return "the model has no hidden-feature map to fit a readout on"
    return None


def build(setup: ProbeSetup) -> Built:
    why = applies(setup)
    return Skipped(why) if why is not None else ReadoutProbe(setup)
