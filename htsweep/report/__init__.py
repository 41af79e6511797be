"""A sweep's self-contained HTML report, ``python -m htsweep.report SWEEP_DIR``.

One file, ``report.html``: the run counts by status, the grid, the problems with the overrides
that relaunch each, every figure kind that fits the sweep, the aggregate table (sortable), and
per run its status, wall time, device and ESD diagnostics; images are embedded as base64 PNG,
there is no network access and no external script or style sheet.  One job per module:

* :mod:`.content` - the page's tables (counts, grid, runs, the aggregate view);
* :mod:`.draw`    - the figures, through the figures registry, and one diagnostics figure per run;
* :mod:`.images`  - PNG files shrunk and encoded as ``data:`` URIs;
* :mod:`.page`    - the HTML (inline CSS and script);
* :mod:`.build`   - aggregate, draw, render, write atomically (:func:`report`, :func:`write_report`);
* :mod:`.cli`     - the command line.
"""

from htsweep.report.build import DEFAULT_MAX_DIAGNOSTICS, REPORT_FILE, ReportError, ReportResult, report, write_report

__all__ = ["DEFAULT_MAX_DIAGNOSTICS", "REPORT_FILE", "ReportError", "ReportResult", "report", "write_report"]
