"""Which rows a figure draws: the layer, the steps, the grid points.

Every figure draws one analysed matrix (``layer``): the sweep's only one, else the first in
order of appearance unless the caller names one.  Step-level metrics (the losses) are the same
on every layer's row, so picking a layer never changes them.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd

from htsweep.sweep.tables import SweepTables


def choose_layer(tables: SweepTables, layer: Optional[str] = None) -> Optional[str]:
    """``layer`` when given (it must be one of the sweep's), else the sweep's first layer;
    None for records without a layer column."""
    layers = tables.layers
    if layer is None:
        return layers[0] if layers else None
    if layer not in layers:
        raise ValueError(f"layer {layer!r} is not in the sweep; its layers: {', '.join(layers) or '(none)'}")
    return layer


def layer_rows(frame: pd.DataFrame, layer: Optional[str]) -> pd.DataFrame:
    """The rows of ``frame`` for ``layer`` (all rows when ``layer`` is None)."""
    if layer is None or "layer" not in frame.columns:
        return frame
    return frame[frame["layer"] == layer]


def layer_note(tables: SweepTables, layer: Optional[str]) -> str:
    """'layer <name>' for a figure's title when the sweep has several layers, else ''."""
    return f"layer {layer}" if layer is not None and len(tables.layers) > 1 else ""


def n_points(tables: SweepTables) -> int:
    """The number of grid points with at least one readable run."""
    if not tables.grid:
        return 1 if len(tables.summary) else 0
    return len(tables.summary.drop_duplicates(tables.grid))


def has_esd(tables: SweepTables) -> bool:
    """Whether any run stored eigenvalues."""
    return tables.esd is not None and len(tables.esd.run_dirs) > 0


def nonzero_steps(tables: SweepTables) -> List[int]:
    """The probed steps after step 0, sorted."""
    return sorted(int(s) for s in tables.summary["step"].unique() if s > 0)


def final_rows(agg: pd.DataFrame, step: Optional[int]) -> pd.DataFrame:
    """Rows at ``step``, or each grid point's final step (step == its ``steps`` config)."""
    if step is not None:
        return agg[agg["step"] == step]
    if "steps" in agg.columns:
        return agg[agg["step"] == agg["steps"]]
    return agg[agg["step"] == agg["step"].max()]


def subsample_steps(steps: Sequence[int], k: int) -> List[int]:
    """At most ``k`` of ``steps`` (sorted), roughly log-spaced, always keeping the last."""
    ordered = sorted(set(int(s) for s in steps))
    if len(ordered) <= k:
        return ordered
    targets = np.geomspace(max(ordered[0], 1), ordered[-1], k)
    picked = {min(ordered, key=lambda s: abs(math.log(max(s, 1)) - math.log(t))) for t in targets}
    picked.add(ordered[-1])
    return sorted(picked)[-k:]
