"""``readout.method``: ``auto`` is the training loss's own readout; the label checks at start-up."""

from __future__ import annotations

import pytest

from htsweep.config import make_spec
from htsweep.data.labels import Labels
from htsweep.errors import ConfigError
from htsweep.readouts import ReadoutMethod, allowed, incompatibility, resolve


@pytest.mark.parametrize("loss,method", [("mse", "ridge"), ("bce", "logistic"), ("hinge", "squared_hinge")])
def test_auto_is_the_losss_own_readout(loss, method):
    assert resolve(ReadoutMethod.auto, loss) is ReadoutMethod(method)
    assert resolve(ReadoutMethod.pinv, loss) is ReadoutMethod.pinv


def test_the_default_is_auto():
    assert make_spec(["device=cpu"]).readout.method is ReadoutMethod.auto


@pytest.mark.parametrize(
    "overrides",
    [
        ["loss=hinge", "readout.method=ridge"],  # the ridge-on-+-1 baseline
        ["loss=hinge", "readout.method=pinv"],
        ["loss=bce", "data=spiked", "readout.method=ridge"],
        ["data=spiked", "data.labels=sign", "readout.method=squared_hinge"],  # mse training, sign labels
        ["data=spiked", "data.labels=bernoulli", "readout.method=logistic"],
        ["data=spiked", "data.labels=soft", "readout.method=logistic"],
        ["loss=bce", "data=spiked", "data.labels=soft"],  # auto: logistic on soft targets
    ],
)
def test_combinations_that_fit(overrides):
    make_spec(["device=cpu", *overrides])


@pytest.mark.parametrize(
    "overrides,start",
    [
        (["loss=hinge", "readout.method=logistic"], "readout.method: logistic needs labels in [0, 1]"),
        (["data=spiked", "readout.method=squared_hinge"], "readout.method: squared_hinge needs sign labels"),
        (["data=spiked", "loss=bce", "readout.method=squared_hinge"], "readout.method: squared_hinge needs sign labels"),
        (["readout.method=logistic"], "readout.method: logistic needs labels in [0, 1]"),
    ],
)
def test_combinations_that_do_not_fit_are_one_line_config_errors(overrides, start):
    with pytest.raises(ConfigError) as info:
        make_spec(["device=cpu", *overrides])
    assert str(info.value).startswith(start) and "\n" not in str(info.value)
    assert "allowed here: auto, ridge" in str(info.value)


def test_allowed_methods_per_label_kind():
    assert allowed(Labels.real) == ["auto", "ridge", "pinv"]
    assert allowed(Labels.sign) == ["auto", "ridge", "squared_hinge", "pinv"]
    assert allowed(Labels.bernoulli) == allowed(Labels.soft) == ["auto", "ridge", "logistic", "pinv"]
    assert incompatibility(ReadoutMethod.auto, "hinge", Labels.sign) is None
