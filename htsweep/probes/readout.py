"""The stage-2 readout probe: ridge losses and kernel-target alignment, eq. (6)-(7).

The ridge readout a_hat is fitted on the hold-out features Z (rows sigma(c W x_i) / sqrt(h)),
its hold-out MSE is ``train_loss`` and its test-set MSE ``test_loss``; ``kta`` is eq. (7) from
the same h x h moments (htsweep.readout).  ``probe.feature_scale=both`` adds the same three
under the public code's feature scale as ``train_loss_paper_code``, ``test_loss_paper_code`` and
``kta_paper_code`` (README, the erratum), so one training run answers both.  Skipped when the
model has no hidden-feature map or the run asks for none (``probe.readout=false``).
"""

from __future__ import annotations

import math
from typing import Dict, Optional

from htsweep import readout
from htsweep.probes.base import Built, ProbeOutput, ProbeSetup, ProbeView, Skipped
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

    def _fit(self, view: ProbeView, scale: float) -> Dict[str, float]:
        """Eq. (6)-(7) at one feature scale: ridge on the hold-out features, its hold-out and
        test MSE, and the KTA of the same h x h moments."""
        model, data = view.setup.model, view.setup.data
        Z = model.features(view.params, data.holdout.X, scale)
        mom = readout.moments(Z, data.holdout.y)
        a_hat = readout.ridge_solve(mom, self.reg_lambda)
        train_loss = readout.readout_mse(Z, a_hat, data.holdout.y)
        del Z
        Z_test = model.features(view.params, data.test.X, scale)
        return {
            "train_loss": train_loss,
            "test_loss": readout.readout_mse(Z_test, a_hat, data.test.y),
            "kta": readout.kta(mom),
        }

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
