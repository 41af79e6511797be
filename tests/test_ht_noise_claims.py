"""Seed 002's claims at reduced size (Wan, Barsbey, Zaidi & Simsekli, ICML 2024): with heavy-tailed
(alpha < 2) iterate noise dominating the weights, the fraction of neurons prunable at rho = 0.1
grows with the width; without noise (or with Gaussian noise) it stays near the equal-norm value
rho; and the weights' estimated tail index is close to the injected alpha.

Null optimiser (noise only, ``noise.ratio=3``: the accumulated noise has 3x W_0's entry scale),
subgaussian noise, d = 50, 10 steps, widths 16 / 256 / 2048, 8 seeds.  Measured (Dec 2026, this
CPU): the mean prunable fraction 0.50 / 0.71 / 0.90 at alpha = 1.5 and 0.23 / 0.32 / 0.40 at
1.75; ~0.14 without noise; tail_alpha_rows at h = 2048 1.513 (alpha 1.5) and 1.759 (1.75).
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import pytest

from htsweep.config import make_spec
from htsweep.loop import run

WIDTHS = (16, 256, 2048)
SEEDS = range(8)


def _means(alpha: float, ratio: float, h: int) -> Tuple[float, float]:
    """Mean over seeds of (compress_fraction, tail_alpha_rows) at the last step."""
    out = []
    for seed in SEEDS:
        spec = make_spec(["optimizer=none", "noise=alpha_stable", f"noise.alpha={alpha}", f"noise.ratio={ratio}",
                          "data.n=100", "data.n_test=50", "data.d=50", f"model.h={h}", "steps=10", "probe.at=[10]",
                          "probe.compress=true", "probe.compress_curves=false", "probe.readout=false",
                          "progress=false", "device=cpu", "dtype=float64", f"seed={seed}"])  # fmt: skip
        row = [r for r in run(spec).log.rows if r["step"] == 10][0]
        out.append((row["compress_fraction"], row["tail_alpha_rows"]))
    return tuple(np.mean(out, axis=0))


@pytest.mark.slow
def test_heavy_tailed_noise_makes_wide_layers_compressible_and_its_alpha_is_recovered():
    got: Dict[Tuple[float, float, int], Tuple[float, float]] = {}
    for alpha, ratio in ((1.5, 3.0), (1.75, 3.0), (2.0, 3.0), (1.5, 0.0)):
        for h in WIDTHS:
            got[alpha, ratio, h] = _means(alpha, ratio, h)
    for alpha in (1.5, 1.75):
        fractions = [got[alpha, 3.0, h][0] for h in WIDTHS]
        assert fractions == sorted(fractions) and fractions[-1] - fractions[0] > 0.1, (alpha, fractions)
        assert got[alpha, 3.0, 2048][1] == pytest.approx(alpha, abs=0.1)  # the tail index of the rows
    wide = {key[:2]: value for key, value in got.items() if key[2] == 2048}
    assert wide[1.5, 3.0][0] > wide[1.75, 3.0][0] > wide[2.0, 3.0][0] + 0.15  # heavier tails, more prunable
    for control in ((1.5, 0.0), (2.0, 3.0)):  # no noise, Gaussian noise: row norms concentrate
        assert 0.1 <= wide[control][0] <= 0.17, control  # near rho = 0.1, the equal-norm fraction
        assert wide[control][1] >= 1.95
