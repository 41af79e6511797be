"""The command line ``python -m htsweep.aggregate SWEEP_DIR`` and the optional Hydra callback
that aggregates a sweep when its multirun ends (``hydra/callbacks=aggregate``).

Exit status: 0 when the tables were written (even with problems), 1 when no run could be read,
2 for a usage error (no such folder, an unknown figure name, exclusive flags).  ``--report``
also writes the sweep's report.html (:mod:`htsweep.report`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.experimental.callback import Callback

from htsweep import figures as figs
from htsweep.records import Status
from htsweep.report.build import REPORT_FILE, ReportError, check_options, write_report
from htsweep.report.cli import add_report_options
from htsweep.sweep.aggregate import AggregateError, aggregate

PROG = "python -m htsweep.aggregate"


def parser() -> argparse.ArgumentParser:
    """The command line's arguments (``--help`` lists the figure kinds and experiments)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Aggregate a sweep of htsweep.train runs: summary.parquet, aggregate.parquet "
            "(mean/std/count over seeds per grid point, step and layer), problems.csv/.parquet "
            "(missing, failed, diverged, corrupted runs) and the figures that fit the sweep "
            "(figures/*.png|pdf|csv)."
        ),
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun folder, e.g. multirun/fig5/2025-01-01/12-00-00")
    p.add_argument(
        "--figure",
        metavar="NAME",
        nargs="+",
        action="extend",
        help=(
            f"draw these figures instead of the sweep's own; kinds: {', '.join(figs.KINDS)}; "
            f"experiments (their YAML's figures): {', '.join(figs.experiment_names())}; "
            f"{figs.ALL}: every kind that fits. Default: the figures listed in the sweep's config "
            "(its experiment YAML), else every kind that fits what varies"
        ),
    )
    p.add_argument("--no-figures", action="store_true", help="write the tables only")
    p.add_argument("--out", metavar="DIR", help="output folder (default: SWEEP_DIR)")
    p.add_argument(
        "--include-diverged",
        action="store_true",
        help="average diverged runs' rows (their steps before divergence) too",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help=f"also write {REPORT_FILE} (python -m htsweep.report), reusing the figures drawn here",
    )
    add_report_options(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv); returns the exit status."""
    args = parser().parse_args(argv)
    if args.no_figures and args.figure:
        print(f"{PROG}: error: --figure and --no-figures exclude each other", file=sys.stderr)
        return 2
    statuses = (Status.completed.value, Status.diverged.value) if args.include_diverged else (Status.completed.value,)
    try:
        if args.report:
            check_options(Path(args.out).resolve() if args.out else None, args.max_diagnostics, args.dpi)
        result = aggregate(args.sweep_dir, figures=[] if args.no_figures else args.figure, out=args.out, statuses=statuses)
    except (AggregateError, figs.FigureNameError, ReportError) as ex:
        print(f"{PROG}: error: {ex}", file=sys.stderr)
        return 2
    print(result.report())
    if args.report:
        print(write_report(result, max_diagnostics=args.max_diagnostics, dpi=args.dpi).line())
    if result.summary.empty:
        print(f"{PROG}: no readable run in the sweep", file=sys.stderr)
        return 1
    return 0


class AggregateCallback(Callback):
    """Optional Hydra callback: aggregate the sweep when the multirun ends.

        python -m htsweep.train -m ... hydra/callbacks=aggregate

    Hydra 1.3 calls ``on_multirun_end`` only when every job succeeded, so this is a
    convenience; ``python -m htsweep.aggregate SWEEP_DIR`` stays the way to aggregate a sweep
    with failed, missing or still-running points.  An aggregation error is printed, never
    raised (the runs' results are safe; only the tables are missing)."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            print(aggregate(sweep_dir).report(), file=sys.stderr)
        except Exception as ex:  # never fail a finished sweep over its summary
            print(f"{PROG}: could not aggregate {sweep_dir}: {ex}", file=sys.stderr)
