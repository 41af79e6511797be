"""htsweep.figures.esd_diagnostics: the candidate scan is the probe's own estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htsweep import figures as figs
from htsweep.job import run_and_record
from htsweep.spectral import alpha_ks
from tests.figures.helpers import assert_written, tables_of
from tests.helpers import small_node


def test_scan_minimum_is_the_recorded_pl_alpha_ks_of_a_real_run(tmp_path: Path) -> None:
    run = tmp_path / "sweep" / "0"
    run_and_record(small_node("steps=3", "optimizer=adam", "lr=1"), run)
    out = tmp_path / "figs"
    data = figs.draw("esd_diagnostics", tables_of(tmp_path / "sweep"), out)
    assert_written(out, "esd_diagnostics", data)
    scan = data[data["panel"] == "scan"]
    assert set(scan["step"]) == {3}  # the last probed step by default
    chosen = scan[scan["chosen"]]
    assert len(chosen) == 1
    assert float(chosen["D"].iloc[0]) == pytest.approx(float(scan["D"].min()))
    metrics = pd.read_parquet(run / "metrics.parquet").set_index("step")
    assert float(chosen["xmin"].iloc[0]) == pytest.approx(metrics.loc[3, "pl_alpha_ks_xmin"], rel=1e-12)
    assert float(chosen["alpha"].iloc[0]) == pytest.approx(metrics.loc[3, "pl_alpha_ks"], rel=1e-12)
    eigs = pd.read_parquet(run / "esd.parquet").query("step == 3")["eigenvalue"].to_numpy()
    assert len(scan) == int((eigs > 0).sum()) - 1  # every candidate xmin, the largest excluded
    assert float(chosen["alpha"].iloc[0]) == pytest.approx(alpha_ks(eigs).alpha)
    hist = data[data["panel"] == "hist"]
    assert set(hist["scale"]) == {"log", "linear"} and np.isfinite(hist["density"]).all()


def test_is_drawn_on_request_only(tmp_path: Path) -> None:
    run = tmp_path / "sweep" / "0"
    run_and_record(small_node("steps=1"), run)
    kinds, skipped = figs.choose(tables_of(tmp_path / "sweep"))
    assert "esd_diagnostics" not in kinds and "on request" in skipped["esd_diagnostics"]
