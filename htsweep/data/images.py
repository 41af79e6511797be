"""Real images: the schema every image source shares, and the way from raw pixels to splits.

A source (``digits``, ``mnist``, ``cifar10``, ``svhn``) reads its own format into
:class:`Images` - uint8 pixels (N, C, H, W) and class indices (N,) - for its train and test
sets; :func:`make` then, in this order:

1. ``holdout``: ``n_holdout`` training images, a stratified subset (stream ``images/holdout``),
   moved out of the training set (0, the default, gives a 0-row split);
2. ``train``: ``n`` of the remaining training images (stream ``images/train``; null: all);
   ``test``: ``n_test`` of the test images (``images/test``; null: all); both stratified;
3. pixels / the format's maximum -> [0, 1], float64 on the CPU;
4. resize to ``image_size`` x ``image_size`` (bilinear, antialiased when shrinking), then
   zero-pad to ``pad_to`` x ``pad_to`` (centred);
5. ``normalize``: minus the per-channel mean, divided by the per-channel std, both of the
   final training split (its padding included), the same numbers for every split.

A stratified subset of k of N images takes floor(k N_c / N) of class c plus one more for the
classes with the largest remainders (ties in random order), so every class count is within 1
of k N_c / N, and a random choice within each class; a seed gives the same subset in every run.

``data.root`` (the file sources): an explicit ``data.root=`` wins, else the environment
variable ``HTSWEEP_DATA``, else ``data/`` (relative to the working directory).  Labels are
class indices stored as float64 (``Dataset.num_classes`` = 10); there is no teacher
(``beta=None``, ``law=None``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from htsweep.data.base import DataConfig, Dataset, Split
from htsweep.errors import ConfigError
from htsweep.seeding import generator

NUM_CLASSES = 10
ROOT_HINT = "set data.root or HTSWEEP_DATA"


class Images(NamedTuple):
    X: np.ndarray  # (N, C, H, W) uint8
    y: np.ndarray  # (N,) int64 class indices


def bad_file(message: str) -> ConfigError:
    """The one-line error of a missing or malformed data file."""
    return ConfigError("data.root", f"{message}; {ROOT_HINT}")


def check_labels(y: np.ndarray, n: int, path: Path, origin: str) -> np.ndarray:
    """``y`` as int64 class indices, after checking it has ``n`` values in 0..9."""
    y = np.asarray(y).reshape(-1)
    if y.size != n or (n and (y.min() < 0 or y.max() >= NUM_CLASSES)):
        raise bad_file(f"{path}: expected {n} labels in 0..9, got {y.size} in {_range(y)} ({origin})")
    return y.astype(np.int64)


def _range(y: np.ndarray) -> str:
    return f"{y.min()}..{y.max()}" if y.size else "none"


@dataclass
class ImageConfig(DataConfig):
    """Options every image source shares (module docstring)."""

    NATIVE_SIZE: ClassVar[int] = 0  # height = width of the source's images
    CHANNELS: ClassVar[int] = 1  # colour channels of the source's images
    MAX_VALUE: ClassVar[float] = 255.0  # the largest raw pixel value
    n: Optional[int] = None
    n_test: Optional[int] = None
    n_holdout: int = 0
    image_size: Optional[int] = None
    pad_to: Optional[int] = None
    normalize: bool = True

    def check(self) -> None:
        for key in ("n", "n_test", "image_size"):
            value = getattr(self, key)
            self.require(value is None or value >= 1, key, f"must be an integer >= 1 (or null), got {value}")
        self.require(self.n_holdout >= 0, "n_holdout", f"must be an integer >= 0, got {self.n_holdout}")
        size = self.size_before_padding
        if self.pad_to is not None:
            what = f"image_size={size}" if self.image_size is not None else f"{self.OPTION}'s {size}x{size}"
            self.require(self.pad_to >= size, "pad_to", f"must be >= the image size ({what}) or null, got {self.pad_to}")

    @property
    def size_before_padding(self) -> int:
        return self.image_size if self.image_size is not None else self.NATIVE_SIZE

    @property
    def out_size(self) -> int:
        return self.pad_to if self.pad_to is not None else self.size_before_padding

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """(C, H, W) of the images the models see, known before any file is read."""
        return (self.CHANNELS, self.out_size, self.out_size)

    def available(self) -> Tuple[Optional[int], Optional[int]]:
        """Check the source's files (cheaply: headers, sizes; no full read) and return the
        numbers of train and test images where that tells them (else None)."""
        raise NotImplementedError

    def load(self, seed: int) -> Tuple[Images, Images]:
        """The train and test images (a full read, checking what it reads; ``seed`` for a
        source without an official test split)."""
        raise NotImplementedError

    def check_files(self) -> None:
        """The pre-flight check (htsweep.train.preflight): files, and n / n_test / n_holdout
        against the images available where the files' headers tell."""
        self.check_counts(*self.available())

    def check_counts(self, n_train: Optional[int], n_test: Optional[int]) -> None:
        h = self.n_holdout
        if n_train is not None:
            self.require(h < n_train, "n_holdout", f"must be < {n_train} (the training images available), got {h}")
            left = f" less n_holdout={h}" if h else ""
            ok = self.n is None or self.n <= n_train - h
            self.require(ok, "n", f"must be <= {n_train - h} (the {n_train} training images available{left}), got {self.n}")
        if n_test is not None and self.n_test is not None:
            ok = self.n_test <= n_test
            self.require(ok, "n_test", f"must be <= {n_test} (the test images available), got {self.n_test}")


