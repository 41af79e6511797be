"""``model=vgg11``: VGG11 for small images (paper App. F.6 trains it full-batch with FB-Adam on
MNIST, CIFAR-10 and SVHN).

The feature extractor is torchvision's ``vgg11`` / ``vgg11_bn`` (``torchvision.models.vgg``,
configuration "A" of Simonyan & Zisserman, 2015)::

    64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M

eight 3x3 convolutions with padding 1 (each with a bias, then BatchNorm2d when
``batch_norm=true``, then ReLU) and five 2x2 max-pools of stride 2, under torchvision's module
names (``features.0``, ``features.3``, ...).  The classifier is the usual CIFAR adaptation: no
adaptive average pool and no 4096-wide layers, but flatten and one ``Linear(512 h w,
num_classes)`` named ``classifier``, where h x w = H/32 x W/32 is the map the five pools leave
(1 x 1 for 32 x 32 inputs: Linear(512, num_classes)).  H and W must therefore be multiples of 32
(MNIST's 28 x 28 needs padding to 32).  Initial laws as torchvision's VGG for the convolutions
(Kaiming-normal fan_out, bias 0; BatchNorm 1 and 0) and torch's default for the Linear
(htsweep.models.torch_module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Union

from torch import nn

from htsweep.data.base import Dataset
from htsweep.models.base import ModelConfig
from htsweep.models.torch_module import TorchModule, image_shape, on_meta

# torchvision.models.vgg.cfgs["A"]: output channels of each 3x3 conv, "M" a 2x2 max-pool
CONFIG_A: List[Union[int, str]] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
DOWNSAMPLING = 32  # five pools of stride 2


def size_problem(height: int, width: int) -> Optional[str]:
    """Why VGG11 cannot take height x width images, or None."""
    if height < DOWNSAMPLING or width < DOWNSAMPLING or height % DOWNSAMPLING or width % DOWNSAMPLING:
        return (f"model=vgg11 needs images whose height and width are multiples of {DOWNSAMPLING} "
                f"(>= {DOWNSAMPLING}: five 2x2 max-pools), got {height}x{width}")  # fmt: skip
    return None


@dataclass
class VGG11Config(ModelConfig):
    """VGG11 (configuration A), with BatchNorm after every conv when ``batch_norm``."""

    OPTION = "vgg11"
    name: str = "vgg11"
    batch_norm: bool = False

    def image_size_problem(self, height: int, width: int) -> Optional[str]:
        return size_problem(height, width)


class VGG11(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, batch_norm: bool, height: int = 32, width: int = 32) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        c = in_channels
        for v in CONFIG_A:  # torchvision.models.vgg.make_layers
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            layers.append(nn.Conv2d(c, int(v), kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(int(v)))
            layers.append(nn.ReLU(inplace=True))
            c = int(v)
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(c * (height // DOWNSAMPLING) * (width // DOWNSAMPLING), num_classes)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def build(cfg: VGG11Config, data: Dataset) -> TorchModule:
    shape = image_shape("vgg11", data, size_problem)
    return TorchModule(on_meta(VGG11, shape[0], data.num_classes, cfg.batch_norm, shape[1], shape[2]))
