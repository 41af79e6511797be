"""The network probe: the trained network f itself on held-out data, next to the readout's
refit (htsweep.probes.readout).

``net_test_loss``: the training loss of f on the test split (seed 001's test loss, without the
notebook's N x N broadcast: quirk Q3 of the notes); for a classification loss (bce, hinge)
also ``net_train_error`` / ``net_test_error`` (NaN for mse), the 0-1 errors of f on the training and test
splits (sign labels against sign(f); labels in [0, 1] with y > 1/2 the positive class against
f > 0, f being a logit).  One forward pass per split (O(m d h)); skipped for a model without
a forward map ``predict``.

For ``loss=cross_entropy`` (the image classifiers of App. F.6, logits f of m x C) it reports
``net_train_loss`` / ``net_test_loss`` (the mean cross-entropy on the training / test split) and
``net_train_accuracy`` / ``net_test_accuracy`` (the fraction with argmax f = y), from the
model's prediction path: eval mode (BatchNorm with its running statistics), in chunks of
``train.chunk_size``, without a graph (htsweep.models.torch_module).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from htsweep.probes.base import Built, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped


def zero_one_error(f: Tensor, y: Tensor) -> float:
    """The fraction of misclassified samples (module docstring)."""
    positive = y > 0 if bool((y < 0).any()) else y > 0.5
    return float(((f > 0) != positive).to(torch.float64).mean())


def accuracy(f: Tensor, y: Tensor) -> float:
    """The fraction of rows of logits f (m x C) whose argmax is the class index y."""
    return float((f.argmax(dim=-1) == y.to(torch.long)).to(torch.float64).mean())


class NetworkProbe:
    name = "network"

    def __init__(self, setup: ProbeSetup) -> None:
        self.setup = setup
        self.classification = bool(getattr(setup.loss, "classification", False))
        self.multiclass = getattr(setup.loss, "name", None) == "cross_entropy"

    def _multiclass(self, view: ProbeView) -> ProbeOutput:
        model, data, loss = self.setup.model, self.setup.data, self.setup.loss
        row: Row = {}
        for split_name in ("train", "test"):
            split = getattr(data, split_name)
            f = model.predict(view.params, split.X)
            row[f"net_{split_name}_loss"] = float(loss.mean(f, split.y))
            row[f"net_{split_name}_accuracy"] = accuracy(f, split.y)
        return ProbeOutput(step_values=row)

    def __call__(self, view: ProbeView) -> ProbeOutput:
        if self.multiclass:
            return self._multiclass(view)
        s = self.setup
        model, data, loss = s.model, s.data, s.loss
        f_test = model.predict(view.params, data.test.X)
        row: Row = {"net_test_loss": float(loss.mean(f_test, data.test.y)), "net_train_error": math.nan,
                    "net_test_error": math.nan}  # fmt: skip
        if self.classification:
            row["net_train_error"] = zero_one_error(model.predict(view.params, data.train.X), data.train.y)
            row["net_test_error"] = zero_one_error(f_test, data.test.y)
        return ProbeOutput(step_values=row)


def applies(setup: ProbeSetup) -> Optional[str]:
    if getattr(setup.model, "predict", None) is None or setup.loss is None:
        return "the model has no forward map to evaluate"
    return None


def build(setup: ProbeSetup) -> Built:
    why = applies(setup)
    return Skipped(why) if why is not None else NetworkProbe(setup)
