"""Shared fixtures: small, fast configurations of the paper's setting."""

from __future__ import annotations

import pytest
import torch

from htsweep.config import Config, DType


def small_config(**over) -> Config:
    """The paper's setting scaled down (n=300, d=60, h=90), float64, no progress bar."""
    cfg = Config()
    cfg.data.n, cfg.data.d, cfg.data.n_test = 300, 60, 100
    cfg.model.h = 90
    cfg.steps = 3
    cfg.dtype = DType.float64
    cfg.progress = False
    for key, value in over.items():
        node = cfg
        *path, leaf = key.split(".")
        for part in path:
            node = getattr(node, part)
        setattr(node, leaf, value)
    cfg.__post_init__()
    return cfg


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
    yield
