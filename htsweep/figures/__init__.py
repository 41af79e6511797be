"""The paper's figures, drawn from a sweep's aggregated tables (never from training code).

Each kind is one module exporting ``draw(tables, out_dir, **kw) -> DataFrame`` (writes
``out_dir/<kind>.png``, ``.pdf`` and ``.csv``, the plotted data, and returns that data) and
``applies(tables) -> Optional[str]`` (None when the kind fits the sweep, else why not):

* ``lr_sweep``     Fig. 3 / 5: metrics at the final step against eta (:mod:`.lr_sweep`).
* ``esd``          Fig. 2 / 4: ESD panels, linear and log-log, with the MP law (:mod:`.esd`).
* ``esd_truncated`` Fig. 7: ESD panels, linear, truncated linear and log-log (:mod:`.esd_truncated`).
* ``esd_grid``     Tables 1, 3, 4: ESD cells, rows = grid point, columns = step (:mod:`.esd_grid`).
* ``loss_curves``  Fig. 28: train / test loss against step (:mod:`.loss_curves`).
* ``update_norms`` Fig. 8: first-update norms against sqrt(h d) (:mod:`.update_norms`).
* ``spike_track``  Fig. 27: top eigenvalues and the spike gap against step (:mod:`.spike_track`).
* ``esd_diagnostics`` WeightWatcher's five layer plots per run and step (:mod:`.esd_diagnostics`).
* ``scale_compare`` the published code's readout scaling vs the equations (:mod:`.scale_compare`).
* ``grad_anatomy`` seed 001: the gradient at init, alignments and S1 / S1' / S2 / E norms vs nu (:mod:`.grad_anatomy`).
* ``alignment_curves`` seed 001: losses, gradient and weight alignments vs step (:mod:`.alignment_curves`).
* ``subspace_angles`` seed 001: principal angles between paired runs' subspaces vs step (:mod:`.subspace_angles`).
* ``bbp``          one GD step: lambda_max and sim(W, beta) vs eta against the BBP predictions (:mod:`.bbp`).
* ``normalisation`` seed 003: sim(W, beta) at the final step vs n per weight normalisation (:mod:`.normalisation`).
* ``layer_esd_grid`` Fig. 33-37: a deep network's layer-wise ESDs, columns layer, rows step (:mod:`.layer_esd_grid`).
* ``layer_alpha``  Fig. 6: per-layer PL_Alpha_Hill / KS vs step and vs depth (:mod:`.layer_alpha`).
* ``ht_noise``     seed 002: heavy-tailed iterate noise: prunable fraction vs h, PL_Alpha and weight tail index vs alpha, pruning curves (:mod:`.ht_noise`).

Each kind's ``draw`` is also this package's attribute of the kind's name
(``htsweep.figures.lr_sweep(tables, out_dir)``); import a kind's module by its path
(``from htsweep.figures.lr_sweep import applies``).

Which kinds a sweep gets (:func:`choose`): the ``figures`` list of its config (each
``conf/experiment/<name>.yaml`` sets one) when a listed kind fits, else every kind that fits
what varies.  A name on the command line is a kind, an experiment (its YAML's ``figures``) or
``all``.  Figures use a matplotlib ``Figure`` on the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd
import yaml

import htsweep
from htsweep.figures import alignment_curves as _alignment_curves
from htsweep.figures import bbp as _bbp
from htsweep.figures import esd as _esd
from htsweep.figures import esd_diagnostics as _esd_diagnostics
from htsweep.figures import esd_grid as _esd_grid
from htsweep.figures import esd_truncated as _esd_truncated
from htsweep.figures import grad_anatomy as _grad_anatomy
from htsweep.figures import ht_noise as _ht_noise
from htsweep.figures import layer_alpha as _layer_alpha
from htsweep.figures import layer_esd_grid as _layer_esd_grid
from htsweep.figures import loss_curves as _loss_curves
from htsweep.figures import lr_sweep as _lr_sweep
from htsweep.figures import normalisation as _normalisation
from htsweep.figures import scale_compare as _scale_compare
from htsweep.figures import spike_track as _spike_track
from htsweep.figures import subspace_angles as _subspace_angles
from htsweep.figures import update_norms as _update_norms
from htsweep.figures._cells import histogram, powerlaw_density, representative_runs
from htsweep.figures.style import DATA_EXTENSION, EXTENSIONS, caption, save, series_label
from htsweep.figures.update_norms import linear_fit
from htsweep.sweep.read import EsdSource, FrameEsd, one_line
from htsweep.sweep.tables import SweepTables

CONF_DIR = Path(htsweep.__file__).resolve().parent / "conf"
EXPERIMENT_DIR = CONF_DIR / "experiment"
ALL = "all"  # every kind that fits
FIGURES_KEY = "figures"  # the config key (and summary column) listing a sweep's kinds


class FigureNameError(ValueError):
    """An unknown figure name (the message lists the allowed ones)."""


@dataclass(frozen=True)
class Kind:
    """One figure kind: its draw function, its fit test and a one-line description."""

    name: str
    draw: Callable[..., pd.DataFrame]
    applies: Callable[[SweepTables], Optional[str]]
    doc: str
    auto: bool = True  # False: drawn only when listed (an experiment's figures, --figure, all)


FIGURES: Dict[str, Kind] = {
    m.NAME: Kind(m.NAME, m.draw, m.applies, m.DOC, getattr(m, "AUTO", True)) for m in (
        _lr_sweep, _esd, _esd_truncated, _esd_grid, _loss_curves, _update_norms, _spike_track, _esd_diagnostics, _scale_compare,
        _grad_anatomy, _alignment_curves, _subspace_angles, _bbp, _normalisation, _layer_esd_grid, _layer_alpha,
        _ht_noise,
    )
}  # fmt: skip
KINDS = tuple(FIGURES)

lr_sweep = _lr_sweep.draw
esd = _esd.draw
esd_grid = _esd_grid.draw
esd_truncated = _esd_truncated.draw
spike_track = _spike_track.draw
esd_diagnostics = _esd_diagnostics.draw
loss_curves = _loss_curves.draw
update_norms = _update_norms.draw
scale_compare = _scale_compare.draw
grad_anatomy = _grad_anatomy.draw
alignment_curves = _alignment_curves.draw
subspace_angles = _subspace_angles.draw
bbp = _bbp.draw
normalisation = _normalisation.draw
layer_esd_grid = _layer_esd_grid.draw
layer_alpha = _layer_alpha.draw
ht_noise = _ht_noise.draw


# --------------------------------------------------------------------------------------------
# Names


def experiment_names() -> List[str]:
    """The experiments shipped in ``htsweep/conf/experiment/`` (file stems, sorted)."""
    return sorted(p.stem for p in EXPERIMENT_DIR.glob("*.yaml"))


def experiment_figures(name: str) -> Optional[List[str]]:
    """The ``figures`` list of ``conf/experiment/<name>.yaml``; None when there is no such
    experiment or it lists none."""
    path = EXPERIMENT_DIR / f"{name}.yaml"
    if not path.is_file():
        return None
    listed = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(FIGURES_KEY)
    return [str(k) for k in listed] if isinstance(listed, list) else None


def resolve_name(name: str) -> List[str]:
    """A kind, an experiment name or ``all`` -> the kinds it draws (``[ALL]`` for ``all``);
    FigureNameError names every allowed name."""
    key = name.strip().lower().replace("-", "_")
    if key in FIGURES or key == ALL:
        return [key]
    listed = experiment_figures(key)
    if listed:
        return listed
    raise FigureNameError(
        f"--figure: unknown figure {name!r}; kinds: {', '.join(KINDS)}; "
        f"experiments: {', '.join(experiment_names())}; or {ALL}"
    )


def resolve_names(names: Optional[Sequence[str]]) -> Optional[List[str]]:
    """Every name resolved (:func:`resolve_name`), duplicates dropped; None stays None."""
    if names is None:
        return None
    return list(dict.fromkeys(k for n in names for k in resolve_name(n)))


# --------------------------------------------------------------------------------------------
# Choosing


def applicable(tables: SweepTables) -> Tuple[List[str], Dict[str, str]]:
    """Every kind that fits what varies in the sweep, and for each other kind why not."""
    chosen, skipped = [], {}
    for name, kind in FIGURES.items():
        why = kind.applies(tables)
        if why is None:
            chosen.append(name)
        else:
            skipped[name] = why
    return chosen, skipped


def _single(summary: pd.DataFrame, column: str) -> Any:
    """The one non-null value of ``column`` over the sweep, else None."""
    if column not in summary.columns:
        return None
    values = summary[column].dropna().unique()
    return values[0] if len(values) == 1 else None


def listed_figures(tables: SweepTables) -> Optional[Tuple[List[str], str]]:
    """(kinds, where they come from) the sweep's config names: its ``figures`` value (JSON text
    of a list) when every run has the same, else the ``figures`` of the YAML of its
    ``experiment`` tag (sweeps recorded before the key existed); None when neither."""
    experiment = _single(tables.summary, "experiment")
    source = str(experiment) if experiment is not None else f"the sweep's {FIGURES_KEY}"
    text = _single(tables.summary, FIGURES_KEY)
    if text is not None:
        try:
            listed = json.loads(str(text))
        except ValueError:
            listed = None
        if isinstance(listed, list):
            return [str(k) for k in listed], source
    listed = experiment_figures(str(experiment).lower()) if experiment is not None else None
    return (listed, source) if listed else None


def choose(tables: SweepTables) -> Tuple[List[str], Dict[str, str]]:
    """The kinds to draw when none is named: those of :func:`listed_figures` that fit, else
    (none listed, or none of them fits) every kind that fits (:func:`applicable`) except the
    on-request ones (``AUTO = False`` in their module: esd_truncated, spike_track,
    esd_diagnostics).  Returns
    (kinds, {kind not drawn: why})."""
    fits, skipped = applicable(tables)
    listed = listed_figures(tables)
    if listed is not None:
        kinds, source = listed
        wanted = [k for k in kinds if k in fits]
        if wanted:
            others = {k: f"not part of {source} (draw it with --figure {k})" for k in fits if k not in wanted}
            return wanted, {**skipped, **others}
    auto = [k for k in fits if FIGURES[k].auto]
    on_request = {k: f"drawn on request (--figure {k}, or an experiment listing it)" for k in fits if not FIGURES[k].auto}
    return auto, {**skipped, **on_request}


# --------------------------------------------------------------------------------------------
# Drawing


def draw(name: str, tables: SweepTables, out_dir: Path, **kw: Any) -> pd.DataFrame:
    """Draw one kind into ``out_dir``; returns its plotted data."""
    if name not in FIGURES:
        raise FigureNameError(f"unknown figure kind {name!r}; kinds: {', '.join(KINDS)}")
    return FIGURES[name].draw(tables, Path(out_dir), **kw)


@dataclass
class DrawResult:
    """What :func:`draw_all` drew (kind -> plotted data), could not draw (kind -> error),
    left out (kind -> why) and wrote."""

    figures: Dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: Dict[str, str] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    written: List[Path] = field(default_factory=list)


def draw_all(tables: SweepTables, kinds: Optional[Sequence[str]], out_dir: Path) -> DrawResult:
    """Draw ``kinds`` into ``out_dir``: None picks them (:func:`choose`), a list containing
    ``all`` draws every kind that fits (:func:`applicable`), other lists draw those kinds.  A
    kind that fails is recorded in ``errors``; it does not stop the others."""
    result = DrawResult()
    if kinds is None:
        chosen, result.skipped = choose(tables)
    elif ALL in kinds:
        chosen, result.skipped = applicable(tables)
    else:
        chosen = list(kinds)
    for name in chosen:
        try:
            result.figures[name] = draw(name, tables, out_dir)
        except Exception as ex:  # one figure failing must not lose the tables or the others
            result.errors[name] = one_line(ex)
            continue
        result.written += [Path(out_dir) / f"{name}.{ext}" for ext in (*EXTENSIONS, DATA_EXTENSION)]
    return result


__all__ = [
    "ALL",
    "alignment_curves",
    "bbp",
    "DATA_EXTENSION",
    "EXTENSIONS",
    "EsdSource",
    "FIGURES",
    "FigureNameError",
    "FrameEsd",
    "KINDS",
    "Kind",
    "DrawResult",
    "SweepTables",
    "applicable",
    "caption",
    "choose",
    "draw",
    "draw_all",
    "esd",
    "esd_grid",
    "grad_anatomy",
    "experiment_figures",
    "experiment_names",
    "histogram",
    "ht_noise",
    "layer_alpha",
    "layer_esd_grid",
    "linear_fit",
    "listed_figures",
    "loss_curves",
    "normalisation",
    "lr_sweep",
    "powerlaw_density",
    "representative_runs",
    "resolve_name",
    "resolve_names",
    "save",
    "scale_compare",
    "series_label",
    "subspace_angles",
    "update_norms",
]
