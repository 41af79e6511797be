"""Tiny synthetic image sets and hand-built dynamics for the autograd models' tests."""

from __future__ import annotations

import torch

from htsweep.config import GROUPS
from htsweep.data.base import Dataset, Split
from htsweep.loop import Dynamics
from htsweep.losses import CrossEntropy
from htsweep.optim import make_constraint, make_optimizer, make_perturbation, make_schedule
from htsweep.state import TrainState


def tiny_images(channels: int = 3, side: int = 8, m: int = 6, num_classes: int = 3, seed: int = 0) -> Dataset:
    """m random images (float64) with random labels 0 .. num_classes-1 (stored as float64),
    the same split as train, holdout and test."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(m, channels, side, side, generator=g, dtype=torch.float64)
    y = torch.randint(0, num_classes, (m,), generator=g).to(torch.float64)
    split = Split(X, y)
    return Dataset(train=split, holdout=split, test=split, num_classes=num_classes)


def adam_dynamics(model, data: Dataset, lr: float = 1e-3) -> Dynamics:
    """FB-Adam (defaults), constant lr, no constraint, no noise, cross-entropy."""
    return Dynamics(
        model=model,
        loss=CrossEntropy(),
        optimizer=make_optimizer(GROUPS["optimizer"]["adam"]()),
        schedule=make_schedule(GROUPS["lr_schedule"]["constant"]()),
        constraint=make_constraint(GROUPS["weight_norm"]["none"](), model, data),
        perturbation=make_perturbation(GROUPS["noise"]["none"](), model, 0),
        base_lr=lr,
    )


def initial_state(model, dyn: Dynamics, seed: int = 0) -> TrainState:
    params = model.init(seed)
    return TrainState(params=params, opt_state=dyn.optimizer.init(params, model.trained))


def count(params, names) -> int:
    return sum(params[k].numel() for k in names)
