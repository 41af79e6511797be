"""``python -m htsweep.status SWEEP_DIR [--watch [SECONDS]] [--all]``: where a running or
finished sweep stands (local or Slurm): jobs per status, the slowest points, the failed,
diverged and unfinished points with the overrides that relaunch them, the time since the
first run started and an estimated finish (:mod:`htsweep.sweep.status`).

``--watch`` clears the screen and prints it again every SECONDS (default 10) until no job is
running or waiting to start, or Ctrl-C.  Exit status: 0; 2 for a usage error (no such folder,
a folder that is not a sweep, a bad argument), with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import NoReturn, Optional, Sequence, TextIO

from htsweep.sweep.status import StatusError, report, sweep_status

PROG = "python -m htsweep.status"
WATCH_S = 10.0
CLEAR = "\033[2J\033[H"  # clear the screen, cursor to the top left


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), like the other htsweep commands."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    p = _Parser(
        prog=PROG,
        description=(
            "Where a sweep of htsweep.train runs stands: jobs per status, the slowest points, the "
            "failed / diverged / unfinished points with the overrides that relaunch them, the time "
            "since the first run started and an estimated finish. Reads run.json, parquet footers "
            "and claims only."
        ),
    )
    p.add_argument("sweep_dir", metavar="SWEEP_DIR", help="a multirun folder, e.g. multirun/fig5/2025-01-01/12-00-00")
    p.add_argument(
        "--watch",
        metavar="SECONDS",
        nargs="?",
        const=WATCH_S,
        type=_seconds,
        help=f"print it again every SECONDS (default {WATCH_S:g}) until no job runs or waits, or Ctrl-C",
    )
    p.add_argument("--all", action="store_true", help="list every job (by default each list stops after 20)")
    return p


def show(sweep_dir: str, show_all: bool = False, out: Optional[TextIO] = None, clear: bool = False) -> bool:
    """Print the sweep's status once to ``out`` (default stdout; after clearing the screen when
    ``clear``); returns whether the sweep is finished.  Raises StatusError for a folder that is
    not a sweep."""
    out = sys.stdout if out is None else out
    st = sweep_status(sweep_dir)
    text = report(st, show_all=show_all)
    out.write((CLEAR if clear else "") + text + "\n")
    out.flush()
    return st.finished


def watch(sweep_dir: str, interval: float, show_all: bool = False, out: Optional[TextIO] = None) -> None:
    """:func:`show` every ``interval`` seconds until the sweep is finished (Ctrl-C ends it
    too).  The screen is cleared first on a terminal; a log gets the reports one after another."""
    out = sys.stdout if out is None else out
    clear = bool(getattr(out, "isatty", lambda: False)())
    try:
        while not show(sweep_dir, show_all, out, clear):
            time.sleep(interval)
            if not clear:
                out.write("\n")
    except KeyboardInterrupt:
        out.write("\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv); returns the exit status."""
    args = parser().parse_args(argv)
    try:
        if args.watch is None:
            show(args.sweep_dir, args.all)
        else:
            watch(args.sweep_dir, args.watch, args.all)
    except StatusError as ex:
        print(f"{PROG}: error: {ex}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
