"""``model=mlp``: a fully connected classifier on flattened inputs (a baseline next to the deep
networks of paper App. F.6).

    x (C, H, W) -> flatten (d = C H W) -> [Linear(., width), activation] x depth -> Linear(., C)

Layers are named ``fc1`` .. ``fc<depth>`` and ``out`` (the ``layer`` column).  Initial laws:
torch's default for Linear, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (htsweep.models.torch_module),
so ``init_std`` is 1/sqrt(3 fan_in).  Gradients by autograd, full-batch (``train.chunk_size``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from torch import Tensor, nn

from htsweep import activations
from htsweep.activations import Activation
from htsweep.data.base import Dataset
from htsweep.errors import ConfigError
from htsweep.models.base import ModelConfig
from htsweep.models.torch_module import TorchModule, on_meta


@dataclass
class MLPConfig(ModelConfig):
    """``depth`` hidden layers of ``width`` units with ``activation``, ``bias`` on every Linear."""

    OPTION = "mlp"
    name: str = "mlp"
    depth: int = 1
    width: int = 512
    activation: Activation = Activation.relu
    bias: bool = False

    def check(self) -> None:
        self.require(self.depth >= 0, "depth", f"must be an integer >= 0, got {self.depth}")
        self.require(self.width >= 1, "width", f"must be an integer >= 1, got {self.width}")


class Act(nn.Module):
    """A point-wise activation of htsweep.activations as a module (autograd through torch ops)."""

    def __init__(self, act: Activation) -> None:
        super().__init__()
        self.act = act

    def forward(self, z: Tensor) -> Tensor:
        return activations.value(self.act, z)

    def extra_repr(self) -> str:
        return self.act.value


def mlp(d: int, num_classes: int, depth: int, width: int, activation: Activation, bias: bool) -> nn.Sequential:
    layers: "OrderedDict[str, nn.Module]" = OrderedDict(flatten=nn.Flatten())
    fan_in = d
    for i in range(1, depth + 1):
        layers[f"fc{i}"] = nn.Linear(fan_in, width, bias=bias)
        layers[f"act{i}"] = Act(activation)
        fan_in = width
    layers["out"] = nn.Linear(fan_in, num_classes, bias=bias)
    return nn.Sequential(layers)


def build(cfg: MLPConfig, data: Dataset) -> TorchModule:
    if not data.num_classes:
        raise ConfigError("data", "model=mlp needs a classification data set with num_classes (an image source)")
    return TorchModule(on_meta(mlp, data.d, data.num_classes, cfg.depth, cfg.width, cfg.activation, cfg.bias))
