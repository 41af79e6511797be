"""The probe registry: order, skip rules in the run record, rows keyed (step, layer)."""

from __future__ import annotations

import math

import torch

from htsweep.loop import build_run
from htsweep.probes import PROBES, ProbeView, build_probes, measure
from htsweep.records import PROBE_COLUMNS
from tests.helpers import small_spec


OPT_IN = {
    "randomize": "disabled (probe.randomize=false)",
    "delta_esd": "disabled (probe.delta_esd=false)",
    "alignment": "off by default for inputs without a spike (probe.alignment=true turns it on)",
    "subspace": "disabled (probe.subspace_r=0 and probe.save_weights_every=0)",
    "compress": "disabled (probe.compress=false)",
}


def test_every_probe_runs_by_default_in_registry_order():
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    assert list(PROBES) == ["readout", "network", "spectrum", "update", "randomize", "delta_esd", "alignment", "subspace",
                            "compress"]  # fmt: skip
    assert built.probes.names == ["readout", "network", "spectrum", "update"]
    assert built.probes.skipped == OPT_IN  # the opt-in controls, off by default
    every = ("probe.randomize=true", "probe.delta_esd=true", "probe.alignment=true", "probe.subspace_r=2",
             "probe.compress=true")  # fmt: skip
    both = build_run(small_spec(*every), torch.device("cpu"), torch.float64)
    assert both.probes.names == list(PROBES) and both.probes.skipped == {}
    spiked = build_run(small_spec("data=spiked", "data.n=50", "data.d=20", "model.h=30"), torch.device("cpu"), torch.float64)
    assert "alignment" in spiked.probes.names  # on by default for spiked inputs


def test_measure_merges_into_one_row_per_layer_with_every_probe_column():
    built = build_run(small_spec(), torch.device("cpu"), torch.float64)
    m = measure(built.probes, ProbeView(step=0, params=built.initial.params, update=None, setup=built.setup))
    assert len(m.rows) == 1
    row = m.rows[0]
    assert row["step"] == 0 and row["layer"] == "W"
    assert set(PROBE_COLUMNS) <= set(row)
    assert math.isnan(row["update_frobenius"]) and math.isfinite(row["train_loss"]) and math.isfinite(row["lambda_max"])
    assert list(m.esd) == ["W"] and m.overlaps == {}


def test_all_switched_off_leaves_only_the_network_and_update_probes():
    built = build_run(small_spec("probe.readout=false", "probe.spectrum=false"), torch.device("cpu"), torch.float64)
    probes = build_probes(built.setup)
    assert probes.names == ["network", "update"] and set(probes.skipped) == {"readout", "spectrum", *OPT_IN}
