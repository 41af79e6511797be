"""Teacher and data sets of the single-index model, eq. (1) of Sec. 3.

x ~ N(0, I_d), y = sigma_*(beta^T x) + xi with beta uniform on the unit sphere S^{d-1} and
xi ~ N(0, label_noise_std^2).  The train set (X, y) drives stage 1; the probe set
(X_bar, y_bar) of the same size is the hold-out data of the ridge readout, eq. (6), and of the
kernel-target alignment, eq. (7); the test set gives the test loss.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import Tensor

from htsweep import activations
from htsweep.config import DataConfig
from htsweep.seeding import generator


@dataclass(frozen=True)
class Split:
    X: Tensor  # (m, d)
    y: Tensor  # (m,)

    def to(self, device: torch.device, dtype: torch.dtype) -> "Split":
        return Split(self.X.to(device=device, dtype=dtype), self.y.to(device=device, dtype=dtype))


@dataclass(frozen=True)
class SingleIndexData:
    beta: Tensor  # (d,), unit norm
    train: Split
    probe: Split
    test: Split

    def to(self, device: torch.device, dtype: torch.dtype) -> "SingleIndexData":
        return SingleIndexData(
            self.beta.to(device=device, dtype=dtype),
            self.train.to(device, dtype),
            self.probe.to(device, dtype),
            self.test.to(device, dtype),
        )


def sample_teacher(d: int, seed: int) -> Tensor:
    """beta uniform on S^{d-1}: a normalised standard Gaussian vector (float64, CPU)."""
    g = torch.randn(d, generator=generator(seed, "teacher"), dtype=torch.float64)
    return g / torch.linalg.vector_norm(g)


def sample_split(cfg: DataConfig, beta: Tensor, m: int, seed: int, name: str) -> Split:
    """m points of eq. (1), drawn from the streams ``name/x`` and ``name/noise``."""
    X = torch.randn(m, cfg.d, generator=generator(seed, f"{name}/x"), dtype=torch.float64)
    xi = torch.randn(m, generator=generator(seed, f"{name}/noise"), dtype=torch.float64)
    y = activations.value(cfg.teacher, X @ beta) + cfg.label_noise_std * xi
    return Split(X, y)


def make_data(cfg: DataConfig, seed: int) -> SingleIndexData:
    """Teacher and the three data sets, in float64 on the CPU; a function of (cfg, seed) only.

    Each split has its own random streams, so the splits are drawn concurrently (torch's CPU
    sampler is sequential per generator and releases the GIL); the numbers do not depend on
    the thread count."""
    beta = sample_teacher(cfg.d, seed)
    sizes = {"train": cfg.n, "probe": cfg.n, "test": cfg.n_test}
    workers = max(1, min(len(sizes), torch.get_num_threads()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {k: pool.submit(sample_split, cfg, beta, m, seed, k) for k, m in sizes.items()}
        splits = {k: f.result() for k, f in futures.items()}
    return SingleIndexData(beta=beta, **splits)
