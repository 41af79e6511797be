"""Fixtures of the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweep.synthetic import lr_grid_sweep


@pytest.fixture
def lr_grid(tmp_path: Path) -> Path:
    """optimizer {gd, adam} x lr {0.1, 1} x seed {1, 2, 3}, 2 steps: 12 jobs, 0..11."""
    return lr_grid_sweep(tmp_path / "lr_grid")
