"""Fig. 7 (App. A): very heavy-tailed ESDs in three columns, as the paper draws them: linear
(the outliers squeeze the bulk into the first bins), linear truncated at the 98th percentile of
the step's ESD (the bulk's shape becomes visible) and log-log with the PL_Alpha_KS fit.  The
panels and their data are those of :mod:`htsweep.figures.esd` with one more scale."""

from __future__ import annotations

import functools
from typing import Optional

from htsweep.figures import esd
from htsweep.sweep.tables import SweepTables

NAME = "esd_truncated"
# Another view of the `esd` panels: drawn when asked for, not whenever `esd` fits.
AUTO = False
DOC = "Fig. 7: ESD panels, linear, truncated linear and log-log"
SCALES = ("linear", "truncated", "log")


def applies(tables: SweepTables) -> Optional[str]:
    return esd.applies(tables)


# htsweep.figures.esd.draw (same keywords: steps, bins, layer) with the columns linear,
# truncated, log-log.
draw = functools.partial(esd.draw, name=NAME, scales=SCALES)
