"""The end-of-run summary: what it prints is what the run wrote."""

from __future__ import annotations

import json

import pandas as pd

from htsweep.job import run_and_record
from htsweep.records.summary import main, metrics_table, run_summary
from tests.helpers import small_node


def test_summary_shows_status_dir_first_and_last_step_and_the_figure_command(tmp_path):
    out = tmp_path / "run"
    run_and_record(small_node("steps=3"), out)
    text = run_summary(out)
    lines = text.splitlines()
    record = json.loads((out / "run.json").read_text())
    assert lines[0].startswith("htsweep: completed (3/3 steps, ") and lines[0].endswith(f"-> {out}")
    assert lines[-1] == f"  figures: python -m htsweep.aggregate {out}"
    m = pd.read_parquet(out / "metrics.parquet")
    table = metrics_table(out)
    assert table[0].split() == ["step", "train_loss", "test_loss", "sim(W,beta)", "alpha_Hill", "alpha_KS", "spikes", "esd_phase"]
    for row, step in zip(table[1:], (0, 3)):
        cells = row.split()
        r = m[m.step == step].iloc[0]
        assert int(cells[0]) == step
        assert float(cells[1]) == float(f"{r.train_loss:.4g}") and float(cells[2]) == float(f"{r.test_loss:.4g}")
        assert float(cells[5]) == round(r.pl_alpha_ks, 3) and cells[7] == r.esd_phase
    assert len(table) == 3 and record["status"] == "completed"


def test_summary_of_a_missing_or_failed_run(tmp_path):
    assert "no readable run record" in run_summary(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"status": "failed", "steps_done": 2, "steps_requested": 5,
                                                   "error": "RuntimeError: boom\ntraceback..."}))  # fmt: skip
    lines = run_summary(tmp_path).splitlines()
    assert lines[0] == f"htsweep: failed (2/5 steps) -> {tmp_path}"
    assert lines[1] == "  error: RuntimeError: boom"
    assert main([]) == 2
