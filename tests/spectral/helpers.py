"""Shared generators for the spectral tests: synthetic ESDs with known structure.

Imported as ``from tests.spectral.helpers import ...`` by tests/spectral/test_*.py.  Every
generator returns float64 tensors explicitly (no test changes torch's default dtype).
``single_thread`` is an autouse fixture: a module that imports it runs its tests on one thread."""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import pytest
import torch
from torch import Tensor

from htsweep.spectral import MarchenkoPastur


@pytest.fixture(autouse=True)
def single_thread():
    """Small eigensolves are faster on one thread, and much faster when other jobs share the
    CPU (MKL's threads spin on contention); restore the setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian(h: int, d: int, seed: int, sigma: float = 1.0) -> Tensor:
    return torch.randn(h, d, generator=gen(seed), dtype=torch.float64).mul_(sigma)


def unit(n: int, g: torch.Generator) -> Tensor:
    v = torch.randn(n, generator=g, dtype=torch.float64)
    return v / torch.linalg.vector_norm(v)


def rank_one(h: int, d: int, theta: float, seed: int) -> Tensor:
    g = gen(10_000 + seed)
    return theta * torch.outer(unit(h, g), unit(d, g))


def esd(W: Tensor) -> Tensor:
    """Eigenvalues of W^T W (non-zero part, ascending, float64) via the smaller Gram."""
    W = W.to(torch.float64)
    gram = W.t() @ W if W.shape[1] <= W.shape[0] else W @ W.t()
    return torch.linalg.eigvalsh(gram)


def pareto_over_bulk(
    alpha: float, N: int, tail_fraction: float, seed: int, aspect: float = 1.5
) -> Tuple[Tensor, int, float]:
    """An ESD of N eigenvalues: (1 - f) N from the MP law of an (aspect N) x N Gaussian matrix
    (sigma^2 = 1, drawn by inverse CDF) and f N from a Pareto density ~ x^-alpha on
    [lambda_+, inf), i.e. a power-law tail starting at the bulk edge.

    Returns (sorted eigenvalues, tail size, lambda_+)."""
    law = MarchenkoPastur(int(round(aspect * N)), N)
    g = gen(seed)
    k = int(round(tail_fraction * N))
    bulk = law.quantile(torch.rand(N - k, generator=g, dtype=torch.float64))
    u = torch.rand(k, generator=g, dtype=torch.float64)
    tail = law.lambda_plus * u.pow(-1.0 / (alpha - 1.0))
    return torch.sort(torch.cat([bulk, tail])).values, k, law.lambda_plus


def pure_pareto(alpha: float, n: int, seed: int, xmin: float = 1.0) -> Tensor:
    u = torch.rand(n, generator=gen(seed), dtype=torch.float64)
    return torch.sort(xmin * u.pow(-1.0 / (alpha - 1.0))).values


def student_t(h: int, d: int, nu: float, seed: int) -> Tensor:
    """i.i.d. Student-t(nu) entries (numpy's generator: torch has no seeded chi^2)."""
    return torch.from_numpy(np.random.default_rng(seed).standard_t(nu, size=(h, d)))


def standard_error(alpha: float, n_tail: int) -> float:
    return (alpha - 1.0) / math.sqrt(n_tail)
