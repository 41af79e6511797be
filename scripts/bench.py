#!/usr/bin/env python
"""Benchmark of a training run against this machine's float32 GEMM rate.

    .venv/bin/python scripts/bench.py                 # cases a and b
    .venv/bin/python scripts/bench.py --case b --device cuda
    .venv/bin/python scripts/bench.py --spectral      # also one probe's spectral analysis
    .venv/bin/python scripts/bench.py --repeats 3     # median of 3 runs per case (noisy machines)
    .venv/bin/python scripts/bench.py --alignment     # the alignment probe against a step (alone,
                                                      # unless cases are named with --case)
    .venv/bin/python scripts/bench.py --deep          # VGG11 / ResNet18 full-batch step on 10,000
                                                      # CIFAR-sized images, layer probes, peak RSS
    .venv/bin/python scripts/bench.py --compress      # the compressibility probe vs a training step
    .venv/bin/python scripts/bench.py --noise         # alpha-stable iterate noise (each type) for a
                                                      # 4096 x 4096 W against one GD step of that size

Cases (each in a fresh subprocess, so peak memory is per case):
  a  the default run (the paper's main setting: n=2000, d=1000, h=1500, 10 FB-Adam steps,
     a probe at every step)
  b  the Fig. 5 setting: n=8000, otherwise as a

For each case it prints the wall time of the run (the median of ``--repeats`` runs) (data generation, 10 steps, 11 probes; no
interpreter start-up), peak memory (process RSS on CPU, allocator peak on CUDA), the counted
floating-point work, the achieved GFLOP/s and the ratio wall / GEMM-bound time, where the
GEMM-bound time is the counted work divided by the float32 GEMM rate measured in the same
process just before and just after the run (their mean: on a shared machine whose speed drifts
both sides of the ratio move together).  Work is counted for the algorithms that run: 2mnk for an (m x k)(k x n) product, mk^2
for a Gram matrix A^T A on the CPU (BLAS ?syrk, one triangle), N^3/3 for a Cholesky and 4N^3/3
for each symmetric tridiagonal reduction of an eigensolver (Golub & Van Loan, Matrix
Computations, 4th ed., Sec. 8.3; the tridiagonal eigenvalue / vector stage is lower order).
Lanczos iterations (the spectral norms of W - W_0 and, without overlaps, of M) are
matrix-vector work of lower order and are not counted.
Element-wise work is not counted, so it shows up in the ratio, as does any kernel (float64,
eigensolvers) that runs below the float32 GEMM rate.  Target for case b on CPU: ratio <= 1.5,
peak memory < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, Optional

import htsweep  # noqa: F401  (first: sets OpenBLAS's thread timeout before numpy loads it)

CASES = {
    "a": {"label": "default run (n=2000)", "n": 2000},
    "b": {"label": "Fig. 5 setting (n=8000)", "n": 8000},
}
SPECTRAL_SIZES = ((1500, 1000), (4096, 4096))


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM of its own memory map; ru_maxrss would include the
    parent's pages that Linux carries across fork / exec), in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def counted_flops(spec, device_type: str) -> Dict[str, float]:
    """Floating-point work of a run, by phase, for the algorithms htsweep runs on
    ``device_type`` (see the module docstring for the counting rules)."""
    n, d, h, nt = spec.data.n, spec.data.d, spec.model.h, spec.data.n_test
    big, small = max(h, d), min(h, d)
    syrk = 1.0 if device_type == "cpu" else 2.0  # A^T A: ?syrk on the CPU, a GEMM elsewhere
    gram_w = syrk * big * small**2  # float64 Gram of W (or of M, W - W_0)
    tridiag = 4.0 / 3.0 * small**3  # one symmetric eigenvalue reduction
    probes = spec.probe_steps()
    k = min(spec.probe.overlap_k, small)
    train_step = 2 * (2.0 * n * d * h) + 2.0 * n * h  # forward GEMM, backward GEMM, GEMV
    final_loss = 2.0 * n * d * h
    readout = (
        2.0 * n * d * h  # hold-out features
        + syrk * n * h * h  # Z^T Z
        + 2.0 * n * h  # Z^T y
        + 2.0 * nt * d * h  # test features
        + h**3 / 3.0  # Cholesky
    )
    overlaps = spec.probe.overlaps.value != "none"
    spectra = 0.0
    for t in probes:
        spectra += gram_w + tridiag  # ESD values + top vector(s) of W: one shared reduction
        if t > 0:
            spectra += gram_w  # ||W_t - W_0||_2: Gram + Lanczos (matrix-vector work, not counted)
            spectra += gram_w + (tridiag if overlaps else 0.0)  # M_{t-1}: top-k pairs or Lanczos
            if overlaps:
                spectra += 2 * (2.0 * big * small * k)  # U_k = W V_k / S for W and M
    return {
        "train": spec.steps * train_step + final_loss,
        "readout": len(probes) * readout,
        "spectra": spectra,
    }


def gemm_rate(device, n=8000, d=1000, h=1500, reps=5) -> float:
    """Best float32 GEMM rate (FLOP/s) for the run's largest product shape."""
    import torch

    X = torch.randn(n, d, device=device)
    W = torch.randn(h, d, device=device)
    best = float("inf")
    for _ in range(reps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        torch.mm(X, W.t())
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2.0 * n * d * h / best


def run_case(case: str, device_name: str, repeats: int = 1) -> Dict[str, object]:
    """Run the case ``repeats`` times in this process.  Each run is paired with the float32
    GEMM rate measured just before and just after it (their mean), so a machine whose speed
    drifts (a shared VM) moves both sides of the ratio together; the median run is reported."""
    import statistics
    from typing import Dict

    import torch

    from htsweep.config import make_spec
    from htsweep.device import resolve_device
    from htsweep.loop import run

    spec = make_spec([f"data.n={CASES[case]['n']}", f"device={device_name}", "progress=false"])
    device = resolve_device(spec.device.value)
    work = counted_flops(spec, device.type)
    total = sum(work.values())
    walls, rates, ratios = [], [], []
    rate_before = gemm_rate(device)
    for _ in range(max(1, repeats)):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        result = run(spec)
        if device.type == "cuda":
            torch.cuda.synchronize()
        walls.append(time.perf_counter() - t)
        rate_after = gemm_rate(device)
        rates.append(0.5 * (rate_before + rate_after))
        ratios.append(walls[-1] / (total / rates[-1]))
        rate_before = rate_after
    median = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    wall, rate = walls[median], rates[median]
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        peak_kind = "CUDA allocator peak"
    else:
        peak = peak_rss_mib()
        peak_kind = "process RSS peak"
    return {
        "case": case,
        "label": CASES[case]["label"],
        "status": result.status.value,
        "device": result.device,
        "threads": torch.get_num_threads(),
        "wall_s": wall,
        "walls_s": walls,
        "ratios": ratios,
        "peak_mib": peak,
        "peak_kind": peak_kind,
        "gflop": total / 1e9,
        "gflop_by_phase": {k: v / 1e9 for k, v in work.items()},
        "gemm_gflops": rate / 1e9,
        "achieved_gflops": total / wall / 1e9,
        "ratio": statistics.median(ratios),
    }


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def spectral_case(h: int, d: int, n: int = 2000, repeats: int = 3) -> Dict[str, object]:
    """One probe's spectral analysis, as the loop calls it (the spectrum and update probes) (ESD, Hill, KS, MP fit, norms,
    phase, sim(W, beta), overlap summaries, update spectrum, ||W - W_0||, ||M||), on W_1 after one
    FB-Adam step (a Bulk+Spike ESD), against powerlaw.Fit's xmin search on the same eigenvalues
    and against one training step (loss and gradient, n points, float32) of the same size."""
    import warnings

    import powerlaw
    import torch

    from htsweep.config import make_spec
    from htsweep.loop import build_run, step
    from htsweep.probes import ProbeView, spectrum, update
    from htsweep.spectral import MarchenkoPastur, esd_report, spectrum_and_top_svd

    cfg = make_spec([f"data.n={n}", "data.n_test=10", f"data.d={d}", f"model.h={h}", "device=cpu"])
    built = build_run(cfg, torch.device("cpu"), torch.float32)
    state, _ = step(built.initial, built.dynamics, built.data.train)  # W_1 after one FB-Adam step
    W1 = state.params["W"]
    view = lambda: ProbeView(step=1, params=state.params, update=state.update, setup=built.setup)  # noqa: E731
    spec_probe, update_probe = spectrum.SpectrumProbe(built.setup), update.UpdateProbe()
    mp = MarchenkoPastur(h, d)
    reps = repeats if h * d <= 4_000_000 else 1

    def analysis():
        v = view()
        out = spec_probe(v)
        update_probe(v)
        return out

    eigs_t = analysis().esd["W"]
    eigs = eigs_t.numpy()
    t_analysis = _best(analysis, reps)
    # Its two halves: the float64 decompositions (Gram + eigensolver) of W_t alone, and the
    # estimators that then run on the N eigenvalues (Hill, KS, MP fit, norms, phase, spikes).
    t_esd = _best(lambda: spectrum_and_top_svd(W1, cfg.probe.overlap_k), reps)
    t_estimators = _best(lambda: (esd_report(eigs_t, h, d, cfg.probe.phase), mp.num_spikes(eigs_t)), reps)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            powerlaw.Fit(eigs, parameter_ranges={"alpha": [1, None]}, verbose=False).power_law.alpha

    t_powerlaw = _best(fit, 1)
    model, loss = built.dynamics.model, built.dynamics.loss
    t_step = _best(lambda: model.loss_and_grad(state.params, built.data.train, loss), reps)
    return {
        "h": h,
        "d": d,
        "analysis_s": t_analysis,
        "esd_s": t_esd,
        "estimators_s": t_estimators,
        "powerlaw_fit_s": t_powerlaw,
        "train_step_s": t_step,
    }


DEEP_IMAGES = 10_000  # CIFAR-sized images of the deep-network benchmark (issue 11)


DEEP_CHUNKS = {"vgg11": 500, "resnet18": 250}  # the experiments' train.chunk_size: ResNet18 keeps
# ~6 MB of activations per 32 x 32 image for its backward pass (no early pooling), so 500 images
# a chunk peaked at 4.3 GB RSS and 250 keep it under 4 GB


def deep_case(model_name: str, n: int = DEEP_IMAGES, chunk: Optional[int] = None, repeats: int = 2) -> Dict[str, object]:
    """One full-batch FB-Adam step of ``model_name`` (vgg11, resnet18) on ``n`` random 3 x 32 x 32
    images with 10 classes, the gradient accumulated over chunks of ``chunk`` images (CPU,
    float32; the best of ``repeats`` steps), the layer-wise spectral and update probes at the
    next step, and the process's peak RSS (run it in a fresh process: ``--deep``)."""
    import resource

    import torch

    from htsweep.config import make_spec
    from htsweep.data.base import Dataset, Split
    from htsweep.loop import Dynamics, apply_update, gradient
    from htsweep.losses import make_loss
    from htsweep.models import make_model
    from htsweep.optim import make_constraint, make_optimizer, make_perturbation, make_schedule
    from htsweep.probes import ProbeSet, ProbeSetup, ProbeView, measure
    from htsweep.probes.spectrum import SpectrumProbe
    from htsweep.probes.update import UpdateProbe
    from htsweep.seeding import generator
    from htsweep.state import TrainState

    chunk = chunk or DEEP_CHUNKS[model_name]
    spec = make_spec([f"model={model_name}", "data=cifar10", "loss=cross_entropy", "optimizer=adam", "lr=0.01",
                      f"train.chunk_size={chunk}", "device=cpu"])  # fmt: skip
    gen = generator(0, "bench/images")
    X = torch.randn(n, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen).to(torch.float32)
    empty = Split(X[:0], y[:0])
    data = Dataset(train=Split(X, y), holdout=empty, test=Split(X[:500], y[:500]), num_classes=10)
    model = make_model(spec.model, data, chunk)
    params = {k: v.to(torch.float32) for k, v in model.init(0).items()}
    optimizer = make_optimizer(spec.optimizer)
    dyn = Dynamics(model=model, loss=make_loss(spec.loss), optimizer=optimizer, schedule=make_schedule(spec.lr_schedule),
                   constraint=make_constraint(spec.weight_norm, model, data), perturbation=make_perturbation(spec.noise, model, 0),
                   base_lr=spec.lr)  # fmt: skip
    state = TrainState(params=params, opt_state=optimizer.init(params, model.trained))
    params0 = {k: v.clone() for k, v in params.items()}
    walls = []
    for _ in range(repeats):
        t = time.perf_counter()
        state = apply_update(state, gradient(state, dyn, data.train), dyn)
        walls.append(time.perf_counter() - t)
    setup = ProbeSetup(probe=spec.probe, readout=spec.readout, model=model, data=data, params0=params0, seed=0)
    probes = ProbeSet(probes=[SpectrumProbe(setup), UpdateProbe()])
    t = time.perf_counter()
    m = measure(probes, ProbeView(step=state.t, params=state.params, update=state.update, setup=setup))
    probe_s = time.perf_counter() - t
    return {"model": model_name, "n": n, "chunk": chunk, "step_s": min(walls), "steps_s": walls, "probe_s": probe_s,
            "layers": len(m.rows), "eigenvalues": int(sum(e.numel() for e in m.esd.values())),
            "peak_mib": peak_rss_mib()}  # fmt: skip


ALIGNMENT_SIZE = (750, 1000, 1250)  # n, d, h: seed 001's notebook


def alignment_case(repeats: int = 9) -> Dict[str, object]:
    """The alignment probe (htsweep.probes.alignment, every metric) against one training step
    at the notebook's size (n=750, d=1000, h=1250; spiked inputs, sigmoid, GD, rows
    normalised), CPU, float32.  Step and probe are timed alternately (``repeats`` times each,
    medians), so a drift of the shared machine's speed hits both.  ``probe`` uses the loop's
    gradient at W_t and the pass's intermediates r and D (every probe step but the last; the
    extra cost of keeping them in the gradient pass is included); ``probe, own G`` computes G,
    r and D itself (the last step); ``+ grad_spectrum`` adds every singular value of G
    (grad_eff_rank)."""
    import statistics
    from typing import Dict

    import torch

    from htsweep.config import make_spec
    from htsweep.loop import apply_update, build_run, gradient
    from htsweep.probes import ProbeView
    from htsweep.probes.alignment import AlignmentProbe
    from htsweep.probes.base import ESD_CACHE
    from htsweep.probes.spectrum import SpectrumProbe

    n, d, h = ALIGNMENT_SIZE
    cfg = make_spec(["data=spiked", f"data.n={n}", f"data.d={d}", f"model.h={h}", "model.activation=sigmoid",
                     "optimizer=gd", "lr=10000", "weight_norm=rows", "probe.alignment=true", "device=cpu"])  # fmt: skip
    built = build_run(cfg, torch.device("cpu"), torch.float32)
    state, dyn, train = built.initial, built.dynamics, built.data.train

    def train_step() -> None:
        nonlocal state
        state = apply_update(state, gradient(state, dyn, train), dyn)

    train_step()
    parts: Dict[str, object] = {}
    grads = gradient(state, dyn, train, parts).grads
    view = ProbeView(step=1, params=state.params, update=None, setup=built.setup, grads=grads)
    view.cache[(ESD_CACHE, "W")] = SpectrumProbe(built.setup)(view).esd["W"]  # as in a run
    probe = AlignmentProbe(built.setup)
    full = AlignmentProbe(type(built.setup)(**{**built.setup.__dict__, "probe": type(cfg.probe)(**{**cfg.probe.__dict__, "grad_spectrum": True})}))
    own = ProbeView(step=1, params=state.params, update=None, setup=built.setup, grads=None, cache=view.cache)
    probe(view), full(view)  # G_0 and the BBP constants: once per run

    def with_parts(p: AlignmentProbe) -> None:  # the probe consumes D: hand it a fresh copy
        view.parts = {"r": parts["r"], "D": parts["D"].clone()}
        p(view)

    times: Dict[str, list] = {"step": [], "keep": [], "plain": [], "probe": [], "probe, own G": [], "+ grad_spectrum": []}
    snapshot = {k: v.clone() for k, v in state.params.items()}
    for _ in range(repeats):
        for key, fn in (("step", train_step), ("keep", lambda: gradient(state, dyn, train, {})),
                        ("plain", lambda: gradient(state, dyn, train)), ("probe", lambda: with_parts(probe)),
                        ("probe, own G", lambda: probe(own)), ("+ grad_spectrum", lambda: with_parts(full))):  # fmt: skip
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
        state.params.update({k: v.clone() for k, v in snapshot.items()})  # the probes see one state
    med = {k: statistics.median(v) for k, v in times.items()}
    extra = max(med.pop("keep") - med.pop("plain"), 0.0)  # keeping r and D in the gradient pass
    med["probe"] += extra
    med["+ grad_spectrum"] += extra
    return {"n": n, "d": d, "h": h, **{f"{k}_s": v for k, v in med.items()}}


NOISE_SIZE = 4096  # h = d = n of the noise benchmark (issue 12)


def noise_case(size: int = NOISE_SIZE, alpha: float = 1.75, repeats: int = 3, device_name: str = "cpu") -> Dict[str, object]:
    """``noise=alpha_stable`` (htsweep.optim.perturbations.alpha_stable) against one full-batch GD
    step of the two-layer model with h = d = n = ``size`` (float32, built through htsweep's own
    config and loop: ``build_run`` + ``step``).  One ``apply_`` per type (draw in float64, scale,
    cast, add to a float32 copy of W) at ``alpha``; the step and the three draws are timed in turn,
    ``repeats`` times (medians), so a drift of a shared machine's speed hits all of them."""
    import statistics

    import torch

    from htsweep.config import make_spec
    from htsweep.device import resolve_device
    from htsweep.loop import build_run, step
    from htsweep.optim.perturbations.alpha_stable import AlphaStable, AlphaStableConfig, NoiseType

    spec = make_spec([f"data.n={size}", f"data.d={size}", f"model.h={size}", "data.n_test=10", "optimizer=gd",
                      f"device={device_name}", "progress=false"])  # fmt: skip
    device = resolve_device(spec.device.value)
    built = build_run(spec, device, torch.float32)
    state, dyn, train = built.initial, built.dynamics, built.data.train
    noisy = {k: v.clone() for k, v in state.params.items()}
    kinds = [NoiseType.subgaussian, NoiseType.per_entry, NoiseType.per_neuron]
    noises = {k.value: AlphaStable(AlphaStableConfig(type=k, alpha=alpha, sigma=1e-3), dyn.model, spec.seed) for k in kinds}

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def train_step() -> None:
        nonlocal state
        state, _ = step(state, dyn, train)

    t_of = {"step": train_step}
    for name, noise in noises.items():
        t_of[name] = (lambda n: lambda: n.apply_(noisy, 0, spec.lr))(noise)
    for fn in t_of.values():  # warm-up: allocator, first-call costs
        fn()
    times: Dict[str, list] = {k: [] for k in t_of}
    for _ in range(max(1, repeats)):
        for key, fn in t_of.items():
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times[key].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"size": size, "alpha": alpha, "device": str(device), "threads": torch.get_num_threads(),
            **{f"{k}_s": v for k, v in med.items()}, "times_s": times}  # fmt: skip


