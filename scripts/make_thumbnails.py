#!/usr/bin/env python
"""Regenerate the README's experiment thumbnails: run every experiment's smoke variant, aggregate
it, and shrink the figure it draws to scripts/thumbnails/<experiment>.png.

    .venv/bin/python scripts/make_thumbnails.py [NAME ...]      # all experiments by default

The smoke variants are toy-sized (see `smoke` in the README): the thumbnails show what each
figure looks like, not the paper's numbers.  The 90-run grids keep three learning rates and one
seed, as in tests/test_experiments.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from htsweep.aggregate import aggregate
from htsweep.figures import experiment_figures, experiment_names

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "scripts" / "thumbnails"
SHRINK = {name: {"seed": "1", "lr": "0.01,1,2000"} for name in ("fig3", "fig5", "fig30", "fig32", "fig19", "fig20", "fig22", "fig23")}
SHRINK["fig7"] = {"seed": "1"}
WIDTH_PX = 520


def thumbnail(name: str, workdir: Path) -> Path:
    sweep = workdir / name
    cmd = [sys.executable, "-m", "htsweep.train", "-m", f"+experiment={name}", "smoke=true",
           "progress=false", "device=cpu", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    cmd += [f"hydra.sweeper.params.{k}='{v}'" for k, v in SHRINK.get(name, {}).items()]
    subprocess.run(cmd, cwd=workdir, check=True, capture_output=True, text=True)
    result = aggregate(sweep)
    kinds = experiment_figures(name)  # the figures: list of conf/experiment/<name>.yaml
    assert kinds, f"{name}: its experiment YAML lists no figures"
    kind = kinds[0]
    assert kind in result.figures and len(result.figures[kind]) > 0
    with Image.open(sweep / "figures" / f"{kind}.png") as img:
        img = img.convert("RGB")
        img.thumbnail((WIDTH_PX, 4 * WIDTH_PX), Image.LANCZOS)
        OUT.mkdir(parents=True, exist_ok=True)
        target = OUT / f"{name}.png"
        img.quantize(colors=64, method=Image.MEDIANCUT).save(target, optimize=True)
    return target


def main() -> None:
    names = sys.argv[1:] or experiment_names()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"{name}: {thumbnail(name, Path(tmp))}", flush=True)


if __name__ == "__main__":
    main()
