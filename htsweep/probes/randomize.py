"""The randomization control (``probe.randomize=true``): the ESD of an element-shuffled W.

Martin & Mahoney (2021, JMLR 22(165), "Implicit Self-Regularization in Deep Neural Networks",
Sec. 4 and 6) compare the ESD of a trained W with that of W_rand, the same entries in a random
order.  Shuffling keeps the entries' distribution and destroys every correlation between them:

* a heavy tail (or spikes) that comes from *correlations* (learned structure) disappears: the
  ESD of W_rand is a Marchenko-Pastur bulk, far from the ESD of W (large ``rand_js_distance``,
  ``rand_pl_alpha_hill`` back at the bulk's value, ``rand_num_traps`` = 0);
* a heavy tail of the *entries* themselves (a few unusually large elements) survives: W_rand
  is heavy-tailed too (``rand_pl_alpha_hill`` close to ``pl_alpha_hill``), and its largest
  eigenvalues stand above the MP edge of its own entry variance - Martin & Mahoney's
  "correlation traps" (``rand_num_traps`` > 0).

Per analysed matrix W (h x d) at each probe step t:

* W_rand = the h d entries of W_t permuted by ``torch.randperm`` from the named stream
  ``probe.randomize/<layer>/<t>`` of the run's seed (htsweep.seeding): the same seed gives the
  same shuffle, a resumed run the same values, and no training stream is touched;
* its ESD (one float64 Gram of the smaller side, one symmetric eigensolve), stored in
  esd.parquet as layer ``<layer>:shuffled`` (htsweep.records.schema.derived_layer);
* ``rand_js_distance``: the Jensen-Shannon distance (base 2, in [0, 1]) between the ESD of W_t
  (the one in esd.parquet) and that of W_rand on a shared log-spaced binning
  (htsweep.spectral.compare);
* ``rand_num_traps``: eigenvalues of W_rand above ``rand_mp_threshold``, the Tracy-Widom margin
  (level ``probe.phase.tw_level``) over the MP edge with sigma^2 = ``rand_mp_sigma2``, the
  entries' variance (about their mean, divided by h d; a permutation does not change it, so
  it is also W's).  No fit: for i.i.d. entries of finite fourth moment that law is W_rand's
  limit, so a trap is an eigenvalue no i.i.d. matrix with these entries' variance explains.
  One caveat: a non-zero entry mean mu adds the rank-one term mu 1 1^T to W_rand, an outlier
  of its own once |mu| (h d)^(1/4) > sigma (the BBP threshold; trained W here have |mu| far
  below it);
* ``rand_lambda_max``, ``rand_pl_alpha_hill``, ``rand_pl_alpha_ks`` (with ``_n_tail``): as the
  columns without the prefix, of the ESD of W_rand.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from htsweep.spectral.conv import as_matrix
from htsweep.probes.base import ESD_CACHE, Built, analysed_matrices, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped
from htsweep.records.schema import SHUFFLED_ESD, derived_layer
from htsweep.seeding import generator
from htsweep.spectral import MarchenkoPastur, alpha_hill, alpha_ks, esd_eigenvalues
from htsweep.spectral.compare import js_distance

STREAM = "probe.randomize"
PREFIX = "rand_"


def stream_name(layer: str, step: int) -> str:
    """The seeding stream of the shuffle of ``layer`` at ``step``."""
    return f"{STREAM}/{layer}/{int(step)}"


def shuffle(W: Tensor, seed: int, layer: str, step: int) -> Tensor:
    """W with its entries in a random order: one permutation of all h d entries, drawn on the
    CPU from the stream :func:`stream_name` of ``seed`` (so it does not depend on the device)."""
    perm = torch.randperm(W.numel(), generator=generator(seed, stream_name(layer, step)))
    return W.reshape(-1)[perm.to(W.device)].reshape(W.shape)


def entry_variance(W: Tensor) -> float:
    """(1 / (h d)) sum (w_ij - mean)^2 in float64."""
    return float(torch.var(W.to(torch.float64), correction=0))


def randomized_row(W_rand: Tensor, eigs: Tensor, eigs_rand: Tensor, level: float) -> Row:
    """The ``rand_`` columns from the ESDs of W (``eigs``) and of its shuffled copy."""
    rows, cols = int(W_rand.shape[-2]), int(W_rand.shape[-1])
    law = MarchenkoPastur(h=rows, d=cols, sigma2=entry_variance(W_rand))
    ks = alpha_ks(eigs_rand)
    return {
        f"{PREFIX}lambda_max": float(eigs_rand[-1]) if eigs_rand.numel() else math.nan,
        f"{PREFIX}pl_alpha_hill": alpha_hill(eigs_rand).alpha,
        f"{PREFIX}pl_alpha_ks": ks.alpha,
        f"{PREFIX}pl_alpha_ks_n_tail": ks.n_tail,
        f"{PREFIX}mp_sigma2": law.sigma2,
        f"{PREFIX}mp_threshold": law.spike_threshold(level),
        f"{PREFIX}num_traps": law.num_spikes(eigs_rand, level),
        f"{PREFIX}js_distance": js_distance(eigs, eigs_rand),
    }


class RandomizeProbe:
    name = "randomize"

    def __init__(self, setup: ProbeSetup) -> None:
        self.seed = int(setup.seed)
        self.level = setup.probe.phase.tw_level

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        for layer, W in analysed_matrices(view.setup, view.params).items():
            if W.dim() == 2:
                eigs = view.cached((ESD_CACHE, layer), lambda: esd_eigenvalues(W).cpu())
            else:  # a conv layer: both ESDs of the (out, in k k) reshape
                W = as_matrix(W)
                eigs = esd_eigenvalues(W).cpu()
            W_rand = shuffle(W, self.seed, layer, view.step)
            eigs_rand = esd_eigenvalues(W_rand).cpu()
            out.layer_values[layer] = randomized_row(W_rand, eigs, eigs_rand, self.level)
            out.esd[derived_layer(layer, SHUFFLED_ESD)] = eigs_rand
            del W_rand
        return out


def build(setup: ProbeSetup) -> Built:
    if not setup.probe.randomize:
        return Skipped("disabled (probe.randomize=false)")
    if setup.seed is None:
        return Skipped("the run's seed is not passed to the probes (ProbeSetup.seed)")
    return RandomizeProbe(setup)
