"""Typed run configuration, registered in Hydra's ConfigStore.

Every YAML group under ``conf/`` (data, activation, optimizer, lr_schedule, weight_norm)
merges into one of the dataclasses below, so a wrong key or a value of the wrong type fails
while Hydra composes the config.  Value ranges (``lr > 0``, ``n >= 1`` ...) are checked in
``__post_init__``, which runs when :func:`to_spec` turns the composed config into objects.

Field names follow the symbols of Kothapalli et al., "From Spikes to Heavy Tails" (Sec. 3):
``n``, ``d``, ``h``, ``lr`` (eta), ``reg_lambda`` (lambda), ``label_noise_std`` (rho_e).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from htsweep.errors import ConfigError
from htsweep.spectral.phases import PhaseThresholds


class Activation(Enum):
    """Point-wise non-linearities for the student (sigma) and the teacher link (sigma_*)."""

    tanh = "tanh"
    relu = "relu"
    sigmoid = "sigmoid"
    softplus = "softplus"
    identity = "identity"
    erf = "erf"


class DataName(Enum):
    single_index = "single_index"


class Parametrisation(Enum):
    """``ntk``: eq. (2), W_ij, a_i ~ N(0, 1), pre-activation W x / sqrt(d).
    ``mean_field``: eq. (37) of App. D, W_ij ~ N(0, 1/d), a_i ~ N(0, 1/h), pre-activation W x."""

    ntk = "ntk"
    mean_field = "mean_field"


class OptimizerName(Enum):
    gd = "gd"
    adam = "adam"


class ScheduleName(Enum):
    constant = "constant"
    step = "step"


class WeightNormName(Enum):
    none = "none"
    frobenius = "frobenius"


class FeatureScale(Enum):
    """Pre-activation used by the probes (ridge readout and KTA).

    ``paper``: the same pre-activation as training, W x / sqrt(d) (eq. 6-7).
    ``paper_code``: W x / d, what the paper's public code computes (a forward hook keeps the
    hidden pre-activation, which is then divided by sqrt(d) a second time)."""

    paper = "paper"
    paper_code = "paper_code"


class OverlapMode(Enum):
    """Singular-vector overlaps of App. C at each probe: ``none``; ``summary`` (top-k diagonal,
    largest off-diagonal, top pair, as columns); ``full`` (also the matrices, overlaps.npz)."""

    none = "none"
    summary = "summary"
    full = "full"


class Device(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class DType(Enum):
    float32 = "float32"
    float64 = "float64"


def _require(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise ConfigError(field_name, message)


@dataclass
class DataConfig:
    """Single-index teacher, eq. (1): y = sigma_*(beta^T x) + xi, x ~ N(0, I_d),
    beta uniform on S^{d-1}, xi ~ N(0, label_noise_std^2).  Three independent sets are drawn:
    train (n), probe / hold-out (n, the ridge readout's data of eq. 6) and test (n_test)."""

    name: DataName = DataName.single_index
    n: int = 2000
    n_test: int = 200
    d: int = 1000
    teacher: Activation = Activation.softplus
    label_noise_std: float = 0.3

    def __post_init__(self) -> None:
        _require(self.n >= 1, "data.n", f"must be an integer >= 1, got {self.n}")
        _require(self.n_test >= 1, "data.n_test", f"must be an integer >= 1, got {self.n_test}")
        _require(self.d >= 1, "data.d", f"must be an integer >= 1, got {self.d}")
        _require(
            self.label_noise_std >= 0,
            "data.label_noise_std",
            f"must be >= 0, got {self.label_noise_std}",
        )


@dataclass
class ModelConfig:
    """Two-layer student f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h), eq. (2) (App. D, eq. 37
    for ``param=mean_field``).  The second layer ``a`` stays at its initial value in stage 1."""

    h: int = 1500
    param: Parametrisation = Parametrisation.ntk

    def __post_init__(self) -> None:
        _require(self.h >= 1, "model.h", f"must be an integer >= 1, got {self.h}")


@dataclass
class ActivationConfig:
    """Student activation sigma of eq. (2)."""

    name: Activation = Activation.tanh


@dataclass
class OptimizerConfig:
    """Full-batch GD, eq. (3), or full-batch Adam, eq. (4)-(5).

    ``bias_correction=true`` is Adam as torch.optim.Adam (and the paper's code) runs it; its
    first step is lr * sign(G_0) as eps -> 0.  ``false`` follows eq. (4)-(5) as printed; its first
    step is lr * (1 - beta1) / sqrt(1 - beta2) * sign(G_0), eq. (9)."""

    name: OptimizerName = OptimizerName.adam
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    bias_correction: bool = True

    def __post_init__(self) -> None:
        _require(0 <= self.beta1 < 1, "optimizer.beta1", f"must be in [0, 1), got {self.beta1}")
        _require(0 <= self.beta2 < 1, "optimizer.beta2", f"must be in [0, 1), got {self.beta2}")
        _require(self.eps >= 0, "optimizer.eps", f"must be >= 0, got {self.eps}")


@dataclass
class LRScheduleConfig:
    """``constant``, or ``step``: lr_t = lr * gamma ** floor(t / step_size), as
    torch.optim.lr_scheduler.StepLR stepped once per update (App. F.4)."""

    name: ScheduleName = ScheduleName.constant
    step_size: int = 1
    gamma: float = 1.0

    def __post_init__(self) -> None:
        _require(
            self.step_size >= 1,
            "lr_schedule.step_size",
            f"must be an integer >= 1, got {self.step_size}",
        )
        _require(self.gamma > 0, "lr_schedule.gamma", f"must be > 0, got {self.gamma}")


@dataclass
class WeightNormConfig:
    """``frobenius``: after every update W <- W * sqrt(h d) sigma_W / ||W||_F (App. F.4), where
    sigma_W is the initial entry scale (1 for ntk, 1/sqrt(d) for mean_field), so ||W||_F keeps
    its expected value at initialisation."""

    name: WeightNormName = WeightNormName.none


@dataclass
class ReadoutConfig:
    """Stage 2 ridge readout on the hold-out set, eq. (6)."""

    reg_lambda: float = 0.01

    def __post_init__(self) -> None:
        _require(
            self.reg_lambda > 0, "readout.reg_lambda", f"must be > 0, got {self.reg_lambda}"
        )


@dataclass
class ProbeConfig:
    """When and how the run is measured.

    Probes run at step 0, at every ``every``-th step and at the last step; when ``at`` is a list
    of steps, probes run at step 0, at those steps and at the last step instead."""

    every: int = 1
    at: Optional[List[int]] = None
    feature_scale: FeatureScale = FeatureScale.paper
    esd: bool = True
    readout: bool = True
    spectrum: bool = True
    overlaps: OverlapMode = OverlapMode.summary
    overlap_k: int = 10
    tail_comparison: bool = False
    phase: PhaseThresholds = field(default_factory=PhaseThresholds)

    def __post_init__(self) -> None:
        _require(self.overlap_k >= 1, "probe.overlap_k", f"must be an integer >= 1, got {self.overlap_k}")
        _require(self.every >= 1, "probe.every", f"must be an integer >= 1, got {self.every}")
        if self.at is not None:
            bad = [s for s in self.at if s < 0]
            _require(not bad, "probe.at", f"steps must be >= 0, got {bad}")


@dataclass
class CheckpointConfig:
    """``every``: save the loop state every that many steps (0: only when a stop signal -
    SIGTERM, SIGUSR1, SIGUSR2 - arrives).  ``keep``: keep checkpoint.pt after the run ends."""

    every: int = 0
    keep: bool = False

    def __post_init__(self) -> None:
        _require(self.every >= 0, "checkpoint.every", f"must be an integer >= 0, got {self.every}")


@dataclass
class ResumeConfig:
    """What a relaunch into an existing run directory does: a completed run with the same
    config hash is skipped, an interrupted one resumes from its checkpoint, failed / diverged
    ones are skipped unless ``rerun_failed`` / ``rerun_diverged``.  ``enabled=false`` always
    recomputes.  A claim older than ``claim_stale_after_s`` without a heartbeat is taken over."""

    enabled: bool = True
    rerun_failed: bool = False
    rerun_diverged: bool = False
    claim_stale_after_s: float = 600.0

    def __post_init__(self) -> None:
        _require(
            self.claim_stale_after_s > 0,
            "resume.claim_stale_after_s",
            f"must be > 0, got {self.claim_stale_after_s}",
        )


@dataclass
class Config:
    """One training run: the task that ``python -m htsweep.train`` executes."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    activation: ActivationConfig = field(default_factory=ActivationConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_schedule: LRScheduleConfig = field(default_factory=LRScheduleConfig)
    weight_norm: WeightNormConfig = field(default_factory=WeightNormConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    resume: ResumeConfig = field(default_factory=ResumeConfig)
    lr: float = 1.0
    steps: int = 10
    seed: int = 0
    data_seed: Optional[int] = None
    init_seed: Optional[int] = None
    device: Device = Device.auto
    dtype: DType = DType.float32
    progress: bool = True
    smoke: bool = False
    experiment: Optional[str] = None

    def __post_init__(self) -> None:
        _require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        _require(self.steps >= 0, "steps", f"must be an integer >= 0, got {self.steps}")
        if self.probe.at is not None:
            late = [s for s in self.probe.at if s > self.steps]
            _require(not late, "probe.at", f"steps must be <= steps={self.steps}, got {late}")

    @property
    def resolved_data_seed(self) -> int:
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def resolved_init_seed(self) -> int:
        return self.seed if self.init_seed is None else self.init_seed

    def probe_steps(self) -> List[int]:
        """Sorted steps t at which W_t is measured (see :class:`ProbeConfig`)."""
        if self.probe.at is not None:
            chosen = set(self.probe.at)
        else:
            chosen = set(range(0, self.steps + 1, self.probe.every))
        return sorted(chosen | {0, self.steps})


# A smoke run divides every size by SMOKE_DIVISOR (keeping the ratios n : d : h and the
# differences between sweep points), with these floors, and caps the step count.
SMOKE_DIVISOR = 25
SMOKE_FLOORS = {"data.n": 40, "data.n_test": 20, "data.d": 8, "model.h": 8}
SMOKE_MAX_STEPS = 12


def apply_smoke(cfg: DictConfig) -> DictConfig:
    """``smoke=true``: the same experiment at toy size, for tests and dry runs.

    Divides n, n_test, d and h by SMOKE_DIVISOR (not below SMOKE_FLOORS), caps steps at
    SMOKE_MAX_STEPS and drops probe steps beyond it; grids, optimisers and schedules stay.
    The shrunk values are what the run records, so a smoke sweep's tables say what ran."""
    if not cfg.get("smoke", False):
        return cfg
    out = cfg.copy()
    for key, floor in SMOKE_FLOORS.items():
        value = OmegaConf.select(out, key)
        if value is not None:
            OmegaConf.update(out, key, min(value, max(floor, value // SMOKE_DIVISOR)), merge=False)
    if out.get("steps") is not None and out.steps > SMOKE_MAX_STEPS:
        out.steps = SMOKE_MAX_STEPS
    at = OmegaConf.select(out, "probe.at")
    if at is not None:
        OmegaConf.update(out, "probe.at", [s for s in at if s <= out.steps], merge=False)
    return out


def to_spec(cfg: Any) -> Config:
    """Turn a composed DictConfig into a validated :class:`Config` (runs every __post_init__).

    Raises :class:`ConfigError` with a one-line message naming the offending field."""
    if isinstance(cfg, Config):
        cfg.__post_init__()
        return cfg
    node = cfg
    if isinstance(cfg, DictConfig) and "hydra" in cfg:
        node = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    merged = OmegaConf.merge(OmegaConf.structured(Config), apply_smoke(node))
    spec = OmegaConf.to_object(merged)
    assert isinstance(spec, Config)
    return spec


def register_configs() -> None:
    """Register the schema so ``conf/config.yaml`` can extend it (``defaults: [base_config]``)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)


register_configs()
