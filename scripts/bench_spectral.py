"""Benchmark: cost of the spectral probe per probe step vs powerlaw.Fit and vs one training
step of the same size.

    python scripts/bench_spectral.py                  # h=1500,d=1000 and h=4096,d=4096
    python scripts/bench_spectral.py --sizes 1500x1000 --repeats 5 --no-powerlaw

For each size the run is built as the trainer builds it (htsweep.loop.build_run on the
composed config: the paper's model, n = 2000 points, float32, FB-Adam lr = 1 with eps = 0)
and takes one step (htsweep.loop.gradient + apply_update), so the matrix analysed is
W_1 = W_0 + M_0 with the Bulk+Spike ESD the probes see, and M_0 = -sign(G_0).  Timed:

  esd only       the eigenvalues alone (Gram + eigvalsh: esd_eigenvalues)
  esd only f32   the same in float32 (esd_eigenvalues(W, torch.float32))
  esd+top-k      the ESD and W_1's top-k triplets from one reduction (spectrum_and_top_svd,
                 probe.overlaps=summary, k = probe.overlap_k)
  esd+svd        thin SVD of W_1 from its float64 Gram (probe.overlaps=full)
  hill, ks       PL_Alpha_Hill, PL_Alpha_KS (all N candidates, paper distance)
  mp_fit         Marchenko-Pastur scale fit, spikes, bulk KS distance
  norms+phase    norm metrics and the Martin-Mahoney phase (reusing the fits)
  esd_report     all the fits above together (what the probe calls on the ESD)
  update top-k   top-k triplets of M_0 (top_svd; summary mode)
  update_svd     thin SVD of M_0 (full mode)
  overlaps       O(U_W1, U_M0), O(V_W1, V_M0) and their summaries, from the full SVDs
  total esd      SpectrumProbe on W_1 without an update (a t = 0 probe: ESD, fits, sim, MP)
  total          SpectrumProbe on (W_1, M_0), probe.overlaps=summary (the default)
  total full     SpectrumProbe on (W_1, M_0), probe.overlaps=full
  powerlaw.Fit   powerlaw 2.x's own xmin search on the same eigenvalues (alpha range [1, inf))
  train step     the model's loss_and_grad at n = 2000 in float32 (the run default) and float64

The probe no longer computes the gradient's singular values (update_spectrum with G=None),
so they are not timed.  Each time is the best of ``--repeats`` runs (one for the largest
size).  The machine's thread count and load are printed: on a shared CPU, rerun when it is
idle.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
import warnings
from typing import Callable, Dict, List, Tuple

import htsweep  # noqa: F401  (first: sets OpenBLAS's thread timeout before numpy loads it)
import torch

from htsweep.config import OverlapMode, make_spec
from htsweep.loop import apply_update, build_run, gradient
from htsweep.probes import ProbeView
from htsweep.probes.spectrum import SpectrumProbe
from htsweep.spectral import (
    alpha_hill,
    classify_phase,
    esd_eigenvalues,
    esd_report,
    fit_mp,
    ks_candidates,
    norm_metrics,
    singular_vector_overlaps,
    spectrum_and_top_svd,
    thin_svd,
    top_svd,
)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def one_adam_step(h: int, d: int, n: int, seed: int = 0):
    """The built run (float32, CPU) and its state after one bias-corrected FB-Adam step with
    lr = 1, eps = 0: W_1 = W_0 - sign(G_0)."""
    spec = make_spec(
        [
            f"data.n={n}",
            "data.n_test=1",
            f"data.d={d}",
            f"model.h={h}",
            "optimizer=adam",
            "optimizer.eps=0",
            "optimizer.bias_correction=true",
            "lr=1",
            "dtype=float32",
            "device=cpu",
            "progress=false",
            f"seed={seed}",
        ]
    )
    run = build_run(spec, torch.device("cpu"), torch.float32)
    grad = gradient(run.initial, run.dynamics, run.data.train)
    state = apply_update(run.initial, grad, run.dynamics)  # in place on the initial params
    return run, state


def bench_size(h: int, d: int, n: int, repeats: int, with_powerlaw: bool) -> Dict[str, float]:
    run, state = one_adam_step(h, d, n)
    setup = run.setup
    W1, M0 = state.params["W"], state.update["W"]
    th = setup.probe.phase
    k = setup.probe.overlap_k
    out: Dict[str, float] = {}

    out["esd only"] = best_of(lambda: esd_eigenvalues(W1), repeats)
    out["esd only f32"] = best_of(lambda: esd_eigenvalues(W1, torch.float32), repeats)
    out["esd+top-k"] = best_of(lambda: spectrum_and_top_svd(W1, k), repeats)
    out["esd+svd"] = best_of(lambda: thin_svd(W1), repeats)
    svd_W = thin_svd(W1)
    e = svd_W.eigs
    out["hill"] = best_of(lambda: alpha_hill(e), repeats)
    out["ks"] = best_of(lambda: ks_candidates(e).fit(), repeats)
    out["mp_fit"] = best_of(lambda: fit_mp(e, h, d, trim=th.bulk_trim, level=th.tw_level), repeats)
    mp = fit_mp(e, h, d, trim=th.bulk_trim, level=th.tw_level)
    cand = ks_candidates(e)

    def norms_phase() -> None:
        norm_metrics(e, alpha=cand.fit().alpha)
        classify_phase(e, h, d, th, mp=mp)

    out["norms+phase"] = best_of(norms_phase, repeats)
    out["esd_report"] = best_of(lambda: esd_report(e, h, d, th), repeats)
    out["update top-k"] = best_of(lambda: top_svd(M0, k), repeats)
    out["update_svd"] = best_of(lambda: thin_svd(M0), repeats)
    svd_M = thin_svd(M0)
    out["overlaps"] = best_of(
        lambda: singular_vector_overlaps(W1, M0, k=k, svd_W=svd_W, svd_M=svd_M), repeats
    )

    # The probe itself, as the loop calls it (a fresh view, hence a fresh cache, per call).
    def probe(setup_, update) -> Callable[[], object]:
        p = SpectrumProbe(setup_)
        return lambda: p(ProbeView(step=state.t, params=state.params, update=update, setup=setup_))

    full = dataclasses.replace(setup, probe=dataclasses.replace(setup.probe, overlaps=OverlapMode.full))
    out["total esd"] = best_of(probe(setup, None), repeats)
    out["total"] = best_of(probe(setup, state.update), repeats)
    out["total full"] = best_of(probe(full, state.update), repeats)

    if with_powerlaw:
        import powerlaw

        ev = e.numpy()

        def pl_fit() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                powerlaw.Fit(ev, parameter_ranges={"alpha": [1, None]}, verbose=0)

        out["powerlaw.Fit"] = best_of(pl_fit, 1)
    model, loss = setup.model, run.dynamics.loss
    params0, train = setup.params0, run.data.train  # W_0 (build_run keeps its own copy)
    out["train step f32"] = best_of(lambda: model.loss_and_grad(params0, train, loss), repeats)
    params64 = {name: v.double() for name, v in params0.items()}
    train64 = train.to(torch.device("cpu"), torch.float64)
    out["train step f64"] = best_of(lambda: model.loss_and_grad(params64, train64, loss), repeats)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["1500x1000", "4096x4096"], help="h x d")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-powerlaw", action="store_true", help="skip the (slow) powerlaw.Fit reference")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    sizes: List[Tuple[int, int]] = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]  # type: ignore[misc]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.2f}")
    results = {}
    for h, d in sizes:
        big = h * d > 4_000_000
        results[(h, d)] = bench_size(h, d, args.n, 1 if big else args.repeats, not args.no_powerlaw)
    rows = list(next(iter(results.values())).keys())
    head = f"{'seconds':<16}" + "".join(f"{f'h={h},d={d}':>18}" for h, d in sizes)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r:<16}" + "".join(f"{results[s].get(r, math.nan):>18.3f}" for s in sizes))
    print("-" * len(head))
    for s in sizes:
        res = results[s]
        f32, f64 = res["train step f32"], res["train step f64"]
        msg = f"h={s[0]},d={s[1]}: analysis / train step (f32, f64): ESD+fits {res['total esd'] / f32:.2f}, "
        msg += f"{res['total esd'] / f64:.2f}; with overlaps {res['total'] / f32:.2f}, {res['total'] / f64:.2f}"
        if "powerlaw.Fit" in res:
            msg += f"; powerlaw.Fit / our KS = {res['powerlaw.Fit'] / res['ks']:.0f}x"
        print(msg)


if __name__ == "__main__":
    main()
