"""htsweep.figures.style: labels and captions stay clean when option keys are null."""

from __future__ import annotations

import math

import pandas as pd

from htsweep.figures.style import caption, series_label


def test_series_label_leaves_out_keys_an_option_does_not_have() -> None:
    cols = ["optimizer.name", "optimizer.beta1", "lr"]
    assert series_label(pd.Series({"optimizer.name": "gd", "optimizer.beta1": math.nan, "lr": 0.1}), cols) == "GD, $\\eta$=0.1"
    adam = pd.Series({"optimizer.name": "adam", "optimizer.beta1": 0.99, "lr": 1.0})
    assert series_label(adam, cols) == "FB-Adam, optimizer.beta1=0.99, $\\eta$=1"


def test_caption_names_shared_settings_only() -> None:
    summary = pd.DataFrame(
        {
            "optimizer.name": ["adam", "adam"],
            "lr": [0.1, 1.0],  # varies: unsaid
            "data.n": [2000, 2000],
            "model.activation": ["tanh", "tanh"],
            "model.param": ["ntk", "ntk"],  # the paper's default: unsaid
            "lr_schedule.gamma": [math.nan, math.nan],  # a constant schedule has no gamma
        }
    )
    assert caption(summary) == "FB-Adam, $n$=2000, $\\sigma$=tanh"
    assert caption(summary, exclude=["optimizer.name"]) == "$n$=2000, $\\sigma$=tanh"
    step = summary.assign(**{"lr_schedule.gamma": [0.5, 0.5]})
    assert caption(step).endswith("$\\gamma$=0.5")
