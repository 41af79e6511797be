"""Any ``torch.nn.Module`` as a :class:`~htsweep.models.base.Model`, with autograd gradients.

The deeper networks of paper App. F.6 (VGG11, ResNet18 trained full-batch with FB-Adam on
images; htsweep.models.vgg, .resnet, and the MLP of htsweep.models.mlp) are ordinary torch
modules.  :class:`TorchModule` wraps one so that the loop, the optimisers and the checkpoints
see what they see for the two-layer student: a flat dict of named tensors.

* **Parameters.**  ``params`` holds every named parameter *and* buffer of the module (BatchNorm's
  ``running_mean`` / ``running_var`` are entries the optimiser does not train); ``trained`` names
  the parameters.  The module itself is built on the ``meta`` device: it is only the structure
  (building it draws nothing and allocates nothing), and every forward pass runs through
  ``torch.func.functional_call(module, params, x)``, so the tensors of the dict - updated in
  place by the optimiser - are what the network uses.  BatchNorm's ``num_batches_tracked`` is
  removed (it only matters for ``momentum=None``; every BatchNorm here has a number), so every
  entry is a floating-point tensor that moves with the run's device and dtype.
* **Initialisation** from the project's named seed streams, one per tensor
  (``htsweep.seeding.generator(seed, "init/<param name>")``, float64 on the CPU, never torch's
  global generator), by layer type (:data:`LAWS`):

  - Conv2d weight: Kaiming-normal, fan_out mode, ReLU gain, N(0, 2 / (c_out k_h k_w)) - the
    init of torchvision's VGG and ResNet (``kaiming_normal_(mode="fan_out",
    nonlinearity="relu")``); Conv2d bias: 0 (torchvision's VGG);
  - Linear weight and bias: torch's default, ``kaiming_uniform_(a=sqrt(5))``, i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), entry std 1/sqrt(3 fan_in) (torchvision's ResNet ``fc``;
    its VGG draws the classifier from N(0, 0.01^2) instead - one law for every Linear here);
  - BatchNorm: weight 1, bias 0, running mean 0, running variance 1.

  :meth:`TorchModule.init_std` is the entry std of that law (analytic, not measured), the scale
  of the Marchenko-Pastur reference of the spectral probes.
* **Gradients** by autograd on the full batch, accumulated over chunks of ``chunk_size``
  samples (``train.chunk_size``; 0: the whole split at once): each chunk's mean loss is weighted
  by its size / n, so the sum is the full-batch mean and its gradient.  The leaves are
  ``detach().requires_grad_()`` aliases of the dict's tensors (no copies).
* **BatchNorm and chunks.**  In training mode BatchNorm normalises with the statistics of the
  batch it sees, and with chunking *the chunk is the normalisation batch*: only BatchNorm-free
  models (the MLP, VGG11 with ``batch_norm=false``) have gradients independent of the chunk
  size.  The running statistics are updated once per full-batch step, not once per chunk:
  the per-channel mean and variance of each BatchNorm's inputs are pooled over the chunks
  (Chan's parallel formula), and running <- (1 - momentum) running + momentum statistic with
  the unbiased variance, as torch does for one batch (with one chunk the same update as
  torch's own).
* **Evaluation** (``loss``, ``predict``: the stage-1 loss at the last step, the network probe)
  runs in eval mode (BatchNorm with its running statistics), in chunks, without a graph.  With
  BatchNorm the eval-mode loss differs from the training-mode loss of ``loss_and_grad``.

There is no hidden-feature map to fit a readout on (``features = None``: the readout probe
skips itself).  The spectral probes analyse ``matrices``: the raw weight of every Conv2d
(c_out x c_in x k_h x k_w) and Linear (out x in), keyed by module name, in module order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from htsweep.data.base import Split
from htsweep.errors import ConfigError
from htsweep.losses import Loss
from htsweep.models.base import Params
from htsweep.seeding import generator


@dataclass(frozen=True)
class Law:
    """An i.i.d. entry law: ``normal`` N(0, scale^2), ``uniform`` U(-scale, scale), or
    ``constant`` (every entry equal to ``scale``)."""

    kind: str
    scale: float

    @property
    def std(self) -> float:
        return {"normal": self.scale, "uniform": self.scale / math.sqrt(3.0), "constant": 0.0}[self.kind]

    def draw(self, shape: Tuple[int, ...], seed: int, name: str) -> Tensor:
        if self.kind == "constant":
            return torch.full(shape, self.scale, dtype=torch.float64)
        gen = generator(seed, f"init/{name}")
        if self.kind == "normal":
            return torch.randn(shape, generator=gen, dtype=torch.float64).mul_(self.scale)
        return torch.rand(shape, generator=gen, dtype=torch.float64).mul_(2.0 * self.scale).sub_(self.scale)


def _conv_laws(mod: nn.Module) -> Dict[str, Law]:
    shape = tuple(mod.weight.shape)  # (c_out, c_in / groups, k_h, k_w)
    fan_out = shape[0] * math.prod(shape[2:])
    return {"weight": Law("normal", math.sqrt(2.0 / fan_out)), "bias": Law("constant", 0.0)}


def _linear_laws(mod: nn.Module) -> Dict[str, Law]:
    bound = 1.0 / math.sqrt(mod.weight.shape[1])
    return {"weight": Law("uniform", bound), "bias": Law("uniform", bound)}


def _bn_laws(mod: nn.Module) -> Dict[str, Law]:
    one, zero = Law("constant", 1.0), Law("constant", 0.0)
    return {"weight": one, "bias": zero, "running_mean": zero, "running_var": one}


# Layer type -> its tensors' initial laws (module docstring); the analysed matrices are the
# weights of MATRIX_LAYERS.
LAWS = ((nn.Conv2d, _conv_laws), (nn.Linear, _linear_laws), (_BatchNorm, _bn_laws))
MATRIX_LAYERS = (nn.Conv2d, nn.Linear)


class TorchModule:
    """``module`` (built on the meta device) as a Model; ``chunk_size`` samples per forward
    pass (0: the whole split)."""

    features = None  # no readout features (htsweep.probes.readout skips the model)

    def __init__(self, module: nn.Module, chunk_size: int = 0) -> None:
        self.module = module
        self.chunk_size = int(chunk_size)
        self.laws: Dict[str, Law] = {}
        self.layers: List[str] = []  # Conv2d / Linear module names, in module order
        self.batch_norms: List[Tuple[str, _BatchNorm]] = []
        for mname, mod in module.named_modules():
            own = [n for n, _ in mod.named_parameters(recurse=False)] + [n for n, _ in mod.named_buffers(recurse=False)]
            if isinstance(mod, _BatchNorm):
                if mod.momentum is None:
                    raise ValueError(f"{mname}: BatchNorm with momentum=None (cumulative average) is not supported")
                mod.num_batches_tracked = None  # every BatchNorm has a momentum: not needed
                self.batch_norms.append((mname, mod))
                own = [n for n in own if n != "num_batches_tracked"]
            laws = next((rule(mod) for kind, rule in LAWS if isinstance(mod, kind)), {})
            for local in own:
                if local not in laws:
                    raise TypeError(f"{mname or 'module'}: no initial law for {type(mod).__name__}.{local}")
                self.laws[f"{mname}.{local}" if mname else local] = laws[local]
            if isinstance(mod, MATRIX_LAYERS):
                self.layers.append(mname)
        self.trained = tuple(n for n, _ in module.named_parameters())
        # hidden layers: every Conv2d / Linear but the last one (the output layer), by module
        # name; injected noise (htsweep.optim.perturbations) and pruning act on these
        self.hidden: Tuple[str, ...] = tuple(self.layers[:-1])
        self.shapes = {n: tuple(t.shape) for n, t in [*module.named_parameters(), *module.named_buffers()]}

    # --- parameters ------------------------------------------------------------------------

    def init(self, seed: int) -> Params:
        """Every parameter and buffer (float64, CPU), each from its law and stream ``init/<name>``."""
        return {name: self.laws[name].draw(shape, seed, name) for name, shape in self.shapes.items()}

    def matrices(self, params: Params) -> Dict[str, Tensor]:
        """The raw weight of every Conv2d (4-D) and Linear (2-D), keyed by module name."""
        return {layer: params[f"{layer}.weight"] for layer in self.layers}

    def init_std(self, name: str) -> float:
        """Entry std of layer ``name``'s initial weight law (module docstring)."""
        if name not in self.layers:
            raise KeyError(f"no matrix {name!r}; matrices: {', '.join(self.layers)}")
        return self.laws[f"{name}.weight"].std

    # --- forward passes --------------------------------------------------------------------

    def _chunks(self, m: int) -> Iterator[slice]:
        size = self.chunk_size if self.chunk_size > 0 else max(m, 1)
        for start in range(0, m, size):
            yield slice(start, min(start + size, m))

    def _mode(self, training: bool) -> None:
        """Train mode uses each chunk's batch statistics without touching the running ones
        (``track_running_stats=False``: :meth:`loss_and_grad` updates them once per step);
        eval mode uses the running statistics."""
        self.module.train(training)
        for _, bn in self.batch_norms:
            bn.track_running_stats = not training

    def predict(self, params: Params, X: Tensor) -> Tensor:
        """The network's outputs (logits, m x C) in eval mode, chunked, without a graph."""
        self._mode(False)
        with torch.no_grad():
            outs = [torch.func.functional_call(self.module, params, (X[s],)) for s in self._chunks(X.shape[0])]
        return torch.cat(outs) if outs else X.new_zeros((0,))

    def loss(self, params: Params, split: Split, loss: Loss) -> Tensor:
        """The mean loss on ``split`` in eval mode (module docstring)."""
        return loss.mean(self.predict(params, split.X), split.y)

    def loss_and_grad(
        self, params: Params, split: Split, loss: Loss, keep: Optional[Dict[str, Tensor]] = None
    ) -> Tuple[Tensor, Params]:
        """The full-batch mean loss in training mode and its gradient for every trained
        parameter, accumulated over chunks weighted by size / n; then the BatchNorm running
        statistics, updated once (module docstring).  ``keep`` is accepted and left empty."""
        n = split.m
        leaves = {k: params[k].detach().requires_grad_() for k in self.trained}
        entries = {**params, **leaves}
        stats = _BatchStats(self.batch_norms)
        self._mode(True)
        total = torch.zeros((), dtype=split.X.dtype, device=split.X.device)
        grads: Optional[List[Tensor]] = None
        try:
            for s in self._chunks(n):
                X, y = split.X[s], split.y[s]
                value = loss.mean(torch.func.functional_call(self.module, entries, (X,)), y)
                weight = X.shape[0] / n
                weighted = value if weight == 1.0 else value * weight
                g = torch.autograd.grad(weighted, list(leaves.values()))
                if grads is None:
                    grads = list(g)
                else:
                    for acc, part in zip(grads, g):
                        acc.add_(part)
                total += weighted.detach()
        finally:
            stats.remove()
            self._mode(False)
        stats.update_running(params)
        assert grads is not None, "loss_and_grad on an empty split"
        return total, dict(zip(leaves, grads))


