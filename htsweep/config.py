"""The run configuration: the top-level schema, its registration in Hydra's ConfigStore,
smoke shrinking and the conversion of a composed config into typed objects.

Config groups and their options (``htsweep/conf/<group>/<option>.yaml``, each selecting the
schema ``<option>_schema`` registered below from the option's module):

    data         htsweep.data.SOURCES                  (single_index, spiked, multi_index, spiked_cov)
    model        htsweep.models.MODELS                 (two_layer, mlp, vgg11, resnet18)
    loss         htsweep.losses.LOSSES                 (mse, bce, hinge, cross_entropy)
    optimizer    htsweep.optim.OPTIMIZERS              (gd, adam, sgd, none)
    lr_schedule  htsweep.optim.SCHEDULES               (constant, step)
    weight_norm  htsweep.optim.CONSTRAINTS             (none, frobenius, rows, sigma_rows)
    noise        htsweep.optim.PERTURBATIONS           (none, alpha_stable)

Each option's defaults live in its dataclass only, so a GD run carries (and hashes) no Adam
fields.  Value ranges are checked in ``__post_init__`` when :func:`to_spec` builds the objects;
a bad value raises :class:`~htsweep.errors.ConfigError`, one line naming the field.  Field
names follow the paper's symbols (Sec. 3): ``n``, ``d``, ``h``, ``lr`` (eta), ``reg_lambda``
(lambda), ``label_noise_std`` (rho_e).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from htsweep import data as data_sources
from htsweep import losses, models, optim
from htsweep.data import labels as label_kinds
from htsweep.data.base import DataConfig
from htsweep.errors import ConfigError
from htsweep.losses import LossConfig
from htsweep.models.base import ModelConfig
from htsweep.optim import ConstraintConfig, OptimizerConfig, PerturbationConfig, ScheduleConfig
from htsweep.readouts import ReadoutMethod
from htsweep.readouts import incompatibility as readout_incompatibility
from htsweep.spectral.conv import ConvMatrix
from htsweep.spectral.phases import PhaseThresholdError, PhaseThresholds

CONF_DIR = Path(__file__).resolve().parent / "conf"

# group -> {option: schema}; the ConfigStore entries and the README's option lists.
GROUPS: Dict[str, Mapping[str, Any]] = {
    "data": {k: v.schema for k, v in data_sources.SOURCES.items()},
    "model": {k: v.schema for k, v in models.MODELS.items()},
    "loss": {k: v.schema for k, v in losses.LOSSES.items()},
    "optimizer": {k: v.schema for k, v in optim.OPTIMIZERS.items()},
    "lr_schedule": {k: v.schema for k, v in optim.SCHEDULES.items()},
    "weight_norm": {k: v.schema for k, v in optim.CONSTRAINTS.items()},
    "noise": {k: v.schema for k, v in optim.PERTURBATIONS.items()},
}


class FeatureScale(Enum):
    """Pre-activation used by the readout probe (ridge readout and KTA).

    ``paper``: the same pre-activation as training, W x / sqrt(d) (eq. 6-7).
    ``paper_code``: W x / d, what the paper's public code computes (a forward hook keeps the
    hidden pre-activation, which is then divided by sqrt(d) a second time).
    ``both``: the paper's scaling in the plain columns and the code's in the same columns with a
    ``_paper_code`` suffix, from one training run (two readout fits per probe step)."""

    paper = "paper"
    paper_code = "paper_code"
    both = "both"


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


def _require_finite(node: Any, prefix: str) -> None:
    """Every float field of a dataclass (not nested ones) is finite."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{prefix}{f.name}", f"must be a finite number, got {value}")


@dataclass
class ReadoutConfig:
    """Stage-2 readout on the hold-out set (htsweep.readouts): ``method`` is its solver (``auto``:
    the training loss's own - mse ridge, eq. 6; bce logistic; hinge squared_hinge - or ridge,
    logistic, squared_hinge, pinv), ``reg_lambda`` the lambda of eq. (6)'s regulariser
    (lambda / h) ||a||^2, shared by every regularised method (pinv has none)."""

    method: ReadoutMethod = ReadoutMethod.auto
    reg_lambda: float = 0.01

    def __post_init__(self) -> None:
        _require_finite(self, "readout.")
        _require(self.reg_lambda > 0, "readout.reg_lambda", f"must be > 0, got {self.reg_lambda}")


