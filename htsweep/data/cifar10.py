"""CIFAR-10, the "CIFAR-10 python version" archive (Krizhevsky 2009,
https://www.cs.toronto.edu/~kriz/cifar.html) unpacked under ``<root>/cifar-10-batches-py/``:
``data_batch_1`` .. ``data_batch_5`` (50,000 training images) and ``test_batch`` (10,000).

Each file is a Python pickle (read with ``encoding="latin1"``) of a dict with ``data``, an
N x 3072 uint8 array, each row one 32x32 colour image stored channel-major (1024 red values,
then green, then blue, each row by row), and ``labels``, N class indices 0..9.  The pickles are
read by an unpickler that builds numpy arrays and nothing else.  The pre-flight checks that
every file exists and ends with the pickle STOP opcode (a truncated file does not); the full
read checks the arrays.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from htsweep.data.images import FileImageConfig, Images, bad_file, check_labels

FOLDER = "cifar-10-batches-py"
TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST = ("test_batch",)
ORIGIN = "the 'CIFAR-10 python version' archive from https://www.cs.toronto.edu/~kriz/cifar.html, unpacked"
ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
           ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
           ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}  # fmt: skip (bytes in protocol 2)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


@dataclass
class Cifar10Config(FileImageConfig):
    """CIFAR-10 (module docstring)."""

    OPTION = "cifar10"
    NATIVE_SIZE = 32
    CHANNELS = 3
    name: str = "cifar10"

    def _paths(self, names: Tuple[str, ...]) -> List[Path]:
        paths = [self.resolved_root() / FOLDER / name for name in names]
        for path in paths:
            if not path.is_file():
                raise bad_file(f"expected {path} ({ORIGIN})")
            try:
                with open(path, "rb") as f:
                    f.seek(-1, 2)
                    ok = f.read(1) == b"."
            except OSError:
                ok = False
            if not ok:
                raise bad_file(f"{path}: not a complete pickle (truncated?) ({ORIGIN})")
        return paths

    def available(self) -> Tuple[Optional[int], Optional[int]]:
        self._paths(TRAIN + TEST)
        return None, None  # counted on reading

    def load(self, seed: int) -> Tuple[Images, Images]:
        return _read(self._paths(TRAIN)), _read(self._paths(TEST))


def _read(paths: List[Path]) -> Images:
    X, y = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                batch = _ArrayUnpickler(f, encoding="latin1").load()
            data, labels = batch["data"], batch["labels"]
        except Exception as ex:  # any unpickling failure means a malformed file
            why = f"{type(ex).__name__}: {ex}"
            raise bad_file(f"{path}: cannot read a dict with 'data' and 'labels' ({why}) ({ORIGIN})") from None
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
            got = f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
            raise bad_file(f"{path}: 'data' must be an N x 3072 uint8 array, got {got} ({ORIGIN})")
        X.append(data.reshape(-1, 3, 32, 32))
        y.append(check_labels(np.asarray(labels), len(data), path, ORIGIN))
    return Images(np.concatenate(X), np.concatenate(y))