@dataclass
class FileImageConfig(ImageConfig):
    """An image source read from files under ``root`` (module docstring)."""

    root: Optional[str] = None

    def resolved_root(self) -> Path:
        if self.root is not None:
            return Path(self.root)
        return Path(os.environ.get("HTSWEEP_DATA") or "data")


def stratified(y: Tensor, k: int, g: torch.Generator) -> Tuple[Tensor, Tensor]:
    """(chosen, rest): ascending indices of a stratified random subset of k of the len(y)
    samples with class indices ``y``, and of the others (module docstring)."""
    n = y.numel()
    counts = torch.bincount(y, minlength=NUM_CLASSES)
    quota = (k * counts) // n
    remainder = (k * counts) % n
    tie = torch.randperm(counts.numel(), generator=g)  # random order among equal remainders
    order = tie[torch.argsort(-remainder[tie], stable=True)]
    quota[order[: k - int(quota.sum())]] += 1
    perm = torch.randperm(n, generator=g)
    by_class = perm[torch.argsort(y[perm], stable=True)]  # random order within each class
    starts = torch.cumsum(counts, 0) - counts
    cls = y[by_class]
    keep = (torch.arange(n) - starts[cls]) < quota[cls]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[by_class[keep]] = True
    return mask.nonzero().flatten(), (~mask).nonzero().flatten()


def _pixels(cfg: ImageConfig, images: Images, idx: Tensor) -> Split:
    X = torch.from_numpy(images.X[idx.numpy()]).to(torch.float64).div_(cfg.MAX_VALUE)  # in place: no 2nd copy
    if cfg.image_size is not None and cfg.image_size != X.shape[-1]:
        s = cfg.image_size
        X = F.interpolate(X, size=(s, s), mode="bilinear", align_corners=False, antialias=s < X.shape[-1])
    if cfg.pad_to is not None and cfg.pad_to > X.shape[-1]:
        extra = cfg.pad_to - X.shape[-1]
        X = F.pad(X, (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2))
    y = torch.from_numpy(images.y[idx.numpy()]).to(torch.float64)
    return Split(X.contiguous(), y)


def make(cfg: ImageConfig, seed: int, loss_name: str = "cross_entropy") -> Dataset:
    """The data set of an image source (module docstring); ``loss_name`` is unused (the labels
    are class indices whatever the loss)."""
    cfg.check_files()
    train, test = cfg.load(seed)
    cfg.check_counts(len(train.y), len(test.y))
    y = torch.from_numpy(train.y)
    hold_idx, rest = stratified(y, cfg.n_holdout, generator(seed, "images/holdout"))
    if cfg.n is not None:
        rest = rest[stratified(y[rest], cfg.n, generator(seed, "images/train"))[0]]
    test_idx = torch.arange(len(test.y))
    if cfg.n_test is not None:
        test_idx = stratified(torch.from_numpy(test.y), cfg.n_test, generator(seed, "images/test"))[0]
    splits = [_pixels(cfg, train, rest), _pixels(cfg, train, hold_idx), _pixels(cfg, test, test_idx)]
    if cfg.normalize:
        mean = splits[0].X.mean(dim=(0, 2, 3))
        std = splits[0].X.std(dim=(0, 2, 3), unbiased=False)
        std = torch.where(std > 0, std, torch.ones_like(std))
        for s in splits:
            s.X.sub_(mean[:, None, None]).div_(std[:, None, None])
    return Dataset(train=splits[0], holdout=splits[1], test=splits[2], num_classes=NUM_CLASSES)
