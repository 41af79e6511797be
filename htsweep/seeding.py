"""Seed derivation: one integer seed gives independent, named random streams.

A stream's generator depends only on (seed, stream name), never on how many numbers other
streams drew, so changing ``n_test`` does not change the training set and a learning-rate
sweep with one seed shares the teacher, the data and W_0 across all its points.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream``, derived from ``seed`` by NumPy's SeedSequence."""
    key = zlib.crc32(stream.encode("utf-8"))
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, key]).generate_state(
        2, dtype=np.uint32
    )
    return int((int(state[0]) << 31) ^ int(state[1])) & 0x7FFFFFFFFFFFFFFF


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU torch.Generator for ``stream``; draw on the CPU, then move to the device, so the
    numbers do not depend on the device."""
    return torch.Generator(device="cpu").manual_seed(stream_seed(seed, stream))
