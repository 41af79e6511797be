"""Where a run computes: device and dtype from the config."""

from __future__ import annotations

import torch

from htsweep.errors import ConfigError

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when a GPU is visible, else cpu; ``cuda`` without a GPU is an error."""
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device", "'cuda' requested but no CUDA GPU is visible; allowed here: auto, cpu")
        return torch.device("cuda")
    if device == "auto" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def device_description(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    return "cpu"
