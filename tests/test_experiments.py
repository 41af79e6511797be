"""Every paper experiment (htsweep/conf/experiment/*.yaml): it composes, names its figures,
its smoke variant runs end to end as a real multirun, and aggregating that sweep draws those
figures from data that carry the experiment's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from htsweep.aggregate import aggregate
from htsweep.config import CONF_DIR, task_node, to_spec
from htsweep.figures import KINDS
from htsweep.train import compose_with_hydra
from tests.data.test_vision import write_cifar, write_mnist, write_svhn

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
# Smoke runs keep each experiment's own sweep, except that the 90-run grids (9 lrs x 2
# optimisers x 5 seeds) keep three lrs and one or two seeds, to stay fast on 2 cores.
SHRINK = {
    "fig3": {"seed": "1,2", "lr": "0.01,1,2000"},
    "fig5": {"seed": "1", "lr": "0.01,1,2000"},
    "fig3_compare": {"seed": "1,2", "lr": "0.01,1,2000"},
    "fig5_compare": {"seed": "1", "lr": "0.01,1,2000"},
    "fig30": {"seed": "1", "lr": "0.01,1,2000"},
    "fig32": {"seed": "1", "lr": "0.01,1,2000"},
    "fig19": {"seed": "1", "lr": "0.01,1,2000"},
    "fig20": {"seed": "1", "lr": "0.01,1,2000"},
    "fig22": {"seed": "1", "lr": "0.01,1,2000"},
    "fig23": {"seed": "1", "lr": "0.01,1,2000"},
    "fig7": {"seed": "1"},
    "mh_normalisation": {"seed": "0", "data.n": "250,4000"},
    "grad_anatomy": {"data.nu": "0,0.75"},
    # the deep networks: one seed (VGG11 / ResNet18 forward and backward passes on the CPU)
    **{name: {"seed": "0"} for name in ("deep_digits", "fig33", "fig34", "fig35", "fig36", "fig37")},
    # heavy-tailed noise (issue 12): two widths, two ratios, GD and the null control
    "ht_noise": {"seed": "0", "model.h": "256,1024", "noise.ratio": "0,1", "noise.type": "subgaussian",
                 "noise.alpha": "1.5,2", "ht_optimizer": "gd,none"},
    "compress_mnist": {"seed": "1", "optimizer.batch_size": "20", "model.width": "50"},
}
SINGLE_RUN = {"fig4", "fig27", "table5"}  # experiments of one run (no grid)
# Experiments on image files (issue 11): their smoke runs read tiny files written in the real
# formats (tests/data/test_vision.py) through HTSWEEP_DATA.
FILE_DATA = {"compress_mnist": "mnist", "fig33": "mnist", "fig34": "cifar10", "fig35": "svhn", "fig36": "cifar10", "fig37": "svhn"}
# The columns each figure kind plots: its data must hold finite values of them.
PLOTTED = {"lr_sweep": ("mean",), "loss_curves": ("mean",), "update_norms": ("mean",), "esd": ("density",),
           "esd_grid": ("density",), "esd_truncated": ("density",), "spike_track": ("eigenvalue", "esd_spike_gap"), "scale_compare": ("mean",),
           "grad_anatomy": ("mean",), "alignment_curves": ("mean",), "subspace_angles": ("mean_angle_deg",),
           "bbp": ("lambda_max_mean", "lambda_max_pred", "sim_w_beta_mean", "overlap_pred", "lr_c"), "normalisation": ("mean",),
           "layer_esd_grid": ("density",), "layer_alpha": ("mean",), "ht_noise": ("mean",)}  # fmt: skip


def test_every_experiment_names_its_figures_and_has_a_header():
    assert len(EXPERIMENTS) >= 25
    for name in EXPERIMENTS:
        text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_"), name
        assert f"+experiment={name}" in text and "2-core CPU" in text and "GPU" in text, name
        figures = OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml").figures
        assert figures and set(figures) <= set(KINDS), name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_to_a_valid_config(name):
    cfg = compose_with_hydra([f"+experiment={name}"])
    params = cfg.hydra.sweeper.params or {}
    spec = to_spec(task_node(cfg))
    assert spec.experiment == name and spec.figures
    if name not in SINGLE_RUN:
        assert params, f"{name} sweeps nothing"
    assert str(cfg.hydra.sweep.dir).startswith(f"multirun/{name}/")


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke_experiment_runs_and_aggregates_into_its_figures(name, tmp_path):
    sweep = tmp_path / name
    cmd = [sys.executable, "-m", "htsweep.train", "-m", f"+experiment={name}", "smoke=true",
           "progress=false", "device=cpu", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    for key, values in SHRINK.get(name, {}).items():  # a dotted key: a command-line sweep, which wins
        cmd.append(f"{key}={values}" if "." in key else f"hydra.sweeper.params.{key}='{values}'")
    env = dict(os.environ)
    needs = FILE_DATA.get(name)
    if needs is not None:  # the real image files are not here: tiny files in their real formats
        root = tmp_path / "data"
        {"mnist": write_mnist, "cifar10": write_cifar, "svhn": write_svhn}[needs](root / ("svhn" if needs == "svhn" else ""))
        env["HTSWEEP_DATA"] = str(root / ("svhn" if needs == "svhn" else ""))
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = [json.loads(p.read_text())["status"] for p in sweep.glob("*/run.json")]
    assert statuses and set(statuses) <= {"completed", "diverged"}

    result = aggregate(sweep)
    assert not result.figure_errors, result.figure_errors
    expected = set(OmegaConf.load(CONF_DIR / "experiment" / f"{name}.yaml").figures)
    assert expected <= set(result.figures), (result.skipped_figures, result.figures.keys())
    for kind in expected:
        data = result.figures[kind]
        assert len(data) > 0, kind
        for column in PLOTTED[kind]:
            values = data[column].to_numpy(float)
            assert np.isfinite(values).sum() >= 2 and (values[np.isfinite(values)] != 0).any(), (kind, column)
        assert (sweep / "figures" / f"{kind}.png").stat().st_size > 10_000
        assert (sweep / "figures" / f"{kind}.pdf").exists()
    assert set(result.problems.get("problem", [])) <= {"diverged"}
