#!/usr/bin/env python
"""How much a golden run moves when float32 BLAS rounds differently (another CPU).

    .venv/bin/python scripts/golden_sensitivity.py default [--seed 1]

Emulates another machine's GEMM rounding by multiplying every float32 gradient entry by
(1 + 2^-23 u), u ~ U(-1, 1), reruns the golden case (tests/data/golden/meta.json) and prints
the largest relative deviation of each metric column (overlap columns separately) and of the
ESD relative to lambda_max.  tests/test_golden.py sets its cross-machine tolerances at about
10x what this prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import htsweep  # noqa: F401  (first: OpenBLAS thread timeout)
import numpy as np
import pandas as pd
import torch

import htsweep.models.two_layer as two_layer
from htsweep.config import make_spec
from htsweep.loop import run

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("case")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    meta = json.loads((GOLDEN / "meta.json").read_text())
    gen = torch.Generator().manual_seed(args.seed)
    original = two_layer.TwoLayer.loss_and_grad

    def perturbed(self, params, split, loss):
        value, grads = original(self, params, split, loss)
        G = grads["W"]
        G.mul_(1 + (2 * torch.rand(G.shape, generator=gen) - 1).to(G.dtype) * 2**-23)
        return value, grads

    two_layer.TwoLayer.loss_and_grad = perturbed
    res = run(make_spec([*meta["cases"][args.case], "progress=false", "device=cpu"]))
    gold = pd.read_parquet(GOLDEN / args.case / "metrics.parquet")
    new = pd.DataFrame(res.log.rows)
    for label, pick in (("metrics", lambda c: not c.startswith("overlap_")), ("overlaps", lambda c: c.startswith("overlap_"))):
        out = []
        for c in gold.columns:
            if c in new.columns and gold[c].dtype.kind == "f" and c != "elapsed_s" and pick(c):
                a, b = gold[c].to_numpy(float), new[c].to_numpy(float)
                if np.isfinite(a).any():
                    out.append((float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))), c))
        out.sort(reverse=True)
        print(f"{args.case} {label}: " + ", ".join(f"{c} {r:.1e}" for r, c in out[:10]))
    ge = pd.read_parquet(GOLDEN / args.case / "esd.parquet")
    dev = [float(np.max(np.abs(ge[ge.step == s].eigenvalue.to_numpy() - e)) / ge[ge.step == s].eigenvalue.max())
           for s, _, e in res.log.esd]  # fmt: skip
    print(f"{args.case} esd / lambda_max per step: " + ", ".join(f"{x:.1e}" for x in dev))


if __name__ == "__main__":
    main()
