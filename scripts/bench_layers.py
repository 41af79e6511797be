#!/usr/bin/env python
"""Time the spectral and update probes on every layer of a VGG11-shaped network at 32 x 32.

    .venv/bin/python scripts/bench_layers.py                  # probe.conv_matrix=slices
    .venv/bin/python scripts/bench_layers.py --mode reshape
    .venv/bin/python scripts/bench_layers.py --repeats 5 --json

The weights are random with VGG's initialisation (torchvision: Conv2d kaiming_normal_,
mode="fan_out", relu: std = sqrt(2 / (out k^2)); Linear N(0, 0.01^2)), shaped as VGG11 on
CIFAR-sized inputs: eight 3x3 convolutions 3->64, 64->128, 128->256, 256->256, 256->512, and
three 512->512 (torchvision's module names features.0 ... features.18), then one 10 x 512
classifier.  No training happens: the probes (htsweep.probes.measure with the spectral and
update probes, as the loop runs them) see W_0 at step 0, and W_1 = W_0 + M_0 with a random
M_0 at step 1 (overlaps with the update on, probe.overlaps=summary).  Printed: the best of
``--repeats`` wall times of each, and of the ESDs alone (the float64 Grams and eigensolvers).
The cost target of issue 11: less than one full-batch VGG11 step on 10,000 CIFAR-sized images
on the same machine (scripts/bench.py times that step).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from types import SimpleNamespace
from typing import Dict

import torch
from torch import Tensor

from htsweep.config import ProbeConfig
from htsweep.probes import ProbeSet, ProbeSetup, ProbeView, measure
from htsweep.probes.spectrum import SpectrumProbe
from htsweep.probes.update import UpdateProbe
from htsweep.spectral.conv import ConvMatrix, layer_eigenvalues

# torchvision's vgg11 "A" configuration: (module index in ``features``, in, out) of each conv
VGG11_CONVS = ((0, 3, 64), (3, 64, 128), (6, 128, 256), (8, 256, 256), (11, 256, 512), (13, 512, 512), (16, 512, 512), (18, 512, 512))


class VGG11Shapes:
    """matrices() / init_std() of VGG11 at 32 x 32 (CIFAR): conv weights (out, in, 3, 3) and a
    10 x 512 classifier, keyed by module name."""

    features = None

    def __init__(self) -> None:
        self.shapes = {f"features.{i}": (o, c, 3, 3) for i, c, o in VGG11_CONVS}
        self.shapes["classifier"] = (10, 512)
        self.trained = tuple(f"{n}.weight" for n in self.shapes)

    def init_std(self, name: str) -> float:
        shape = self.shapes[name]
        return math.sqrt(2.0 / (shape[0] * shape[2] * shape[3])) if len(shape) == 4 else 0.01

    def init(self, seed: int, dtype: torch.dtype = torch.float32) -> Dict[str, Tensor]:
        g = torch.Generator().manual_seed(seed)
        return {f"{n}.weight": self.init_std(n) * torch.randn(*s, generator=g, dtype=dtype) for n, s in self.shapes.items()}

    def matrices(self, params: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return {n: params[f"{n}.weight"] for n in self.shapes}


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=[m.value for m in ConvMatrix], default="slices")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    model = VGG11Shapes()
    params0 = model.init(0)
    g = torch.Generator().manual_seed(1)
    update = {k: 1e-3 * torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in params0.items()}
    params1 = {k: params0[k] + update[k] for k in params0}
    cfg = ProbeConfig(conv_matrix=ConvMatrix(args.mode))
    setup = ProbeSetup(probe=cfg, readout=None, model=model, data=SimpleNamespace(beta=None), params0=params0)
    probes = ProbeSet(probes=[SpectrumProbe(setup), UpdateProbe()])
    t_esd = best_of(lambda: [layer_eigenvalues(W, args.mode) for W in model.matrices(params1).values()], args.repeats)
    t0 = best_of(lambda: measure(probes, ProbeView(step=0, params=params0, update=None, setup=setup)), args.repeats)
    t1 = best_of(lambda: measure(probes, ProbeView(step=1, params=params1, update=update, setup=setup)), args.repeats)
    rows = measure(probes, ProbeView(step=1, params=params1, update=update, setup=setup)).rows
    n_eigs = sum(int(r["matrix_count"]) * min(int(r["matrix_rows"]), int(r["matrix_cols"])) for r in rows)
    result = {
        "mode": args.mode,
        "layers": len(rows),
        "eigenvalues": n_eigs,
        "threads": torch.get_num_threads(),
        "esd_only_s": round(t_esd, 4),
        "probe_step0_s": round(t0, 4),
        "probe_with_update_s": round(t1, 4),
        "fit_status": {r["layer"]: r["fit_status"] for r in rows},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"VGG11 at 32x32, probe.conv_matrix={args.mode}: {len(rows)} layers, {n_eigs} eigenvalues, "
          f"{result['threads']} threads, best of {args.repeats}")  # fmt: skip
    print(f"  ESDs alone (float64 Grams + eigensolvers):        {t_esd:8.3f} s")
    print(f"  spectral + update probes at step 0 (no update):   {t0:8.3f} s")
    print(f"  spectral + update probes with the update (t = 1): {t1:8.3f} s")
    for r in rows:
        print(f"    {r['layer']:<12} {r['conv_matrix']:<8} {r['matrix_count']} x {r['matrix_rows']} x {r['matrix_cols']:<5} "
              f"alpha_hill {r['pl_alpha_hill']:6.3f}  {r['esd_phase']!s:<13} {r['fit_status']}")  # fmt: skip


if __name__ == "__main__":
    main()
