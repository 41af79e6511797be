"""MNIST from its four IDX files (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/;
what ``torchvision.datasets.MNIST(root, download=True)`` puts in ``<root>/MNIST/raw/``):
60,000 training and 10,000 test images, 28x28, 1 channel, pixel values 0..255.

IDX format: a 4-byte magic number - two zero bytes, the type code (0x08: unsigned byte) and
the number of dimensions - then each dimension as a big-endian int32, then the values in
row-major order.  Each file is looked up, plain or ``.gz``, in ``<root>/MNIST/raw/``,
``<root>/`` and ``<root>/mnist/``.  The pre-flight reads the headers and checks the sizes;
the images are zero-padded to 32x32 by default (``pad_to``), so a VGG11's five 2x2 max-pools
fit.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from htsweep.data.images import FileImageConfig, Images, bad_file, check_labels

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FOLDERS = ("MNIST/raw", ".", "mnist")
ORIGIN = "the MNIST idx files from http://yann.lecun.com/exdb/mnist/, or torchvision.datasets.MNIST(root, download=True)"
READ_ERRORS = (OSError, EOFError, zlib.error, struct.error)  # gzip.BadGzipFile is an OSError


def find(root: Path, name: str) -> Path:
    for folder in FOLDERS:
        for suffix in ("", ".gz"):
            path = root / folder / f"{name}{suffix}"
            if path.is_file():
                return path
    raise bad_file(f"expected {root / FOLDERS[0] / name}[.gz] (or in {root} or {root / 'mnist'}) ({ORIGIN})")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _payload_size(path: Path) -> int:
    """Bytes of the uncompressed file (a gzip file's size modulo 2^32 is in its last 4 bytes)."""
    if path.suffix != ".gz":
        return path.stat().st_size
    with open(path, "rb") as f:
        f.seek(-4, 2)
        return struct.unpack("<I", f.read(4))[0]


def header(path: Path, shape: Tuple[Optional[int], ...]) -> Tuple[int, ...]:
    """The dimensions in the IDX header of ``path``, checked: unsigned bytes, ``len(shape)``
    dimensions equal to ``shape``'s non-None entries, and a file of exactly that many values."""
    ndim = len(shape)
    try:
        with _open(path) as f:
            head = f.read(4 + 4 * ndim)
        ok = len(head) == 4 + 4 * ndim and head[:3] == b"\x00\x00\x08" and head[3] == ndim
        dims = struct.unpack(f">{ndim}i", head[4:]) if ok else ()
        size = _payload_size(path)
    except READ_ERRORS as ex:
        raise bad_file(f"{path}: cannot read it ({ex}) ({ORIGIN})") from None
    if not ok or any(want is not None and got != want for got, want in zip(dims, shape)):
        want = " x ".join("N" if w is None else str(w) for w in shape)
        raise bad_file(f"{path}: expected an IDX header of unsigned bytes shaped {want}, got {head.hex()} ({ORIGIN})")
    expected = len(head) + int(np.prod(dims))
    if size != expected % 2**32:
        raise bad_file(f"{path}: {size} bytes, its header says {expected} (truncated?) ({ORIGIN})")
    return dims


@dataclass
class MnistConfig(FileImageConfig):
    """MNIST (module docstring), zero-padded to 32x32 by default."""

    OPTION = "mnist"
    NATIVE_SIZE = 28
    name: str = "mnist"
    pad_to: Optional[int] = 32

    def _files(self, split: str) -> Tuple[Tuple[Path, Tuple[int, ...]], Tuple[Path, Tuple[int, ...]]]:
        root = self.resolved_root()
        images, labels = (find(root, name) for name in FILES[split])
        dims = header(images, (None, 28, 28))
        return (images, dims), (labels, header(labels, (dims[0],)))

    def available(self) -> Tuple[Optional[int], Optional[int]]:
        return self._files("train")[0][1][0], self._files("test")[0][1][0]

    def load(self, seed: int) -> Tuple[Images, Images]:
        return self._read("train"), self._read("test")

    def _read(self, split: str) -> Images:
        (images, dims), (labels, _) = self._files(split)
        X, y = (_values(path, shape) for path, shape in ((images, dims), (labels, dims[:1])))
        return Images(X[:, None], check_labels(y, dims[0], labels, ORIGIN))


def _values(path: Path, shape: Tuple[int, ...]) -> np.ndarray:
    try:
        with _open(path) as f:
            data = f.read()
    except READ_ERRORS as ex:
        raise bad_file(f"{path}: cannot read it ({ex}) ({ORIGIN})") from None
    offset, count = 4 + 4 * len(shape), int(np.prod(shape))
    if len(data) != offset + count:
        raise bad_file(f"{path}: {len(data)} bytes, its header says {offset + count} (truncated?) ({ORIGIN})")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)