@dataclass
class ProbeConfig:
    """When and how the run is measured.

    Probes run at step 0, at every ``every``-th step and at the last step; when ``at`` is a list
    of steps, at step 0, at those steps and at the last step instead.  ``readout`` / ``spectrum``
    switch the readout and spectral probes off (their columns are NaN; run.json says so).
    ``randomize`` / ``delta_esd`` switch on the shuffled-W and W_t - W_0 controls (off: their
    columns are absent and run.json names them skipped).  ``alignment``: the gradient-anatomy
    probe (null: on when the inputs carry a spike).  ``subspace_r`` / ``save_weights_every``:
    arrays.npz for cross-run subspace comparisons (0: off).  ``conv_matrix``: which matrices
    make a Conv2d layer's ESD (htsweep.spectral.conv: ``slices``, WeightWatcher's k^2 pooled
    (out x in) slices, or ``reshape``, the (out x in k k) matrix; 2-D layers are analysed as
    they are).  ``min_fit_eigs``: an ESD with fewer eigenvalues gets NaN fits and its
    ``fit_status`` says so (e.g. a 10-class classifier's 10)."""

    every: int = 1
    at: Optional[List[int]] = None
    feature_scale: FeatureScale = FeatureScale.paper
    esd: bool = True
    readout: bool = True
    spectrum: bool = True
    overlaps: OverlapMode = OverlapMode.summary
    overlap_k: int = 10
    tail_comparison: bool = False
    randomize: bool = False  # the ESD of an element-shuffled W (htsweep.probes.randomize)
    delta_esd: bool = False  # the ESD of W_t - W_0 (htsweep.probes.delta_esd)
    alignment: Optional[bool] = None  # htsweep.probes.alignment; null: on for spiked inputs
    grad_spectrum: bool = False  # the alignment probe's grad_eff_rank (all singular values of G)
    subspace_r: int = 0  # store W_t's top-r right singular vectors (htsweep.probes.subspace)
    save_weights_every: int = 0  # store W_t every k-th probe step (0: never)
    layers: Optional[List[str]] = None  # analyse only these matrices (module names); null: all
    conv_matrix: ConvMatrix = ConvMatrix.slices  # a Conv2d layer's ESD (htsweep.spectral.conv)
    min_fit_eigs: int = 20  # fewer eigenvalues: NaN fits, fit_status "too_small: <n> eigenvalues"
    phase: PhaseThresholds = field(default_factory=PhaseThresholds)
    compress: bool = False  # the compressibility and weight-tail probe (htsweep.probes.compress)
    compress_rho: float = 0.1  # its mce budget: relative squared Frobenius error of the pruned rows
    compress_curves: bool = True  # and its pruning curves in arrays.npz (34 test evaluations a layer)

    def __post_init__(self) -> None:
        _require(0.0 < self.compress_rho < 1.0, "probe.compress_rho", f"must be in (0, 1), got {self.compress_rho}")
        _require(self.overlap_k >= 1, "probe.overlap_k", f"must be an integer >= 1, got {self.overlap_k}")
        _require(self.every >= 1, "probe.every", f"must be an integer >= 1, got {self.every}")
        _require(self.min_fit_eigs >= 0, "probe.min_fit_eigs", f"must be an integer >= 0, got {self.min_fit_eigs}")
        _require(self.subspace_r >= 0, "probe.subspace_r", f"must be an integer >= 0, got {self.subspace_r}")
        _require(
            self.save_weights_every >= 0,
            "probe.save_weights_every",
            f"must be an integer >= 0, got {self.save_weights_every}",
        )
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
        _require_finite(self, "resume.")
        _require(
            self.claim_stale_after_s > 0,
            "resume.claim_stale_after_s",
            f"must be > 0, got {self.claim_stale_after_s}",
        )


