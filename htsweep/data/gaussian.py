"""The shared sampler of the teacher-student sources with Gaussian inputs.

x = x_B + zeta z q (:class:`~htsweep.data.base.GaussianLaw`), drawn per split from the named
streams ``<split>/x`` (x_B, standard normal, then scaled by sqrt(bulk_var)) and ``<split>/z``
(the latent z); the teacher value s = sum_k sigma_k(beta_k^T x / norm_k) and the labels
(htsweep.data.labels).  With no spike and a unit bulk this is eq. (1)'s x ~ N(0, I_d), drawn
exactly as before the spiked sources existed, so single-index data are unchanged.

Splits come from their own streams (train ``train``, hold-out ``probe`` - the name it had before
the split was renamed - and test ``test``), so they are independent, a sweep with one seed
shares them, and changing ``n_test`` leaves the training set unchanged.  The three splits are
drawn concurrently (torch's CPU sampler is sequential per generator and releases the GIL); the
numbers do not depend on the thread count.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from htsweep import activations
from htsweep.activations import Activation
from htsweep.data.base import Dataset, GaussianLaw, Split
from htsweep.data.labels import Labels, make_labels
from htsweep.seeding import generator

# Split name -> seed stream.
STREAMS = {"train": "train", "holdout": "probe", "test": "test"}


@dataclass(frozen=True)
class Teacher:
    """y's noiseless part s(x) = sum_k link_k(beta_k^T x / norm_k) (one term: eq. 1)."""

    links: Tuple[Activation, ...]
    betas: Tensor  # (K, d), unit rows, float64
    norms: Tuple[float, ...]  # divide beta_k^T x by these (1: no target normalisation)

    def value(self, X: Tensor) -> Tensor:
        s: Optional[Tensor] = None
        for k, link in enumerate(self.links):
            u = X @ self.betas[k]  # one matrix-vector product per direction (as eq. 1's X beta)
            if self.norms[k] != 1.0:
                u = u / self.norms[k]
            term = activations.value(link, u)
            s = term if s is None else s + term
        assert s is not None
        return s

    def value_at_zero(self) -> float:
        zero = torch.zeros(1, dtype=torch.float64)
        return float(sum(activations.value(link, zero) for link in self.links))


def unit_vector(d: int, seed: int, stream: str) -> Tensor:
    """A direction uniform on S^{d-1}: a normalised standard Gaussian vector (float64, CPU)."""
    g = torch.randn(d, generator=generator(seed, stream), dtype=torch.float64)
    return g / torch.linalg.vector_norm(g)


def at_overlap(beta: Tensor, rho: float, seed: int, stream: str) -> Tensor:
    """A unit vector q with <q, beta> = rho: rho beta + sqrt(1 - rho^2) u, u a uniform unit
    direction orthogonal to beta (stream ``stream``)."""
    g = torch.randn(beta.numel(), generator=generator(seed, stream), dtype=torch.float64)
    g = g - torch.dot(g, beta) * beta
    u = g / torch.linalg.vector_norm(g)
    q = rho * beta + math.sqrt(max(0.0, 1.0 - rho * rho)) * u
    return q / torch.linalg.vector_norm(q)


def sample_inputs(law: GaussianLaw, m: int, seed: int, stream: str) -> Tuple[Tensor, Optional[Tensor]]:
    """(X, z): m inputs of ``law`` and their latent spike coordinates (None without a spike)."""
    X = torch.randn(m, law.d, generator=generator(seed, f"{stream}/x"), dtype=torch.float64)
    if not bool((law.bulk_var == 1.0).all()):
        X.mul_(law.bulk_var.sqrt())
    if law.q is None:
        return X, None
    z = torch.randn(m, generator=generator(seed, f"{stream}/z"), dtype=torch.float64)
    X.add_(torch.outer(z, law.q), alpha=law.zeta)
    return X, z


def sample_split(law: GaussianLaw, teacher: Teacher, labels: Labels, noise_std: float, m: int, seed: int,
                 stream: str) -> Split:  # fmt: skip
    X, z = sample_inputs(law, m, seed, stream)
    s = teacher.value(X)
    y = make_labels(labels, s, teacher.value_at_zero(), noise_std, seed, stream)
    return Split(X, y, z)


def make_dataset(law: GaussianLaw, teacher: Teacher, labels: Labels, noise_std: float, sizes: Dict[str, int],
                 seed: int) -> Dataset:  # fmt: skip
    """The three splits of sizes ``sizes`` ({"train", "holdout", "test"} -> m), float64, CPU."""
    workers = max(1, min(len(sizes), torch.get_num_threads()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            k: pool.submit(sample_split, law, teacher, labels, noise_std, m, seed, STREAMS[k]) for k, m in sizes.items()
        }
        splits = {k: f.result() for k, f in futures.items()}
    betas = teacher.betas if teacher.betas.shape[0] > 1 else None
    return Dataset(beta=teacher.betas[0].clone(), law=law, betas=betas, **splits)


def target_norms(law: GaussianLaw, betas: Tensor, normalise: bool) -> Tuple[float, ...]:
    """The std of beta_k^T x under ``law`` for each teacher direction (1 when not normalising)."""
    if not normalise:
        return tuple(1.0 for _ in range(betas.shape[0]))
    return tuple(float(v) for v in law.quadratic_form(betas).sqrt())


def links_tuple(links: Sequence[Activation]) -> Tuple[Activation, ...]:
    return tuple(Activation(a) for a in links)
