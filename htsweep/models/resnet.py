"""``model=resnet18``: ResNet18 for small images (paper App. F.6 trains it full-batch with
FB-Adam on MNIST, CIFAR-10 and SVHN).

torchvision's ``resnet18`` (``torchvision.models.resnet``: BasicBlock, layers [2, 2, 2, 2],
widths 64-128-256-512, 1x1 stride-2 downsample convolutions with BatchNorm on the shortcut of
the first block of layers 2-4, global average pool, ``fc(512, num_classes)``), under the same
module names (``conv1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``, ...), with the
usual small-image stem: ``conv1`` is a 3x3 stride-1 convolution (padding 1) followed by BatchNorm
and ReLU, and there is no max-pool (torchvision: 7x7 stride 2 and a 3x3 max-pool).  Three
stride-2 stages take an H x W image to H/8 x W/8 before the pool, so H, W >= 8.  Initial laws as
torchvision's ResNet (convolutions Kaiming-normal fan_out, no bias; BatchNorm 1 and 0; ``fc``
torch's default; htsweep.models.torch_module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from torch import Tensor, nn

from htsweep.data.base import Dataset
from htsweep.models.base import ModelConfig
from htsweep.models.torch_module import TorchModule, image_shape, on_meta

MIN_SIZE = 8  # three stride-2 stages
WIDTHS = (64, 128, 256, 512)
BLOCKS = (2, 2, 2, 2)


def size_problem(height: int, width: int) -> Optional[str]:
    """Why ResNet18 cannot take height x width images, or None."""
    if height < MIN_SIZE or width < MIN_SIZE:
        return f"model=resnet18 needs images of height and width >= {MIN_SIZE} (three stride-2 stages), got {height}x{width}"
    return None


@dataclass
class ResNet18Config(ModelConfig):
    """ResNet18 with the small-image stem (module docstring); no options."""

    OPTION = "resnet18"
    name: str = "resnet18"

    def image_size_problem(self, height: int, width: int) -> Optional[str]:
        return size_problem(height, width)


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False),
                                            nn.BatchNorm2d(c_out))  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, WIDTHS[0])
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        c = WIDTHS[0]
        for i, (width, blocks) in enumerate(zip(WIDTHS, BLOCKS)):
            stage: List[nn.Module] = []
            for b in range(blocks):
                stage.append(BasicBlock(c, width, 2 if (b == 0 and i > 0) else 1))
                c = width
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def build(cfg: ResNet18Config, data: Dataset) -> TorchModule:
    shape = image_shape("resnet18", data, size_problem)
    return TorchModule(on_meta(ResNet18, shape[0], data.num_classes))
