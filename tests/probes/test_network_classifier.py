"""The network probe on a cross-entropy classifier: losses and accuracies of the eval-mode,
chunked forward pass; the readout probe skips a model without features."""

from __future__ import annotations

import pytest
import torch

from htsweep.config import ProbeConfig, ReadoutConfig
from htsweep.losses import CrossEntropy
from htsweep.models import make_model
from htsweep.models.vgg import VGG11Config
from htsweep.probes import build_probes
from htsweep.probes.base import ProbeSetup, ProbeView
from htsweep.probes.network import accuracy
from tests.models.images import tiny_images


def test_accuracy():
    f = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0], [0.5, 0.2, 0.9]])
    assert accuracy(f, torch.tensor([0.0, 1.0, 1.0])) == pytest.approx(2 / 3)


def test_cross_entropy_columns_equal_a_direct_computation():
    data = tiny_images(channels=3, side=32, m=5, num_classes=3)
    model = make_model(VGG11Config(batch_norm=True), data, chunk_size=2)
    params = model.init(0)
    model.loss_and_grad(params, data.train, CrossEntropy())  # running statistics move off 0 / 1
    setup = ProbeSetup(probe=ProbeConfig(), readout=ReadoutConfig(), model=model, data=data,
                       params0=params, seed=0, loss=CrossEntropy())  # fmt: skip
    probes = build_probes(setup)
    assert "network" in probes.names
    assert "readout" in probes.skipped and "hidden-feature map" in probes.skipped["readout"]
    network = next(p for p in probes.probes if p.name == "network")
    row = network(ProbeView(step=0, params=params, update=None, setup=setup)).step_values
    assert set(row) == {"net_train_loss", "net_test_loss", "net_train_accuracy", "net_test_accuracy"}
    model.chunk_size = 0
    f = model.predict(params, data.test.X)  # eval mode, one chunk
    assert row["net_test_loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(f, data.test.y.long())), rel=1e-12)
    assert row["net_test_accuracy"] == float((f.argmax(-1) == data.test.y.long()).double().mean())
    assert 0.0 <= row["net_train_accuracy"] <= 1.0
    assert row["net_train_loss"] == pytest.approx(float(model.loss(params, data.train, CrossEntropy())), rel=1e-12)
