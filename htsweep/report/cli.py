"""The command line ``python -m htsweep.report SWEEP_DIR``: one self-contained report.html.

Exit status: 0 when the page was written, 1 when it was written but no run could be read (it
then lists what is wrong with each), 2 for bad input (no such folder, not a sweep, a bad
option), with one line on stderr and nothing written.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Optional, Sequence

from htsweep.records import Status
from htsweep.report.build import DEFAULT_MAX_DIAGNOSTICS, REPORT_FILE, ReportError, report
from htsweep.report.images import DEFAULT_DPI
from htsweep.sweep.aggregate import AggregateError

PROG = "python -m htsweep.report"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_report_options(p: argparse.ArgumentParser) -> None:
    """The options the report shares with ``python -m htsweep.aggregate --report``."""
    p.add_argument(
        "--max-diagnostics",
        metavar="N",
        type=int,
        default=DEFAULT_MAX_DIAGNOSTICS,
        help=f"embed the ESD diagnostics of at most N runs (job order; default {DEFAULT_MAX_DIAGNOSTICS}); "
        "the page says how many the cap left out",
    )
    p.add_argument(
        "--dpi",
        type=float,
        default=DEFAULT_DPI,
        help=f"resolution of the embedded images (default {DEFAULT_DPI}; the PNG files are drawn at 150)",
    )


def parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    p = OneLineParser(
        prog=PROG,
        description=(
            f"Write one self-contained {REPORT_FILE} for a sweep (or a single run folder): run counts by "
            "status, the grid, the problems with the overrides to relaunch each, every figure that fits "
            "the sweep, the aggregate table (sortable), and per run its status, wall time, device and "
            "ESD diagnostics.  Images are embedded; the page needs no network."
        ),
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun folder or a single run folder")
    p.add_argument("--out", metavar="DIR", help=f"folder for {REPORT_FILE} (default: SWEEP_DIR)")
    p.add_argument(
        "--include-diverged",
        action="store_true",
        help="average diverged runs' rows (their steps before divergence) too, as aggregate does",
    )
    add_report_options(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv); returns the exit status."""
    args = parser().parse_args(argv)
    statuses = (Status.completed.value, Status.diverged.value) if args.include_diverged else (Status.completed.value,)
    try:
        result = report(args.sweep_dir, args.out, max_diagnostics=args.max_diagnostics, dpi=args.dpi, statuses=statuses)
    except (AggregateError, ReportError) as ex:
        print(f"{PROG}: error: {ex}", file=sys.stderr)
        return 2
    print(result.line())
    if result.aggregate.summary.empty:
        print(f"{PROG}: no readable run in the sweep (the report lists the problems)", file=sys.stderr)
        return 1
    return 0