class _BatchStats:
    """Per-channel count, mean and sum of squared deviations of every BatchNorm's inputs over
    the chunks of one step (forward pre-hooks; Chan's pooled update), and the running-statistics
    update they give."""

    def __init__(self, batch_norms: List[Tuple[str, _BatchNorm]]) -> None:
        self.pooled: Dict[str, Tuple[int, Tensor, Tensor]] = {}
        self.momenta = {name: float(bn.momentum) for name, bn in batch_norms}
        self.handles = [bn.register_forward_pre_hook(self._hook(name)) for name, bn in batch_norms]

    def _hook(self, name: str):
        def hook(_module: nn.Module, args: Tuple[Tensor, ...]) -> None:
            x = args[0].detach()
            dims = [d for d in range(x.dim()) if d != 1]
            var, mean = torch.var_mean(x, dim=dims, unbiased=False)
            count = x.numel() // x.shape[1]
            m2 = var.mul_(count)
            if name not in self.pooled:
                self.pooled[name] = (count, mean, m2)
                return
            n_a, mean_a, m2_a = self.pooled[name]
            total = n_a + count
            delta = mean - mean_a
            self.pooled[name] = (total, mean_a + delta * (count / total), m2_a + m2 + delta * delta * (n_a * count / total))

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def update_running(self, params: Params) -> None:
        """running <- (1 - momentum) running + momentum statistic (unbiased variance), in place."""
        with torch.no_grad():
            for name, (count, mean, m2) in self.pooled.items():
                mom = self.momenta[name]
                params[f"{name}.running_mean"].mul_(1.0 - mom).add_(mean, alpha=mom)
                params[f"{name}.running_var"].mul_(1.0 - mom).add_(m2 / max(count - 1, 1), alpha=mom)


def image_shape(model_name: str, data, size_problem) -> Tuple[int, int, int]:
    """(C, H, W) of ``data``'s samples for an image model: one-line errors naming ``data`` (not
    images with classes) or ``data.image_size`` (``size_problem(H, W)``, a size the
    architecture cannot take)."""
    shape = tuple(data.input_shape)
    if len(shape) != 3 or not data.num_classes:
        raise ConfigError("data", f"model={model_name} needs images (C, H, W) with classes; got samples shaped {shape}")
    problem = size_problem(shape[1], shape[2])
    if problem is not None:
        raise ConfigError("data.image_size", problem)
    return shape


def on_meta(build, *args, **kwargs) -> nn.Module:
    """``build(*args, **kwargs)`` on the meta device: the structure without drawing anything."""
    with torch.device("meta"):
        return build(*args, **kwargs)
