"""SVHN, the Street View House Numbers in "format 2: cropped digits" (Netzer et al. 2011,
http://ufldl.stanford.edu/housenumbers/): ``<root>/train_32x32.mat`` (73,257 images) and
``<root>/test_32x32.mat`` (26,032), MATLAB files read with ``scipy.io.loadmat``.

Each holds ``X``, a 32 x 32 x 3 x N uint8 array (height, width, channel, image), and ``y``,
N x 1 labels 1..10 where 10 means the digit 0 (so class c is the digit c).  The pre-flight
reads the variables' headers (``scipy.io.whosmat``) and checks their shapes and the file size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import scipy.io

from htsweep.data.images import FileImageConfig, Images, bad_file, check_labels

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
ORIGIN = "SVHN format 2 (cropped digits) from http://ufldl.stanford.edu/housenumbers/"


def _count(path: Path) -> int:
    """N from the headers of ``X`` and ``y`` in ``path``, checked."""
    if not path.is_file():
        raise bad_file(f"expected {path} ({ORIGIN})")
    try:
        shapes = {name: shape for name, shape, _ in scipy.io.whosmat(str(path))}
    except Exception as ex:  # scipy raises many kinds on a malformed file
        raise bad_file(f"{path}: not a MATLAB file scipy can read ({type(ex).__name__}: {ex}) ({ORIGIN})") from None
    X, y = shapes.get("X", ()), shapes.get("y", ())
    n = X[3] if len(X) == 4 else -1
    if tuple(X[:3]) != (32, 32, 3) or tuple(y) != (n, 1):
        raise bad_file(f"{path}: expected X 32x32x3xN and y Nx1, got X {X} and y {y} ({ORIGIN})")
    if path.stat().st_size < 3072 * n:
        raise bad_file(f"{path}: {path.stat().st_size} bytes, too short for {n} images (truncated?) ({ORIGIN})")
    return n


@dataclass
class SvhnConfig(FileImageConfig):
    """SVHN (module docstring)."""

    OPTION = "svhn"
    NATIVE_SIZE = 32
    CHANNELS = 3
    name: str = "svhn"

    def available(self) -> Tuple[Optional[int], Optional[int]]:
        root = self.resolved_root()
        return _count(root / FILES["train"]), _count(root / FILES["test"])

    def load(self, seed: int) -> Tuple[Images, Images]:
        root = self.resolved_root()
        return _read(root / FILES["train"]), _read(root / FILES["test"])


def _read(path: Path) -> Images:
    n = _count(path)
    try:
        mat = scipy.io.loadmat(str(path), variable_names=("X", "y"))
    except Exception as ex:
        raise bad_file(f"{path}: cannot read it ({type(ex).__name__}: {ex}) ({ORIGIN})") from None
    X, raw = mat["X"], np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if X.dtype != np.uint8:
        raise bad_file(f"{path}: X must be uint8, got {X.dtype} ({ORIGIN})")
    if raw.size and (raw.min() < 1 or raw.max() > 10):
        raise bad_file(f"{path}: expected labels y in 1..10, got {raw.min()}..{raw.max()} ({ORIGIN})")
    X = np.ascontiguousarray(X.transpose(3, 2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
    return Images(X, check_labels(raw % 10, n, path, ORIGIN))  # label 10 is the digit 0