def compress_case(repeats: int = 5) -> Dict[str, object]:
    """The compressibility probe (htsweep.probes.compress) against one FB-Adam training step on
    the default run (n=2000, d=1000, h=1500, float32, CPU): with its pruning curves, without
    them, and the default probes (readout, network, spectrum, update) for scale; alternated,
    medians.  The readout probe runs first in each repeat, as in a run, so the refit reuses its
    hold-out moments."""
    import statistics

    import torch

    from htsweep.config import make_spec
    from htsweep.loop import apply_update, build_run, gradient
    from htsweep.probes import ProbeView, build_probes
    from htsweep.probes.compress import CompressProbe

    cfg = make_spec(["probe.compress=true", "device=cpu"])
    built = build_run(cfg, torch.device("cpu"), torch.float32)
    state, dyn, train = built.initial, built.dynamics, built.data.train
    for _ in range(3):
        state = apply_update(state, gradient(state, dyn, train), dyn)
    defaults = [p for p in build_probes(built.setup).probes if p.name != "compress"]
    curves = CompressProbe(built.setup)
    flat_setup = type(built.setup)(**{**built.setup.__dict__, "probe": type(cfg.probe)(**{**cfg.probe.__dict__, "compress_curves": False})})
    no_curves = CompressProbe(flat_setup)
    snapshot = {k: v.clone() for k, v in state.params.items()}

    def step() -> None:
        nonlocal state
        state = apply_update(state, gradient(state, dyn, train), dyn)
        state.params.update({k: v.clone() for k, v in snapshot.items()})

    times: Dict[str, list] = {"step": [], "default probes": [], "compress": [], "compress, no curves": []}
    for _ in range(repeats):
        view = ProbeView(step=3, params=state.params, update=state.update, setup=built.setup)
        for key, fn in (("step", step), ("default probes", lambda: [p(view) for p in defaults]),
                        ("compress", lambda: curves(view)), ("compress, no curves", lambda: no_curves(view))):  # fmt: skip
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
    return {"case": "compress", "threads": torch.get_num_threads(),
            **{f"{k}_s": statistics.median(v) for k, v in times.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="runs per case, each against the GEMM rate measured around it; the median is reported",
    )
    parser.add_argument(
        "--spectral", action="store_true", help="also time one probe's spectral analysis (CPU)"
    )
    parser.add_argument(
        "--alignment", action="store_true", help="also time the alignment probe against a training step (CPU)"
    )
    parser.add_argument(
        "--deep", action="store_true",
        help="one full-batch step of VGG11 and ResNet18 on 10,000 CIFAR-sized images, the layer probes, peak RSS",
    )
    parser.add_argument(
        "--noise", action="store_true",
        help="alpha-stable iterate noise (subgaussian, per_entry, per_neuron) for a 4096 x 4096 W against a GD step",
    )
    parser.add_argument(
        "--compress", action="store_true",
        help="the compressibility probe (with and without its pruning curves) against a training step, default run",
    )
    parser.add_argument("--_deep_child", help=argparse.SUPPRESS)
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cases = args.case or ([] if args.alignment or args.deep or args.noise or args.compress else sorted(CASES))
    if args._deep_child:
        print(json.dumps(deep_case(args._deep_child)))
        return
    if args._child:
        print(json.dumps(run_case(cases[0], args.device, args.repeats)))
        return
    results = []
    for case in cases:
        proc = subprocess.run(
            [
                sys.executable, os.path.abspath(__file__), "--_child", "--case", case,
                "--device", args.device, "--repeats", str(args.repeats),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    head = f"{'case':<26}{'device':<28}{'wall s':>8}{'peak MiB':>10}{'GFLOP':>9}{'GFLOP/s':>9}{'GEMM GFLOP/s':>14}{'ratio':>7}"
    if results:
        print(head)
    for r in results:
        print(
            f"{r['label']:<26}{r['device'][:27]:<28}{r['wall_s']:>8.2f}{r['peak_mib']:>10.0f}"
            f"{r['gflop']:>9.0f}{r['achieved_gflops']:>9.1f}{r['gemm_gflops']:>14.1f}{r['ratio']:>7.2f}"
        )
    for r in results:
        phases = ", ".join(f"{k} {v:.0f}" for k, v in r["gflop_by_phase"].items())
        runs = ", ".join(f"{w:.2f} s / {q:.2f}" for w, q in zip(r["walls_s"], r["ratios"]))
        print(f"  {r['case']}: GFLOP by phase: {phases}; threads={r['threads']}; peak = {r['peak_kind']}")
        print(f"     runs (wall / ratio): {runs}")
    if args.spectral:
        print(
            f"\n{'one probe, CPU (seconds)':<24}{'analysis':>10}{'ESD of W':>10}{'estimators':>12}"
            f"{'powerlaw.Fit':>14}{'train step':>12}{'analysis/step':>15}{'ESD+est./step':>15}"
        )
        for h, d in SPECTRAL_SIZES:
            r = spectral_case(h, d)
            results.append(r)
            step = r["train_step_s"]
            print(
                f"{f'h={h}, d={d}':<24}{r['analysis_s']:>10.3f}{r['esd_s']:>10.3f}{r['estimators_s']:>12.4f}"
                f"{r['powerlaw_fit_s']:>14.3f}{step:>12.3f}{r['analysis_s'] / step:>15.2f}"
                f"{(r['esd_s'] + r['estimators_s']) / step:>15.2f}"
            )
        print(
            "  analysis: everything a default probe computes from W_t, M_{t-1} and W_0 (ESD, top-k\n"
            "  triplets of W_t and M_{t-1}, overlaps, update spectrum, ||W_t - W_0||, fits).  ESD of W:\n"
            "  its float64 Gram + one tridiagonal reduction (all eigenvalues, top-k vectors).\n"
            "  estimators: Hill, KS (all candidates), MP fit, norms, phase and spikes on the eigenvalues."
        )
    if args.deep:
        print(f"\n{'deep network, CPU, float32':<28}{'images':>8}{'chunk':>7}{'step s':>9}{'probe s':>9}{'layers':>8}{'peak MiB':>10}")
        for name in ("vgg11", "resnet18"):
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--_deep_child", name],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"{name:<28}{r['n']:>8}{r['chunk']:>7}{r['step_s']:>9.1f}{r['probe_s']:>9.2f}{r['layers']:>8}{r['peak_mib']:>10.0f}")
        print("  step: loss and gradient of the whole set (in chunks), FB-Adam update; probe: the spectral and\n"
              "  update probes of every Conv2d / Linear layer (probe.conv_matrix=slices); peak: the process's RSS.")
    if args.alignment:
        r = alignment_case()
        results.append(r)
        step = r["step_s"]
        print(f"\nalignment probe, CPU, n={r['n']} d={r['d']} h={r['h']} (median seconds; x one training step)")
        for key in ("step", "probe", "probe, own G", "+ grad_spectrum"):
            print(f"  {key:<18}{r[key + '_s']:>8.4f}{r[key + '_s'] / step:>8.2f}x")
    if args.noise:
        r = noise_case(repeats=max(3, args.repeats), device_name=args.device)
        results.append(r)
        step = r["step_s"]
        print(f"\nalpha-stable noise, h=d=n={r['size']}, alpha={r['alpha']}, float32 W, {r['device']}, "
              f"{r['threads']} threads (median seconds of {len(r['times_s']['step'])}; x one GD step)")
        for key in ("step", "subgaussian", "per_entry", "per_neuron"):
            print(f"  {key:<14}{r[key + '_s']:>9.4f}{r[key + '_s'] / step:>8.3f}x")
        print("  step: loss, gradient and GD update of the two-layer model (htsweep.loop.step); noise: one\n"
              "  apply_ (float64 draws of stream noise/0/W, scale, cast, add to W).")
    if args.compress:
        r = compress_case(repeats=max(5, args.repeats))
        results.append(r)
        step = r["step_s"]
        print(f"\ncompressibility probe, default run (n=2000, d=1000, h=1500), CPU, {r['threads']} threads "
              "(median seconds; x one training step)")
        for key in ("step", "default probes", "compress", "compress, no curves"):
            print(f"  {key:<22}{r[key + '_s']:>8.3f}{r[key + '_s'] / step:>8.2f}x")
        print("  compress: mce fractions, tail indices and the four pruning curves (11 ratios each); the\n"
              "  default probes: readout (whose moments the refit reuses), network, spectrum, update.")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
