"""Shared fixtures: configs composed from the real YAML (lightning-hydra-template style)."""

from __future__ import annotations

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from tests.helpers import small_node


@pytest.fixture
def cfg_small():
    """The small run's task node, composed from htsweep/conf (the YAML defaults under test)."""
    node = small_node()
    yield node
    GlobalHydra.instance().clear()


@pytest.fixture(autouse=True)
def _two_threads():
    """Two threads (the CI machine's cores), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)