@dataclass
class TrainConfig:
    """How the full-batch gradient is computed: ``chunk_size`` samples per forward / backward
    pass of an autograd model (mlp, vgg11, resnet18), the chunks' gradients summed with weights
    size / n into the full-batch mean gradient; null: the whole training set at once.  With
    BatchNorm the chunk is the normalisation batch (htsweep.models.torch_module), so only
    BatchNorm-free models have gradients independent of it.  The two-layer closed form ignores it."""

    chunk_size: Optional[int] = None

    def __post_init__(self) -> None:
        _require(
            self.chunk_size is None or self.chunk_size >= 1,
            "train.chunk_size",
            f"must be an integer >= 1 (or null: the whole set at once), got {self.chunk_size}",
        )


@dataclass
class StopConfig:
    """Stop a run early at the first probe step where the training set meets every set target
    (seed 002 stops at 95% training accuracy): ``train_accuracy`` (a fraction in (0, 1]; the
    network probe's ``net_train_accuracy``, or 1 - ``net_train_error`` for bce / hinge) and
    ``train_loss`` (the full-batch training loss ``stage1_loss`` <= it).  Checked at probe steps
    only (``probe.every`` sets the granularity, as the source's ``eval_freq``); the step is
    ``stopped_at_step`` in run.json.  null: no rule."""

    train_accuracy: Optional[float] = None
    train_loss: Optional[float] = None

    def __post_init__(self) -> None:
        _require_finite(self, "stop.")
        if self.train_accuracy is not None:
            _require(0.0 < self.train_accuracy <= 1.0, "stop.train_accuracy",
                     f"must be a fraction in (0, 1] (or null), got {self.train_accuracy}")  # fmt: skip
        if self.train_loss is not None:
            _require(self.train_loss >= 0.0, "stop.train_loss", f"must be >= 0 (or null), got {self.train_loss}")

    @property
    def active(self) -> bool:
        return self.train_accuracy is not None or self.train_loss is not None


# Which options of different groups go together (Config._check_across_groups), by option name
# so that a source registered later needs no change here.
TEACHER_STUDENT_SOURCES = ("single_index", "spiked", "multi_index", "spiked_cov")
IMAGE_SOURCES = ("digits", "mnist", "cifar10", "svhn")
CLASSIFICATION_LOSSES = ("cross_entropy", "bce", "hinge")
CLASSIFIER_MODELS = models.CLASSIFIERS
# Side of an image source's images for a schema that does not state its ``out_size``.
NATIVE_IMAGE_SIDE = {"digits": 8, "mnist": 28, "cifar10": 32, "svhn": 32}


def _image_side(data: Any) -> Optional[Tuple[str, int]]:
    """(the field that sets it, side) of the square images an image source will produce, read
    from its schema before anything is loaded: its ``out_size`` (htsweep.data.images: ``pad_to``
    when set, else ``image_size``, else the native side), or for a schema without one ``pad_to``,
    ``image_size`` or :data:`NATIVE_IMAGE_SIDE`; None for a source that is not an image source."""
    pad, size = getattr(data, "pad_to", None), getattr(data, "image_size", None)
    side = getattr(data, "out_size", None)
    if side is None:
        if data.name not in NATIVE_IMAGE_SIDE:
            return None
        side = pad or size or NATIVE_IMAGE_SIDE[data.name]
    if pad:
        return "data.pad_to", int(side)
    return ("data.image_size" if hasattr(data, "image_size") else "data"), int(side)


