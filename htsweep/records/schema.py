"""The one place that says what a run's records contain.

Every module that writes or reads run outputs imports its names from here: the run statuses,
the problem kinds aggregation reports, the output file names, the metric columns of
``metrics.parquet`` in their documented order, the key and value columns of ``esd.parquet``
with their storage dtypes, the layout of ``run.json`` (:class:`RunRecord`) and the config keys
that do not change a run's numbers (left out of its hash).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import pyarrow as pa


class Status(str, Enum):
    """How a run ended (``run.json``'s ``status``).

    ``diverged`` is set only by the training loop's own finiteness check (a non-finite loss,
    gradient or weight); every other exception is ``failed``."""

    completed = "completed"
    diverged = "diverged"
    failed = "failed"
    interrupted = "interrupted"


class Problem(str, Enum):
    """What aggregation reports about a run that is not a clean ``completed`` one, in the
    order its problems table lists them (``running``: its claim is fresh - a launch is
    computing it now)."""

    running = "running"
    missing = "missing"
    corrupted = "corrupted"
    incomplete = "incomplete"
    empty = "empty"
    failed = "failed"
    diverged = "diverged"


METRICS_FILE = "metrics.parquet"
ESD_FILE = "esd.parquet"
RUN_FILE = "run.json"
OVERLAPS_FILE = "overlaps.npz"
ARRAYS_FILE = "arrays.npz"  # named arrays per (kind, layer, step): htsweep.probes.subspace
CHECKPOINT_FILE = "checkpoint.pt"
CLAIM_FILE = "claim.json"  # held while a run is in progress (htsweep.resume.Claim)
# A claim whose heartbeat (every 30 s) is older than this is stale: its process is gone.
CLAIM_STALE_AFTER_S = 600.0

# Key of every metrics row: the probe step and the analysed matrix ("W" for the two-layer
# model; a module name for a deep network).
KEY_COLUMNS = ("step", "layer")

# Columns every metrics row has, first and in this order (the README documents each).  Rows
# also carry the spectral module's further columns (fitted MP bulk, norms, phase, overlaps,
# ...), appended after these in the order they first appear.  Step-level quantities (the
# readout losses, the stage-1 loss) are repeated on every layer's row of a step.
PROBE_COLUMNS = (
    *KEY_COLUMNS,
    "train_loss",
    "test_loss",
    "kta",
    "train_error",  # the readout's 0-1 error (classification losses; NaN for mse)
    "test_error",
    "sim_w_beta",
    "pl_alpha_hill",
    "pl_alpha_hill_xmin",
    "pl_alpha_ks",
    "pl_alpha_ks_xmin",
    "pl_alpha_ks_distance",
    "pl_alpha_ks_n_tail",
    "lambda_max",
    "frobenius_norm",
    "stable_rank",
    "num_spikes",
    "mp_lambda_plus",
    "mp_spike_threshold",
    "delta_w_spectral",
    "delta_w_frobenius",
    "update_spectral",
    "update_frobenius",
    "matrix_rows",  # the shape of one analysed matrix (of a convolution's slice with
    "matrix_cols",  # probe.conv_matrix=slices) and its initial law's entry variance
    "mp_sigma2",
    # Deep networks (several layers; htsweep.spectral.conv): the layer's position among the
    # analysed ones (0-based, module order), the number of matrices pooled into its ESD (k^2
    # slices of a Conv2d, else 1), which matricisation ran ("matrix" for a 2-D weight,
    # "slices" or "reshape" for a 4-D one), and whether the ESD was fitted ("ok", or why not:
    # "too_small: 10 eigenvalues"; htsweep.spectral.report.fit_status).
    "layer_index",
    "matrix_count",
    "conv_matrix",
    "fit_status",
)
# Columns of the alignment probe (htsweep.probes.alignment; README, Structured inputs), on the
# rows of the two-layer model's W when the probe runs.
ALIGNMENT_COLUMNS = (
    "grad_norm",
    "grad_s2_s1",
    "grad_s3_s1",
    "grad_eff_rank",
    "grad_data_align",
    "grad_residue_align",
    "grad_residue_align_full",
    "grad_label_align",
    "grad_init_align",
    "decomp_s1",
    "decomp_s1p",
    "decomp_s2",
    "decomp_e",
    "decomp_s1_e",
    "decomp_s1p_e",
    "decomp_s2_e",
    "decomp_err",
    "energy",
    "w_q_align",
    "sim_w_beta_sigma",
    "w_eff_rank",
    "bbp_theta",
    "bbp_theta_c",
    "bbp_lambda_max_pred",
    "bbp_overlap_pred",
    "bbp_lr_c",
)
# Columns of the network probe (htsweep.probes.network): the trained network on held-out data.
NETWORK_COLUMNS = ("net_train_loss", "net_test_loss", "net_train_error", "net_test_error", "net_train_accuracy",
                   "net_test_accuracy")  # fmt: skip
# Columns of the update probe under injected noise (noise=alpha_stable; NaN without): ||N||_F
# and the norms of the noisy step M + N (htsweep.probes.update).
NOISE_COLUMNS = ("noise_frobenius", "update_noisy_spectral", "update_noisy_frobenius")
# Columns of the compressibility probe (htsweep.probes.compress; probe.compress), on the rows
# of the model's hidden layers: the mce-prunable fraction of neurons (raw and median-centred
# weights), the test loss / accuracy of the network with those neurons pruned, and the tail
# indices of the weights (Mohammadi et al. on entries, rows and row norms; Hill on entries).
# Its pruning curves go to arrays.npz (kinds htsweep.probes.compress.KINDS).
COMPRESS_COLUMNS = (
    "compress_fraction",
    "compress_fraction_centred",
    "compress_test_loss",
    "compress_test_accuracy",
    "tail_alpha_entries",
    "tail_alpha_rows",
    "tail_alpha_norms",
    "tail_hill_entries",
)
# Columns the training loop adds to each row.
LOOP_COLUMNS = ("lr_t", "stage1_loss", "elapsed_s")
METRIC_COLUMNS = (*PROBE_COLUMNS, *LOOP_COLUMNS)
# Metric columns that differ between two identical runs.
NONDETERMINISTIC_COLUMNS = ("elapsed_s",)
# Suffix of the readout columns under the public code's feature scale when a run records both
# scalings (probe.feature_scale=both): train_loss_paper_code, test_loss_paper_code, kta_paper_code
# (and train_error_paper_code, test_error_paper_code for a classification loss).
PAPER_CODE_SUFFIX = "_paper_code"

# Columns renamed by the redesign of version 0.2 (old name -> new name).  Old run folders
# keep their old names; the README lists these.
RENAMED_COLUMNS: Dict[str, str] = {"activation.name": "model.activation"}

# esd.parquet: one row per eigenvalue of each analysed matrix's W^T W (ascending within a
# (step, layer)), float64.
ESD_SCHEMA = pa.schema(
    [
        ("step", pa.int64()),
        ("layer", pa.string()),
        ("index", pa.int64()),
        ("eigenvalue", pa.float64()),
    ]
)
# Derived ESDs (probe.randomize, probe.delta_esd) are esd.parquet rows whose ``layer`` is
# "<layer>:<kind>": "W:shuffled" (an element-shuffled copy of W_t), "W:delta" (W_t - W_0).
# They are never in run.json's ``layers`` nor in metrics.parquet's ``layer`` column (their
# numbers are prefixed columns on the matrix's own row), so readers that select a layer by
# name (the figures) skip them; a reader of every row filters with is_derived_layer.
DERIVED_LAYER_SEP = ":"
SHUFFLED_ESD = "shuffled"
DELTA_ESD = "delta"


def derived_layer(layer: str, kind: str) -> str:
    """The esd.parquet layer name of ``layer``'s derived ESD ``kind`` ("W:shuffled")."""
    return f"{layer}{DERIVED_LAYER_SEP}{kind}"


