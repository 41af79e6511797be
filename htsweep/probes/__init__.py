"""Probes: one module per measurement, registered here in the order they run.

``readout`` (eq. 6-7), ``network`` (the network's own test loss and 0-1 errors), ``spectrum`` (the ESD of each analysed matrix and its relation to the
last update), ``update`` (norms of W_t - W_0 and of M_{t-1}), two opt-in controls,
``randomize`` (the ESD of an element-shuffled W, ``probe.randomize``) and ``delta_esd`` (the
ESD of W_t - W_0, ``probe.delta_esd``), ``alignment`` (gradient anatomy and alignment metrics
under structured inputs, BBP predictions; seed 001), ``subspace`` (top-r singular vectors
and saved weights for cross-run comparisons) and ``compress`` (opt-in, ``probe.compress``:
prunable fractions, tail indices of the weights and pruning curves of the hidden layers).
To add a probe: write ``htsweep/probes/<name>.py`` with a class returning :class:`ProbeOutput` and a
``build(setup) -> Probe | Skipped`` that states when it does not apply; add it to
:data:`PROBES`; document its columns in the README.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

from torch import Tensor

from htsweep.probes import alignment, compress, delta_esd, network, randomize, readout, spectrum, subspace, update
from htsweep.probes.spectrum import conv_mode
from htsweep.spectral.conv import ConvMatrix, matrix_shape
from htsweep.records.schema import PROBE_COLUMNS
from htsweep.probes.base import ESD_CACHE, Built, analysed_matrices, Probe, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped

PROBES: Dict[str, Callable[[ProbeSetup], Built]] = {
    "readout": readout.build,
    "network": network.build,
    "spectrum": spectrum.build,
    "update": update.build,
    "randomize": randomize.build,
    "delta_esd": delta_esd.build,
    "alignment": alignment.build,
    "subspace": subspace.build,
    "compress": compress.build,
}


@dataclass
class ProbeSet:
    """The probes of one run, and the ones skipped with why."""

    probes: List[Probe]
    skipped: Dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> List[str]:
        return [p.name for p in self.probes]

    @property
    def want_parts(self) -> bool:
        """Whether a probe uses the gradient pass's intermediates (ProbeView.parts)."""
        return any(getattr(p, "want_parts", False) for p in self.probes)


def build_probes(setup: ProbeSetup) -> ProbeSet:
    """Every registered probe that applies to this run."""
    out = ProbeSet(probes=[])
    for name, build in PROBES.items():
        built = build(setup)
        if isinstance(built, Skipped):
            out.skipped[name] = built.reason
        else:
            out.probes.append(built)
    return out


@dataclass
class Measurement:
    """All probes' results at one step: one row per layer (step-level values repeated on each),
    the eigenvalues per layer (and per derived ESD, "W:shuffled", "W:delta":
    htsweep.records.schema.derived_layer) and the full overlap matrices per layer."""

    rows: List[Row]
    esd: Dict[str, Tensor]
    overlaps: Dict[str, Tuple[Any, Any]]
    arrays: Dict[Tuple[str, str], Any]


def shape_columns(model: Any, layer: str, W: Tensor, index: int = 0, conv_matrix: Any = ConvMatrix.slices) -> Row:
    """What the analysed layer is, on every row whichever probes ran: the shape of one matrix
    of its ESD and its initial law's entry variance (figures redraw the Marchenko-Pastur law of
    W_0 from them), how many matrices the ESD pools, which matricisation made them
    (htsweep.spectral.conv.matricise: a 2-D W is itself, ``matrix``; a Conv2d weight its k^2
    ``slices`` or its ``reshape``) and ``index``, the layer's position among the analysed ones."""
    kind, rows, cols, count = matrix_shape(W, conv_matrix)
    return {
        "matrix_rows": rows,
        "matrix_cols": cols,
        "mp_sigma2": model.init_std(layer) ** 2,
        "layer_index": int(index),
        "matrix_count": count,
        "conv_matrix": kind,
    }


def measure(probes: ProbeSet, view: ProbeView) -> Measurement:
    """Run every probe on ``view`` and merge their outputs into rows keyed (step, layer)."""
    model = view.setup.model
    mode = conv_mode(view.setup.probe)
    per_layer: Dict[str, Row] = {
        layer: shape_columns(model, layer, W, i, mode) for i, (layer, W) in enumerate(analysed_matrices(view.setup, view.params).items())
    }
    step_values: Row = {}
    esd: Dict[str, Tensor] = {}
    overlaps: Dict[str, Tuple[Any, Any]] = {}
    arrays: Dict[Tuple[str, str], Any] = {}
    for probe in probes.probes:
        out: ProbeOutput = probe(view)
        step_values.update(out.step_values)
        for layer, values in out.layer_values.items():
            per_layer.setdefault(layer, {}).update(values)
        esd.update(out.esd)
        for layer, eigs in out.esd.items():  # later probes of this step reuse the ESD of W_t
            view.cache.setdefault((ESD_CACHE, layer), eigs)
        overlaps.update(out.overlaps)
        arrays.update(out.arrays)
    blank = dict.fromkeys(PROBE_COLUMNS, math.nan)  # a column no probe computed is NaN
    rows = [{**blank, "step": view.step, "layer": layer, **step_values, **values} for layer, values in per_layer.items()]
    return Measurement(rows=rows, esd=esd, overlaps=overlaps, arrays=arrays)


__all__ = [
    "Measurement",
    "PROBES",
    "Probe",
    "ProbeOutput",
    "ProbeSet",
    "ProbeSetup",
    "ProbeView",
    "Skipped",
    "build_probes",
    "measure",
]
