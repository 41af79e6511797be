"""Golden outputs: what today's code computes for six runs equals what the pre-redesign code
(commit 3ca6bd0) computed, saved in tests/data/golden/ with the machine that made them.

* On a machine with the golden fingerprint (CPU model and instruction-set flags, torch, numpy
  and scipy versions, thread count) every metric column must equal its golden value bit for
  bit (``elapsed_s`` is the only exempt column): the redesign reordered no floating-point
  operation of these runs.
* Elsewhere BLAS kernels round differently in the last bits, and the runs amplify that (FB-Adam
  is sign-like; mean-field at lr = 1 is chaotic).  The tolerances below were measured by
  emulating another CPU - every float32 gradient entry multiplied by (1 + 2^-23 u), u ~ U(-1, 1),
  scripts/golden_sensitivity.py - and set to about 10x the largest deviation seen: the ESD to
  TOL_ESD x lambda_max, continuous columns to rtol TOL[case], overlap-matrix entries to
  TOL_OVERLAP (absolute; they are squared cosines).  Columns chosen by a discontinuous rule
  (the KS argmin over xmin, spike counts, the phase, the bulk edge) are compared through their
  inputs: recomputed from the stored eigenvalues, golden and new, they must reproduce the
  stored labels and counts exactly and the stored floats to 1e-12 relative (a float64 sum may
  differ in its last bit with the array's memory alignment on another CPU).
* The slow test runs the pre-redesign commit (``git archive``) and today's code side by side on
  this machine and compares them strictly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy
import torch

from htsweep.spectral import MarchenkoPastur, PhaseThresholds, esd_report

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
META = json.loads((GOLDEN / "meta.json").read_text())
CASES = sorted(META["cases"])
PRE_REDESIGN = META["commit"]

TOL = {"default": 1e-4, "gd_lr2000_steps3": 1e-4, "frobenius_step": 1e-4, "paper_code": 1e-4,
       "smoke_overlaps_full": 1e-4, "mean_field": 0.2}  # fmt: skip
TOL_ESD = {"mean_field": 1e-4}  # x lambda_max; others 1e-6
TOL_OVERLAP = 1e-2
# Mean-field at lr = 1: the bulk's near-degenerate singular vectors rotate freely under 1-ulp
# changes (measured deviations up to 4x), so only the top pair's overlap is comparable.
UNSTABLE = {"mean_field": ("overlap_u_diag_", "overlap_v_diag_", "overlap_u_max", "overlap_v_max")}
EXEMPT = ("elapsed_s",)
# Columns whose definition changed after the golden commit: the phase rule of issue 15 (new
# inputs, new thresholds).  Not compared with the golden values; the new values are still
# checked against a recomputation from the stored eigenvalues.
RULE_CHANGED = ("esd_phase",)
# Columns decided by a discontinuous rule: compared through their inputs (the eigenvalues).
DISCRETE_PREFIXES = ("pl_alpha_ks", "pl_alpha_hill", "mp_fit_", "esd_", "num_spikes", "numerical_rank",
                     "alpha_weighted", "log_alpha_norm", "matrix_entropy")  # fmt: skip


def fingerprint() -> dict:
    cpu, flags = "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].strip()
    except OSError:
        pass
    flags_sha = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16]
    return {"cpu": cpu, "avx512f": "avx512f" in flags.split(), "flags_sha": flags_sha, "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "threads": torch.get_num_threads(), "python": platform.python_version()}


def same_machine() -> bool:
    return all(fingerprint().get(k) == v for k, v in META["machine"].items())


def _run(case: str, out: Path, python_path: Path | None = None, cwd: Path = ROOT) -> Path:
    env = dict(os.environ)
    # MKL's two-thread sgemm (torch's BLAS here) does not round the same way in every process:
    # at n=2000, d=1000, h=1500 the first gradient came out in one of two (sometimes three)
    # bit patterns, in 1 to 7 processes of 14 (measured on this project's 2-core CPU, Dec 2026,
    # also at the commit before issue 10; the pre-redesign code happened to take one pattern
    # 14 times of 14).  FB-Adam's m / sqrt(v) magnifies one ulp to ~1e-4 after a step, beyond
    # the tolerance below.  One MKL thread takes one pattern, the golden files' own.
    env["MKL_NUM_THREADS"] = "1"
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    cmd = [sys.executable, "-m", "htsweep.train", *META["cases"][case], "progress=false", "device=cpu", f"hydra.run.dir={out}"]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _metric_columns(golden: pd.DataFrame, new: pd.DataFrame) -> list:
    config_like = ("data.", "model.", "optimizer.", "activation.", "lr_schedule.", "weight_norm.", "readout.",
                   "probe.", "checkpoint.", "resume.", "loss.", "noise.")  # fmt: skip
    top = {"lr", "steps", "seed", "data_seed", "init_seed", "device", "dtype", "progress", "smoke", "experiment", "figures"}
    cols = [c for c in golden.columns if not c.startswith(config_like) and c not in top and c not in EXEMPT
            and c not in RULE_CHANGED]  # fmt: skip
    missing = [c for c in cols if c not in new.columns]
    assert not missing, f"metric columns lost: {missing}"
    return cols


def _report_row(eigs: np.ndarray, h: int, d: int) -> dict:
    e = torch.from_numpy(eigs.copy())
    row = esd_report(e, h, d, PhaseThresholds()).as_row()
    row["num_spikes"] = MarchenkoPastur(h=h, d=d, sigma2=1.0).num_spikes(e)
    return row


def _compare_strict(golden, new, cols):
    for c in cols:
        a, b = golden[c].to_numpy(), new[c].to_numpy()
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            assert np.array_equal(a.astype(float), b.astype(float), equal_nan=True), c
        else:
            assert (a == b).all(), c


def _compare_tolerant(case, golden, new, cols, g_esd, n_esd):
    rtol = TOL[case]
    for c in cols:
        if c.startswith(DISCRETE_PREFIXES) or c.endswith(("_row", "_col")) or golden[c].dtype.kind not in "fc":
            continue
        if c.startswith(UNSTABLE.get(case, ())) and not c.endswith("_diag_0"):
            continue
        a, b = golden[c].to_numpy(float), new[c].to_numpy(float)
        atol = TOL_OVERLAP if c.startswith("overlap_") else 0.0
        assert np.allclose(b, a, rtol=rtol, atol=atol, equal_nan=True), c
    h, d = int(new["matrix_rows"].iloc[0]), int(new["matrix_cols"].iloc[0])
    tol_esd = TOL_ESD.get(case, 1e-6)
    for step in sorted(g_esd["step"].unique()):
        ge = g_esd[g_esd.step == step]["eigenvalue"].to_numpy()
        ne = n_esd[n_esd.step == step]["eigenvalue"].to_numpy()
        assert np.max(np.abs(ge - ne)) <= tol_esd * ge.max(), step
        if (h, d) != (int(new["model.h"].iloc[0]), int(new["data.d"].iloc[0])) or new["model.param"].iloc[0] != "ntk":
            continue
        for eigs, table in ((ge, golden), (ne, new)):  # discontinuous columns, through their inputs
            row = table[table.step == step].iloc[0]
            for key, value in _report_row(eigs, h, d).items():
                if table is golden and key in RULE_CHANGED:
                    continue
                if key in table.columns and not (isinstance(value, float) and math.isnan(value)):
                    if isinstance(value, float):  # a float64 sum can differ in its last bit with
                        # the array's alignment (SIMD reductions on another CPU): 1e-12 relative
                        assert math.isclose(row[key], value, rel_tol=1e-12, abs_tol=0.0), (step, key)
                    else:  # labels and counts: exactly
                        assert row[key] == value, (step, key)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_matches_the_pre_redesign_golden_outputs(case, tmp_path):
    out = _run(case, tmp_path / case)
    golden = pd.read_parquet(GOLDEN / case / "metrics.parquet")
    new = pd.read_parquet(out / "metrics.parquet")
    assert list(new["step"]) == list(golden["step"]) and set(new["layer"]) == {"W"}
    cols = _metric_columns(golden, new)
    g_esd, n_esd = pd.read_parquet(GOLDEN / case / "esd.parquet"), pd.read_parquet(out / "esd.parquet")
    assert list(n_esd["step"]) == list(g_esd["step"]) and list(n_esd["index"]) == list(g_esd["index"])
    _compare_tolerant(case, golden, new, cols, g_esd, n_esd)  # holds on any machine
    if same_machine():
        _compare_strict(golden, new, cols)
        assert np.array_equal(g_esd["eigenvalue"].to_numpy(), n_esd["eigenvalue"].to_numpy())
        if (GOLDEN / case / "overlaps.npz").exists():
            a, b = np.load(GOLDEN / case / "overlaps.npz"), np.load(out / "overlaps.npz")
            assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["default", "gd_lr2000_steps3", "smoke_overlaps_full"])
def test_pre_redesign_commit_and_today_agree_bit_for_bit_on_this_machine(case, tmp_path):
    """Both codes on the same machine, now: every metric column equal (elapsed_s exempt)."""
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PRE_REDESIGN}^{{commit}}"]).returncode != 0:
        pytest.skip(f"commit {PRE_REDESIGN} is not in this clone (shallow?)")
    old_src = tmp_path / "old"
    old_src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PRE_REDESIGN], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old_src)], input=archive.stdout, check=True)
    old = _run(case, tmp_path / "old_run", python_path=old_src, cwd=old_src)
    new = _run(case, tmp_path / "new_run")
    a, b = pd.read_parquet(old / "metrics.parquet"), pd.read_parquet(new / "metrics.parquet")
    _compare_strict(a, b, _metric_columns(a, b))
    ea, eb = pd.read_parquet(old / "esd.parquet"), pd.read_parquet(new / "esd.parquet")
    assert np.array_equal(ea["eigenvalue"].to_numpy(), eb["eigenvalue"].to_numpy())