def is_derived_layer(name: str) -> bool:
    """Whether an esd.parquet ``layer`` value names a derived ESD, not an analysed matrix."""
    return DERIVED_LAYER_SEP in str(name)


# The full overlap matrices (probe.overlaps=full) hold squared cosines in [0, 1]: float16.
OVERLAP_DTYPE = np.float16

# Config keys that do not change a run's numbers: left out of the config hash, and never a
# grid axis of a sweep.
UNHASHED_KEYS = ("progress", "checkpoint", "resume", "figures")


@dataclass
class RunRecord:
    """``run.json``: how a run ended and everything needed to trust or relaunch it."""

    status: Status
    steps_done: int
    steps_requested: int
    config_hash: str
    config: Dict[str, Any]
    diverged_at_step: Optional[int] = None
    stopped_at_step: Optional[int] = None  # the probe step that met the stop rule (stop.*)
    resumed_from_step: Optional[int] = None
    probe_steps: List[int] = field(default_factory=list)
    layers: List[str] = field(default_factory=list)
    probes: List[str] = field(default_factory=list)  # the probes that ran
    probes_skipped: Dict[str, str] = field(default_factory=dict)  # probe -> why not
    outputs: Dict[str, Dict[str, int]] = field(default_factory=dict)  # file -> {"bytes", "rows"}
    wall_seconds: Optional[float] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    device: Optional[str] = None
    dtype: Optional[str] = None
    versions: Dict[str, str] = field(default_factory=dict)
    environment: Dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "RunRecord":
        """Parse a run.json (unknown keys are ignored, missing optional ones take their
        defaults; a record without a known status raises ValueError)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in obj.items() if k in known}
        kwargs["status"] = Status(obj.get("status"))
        for key in ("steps_done", "steps_requested", "config_hash", "config"):
            kwargs.setdefault(key, None)
        return cls(**kwargs)
