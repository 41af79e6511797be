"""htsweep.figures: the registry, figure names (kinds, experiment YAMLs), choose, draw_all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from htsweep import figures as figs
from htsweep.aggregate import aggregate
from tests.figures.helpers import tables_of
from tests.sweep.synthetic import grid_sweep


def test_every_experiment_yaml_lists_known_figure_kinds() -> None:
    names = figs.experiment_names()
    assert len(names) >= 17 and "fig3" in names and "appd" in names
    for name in names:
        doc = yaml.safe_load((figs.EXPERIMENT_DIR / f"{name}.yaml").read_text())
        assert doc["experiment"] == name
        assert doc["figures"] and set(doc["figures"]) <= set(figs.KINDS), name
        assert "dir" not in (doc.get("hydra") or {}).get("sweep", {}), f"{name}: sweep.dir is set once, in config.yaml"


def test_names_resolve_to_kinds_through_the_experiment_yaml(tmp_path: Path, monkeypatch) -> None:
    assert figs.resolve_name("lr_sweep") == ["lr_sweep"]
    assert figs.resolve_name("Fig3") == ["lr_sweep"]  # conf/experiment/fig3.yaml: figures: [lr_sweep]
    assert figs.resolve_name("table1") == ["esd_grid"]
    assert figs.resolve_name("appd") == ["esd_grid"]
    assert figs.resolve_name("fig28-gamma") == ["loss_curves"]
    assert figs.resolve_name("all") == ["all"]
    assert figs.resolve_names(["fig3", "lr_sweep", "esd"]) == ["lr_sweep", "esd"] and figs.resolve_names(None) is None
    with pytest.raises(figs.FigureNameError, match="kinds: lr_sweep.*experiments: appd, compress_mnist, deep_digits, fig1, fig19"):
        figs.resolve_name("fig99")
    # the YAML is the source: a new experiment needs no Python
    conf = tmp_path / "experiment"
    conf.mkdir()
    (conf / "mine.yaml").write_text("# @package _global_\nexperiment: mine\nfigures: [esd, loss_curves]\n")
    monkeypatch.setattr(figs, "EXPERIMENT_DIR", conf)
    assert figs.resolve_name("mine") == ["esd", "loss_curves"] and figs.experiment_names() == ["mine"]


def test_choose_follows_what_varies_and_the_sweeps_figures(tmp_path: Path) -> None:
    lr_sweep = tmp_path / "a"
    grid_sweep(lr_sweep, {"optimizer.name": ["gd", "adam"], "lr": [0.1, 1.0]}, [1], 1)
    kinds, skipped = figs.choose(tables_of(lr_sweep))
    assert kinds == ["lr_sweep", "esd"]  # 4 grid points, one probed step: no grid
    assert "esd_grid" in skipped and "update_norms" in skipped

    evolution = tmp_path / "b"
    grid_sweep(evolution, {"lr": [0.01, 0.1, 1.0]}, [1], 3)
    assert figs.choose(tables_of(evolution))[0] == ["lr_sweep", "esd", "esd_grid"]

    listed = tmp_path / "c"  # what conf/experiment/table1.yaml records in every run
    grid_sweep(listed, {"lr": [0.01, 0.1, 1.0]}, [1], 3, base={"experiment": "table1", "figures": ["esd_grid"]})
    kinds, skipped = figs.choose(tables_of(listed))
    assert kinds == ["esd_grid"] and "not part of table1" in skipped["lr_sweep"]

    own = tmp_path / "d"  # a figures list without an experiment tag
    grid_sweep(own, {"lr": [0.01, 0.1, 1.0]}, [1], 3, base={"figures": ["esd"]})
    kinds, skipped = figs.choose(tables_of(own))
    assert kinds == ["esd"] and "not part of the sweep's figures" in skipped["lr_sweep"]

    norms = tmp_path / "e"
    grid_sweep(norms, {}, [1], 1, points=[{"model.h": 30, "data.d": 20}, {"model.h": 60, "data.d": 40}], esd=False)
    assert figs.choose(tables_of(norms))[0] == ["update_norms"]


def test_an_old_sweep_with_only_an_experiment_tag_reads_its_yaml(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.01, 0.1, 1.0]}, [1], 3, base={"experiment": "table3"})
    assert figs.listed_figures(tables_of(sweep)) == (["esd_grid"], "table3")
    assert figs.choose(tables_of(sweep))[0] == ["esd_grid"]


def test_listed_kinds_that_do_not_fit_fall_back_to_what_fits(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1], 1, base={"figures": ["update_norms"]})
    assert figs.choose(tables_of(sweep))[0] == ["lr_sweep", "esd"]


def test_a_figure_that_cannot_be_drawn_is_reported_and_the_tables_still_written(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1], 0, esd=False)  # step 0 only: no first update
    res = aggregate(sweep, figures=["update_norms", "lr_sweep"])
    assert "update_norms" in res.figure_errors and "step 1" in res.figure_errors["update_norms"]
    assert "lr_sweep" in res.figures  # the other figure is still drawn
    assert (sweep / "summary.parquet").exists() and (sweep / "aggregate.parquet").exists()
    assert "FAILED" in res.report()


def test_draw_all_with_all_draws_every_kind_that_fits(tmp_path: Path) -> None:
    sweep = tmp_path / "sw"
    grid_sweep(sweep, {"lr": [0.01, 0.1]}, [1], 2, base={"figures": ["esd"]})
    drawn = figs.draw_all(tables_of(sweep), ["all"], tmp_path / "out")
    assert list(drawn.figures) == ["lr_sweep", "esd", "esd_truncated", "esd_grid", "spike_track", "esd_diagnostics"] and not drawn.errors
    assert {p.name for p in drawn.written} == {f"{k}.{e}" for k in drawn.figures for e in ("png", "pdf", "csv")}
    with pytest.raises(figs.FigureNameError):
        figs.draw("nope", tables_of(sweep), tmp_path / "out")
