"""Teacher and data sets of the single-index model, eq. (1) of Sec. 3.

x ~ N(0, I_d), y = sigma_*(beta^T x) + xi with beta uniform on the unit sphere S^{d-1} and
xi ~ N(0, label_noise_std^2).  Train (n), hold-out (n) and test (n_test) sets are drawn from
their own named seed streams (``train/x``, ``train/noise``, ...), so the splits are
independent, a sweep with one seed shares them, and changing ``n_test`` leaves the training set
unchanged.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import Tensor

from htsweep import activations
from htsweep.activations import Activation
from htsweep.data.base import DataConfig, Dataset, Split
from htsweep.seeding import generator


@dataclass
class SingleIndexConfig(DataConfig):
    """Eq. (1): ``n`` train and hold-out points, ``n_test`` test points in ``d`` dimensions,
    teacher link ``teacher`` (sigma_*), label noise std ``label_noise_std`` (rho_e)."""

    OPTION = "single_index"
    name: str = "single_index"
    n: int = 2000
    n_test: int = 200
    d: int = 1000
    teacher: Activation = Activation.softplus
    label_noise_std: float = 0.3

    def check(self) -> None:
        self.require(self.n >= 1, "n", f"must be an integer >= 1, got {self.n}")
        self.require(self.n_test >= 1, "n_test", f"must be an integer >= 1, got {self.n_test}")
        self.require(self.d >= 1, "d", f"must be an integer >= 1, got {self.d}")
        self.require(
            self.label_noise_std >= 0, "label_noise_std", f"must be >= 0, got {self.label_noise_std}"
        )


def sample_teacher(d: int, seed: int) -> Tensor:
    """beta uniform on S^{d-1}: a normalised standard Gaussian vector (float64, CPU)."""
    g = torch.randn(d, generator=generator(seed, "teacher"), dtype=torch.float64)
    return g / torch.linalg.vector_norm(g)


def sample_split(cfg: SingleIndexConfig, beta: Tensor, m: int, seed: int, stream: str) -> Split:
    """m points of eq. (1), drawn from the streams ``<stream>/x`` and ``<stream>/noise``."""
    X = torch.randn(m, cfg.d, generator=generator(seed, f"{stream}/x"), dtype=torch.float64)
    xi = torch.randn(m, generator=generator(seed, f"{stream}/noise"), dtype=torch.float64)
    y = activations.value(cfg.teacher, X @ beta) + cfg.label_noise_std * xi
    return Split(X, y)


# Split name -> seed stream.  The hold-out set keeps the stream name "probe" it was drawn
# from before the split was renamed, so its numbers are unchanged.
STREAMS = {"train": "train", "holdout": "probe", "test": "test"}


def make(cfg: SingleIndexConfig, seed: int) -> Dataset:
    """Teacher and the three data sets, in float64 on the CPU; a function of (cfg, seed) only.

    Each split has its own random streams, so the splits are drawn concurrently (torch's CPU
    sampler is sequential per generator and releases the GIL); the numbers do not depend on
    the thread count."""
    beta = sample_teacher(cfg.d, seed)
    sizes = {"train": cfg.n, "holdout": cfg.n, "test": cfg.n_test}
    workers = max(1, min(len(sizes), torch.get_num_threads()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            k: pool.submit(sample_split, cfg, beta, m, seed, STREAMS[k]) for k, m in sizes.items()
        }
        splits = {k: f.result() for k, f in futures.items()}
    return Dataset(beta=beta, **splits)