@dataclass
class Config:
    """One training run: the task that ``python -m htsweep.train`` executes."""

    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    loss: LossConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    lr_schedule: ScheduleConfig = MISSING
    weight_norm: ConstraintConfig = MISSING
    noise: PerturbationConfig = MISSING
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    resume: ResumeConfig = field(default_factory=ResumeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    stop: StopConfig = field(default_factory=StopConfig)
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
    figures: Optional[List[str]] = None  # figure kinds of the experiment (aggregation)

    def __post_init__(self) -> None:
        _require_finite(self, "")
        _require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        _require(self.steps >= 0, "steps", f"must be an integer >= 0, got {self.steps}")
        if self.probe.at is not None:
            late = [s for s in self.probe.at if s > self.steps]
            _require(not late, "probe.at", f"steps must be <= steps={self.steps}, got {late}")
        self._check_across_groups()

    def _check_across_groups(self) -> None:
        """Options of different groups that do not fit together (one line naming the field)."""
        self._check_model_data_loss()
        links = getattr(self.data, "teacher_links", None)
        labels = getattr(self.data, "labels", None)
        if labels is not None and links is not None:
            clash = label_kinds.incompatibility(labels, self.loss.name, links())
            if clash is not None:
                raise ConfigError(*clash)
        kind = label_kinds.natural(self.loss.name) if labels is None else label_kinds.resolve(labels, self.loss.name)
        clash = readout_incompatibility(self.readout.method, self.loss.name, kind)
        if clash is not None:
            raise ConfigError(*clash)
        if self.optimizer.lr_scaling.value == "inverse_gamma":
            _require(
                self.model.name == "two_layer",
                "optimizer.lr_scaling",
                f"inverse_gamma needs a model with an output scale gamma (model=two_layer), got model={self.model.name}; "
                "allowed here: none",
            )
        rule = getattr(self.noise, "incompatibility", None)
        if rule is not None:
            clash = rule(self.model, self.data)
            if clash is not None:
                raise ConfigError(*clash)
        batch, n = getattr(self.optimizer, "batch_size", None), getattr(self.data, "n", None)
        if batch is not None and n is not None:
            _require(batch <= n, "optimizer.batch_size", f"must be <= data.n={n}, got {batch}")
        if self.stop.train_accuracy is not None:
            _require(self.loss.name in CLASSIFICATION_LOSSES, "stop.train_accuracy",
                     f"needs a classification loss ({', '.join(CLASSIFICATION_LOSSES)}), got loss={self.loss.name}")  # fmt: skip
        if getattr(self.weight_norm, "sigma", None) is not None and self.weight_norm.sigma.value == "known":
            _require(
                links is not None,
                "weight_norm.sigma",
                f"known needs a data source with a known Gaussian law, got data={self.data.name}; use empirical",
            )

    def _check_model_data_loss(self) -> None:
        """The two-layer student learns a teacher; the classifiers (mlp, vgg11, resnet18) learn
        image classes with cross-entropy, on images of a size they can take."""
        model, data, loss = self.model.name, self.data.name, self.loss.name
        classifiers, images = ", ".join(CLASSIFIER_MODELS), ", ".join(IMAGE_SOURCES)
        if model == "two_layer":
            _require(data in TEACHER_STUDENT_SOURCES, "data",
                     f"model=two_layer needs a teacher-student source ({', '.join(TEACHER_STUDENT_SOURCES)}), got data={data}")  # fmt: skip
        if model in CLASSIFIER_MODELS:
            _require(loss == "cross_entropy", "loss", f"model={model} needs loss=cross_entropy, got loss={loss}")
        if loss == "cross_entropy":
            _require(model in CLASSIFIER_MODELS, "model",
                     f"loss=cross_entropy needs a classifier model ({classifiers}), got model={model}")  # fmt: skip
            _require(data in IMAGE_SOURCES, "data", f"loss=cross_entropy needs an image source ({images}), got data={data}")
        if self.weight_norm.name != "none":
            _require(model == "two_layer", "weight_norm",
                     f"{self.weight_norm.name} needs model=two_layer, got model={model}; allowed here: none")  # fmt: skip
        rule, where = getattr(self.model, "image_size_problem", None), _image_side(self.data)
        if rule is not None and where is not None:
            problem = rule(where[1], where[1])
            _require(problem is None, where[0], f"{problem} (data={data})")
        if self.probe.layers:
            names = models.layer_names(self.model, self.data)
            unknown = [name for name in self.probe.layers if name not in names]
            _require(not unknown, "probe.layers",
                     f"no layer {', '.join(map(repr, unknown))} in model={model}; its layers: {', '.join(names)}")  # fmt: skip

    @property
    def resolved_data_seed(self) -> int:
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def resolved_init_seed(self) -> int:
        return self.seed if self.init_seed is None else self.init_seed

    def probe_steps(self) -> List[int]:
        """Sorted steps t at which the state is measured (see :class:`ProbeConfig`)."""
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
    Returns a new config (the input is unchanged); the run records the shrunk values, and
    htsweep.train writes them into Hydra's .hydra/config.yaml too."""
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


def task_node(cfg: DictConfig) -> DictConfig:
    """The composed config without its ``hydra`` node, smoke applied once: what the run uses."""
    node = cfg
    if isinstance(cfg, DictConfig) and "hydra" in cfg:
        node = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    return apply_smoke(node)


def to_spec(node: Any) -> Config:
    """A validated :class:`Config` from a task node (:func:`task_node`) or a Config.

    Raises :class:`ConfigError` with a one-line message naming the offending field: a value
    out of range, a missing group, a key no schema has."""
    if isinstance(node, Config):
        node.__post_init__()
        return node
    missing = [g for g in GROUPS if g in node.keys() and OmegaConf.is_missing(node, g)]
    if missing:
        raise ConfigError(missing[0], f"no option selected; allowed: {', '.join(GROUPS[missing[0]])}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), node)
        spec = OmegaConf.to_object(merged)
    except PhaseThresholdError as ex:
        raise ConfigError(f"probe.phase.{ex.field_name}", ex.message) from None
    assert isinstance(spec, Config)
    _reject_unknown_keys(node, spec)
    return spec


def _reject_unknown_keys(node: DictConfig, spec: Config) -> None:
    """A key the schemas do not define (e.g. ``+foo=1``, or ``+optimizer.beta1`` for GD)
    is an error, never an unused extra that changes the config hash."""
    known = set(flatten_keys(OmegaConf.to_container(OmegaConf.structured(spec), enum_to_str=True)))
    given = flatten_keys(OmegaConf.to_container(node, resolve=False, enum_to_str=True))
    for key in given:
        if key not in known and not any(k.startswith(f"{key}.") for k in known):
            group, _, _ = key.partition(".")
            if group in GROUPS and "." in key:
                keys = sorted(k.split(".", 1)[1] for k in known if k.startswith(f"{group}."))
                name = getattr(getattr(spec, group), "name", "?")
                raise ConfigError(key, f"unknown key for {group}={name}; its keys: {', '.join(keys)}")
            raise ConfigError(key, "unknown key: no schema defines it (python -m htsweep.train --cfg job lists every key)")


def flatten_keys(tree: Any, prefix: str = "") -> List[str]:
    """Dotted paths of the leaves of a nested dict (lists are leaves)."""
    if not isinstance(tree, dict) or not tree:
        return [prefix[:-1]] if prefix else []
    out: List[str] = []
    for key, value in tree.items():
        out += flatten_keys(value, f"{prefix}{key}.")
    return out


def task_container(node: DictConfig) -> Dict[str, Any]:
    """The task node as plain containers (enums as their names), resolved."""
    container = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    assert isinstance(container, dict)
    return container


def _experiment_dir(name: Optional[str]) -> str:
    """``hydra.sweep.dir`` prefix: ``<experiment>/`` for an experiment's sweep, else ''."""
    return f"{name}/" if name else ""


def _gpus_for_device(device: Any) -> int:
    """GPUs per task of the launcher presets: none for ``device=cpu``, one otherwise."""
    return 0 if str(device) in ("cpu", "Device.cpu") else 1


def register_configs() -> None:
    """Register the top-level schema (``base_config``, extended by conf/config.yaml) and one
    ``<option>_schema`` per group option (selected by conf/<group>/<option>.yaml)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for group, options in GROUPS.items():
        for option, schema in options.items():
            cs.store(group=group, name=f"{option}_schema", node=schema)
    OmegaConf.register_new_resolver("experiment_dir", _experiment_dir, replace=True)
    OmegaConf.register_new_resolver("gpus_for_device", _gpus_for_device, replace=True)


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """Compose ``conf/config.yaml`` with ``overrides`` through Hydra's compose API (for
    scripts and tests; the command line goes through :mod:`htsweep.train`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="htsweep"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def make_spec(overrides: Sequence[str] = ()) -> Config:
    """The validated :class:`Config` of ``overrides`` (compose + :func:`task_node` + :func:`to_spec`)."""
    return to_spec(task_node(compose(overrides)))


def option_names(group: str) -> List[str]:
    return list(GROUPS[group])


register_configs()
