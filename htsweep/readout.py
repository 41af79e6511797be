"""The ridge readout of eq. (6) and KTA of eq. (7): kept importable here for existing callers.

The readouts now live in :mod:`htsweep.readouts` (one module per solver: ridge, logistic,
squared_hinge, pinv); this module re-exports the ridge one (:mod:`htsweep.readouts.ridge`).
"""

from __future__ import annotations

from htsweep.readouts.ridge import Moments, kta, moments, outputs, readout_mse, ridge_solve

__all__ = ["Moments", "kta", "moments", "outputs", "readout_mse", "ridge_solve"]
