"""scikit-learn's bundled 8x8 handwritten digits (``sklearn.datasets.load_digits``: 1,797
images, 1 channel, pixel values 0..16, ten classes; the UCI "Optical Recognition of
Handwritten Digits" test set; no download).

There is no official test split: a seeded stratified split (stream ``images/split``) puts
round(``test_fraction`` x 1797) images in the test set and the rest in the training set, then
the shared pipeline (htsweep.data.images) takes the subsets, resizes, pads and normalises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch

from htsweep.data.images import ImageConfig, Images, stratified
from htsweep.seeding import generator

NUM_IMAGES = 1797


@dataclass
class DigitsConfig(ImageConfig):
    """The 8x8 digits (module docstring); ``test_fraction`` of them form the test set."""

    OPTION = "digits"
    MAX_VALUE = 16.0
    NATIVE_SIZE = 8
    name: str = "digits"
    test_fraction: float = 0.2

    def check(self) -> None:
        super().check()
        tf = self.test_fraction
        self.require(0.0 < tf < 1.0, "test_fraction", f"must be in (0, 1), got {tf}")
        self.check_counts(*self.available())

    def num_test(self) -> int:
        return min(max(round(self.test_fraction * NUM_IMAGES), 1), NUM_IMAGES - 1)

    def available(self) -> Tuple[Optional[int], Optional[int]]:
        return NUM_IMAGES - self.num_test(), self.num_test()

    def load(self, seed: int) -> Tuple[Images, Images]:
        from sklearn.datasets import load_digits  # slow to import: only when used

        bunch = load_digits()
        X = bunch.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), integers 0..16
        y = bunch.target.astype(np.int64)
        test, train = stratified(torch.from_numpy(y), self.num_test(), generator(seed, "images/split"))
        test, train = test.numpy(), train.numpy()
        return Images(X[train], y[train]), Images(X[test], y[test])
