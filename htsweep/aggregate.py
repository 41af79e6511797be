"""``python -m htsweep.aggregate SWEEP_DIR``: one sweep's runs -> tables, a problem list and
figures.  The work lives in :mod:`htsweep.sweep` (discover -> read -> tables -> write ->
figures); this module is the entry point and keeps the public names.
"""

import sys

from htsweep.sweep.aggregate import AggregateError, AggregateResult, aggregate
from htsweep.sweep.cli import AggregateCallback, main

__all__ = ["AggregateCallback", "AggregateError", "AggregateResult", "aggregate", "main"]

if __name__ == "__main__":
    sys.exit(main())
