"""The configuration, composed from the real YAML through Hydra's compose API."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from omegaconf import OmegaConf

from htsweep.config import CONF_DIR, GROUPS, SMOKE_MAX_STEPS, Config, compose, make_spec, task_node, to_spec
from htsweep.errors import ConfigError
from htsweep.optim.adam import AdamConfig
from tests.helpers import spec


def test_the_default_config_is_the_papers_main_setting(cfg_small):
    default = spec()
    assert (default.data.n, default.data.d, default.data.n_test, default.model.h) == (2000, 1000, 200, 1500)
    assert default.optimizer == AdamConfig() and default.lr == 1.0 and default.steps == 10
    assert default.model.activation.value == "tanh" and default.data.teacher.value == "softplus"
    assert default.readout.reg_lambda == 0.01 and default.data.label_noise_std == 0.3
    assert cfg_small.data.n == 300  # the fixture composes the same YAML with the small sizes


# Options that need another group's option to compose (bce needs a teacher with values in [0, 1]).
CONTEXT = {
    ("loss", "bce"): ["data=spiked"],
    ("loss", "cross_entropy"): ["model=mlp", "data=digits"],
    **{("data", name): ["model=mlp", "loss=cross_entropy"] for name in ("digits", "mnist", "cifar10", "svhn")},
    ("model", "mlp"): ["data=digits", "loss=cross_entropy"],
    ("model", "resnet18"): ["data=digits", "loss=cross_entropy"],
    ("model", "vgg11"): ["data=cifar10", "loss=cross_entropy"],
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_option_has_a_yaml_file_selecting_its_schema_and_no_values(group):
    files = {p.stem for p in (CONF_DIR / group).glob("*.yaml")}
    assert files == set(GROUPS[group]), group  # a YAML per registered option, none extra
    for option, schema in GROUPS[group].items():
        node = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
        assert list(node.keys()) == ["defaults"] and list(node.defaults) == [f"{option}_schema"]
        built = getattr(spec([*CONTEXT.get((group, option), []), f"{group}={option}"]), group)
        assert type(built) is schema and built == schema()  # defaults: the dataclass, only


def test_a_gd_run_carries_no_adam_fields():
    gd = task_node(compose(["optimizer=gd"]))
    assert set(gd.optimizer.keys()) == {"name", "lr_scaling"}
    assert set(task_node(compose(["lr_schedule=constant"])).lr_schedule.keys()) == {"name"}


@pytest.mark.parametrize(
    "overrides,field",
    [
        (["+foo=1"], "foo"),
        (["optimizer=gd", "+optimizer.beta1=0.5"], "optimizer.beta1"),
        (["optimizer.name=gd"], "optimizer.name"),
        (["lr=inf"], "lr"),
        (["readout.reg_lambda=nan"], "readout.reg_lambda"),
        (["probe.phase.tw_level=0.5"], "probe.phase.tw_level"),
        (["lr_schedule=step", "lr_schedule.gamma=0"], "lr_schedule.gamma"),
        (["steps=3", "probe.at=[5]"], "probe.at"),
    ],
)
def test_bad_configs_raise_one_line_naming_the_field(overrides, field):
    with pytest.raises(ConfigError) as info:
        make_spec(overrides)
    assert info.value.field_name == field and "\n" not in str(info.value)


def test_activation_shorthand_sets_the_models_activation():
    assert spec(["activation=relu"]).model.activation.value == "relu"
    assert spec(["model.activation=erf"]).model.activation.value == "erf"


def test_smoke_shrinks_sizes_and_steps_once():
    node = task_node(compose(["smoke=true", "probe.at=[1,10,20]", "steps=20"]))
    s = to_spec(node)
    assert (s.data.n, s.data.d, s.data.n_test, s.model.h) == (80, 40, 20, 60)
    assert s.steps == SMOKE_MAX_STEPS and s.probe.at == [1, 10]
    assert to_spec(node).data.n == 80  # to_spec never shrinks again: smoke acts once


def test_sweep_dir_has_one_definition_with_the_experiment_prefix():
    today = dt.date.today().strftime("%Y-%m-%d")
    from htsweep.train import compose_with_hydra

    plain = compose_with_hydra([])
    assert str(plain.hydra.sweep.dir).startswith(f"multirun/{today}/")
    exp = compose_with_hydra(["+experiment=fig3"])
    assert str(exp.hydra.sweep.dir).startswith(f"multirun/fig3/{today}/")
    for path in (CONF_DIR / "experiment").glob("*.yaml"):
        assert "sweep:\n    dir" not in path.read_text(), path.name


def test_missing_group_is_named():
    node = task_node(compose([]))
    node.data = "???"
    with pytest.raises(ConfigError, match="data: no option selected; allowed: single_index"):
        to_spec(node)


def test_config_dataclass_defaults_match_the_documented_top_level():
    fields = {f.name: f.default for f in dataclasses.fields(Config) if f.default is not dataclasses.MISSING}
    assert fields["lr"] == 1.0 and fields["steps"] == 10 and fields["seed"] == 0
