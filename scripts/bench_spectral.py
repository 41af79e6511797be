"""Benchmark: cost of the full per-probe spectral analysis vs powerlaw.Fit and vs one training
step of the same size.

    python scripts/bench_spectral.py                  # h=1500,d=1000 and h=4096,d=4096
    python scripts/bench_spectral.py --sizes 1500x1000 --repeats 5 --no-powerlaw

For each size the matrix analysed is W_1 = W_0 + M_0 after one FB-Adam step (lr = 1) of the
paper's model on n = 2000 points, so the ESD has the Bulk+Spike shape the probes see.  Timed:

  esd+svd      thin SVD of W_1 from its float64 Gram (ESD, v_1 and all singular vectors)
  hill, ks     PL_Alpha_Hill, PL_Alpha_KS (all N candidates, paper distance)
  mp_fit       Marchenko-Pastur scale fit, spikes, bulk KS distance
  norms+phase  norm metrics and the Martin-Mahoney phase (reuses the fits)
  update_svd   thin SVD of M_0 (needed for the overlaps)
  overlaps     O(U_W1, U_M0), O(V_W1, V_M0) and their summaries
  esd only     the eigenvalues alone (Gram + eigvalsh), what an ESD-only probe needs
  esd only f32 the same in float32 (esd_eigenvalues(W, torch.float32))
  grad_svals   top-5 singular values of G_0
  total esd    step_analysis(W_1): ESD + Hill + KS + MP fit + norms + phase
  total        step_analysis(W_1, M_0, G_0, beta): all of the above with overlaps
  powerlaw.Fit powerlaw 2.x's own xmin search on the same eigenvalues (alpha range [1, inf))
  train step   htsweep.model.loss_and_grad at n = 2000 in float32 (the run default) and float64

Each time is the best of ``--repeats`` runs (one for the largest size).  The machine's
thread count and load are printed: on a shared CPU, rerun when it is idle.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from typing import Callable, Dict, List, Tuple, TypeVar

import htsweep  # noqa: F401  (first: sets OpenBLAS's thread timeout before numpy loads it)
import torch

from htsweep import model
from htsweep.config import Activation, DataConfig
from htsweep.data import make_data
from htsweep.spectral import (
    PhaseThresholds,
    alpha_hill,
    classify_phase,
    fit_mp,
    ks_candidates,
    norm_metrics,
    phase_min_tail,
    singular_vector_overlaps,
    esd_eigenvalues,
    step_analysis,
    thin_svd,
    top_singular_values,
)


T = TypeVar("T")


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timed(fn: Callable[[], T]) -> Tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def one_adam_step(h: int, d: int, n: int, seed: int = 0):
    """(W_1, M_0, G_0, beta) after one bias-corrected FB-Adam step with lr = 1, eps -> 0."""
    data = make_data(DataConfig(n=n, n_test=1, d=d), seed)
    student = model.Student(h, d, Activation.tanh)
    W0, a = model.init_weights(student, seed)
    W0, a = W0.float(), a.float()
    X, y = data.train.X.float(), data.train.y.float()
    _, G0 = model.loss_and_grad(student, W0, a, X, y)
    M0 = -torch.sign(G0)
    return W0 + M0, M0, G0, data.beta, (student, W0, a, X, y)


def bench_size(h: int, d: int, n: int, repeats: int, with_powerlaw: bool) -> Dict[str, float]:
    W1, M0, G0, beta, (student, W0, a, X, y) = one_adam_step(h, d, n)
    th = PhaseThresholds()
    out: Dict[str, float] = {}

    out["esd only"] = best_of(lambda: esd_eigenvalues(W1), repeats)
    out["esd only f32"] = best_of(lambda: esd_eigenvalues(W1, torch.float32), repeats)
    svd_W, out["esd+svd"] = timed(lambda: thin_svd(W1))
    if repeats > 1:
        out["esd+svd"] = min(out["esd+svd"], best_of(lambda: thin_svd(W1), repeats - 1))
    e = svd_W.eigs
    out["hill"] = best_of(lambda: alpha_hill(e), repeats)
    out["ks"] = best_of(lambda: ks_candidates(e).fit(), repeats)
    out["mp_fit"] = best_of(lambda: fit_mp(e, h, d), repeats)
    mp = fit_mp(e, h, d)
    cand = ks_candidates(e)

    def norms_phase() -> None:
        norm_metrics(e, alpha=cand.fit().alpha)
        classify_phase(e, h, d, th, mp=mp, power_law=cand.fit(phase_min_tail(min(h, d), th)))

    out["norms+phase"] = best_of(norms_phase, repeats)
    svd_M, out["update_svd"] = timed(lambda: thin_svd(M0))
    if repeats > 1:
        out["update_svd"] = min(out["update_svd"], best_of(lambda: thin_svd(M0), repeats - 1))
    out["overlaps"] = best_of(lambda: singular_vector_overlaps(W1, M0, svd_W=svd_W, svd_M=svd_M), repeats)
    out["grad_svals"] = best_of(lambda: top_singular_values(G0, 5), repeats)
    fits = ("hill", "ks", "mp_fit", "norms+phase")
    if repeats > 1:  # the real composition, decompositions included
        out["total esd"] = best_of(lambda: step_analysis(W1), repeats)
        out["total"] = best_of(lambda: step_analysis(W1, M_prev=M0, G_prev=G0, beta=beta), repeats)
    else:  # one pass is minutes at 4096 x 4096: add the parts instead of redoing them
        out["total esd"] = out["esd only"] + sum(out[k] for k in fits)
        parts = ("esd+svd", "update_svd", "overlaps", "grad_svals") + fits
        out["total"] = sum(out[k] for k in parts)

    if with_powerlaw:
        import powerlaw

        ev = e.numpy()

        def pl_fit() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                powerlaw.Fit(ev, parameter_ranges={"alpha": [1, None]}, verbose=0)

        out["powerlaw.Fit"] = best_of(pl_fit, 1)
    out["train step f32"] = best_of(lambda: model.loss_and_grad(student, W0, a, X, y), repeats)
    W64, a64, X64, y64 = W0.double(), a.double(), X.double(), y.double()
    out["train step f64"] = best_of(lambda: model.loss_and_grad(student, W64, a64, X64, y64), repeats)
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
