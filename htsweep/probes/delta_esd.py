"""The delta-ESD control (``probe.delta_esd=true``): the ESD of W_t - W_0 and its power law.

The ESD of W_t mixes the random initialisation with what training added; the ESD of
Delta_t = W_t - W_0 shows the added part alone (the sum of the updates M_0 ... M_{t-1} when
no weight normalisation or noise is on, App. C): a spike or heavy tail of Delta_t that W_t
does not show is structure still hidden under the W_0 bulk, and a Delta_t as heavy-tailed as
W_t says the tail is the updates'.  Per analysed matrix at each probe step, from the
eigenvalues of Delta_t^T Delta_t (one float64 Gram of the smaller side, one symmetric
eigensolve; stored in esd.parquet as layer ``<layer>:delta``,
htsweep.records.schema.derived_layer):

  delta_lambda_max (delta_w_spectral^2, up to the training dtype's rounding),
  delta_stable_rank, delta_pl_alpha_hill (+ _xmin), delta_pl_alpha_ks (+ _xmin, _n_tail,
  _distance), delta_mp_fit_num_spikes and delta_esd_phase: htsweep.spectral.esd_report of
  that ESD, as the columns without the prefix.

At t = 0, Delta_0 = 0: its eigenvalues (all 0) are stored, delta_lambda_max is 0 and every fit
is NaN (the phase null).  The phase rule was calibrated on weight matrices, not on updates:
read delta_esd_phase as a description of the shape, not as a training phase.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import torch

from htsweep.spectral.conv import as_matrix
from htsweep.probes.base import Built, analysed_matrices, ProbeOutput, ProbeSetup, ProbeView, Row, Skipped
from htsweep.records.schema import DELTA_ESD, derived_layer
from htsweep.spectral import esd_eigenvalues, esd_report

PREFIX = "delta_"
# The columns of esd_report(...).as_row() this probe keeps, in order (prefixed with "delta_").
COLUMNS = (
    "lambda_max",
    "stable_rank",
    "pl_alpha_hill",
    "pl_alpha_hill_xmin",
    "pl_alpha_ks",
    "pl_alpha_ks_xmin",
    "pl_alpha_ks_n_tail",
    "pl_alpha_ks_distance",
    "mp_fit_num_spikes",
    "esd_phase",
)


def delta_row(eigs: torch.Tensor, rows: int, cols: int, phase: Any) -> Row:
    """The ``delta_`` columns from the ESD of W_t - W_0 (NaN fits, null phase, when it is 0)."""
    lam_max = float(eigs[-1]) if eigs.numel() else 0.0
    if not lam_max > 0:  # Delta = 0 (t = 0, or no update moved W): nothing to fit
        row: Dict[str, Any] = {f"{PREFIX}{c}": math.nan for c in COLUMNS}
        row[f"{PREFIX}lambda_max"] = lam_max
        row[f"{PREFIX}esd_phase"] = None
        return row
    report = esd_report(eigs, rows, cols, phase).as_row()
    return {f"{PREFIX}{c}": report[c] for c in COLUMNS}


class DeltaESDProbe:
    name = "delta_esd"

    def __init__(self, setup: ProbeSetup) -> None:
        self.phase = setup.probe.phase
        self.initial = {k: as_matrix(W) for k, W in analysed_matrices(setup, setup.params0).items()}

    def __call__(self, view: ProbeView) -> ProbeOutput:
        out = ProbeOutput()
        for layer, W in analysed_matrices(view.setup, view.params).items():
            W = as_matrix(W)  # a conv layer's (out, in k k) reshape
            delta = W.to(torch.float64, copy=True).sub_(self.initial[layer])  # exact for float32 W
            eigs = esd_eigenvalues(delta).cpu()
            del delta
            out.layer_values[layer] = delta_row(eigs, int(W.shape[-2]), int(W.shape[-1]), self.phase)
            out.esd[derived_layer(layer, DELTA_ESD)] = eigs
        return out


def build(setup: ProbeSetup) -> Built:
    if not setup.probe.delta_esd:
        return Skipped("disabled (probe.delta_esd=false)")
    return DeltaESDProbe(setup)
