"""Shared helpers of the figure tests: the tables of a synthetic sweep, the checks every
written figure passes, and a hook that keeps the drawn matplotlib Figure."""

from __future__ import annotations

from pathlib import Path
from typing import List

import matplotlib.image as mpimg
import pandas as pd
import pytest
from matplotlib.figure import Figure

from htsweep.aggregate import aggregate
from htsweep.figures import SweepTables, style


def tables_of(sweep: Path) -> SweepTables:
    """Aggregate without figures; the tables the figure functions draw from."""
    tables = aggregate(sweep, figures=[]).tables
    assert tables is not None
    return tables


def assert_written(out: Path, name: str, data: pd.DataFrame) -> None:
    """PNG (not blank), PDF and the CSV of exactly the returned rows exist."""
    assert not data.empty
    png = mpimg.imread(out / f"{name}.png")
    assert png.ndim == 3 and png.shape[0] > 200 and png.shape[1] > 200
    assert png[..., :3].std() > 0.05  # not a blank canvas
    assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    assert len(pd.read_csv(out / f"{name}.csv")) == len(data)


def keep_figures(monkeypatch: pytest.MonkeyPatch) -> List[Figure]:
    """Every Figure saved from now on (style.save still writes it)."""
    kept: List[Figure] = []
    save = style.save

    def keeping(fig: Figure, *args, **kwargs):
        kept.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(style, "save", keeping)
    return kept
