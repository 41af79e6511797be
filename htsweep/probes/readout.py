"""The stage-2 readout probe: ridge losses and kernel-target alignment, eq. (6)-(7).

The ridge readout a_hat is fitted on the hold-out features Z (rows sigma(c W x_i) / sqrt(h)),
its hold-out MSE is ``train_loss`` and its test-set MSE ``test_loss``; ``kta`` is eq. (7) from
the same h x h moments (htsweep.readout).  Skipped when the model has no hidden-feature map or
the run asks for none (``probe.readout=false``).
"""

from __future__ import annotations

import math
from typing import Optional

from htsweep import readout
from htsweep.probes.base import Built, ProbeOutput, ProbeSetup, ProbeView, Skipped


def feature_extra_scale(setup: ProbeSetup) -> float:
    """1 for the paper's equations; 1/sqrt(d) to reproduce the public code
    (``probe.feature_scale=paper_code``: its probes feed sigma(X W^T / d) to the readout)."""
    if setup.probe.feature_scale.value == "paper_code":
        return 1.0 / math.sqrt(setup.data.d)
    return 1.0


class ReadoutProbe:
    name = "readout"

    def __init__(self, setup: ProbeSetup) -> None:
        self.reg_lambda = setup.readout.reg_lambda
        self.scale = feature_extra_scale(setup)

    def __call__(self, view: ProbeView) -> ProbeOutput:
        model, data = view.setup.model, view.setup.data
        Z = model.features(view.params, data.holdout.X, self.scale)
        mom = readout.moments(Z, data.holdout.y)
        a_hat = readout.ridge_solve(mom, self.reg_lambda)
        train_loss = readout.readout_mse(Z, a_hat, data.holdout.y)
        del Z
        Z_test = model.features(view.params, data.test.X, self.scale)
        values = {
            "train_loss": train_loss,
            "test_loss": readout.readout_mse(Z_test, a_hat, data.test.y),
            "kta": readout.kta(mom),
        }
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
