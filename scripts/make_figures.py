#!/usr/bin/env python
"""Run the paper experiments at the README's sizes and draw the README's figures into
docs/figures/<name>.png, with docs/figures/figures.json recording how each one was made.

    .venv/bin/python scripts/make_figures.py                 # every entry of PLAN: run, then draw
    .venv/bin/python scripts/make_figures.py fig3 fig5       # these entries
    .venv/bin/python scripts/make_figures.py --draw-only     # redraw from the stored sweeps
    .venv/bin/python scripts/make_figures.py --run-only      # only run (or resume) the sweeps
    .venv/bin/python scripts/make_figures.py --list          # the plan, with sizes and commands

Each sweep goes to multirun/docs_figures/<sweep>/ (a fixed folder), so a relaunch skips the runs
already completed there (htsweep's resume) and an interrupted build picks up where it stopped.
Sizes: ``full`` entries run the experiment YAML unchanged (the paper's sizes).  ``reduced`` ones
change the overrides listed in ``reduce`` (fewer seeds, fewer steps, smaller n, d, h) because the
full sweep takes hours on a 2-core CPU; the README caption and figures.json say so, and the
experiment YAML itself is never changed.  fig5's figure is drawn from the fig5_compare sweep,
whose plain columns are fig5's (probe.feature_scale=both adds the `_paper_code` ones).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "figures"
WORK = ROOT / "multirun" / "docs_figures"
MANIFEST = DOCS / "figures.json"

ONE_SEED = {"hydra.sweeper.params.seed": "1"}
# Tables 1, 3, 4 and 5 at half the paper's n, d, h (the paper: n=2000, d=1000, h=1500): a step
# costs ~1/9 of a full-size one, so Tables 1, 3 and 4 keep their 10^4 steps (~2.5 min per run
# on a 2-core CPU instead of ~25); Table 5 runs 2 x 10^4 of its 10^6.
HALF = {"data.n": "1000", "data.d": "500", "model.h": "750"}
HALF_NOTE = "n=1000, d=500, h=750 (the paper: n=2000, d=1000, h=1500)"


@dataclass
class Entry:
    """One README figure: the experiment whose sweep draws it, the figure kind, and the
    overrides that shrink the sweep (empty: the paper's size)."""

    name: str
    sweep: str  # the experiment that is run (the folder under WORK)
    kind: str
    reduce: Dict[str, str] = field(default_factory=dict)
    note: str = ""  # what the reduction is, for the caption

    @property
    def size(self) -> str:
        return "reduced" if self.reduce else "full"

    def command(self) -> str:
        args = [f"+experiment={self.sweep}"] + [f"{k}={v}" for k, v in self.reduce.items()]
        return "python -m htsweep.train -m " + " ".join(args)


PLAN: List[Entry] = [
    Entry("fig2", "fig2", "esd"),
    Entry("fig4", "fig4", "esd"),
    Entry("fig8", "fig8", "update_norms"),
    Entry("fig3", "fig3", "lr_sweep"),
    Entry("fig3_compare", "fig3_compare", "scale_compare"),
    Entry("fig5", "fig5_compare", "lr_sweep"),
    Entry("fig5_compare", "fig5_compare", "scale_compare"),
    Entry("fig1", "fig1", "esd"),
    Entry("fig7", "fig7", "esd_truncated"),
    Entry("fig27", "fig27", "spike_track"),
    Entry("fig29", "fig29", "esd_grid"),
    Entry("fig31", "fig31", "esd"),
    Entry("fig28_n", "fig28_n", "loss_curves"),
    Entry("fig28_lambda", "fig28_lambda", "loss_curves"),
    Entry("fig28_noise", "fig28_noise", "loss_curves"),
    Entry("fig28_gamma", "fig28_gamma", "loss_curves"),
    Entry("appd", "appd", "esd_grid"),
    Entry("fig19", "fig19", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("fig20", "fig20", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("fig22", "fig22", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("fig23", "fig23", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("fig30", "fig30", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("fig32", "fig32", "lr_sweep", ONE_SEED, "1 seed (the paper: 5)"),
    Entry("grad_anatomy", "grad_anatomy", "grad_anatomy"),
    Entry("relu_vs_sigmoid", "relu_vs_sigmoid", "alignment_curves"),
    Entry("relu_vs_sigmoid_angles", "relu_vs_sigmoid", "subspace_angles"),
    Entry("ntk_vs_mf", "ntk_vs_mf", "alignment_curves"),
    Entry("ntk_vs_mf_angles", "ntk_vs_mf", "subspace_angles"),
    Entry("one_step_bbp", "one_step_bbp", "bbp"),
    Entry("mh_normalisation", "mh_normalisation", "normalisation"),
    Entry("deep_digits", "deep_digits", "layer_esd_grid"),
    Entry("deep_digits_alpha", "deep_digits", "layer_alpha"),
    Entry("ht_noise", "ht_noise", "ht_noise",
          {"noise.ratio": "0,1", "hydra.sweeper.params.ht_optimizer": "gd", "hydra.sweeper.params.seed": "'0,1,2'"},
          "ratio in {0, 1}, GD only, 3 seeds (the experiment: ratio 0.3 too, FB-Adam and the null control, 5 seeds)"),
    Entry("table1", "table1", "esd_grid", HALF, HALF_NOTE),
    Entry("table3", "table3", "esd_grid", HALF, HALF_NOTE),
    Entry("table4", "table4", "esd_grid", HALF, HALF_NOTE),
    Entry("table5", "table5", "esd", {**HALF, "steps": "20000", "probe.at": "[1,20000]", "checkpoint.every": "5000"},
          "n=1000, d=500, h=750, 2 x 10^4 steps (the paper: n=2000, d=1000, h=1500, 10^6 steps)"),
]
BY_NAME = {e.name: e for e in PLAN}
WIDTH_PX = 1400  # README figures are shown at 700 px; twice that for high-density screens


def run_sweep(entry: Entry, log) -> Optional[float]:
    """Run (or resume) the entry's sweep into WORK/<sweep>; returns the sweep's compute time in
    seconds (the sum of its runs' ``wall_seconds``, so a resumed or repeated invocation does not
    restart the count), None when the sweep exited non-zero (a relaunch resumes it)."""
    cmd = [sys.executable, "-m", "htsweep.train", "-m", f"+experiment={entry.sweep}", "progress=false",
           f"hydra.sweep.dir={WORK / entry.sweep}"]  # fmt: skip
    cmd += [f"{k}={v}" for k, v in entry.reduce.items()]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        print(f"{entry.name}: the sweep failed (exit {proc.returncode}); see {log.name}", file=sys.stderr, flush=True)
        return None
    wall = sum(json.loads(p.read_text()).get("wall_seconds") or 0.0 for p in (WORK / entry.sweep).glob("*/run.json"))
    path = WORK / f"{entry.sweep}.wall.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    if old.get("sweep_wall_s") != round(wall, 1):  # something ran: stamp this machine and day
        stamp = {"sweep_wall_s": round(wall, 1), "date": time.strftime("%Y-%m-%d"),
                 "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"}  # fmt: skip
        path.write_text(json.dumps(stamp) + "\n")
    return wall


def draw(entry: Entry) -> Path:
    """Aggregate the entry's sweep into a temporary folder, draw its kind, and store the PNG
    (resized to WIDTH_PX, palette-quantised) as docs/figures/<name>.png."""
    from htsweep.aggregate import aggregate

    with tempfile.TemporaryDirectory() as tmp:
        res = aggregate(WORK / entry.sweep, figures=[entry.kind], out=Path(tmp))
        if entry.kind not in res.figures:
            raise SystemExit(f"{entry.name}: {entry.kind} not drawn: {res.figure_errors or res.skipped_figures}")
        with Image.open(Path(tmp) / "figures" / f"{entry.kind}.png") as img:
            img = img.convert("RGB")
            if img.width > WIDTH_PX:
                img = img.resize((WIDTH_PX, round(img.height * WIDTH_PX / img.width)), Image.LANCZOS)
            DOCS.mkdir(parents=True, exist_ok=True)
            target = DOCS / f"{entry.name}.png"
            part = target.with_suffix(".png.tmp")
            img.quantize(colors=128, method=Image.MEDIANCUT).save(part, format="PNG", optimize=True)
            os.replace(part, target)
    return target


def load_manifest() -> Dict[str, dict]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def save_manifest(manifest: Dict[str, dict]) -> None:
    part = MANIFEST.with_suffix(".json.tmp")
    part.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    os.replace(part, MANIFEST)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help=f"entries (default: all): {', '.join(BY_NAME)}")
    p.add_argument("--draw-only", action="store_true", help="draw from the stored sweeps, run nothing")
    p.add_argument("--run-only", action="store_true", help="run the sweeps, draw nothing")
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in BY_NAME]
    if unknown:
        p.error(f"unknown entries {unknown}; allowed: {', '.join(BY_NAME)}")
    entries = [BY_NAME[n] for n in args.names] if args.names else PLAN
    if args.list:
        for e in entries:
            print(f"{e.name:14s} {e.size:8s} {e.command()}" + (f"   # {e.note}" if e.note else ""))
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest()
    ran: Dict[str, float] = {}
    failed: List[str] = []
    for e in entries:
        if not args.draw_only and e.sweep not in ran and e.sweep not in failed:
            with open(WORK / f"{e.sweep}.log", "a") as log:
                wall = run_sweep(e, log)
            if wall is None:
                failed.append(e.sweep)
            else:
                ran[e.sweep] = wall
                print(f"{e.sweep}: sweep done in {wall:.0f} s", flush=True)
        if args.run_only or e.sweep in failed:
            continue
        target = draw(e)
        record = {**asdict(e), "size": e.size, "command": e.command(), "figure": str(target.relative_to(ROOT))}
        stamp = WORK / f"{e.sweep}.wall.json"  # written by run_sweep: how long the sweep took
        if stamp.is_file():
            record.update(json.loads(stamp.read_text()))
        manifest[e.name] = record
        save_manifest(manifest)
        print(f"{e.name}: {target.relative_to(ROOT)}", flush=True)
    if failed:
        print(f"failed sweeps (relaunch to resume them): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
