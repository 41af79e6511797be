"""``python -m htsweep.report SWEEP_DIR``: the sweep's self-contained report.html."""

import sys

from htsweep.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
