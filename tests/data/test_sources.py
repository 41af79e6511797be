"""Choosing a data source dispatches on the config; unknown or mismatched names are errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from htsweep.data import SOURCES, DataConfig, make_data
from htsweep.data.single_index import SingleIndexConfig
from htsweep.errors import ConfigError


def test_registry_dispatches_on_the_option_name():
    data = make_data(SingleIndexConfig(n=20, n_test=5, d=4), seed=0)
    assert data.train.X.shape == (20, 4)
    assert set(SOURCES) >= {"single_index"}


def test_unknown_source_is_an_error_naming_the_allowed_ones():
    @dataclass
    class Fake(DataConfig):
        OPTION = "fake"
        name: str = "fake"

    with pytest.raises(ValueError, match=r"data: unknown option 'fake'; allowed: single_index"):
        make_data(Fake(), seed=0)


def test_a_name_that_contradicts_the_schema_is_rejected():
    with pytest.raises(ConfigError, match=r"data.name: is 'other' but the selected option is 'single_index'"):
        SingleIndexConfig(name="other")


@pytest.mark.parametrize(
    "kwargs,field",
    [({"n": 0}, "data.n"), ({"d": 0}, "data.d"), ({"n_test": 0}, "data.n_test"),
     ({"label_noise_std": -1.0}, "data.label_noise_std"), ({"label_noise_std": float("nan")}, "data.label_noise_std")],
)
def test_bad_values_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as info:
        SingleIndexConfig(**kwargs)
    assert info.value.field_name == field
