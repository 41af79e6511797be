"""The probe interface: a measurement of the training state at a probe step.

A probe is built once per run from a :class:`ProbeSetup` (or skipped, by rule, with the reason
recorded in run.json) and called at every probe step with a :class:`ProbeView`.  It returns a
:class:`ProbeOutput`: step-level values (one per step, e.g. the readout losses), per-layer
values (one row per analysed matrix, keyed by its name), eigenvalues per layer for esd.parquet
and, optionally, full overlap matrices.  Probes are pure: they never change the training
state.  Decompositions shared between probes of one step go through ``view.cache``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Protocol, Tuple, Union

from torch import Tensor

from htsweep.data.base import Dataset
from htsweep.models.base import Model, Params

Row = Dict[str, Any]

# view.cache key (ESD_CACHE, layer) -> the eigenvalues of W_t^T W_t (CPU, float64, ascending)
# that an earlier probe of this step recorded for esd.parquet (htsweep.probes.measure).
ESD_CACHE = "esd"
# view.cache key (READOUT_MOMENTS, feature scale) -> the readout probe's hold-out moments
# (htsweep.readouts.Moments: Z^T Z, Z^T y, ...), reused by the compressibility probe's refits.
READOUT_MOMENTS = "readout_moments"


@dataclass(frozen=True)
class ProbeSetup:
    """What a probe may depend on, fixed for the whole run."""

    probe: Any  # htsweep.config.ProbeConfig
    readout: Any  # htsweep.config.ReadoutConfig
    model: Model
    data: Dataset  # on the run's device and dtype
    params0: Params  # the initial parameters, on the run's device and dtype
    seed: Optional[int] = None  # the run's seed (``seed``), for probes that draw (randomize)
    loss: Any = None  # the training loss (htsweep.losses.Loss)
    lr: float = float("nan")  # the base step size (after optimizer.lr_scaling)
    optimizer: str = ""  # the optimiser's option name


def analysed_matrices(setup: "ProbeSetup", params: Params) -> Dict[str, Tensor]:
    """The model's analysed matrices (``model.matrices``), restricted to ``probe.layers`` when
    it names some (validated at start-up: htsweep.config)."""
    matrices = setup.model.matrices(params)
    wanted = getattr(setup.probe, "layers", None)
    if not wanted:
        return dict(matrices)
    return {name: W for name, W in matrices.items() if name in set(wanted)}


@dataclass
class ProbeView:
    """The state at probe step t: W_t (``params``), the last update M_{t-1} (``update``,
    None at t = 0), the training gradient at W_t when the loop computed it (``grads``; None at
    the last step, where a probe that needs it computes it) and a per-step cache shared by the
    probes of this step."""

    step: int
    params: Params
    update: Optional[Params]
    setup: ProbeSetup
    cache: Dict[Any, Any] = field(default_factory=dict)
    grads: Optional[Params] = None
    parts: Dict[str, Tensor] = field(default_factory=dict)  # the gradient pass's r and D (model)
    noise: Optional[Params] = None  # the noise N_{t-1} injected after M_{t-1}, by matrix name

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass
class ProbeOutput:
    step_values: Row = field(default_factory=dict)
    layer_values: Dict[str, Row] = field(default_factory=dict)
    esd: Dict[str, Tensor] = field(default_factory=dict)  # layer -> eigenvalues, ascending, CPU
    overlaps: Dict[str, Tuple[Any, Any]] = field(default_factory=dict)  # layer -> (O_U, O_V)
    arrays: Dict[Tuple[str, str], Any] = field(default_factory=dict)  # (kind, layer) -> ndarray


class Probe(Protocol):
    name: str
    # (optional) want_parts = True: the loop keeps the gradient pass's intermediates at probe
    # steps (view.parts) for this probe
    def __call__(self, view: ProbeView) -> ProbeOutput: ...


@dataclass(frozen=True)
class Skipped:
    """A probe that does not run in this run, and why (recorded in run.json)."""

    reason: str


Built = Union[Probe, Skipped]
