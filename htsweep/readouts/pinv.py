"""The pseudo-inverse readout: a_hat = pinv(Z) y, the minimum-norm least-squares solution.

    a_hat = argmin { ||a|| : a minimises ||y - Z a||^2 }

(no regulariser: the lambda -> 0 limit of eq. 6; for n < h the minimum-norm interpolant), seed
001's ``torch.linalg.pinv(act(X W^T)) @ y``.  Computed by LAPACK's rank-revealing complete
orthogonal factorisation (scipy.linalg.lstsq, ``gelsy``) in float64 on the CPU: no SVD of Z.
Directions whose estimated relative size is below max(n, h) eps count as rank deficiency (torch's
pinv default cut-off).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from htsweep.readouts.solve import require_finite


def pinv_solve(Z: Tensor, y: Tensor) -> Tensor:
    """pinv(Z) y (module docstring), float64 on Z's device; FloatingPointError on non-finite input."""
    require_finite(Z, y, "pinv readout")
    Z64 = Z.detach().to("cpu", torch.float64).numpy()
    y64 = y.detach().to("cpu", torch.float64).numpy()
    cond = max(Z64.shape) * float(np.finfo(np.float64).eps)
    a, *_ = scipy.linalg.lstsq(Z64, y64, cond=cond, lapack_driver="gelsy", check_finite=False)
    return torch.from_numpy(a).to(Z.device)
