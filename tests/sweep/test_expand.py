"""htsweep.sweep.expand against Hydra's own basic sweeper (its private split_arguments is the
reference here; htsweep itself uses only the public override parser)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

import htsweep
from htsweep.sweep.expand import expand_jobs, sweep_arguments

CASES = [
    ["optimizer=gd,adam", "lr=0.1,1,10", "+experiment=fig3", "seed=1,2", "data.n=200"],
    ["lr=0.1,1", "seed=1", "lr=3,4"],  # a repeated key: the later value list wins, in place
    ["+table2=k1,k2,k3", "++probe.every=2", "~probe.at"],  # append, force-add, delete
    ["x=range(1,4)", "y=choice(a,b)", "z=range(0,1,0.25)"],  # range and choice sweeps
    ["a=[1,2]", "b={k:1}", "c='q,r'", "d=1,2", "a=3"],  # list / dict / quoted values
    ["+a=null", "b=tag(t1,choice(1,2))", "c=sort(3,1,2)"],  # null, tagged and sorted sweeps
    ["lr=0.5"],  # no sweep: one job
]


def reference(args: List[str]) -> List[List[str]]:
    parsed = OverridesParser.create().parse_overrides(args)
    return BasicSweeper.split_arguments(parsed, None)[0]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_jobs_are_those_of_the_basic_sweeper_in_its_order(args: List[str]) -> None:
    assert expand_jobs(args) == reference(args)


def test_sweeper_params_come_before_the_command_line() -> None:
    args = sweep_arguments({"optimizer": "gd,adam", "lr": "0.1,1"}, ["seed=1,2", "lr=5"])
    assert args == ["optimizer=gd,adam", "lr=0.1,1", "seed=1,2", "lr=5"]
    jobs = expand_jobs(args)
    assert jobs == reference(args) and len(jobs) == 4 and jobs[0] == ["optimizer=gd", "lr=5", "seed=1"]


def test_sweeps_the_basic_sweeper_cannot_expand_raise() -> None:
    with pytest.raises(ValueError, match="(?i)interval"):
        expand_jobs(["lr=interval(0,1)"])


def test_htsweep_uses_no_private_hydra_api() -> None:
    root = Path(htsweep.__file__).parent
    offenders = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if "hydra._internal" in p.read_text()]
    assert offenders == []
