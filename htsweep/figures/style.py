"""The look shared by every figure: matplotlib rc, figure creation on the Agg canvas (no
pyplot state, no display), deterministic saving, the paper's symbols for config columns, the
series labels and the caption line of settings every run shares."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from htsweep.records import atomic_write
from htsweep.sweep.tables import SweepTables

EXTENSIONS = ("png", "pdf")
DATA_EXTENSION = "csv"

# Paper symbols for config columns (Sec. 3, App. F).
LABELS: Dict[str, str] = {
    "lr": r"$\eta$",
    "optimizer.name": "optimizer",
    "data.n": r"$n$",
    "data.d": r"$d$",
    "model.h": r"$h$",
    "readout.reg_lambda": r"$\lambda$",
    "data.label_noise_std": r"$\rho_e$",
    "lr_schedule.gamma": r"$\gamma$",
    "lr_schedule.name": "schedule",
    "model.activation": r"$\sigma$",
    "data.teacher": r"$\sigma_*$",
    "weight_norm.name": "WN",
    "model.param": "param",
    "steps": r"$T$",
}
OPTIMIZER_NAMES = {"gd": "GD", "adam": "FB-Adam"}
METRIC_LABELS: Dict[str, str] = {
    "train_loss": "train loss",
    "test_loss": "test loss",
    "kta": "KTA",
    "sim_w_beta": r"sim$(W, \beta^*)$",
    "pl_alpha_hill": "PL_Alpha_Hill",
    "pl_alpha_ks": "PL_Alpha_KS",
}
# Settings named in a figure's caption line when they are the same for every run (the
# paper's captions: "n=2000, d=1000, h=1500, sigma_*=softplus, sigma=tanh, rho_e=0.3, lambda=0.01").
CAPTION_COLUMNS = (
    "optimizer.name",
    "lr",
    "data.n",
    "data.d",
    "model.h",
    "data.teacher",
    "model.activation",
    "data.label_noise_std",
    "readout.reg_lambda",
    "model.param",
    "weight_norm.name",
    "lr_schedule.gamma",
)
# Caption settings that only models with a ridge / logistic readout use.
_READOUT_ONLY = {"readout.reg_lambda"}
READOUT_MODELS = ("two_layer",)
# Values of the paper's main setting that captions leave unsaid.
_UNSAID = {("model.param", "ntk"), ("weight_norm.name", "none")}

_RC = {
    "pdf.fonttype": 42,  # embed TrueType: text stays editable / searchable in the PDF
    "ps.fonttype": 42,
    "savefig.dpi": 150,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_SAVE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None}}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The seaborn 'ticks' / 'paper' look with the rc above, for the duration of a draw."""
    with sns.axes_style("ticks"), sns.plotting_context("paper", font_scale=1.3), mpl.rc_context(_RC):
        yield


def new_figure(rows: int, cols: int, width: float, height: float) -> Tuple[Figure, np.ndarray]:
    """A constrained-layout Figure on the Agg canvas with a (rows, cols) array of axes, each
    panel ``width`` x ``height`` inches."""
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, np.asarray(fig.subplots(rows, cols, squeeze=False))


def save(fig: Figure, data: pd.DataFrame, out_dir: Path, name: str) -> List[Path]:
    """Write ``name``.png / .pdf (deterministic bytes: no timestamps) and the plotted data as
    ``name``.csv, each atomically; returns the paths."""
    engine = fig.get_layout_engine()
    if engine is not None:  # lay the figure out once (constrained layout) and keep that
        engine.execute(fig)  # layout for both formats
        fig.set_layout_engine("none")
    paths = []
    for ext in EXTENSIONS:
        path = Path(out_dir) / f"{name}.{ext}"
        atomic_write(path, lambda tmp, e=ext: fig.savefig(tmp, format=e, metadata=_SAVE_METADATA[e]))
        paths.append(path)
    path = Path(out_dir) / f"{name}.{DATA_EXTENSION}"
    atomic_write(path, lambda tmp: data.to_csv(tmp, index=False))
    return [*paths, path]


def palette(n: int) -> List[Tuple[float, float, float]]:
    """``n`` colour-blind-safe colours."""
    return list(sns.color_palette("colorblind", max(n, 1)))


def fmt_value(column: str, value: object) -> str:
    """A config value as a label shows it ('FB-Adam', '0.01', 'tanh')."""
    if column == "optimizer.name":
        return OPTIMIZER_NAMES.get(str(value), str(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def series_label(row: pd.Series, columns: Sequence[str]) -> str:
    """'FB-Adam, n=2000' for the given columns of one grid point; a null value (a key the
    run's option does not have) is left out; '' when nothing is left."""
    parts = []
    for c in columns:
        if pd.isna(row[c]):
            continue
        v = fmt_value(c, row[c])
        parts.append(v if c == "optimizer.name" else f"{LABELS.get(c, c)}={v}")
    return ", ".join(parts)


def add_series(df: pd.DataFrame, columns: Sequence[str], default: str = "all runs") -> pd.DataFrame:
    """``df`` with a ``series`` column: the label of each row's values of ``columns``
    (``default`` when there are no columns)."""
    df = df.copy()
    if not columns:
        df["series"] = default
    else:
        df["series"] = [series_label(r, columns) for _, r in df.iterrows()] if len(df) else []
    return df


def caption(summary: pd.DataFrame, exclude: Sequence[str] = ()) -> str:
    """'FB-Adam, η=0.2, n=2000, d=1000, ...' for the :data:`CAPTION_COLUMNS` every run of
    ``summary`` shares (a column null in every run is a key its options lack: unsaid)."""
    parts = []
    for c in CAPTION_COLUMNS:
        if c in exclude or c not in summary.columns:
            continue
        if c in _READOUT_ONLY and "model.name" in summary.columns and not summary["model.name"].isin(READOUT_MODELS).any():
            continue  # no readout ran (the deep models): its lambda is not a setting of the figure
        values = summary[c].drop_duplicates()
        if len(values) != 1 or pd.isna(values.iloc[0]) or (c, values.iloc[0]) in _UNSAID:
            continue
        parts.append(series_label(pd.Series({c: values.iloc[0]}), [c]))
    return ", ".join(parts)


def suptitle(fig: Figure, tables: SweepTables, *lines: str) -> None:
    """The figure title: ``lines`` (empty ones dropped), then the caption of shared settings."""
    text = "\n".join(t for t in (*lines, caption(tables.summary)) if t)
    if text:
        fig.suptitle(text, fontsize=11)
