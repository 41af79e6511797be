"""Fig. 7 (App. A): very heavy-tailed ESDs in three columns, as the paper draws them: linear
(the outliers squeeze the bulk into the first bins), linear truncated at the 98th percentile of
the step's ESD (the bulk's shape becomes visible) and log-log with the PL_Alpha_KS fit.  The
panels and their data are those of :mod:`htsweep.figures.esd` with one more scale."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from htsweep.figures import esd
from htsweep.sweep.tables import SweepTables

NAME = "esd_truncated"
# Another view of the `esd` panels: drawn when asked for, not whenever `esd` fits.
AUTO = False
DOC = "Fig. 7: ESD panels, linear, truncated linear and log-log"
SCALES = ("linear", "truncated", "log")


def applies(tables: SweepTables) -> Optional[str]:
    return esd.applies(tables)


def draw(
    tables: SweepTables,
    out_dir: Path,
    *,
    steps: Optional[Sequence[int]] = None,
    bins: Optional[int] = None,
    layer: Optional[str] = None,
) -> pd.DataFrame:
    """:func:`htsweep.figures.esd.draw` with the columns linear, truncated, log-log."""
    return esd.draw(tables, out_dir, steps=steps, bins=bins, layer=layer, name=NAME, scales=SCALES)
