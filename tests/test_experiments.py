"""Every paper experiment (conf/experiment/*.yaml): it composes, its smoke variant runs end to
end as a real multirun, and aggregating that sweep draws the experiment's figures from
non-empty data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from htsweep.aggregate import aggregate
from htsweep.config import to_spec
from htsweep.figures import ALIASES

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
# Smoke runs keep each experiment's own sweep, except that the 90-run grids (9 lrs x 2
# optimisers x 5 seeds) keep three lrs and one or two seeds, to stay fast on 2 cores.
SHRINK = {
    "fig3": {"seed": "1,2", "lr": "0.01,1,2000"},
    "fig5": {"seed": "1", "lr": "0.01,1,2000"},
    "fig30": {"seed": "1", "lr": "0.01,1,2000"},
    "fig32": {"seed": "1", "lr": "0.01,1,2000"},
}


def test_every_experiment_has_a_figure_and_a_header():
    assert len(EXPERIMENTS) >= 17
    for name in EXPERIMENTS:
        text = (ROOT / "conf" / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_"), name
        assert f"+experiment={name}" in text and "CPU" in text and "GPU" in text, name
        assert name in ALIASES, f"{name}: no figure registered in htsweep.figures.ALIASES"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_to_a_valid_config(name):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+experiment={name}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    params = cfg.hydra.sweeper.params or {}
    spec = to_spec(cfg)
    assert spec.experiment == name
    if name != "fig4":
        assert params, f"{name} sweeps nothing"
    assert str(cfg.hydra.sweep.dir).startswith(f"multirun/{name}/")


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke_experiment_runs_and_aggregates_into_its_figures(name, tmp_path):
    sweep = tmp_path / name
    cmd = [sys.executable, "-m", "htsweep.train", "-m", f"+experiment={name}", "smoke=true",
           "progress=false", "device=cpu", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    for key, values in SHRINK.get(name, {}).items():
        cmd.append(f"hydra.sweeper.params.{key}='{values}'")
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = [json.loads(p.read_text())["status"] for p in sweep.glob("*/run.json")]
    assert statuses and set(statuses) <= {"completed", "diverged"}

    result = aggregate(sweep)
    assert not result.figure_errors, result.figure_errors
    expected = set(ALIASES[name])
    assert expected <= set(result.figures), (result.skipped_figures, result.figures.keys())
    for kind in expected:
        data = result.figures[kind]
        assert len(data) > 0, kind
        numeric = data.select_dtypes("number")
        assert numeric.notna().to_numpy().any(), kind
        assert (sweep / "figures" / f"{kind}.png").stat().st_size > 10_000
        assert (sweep / "figures" / f"{kind}.pdf").exists()
    assert set(result.problems.get("problem", [])) <= {"diverged"}
