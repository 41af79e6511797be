"""The few lines a single run prints on stderr when it ends: its status, where its outputs
are, the key metrics at step 0 and at the last probed step, and the command that draws its
figures.  Read back from the files the run wrote (run.json, metrics.parquet), so it shows
what is on disk, and works on any run directory (``python -m htsweep.records.summary DIR``)."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import pyarrow.parquet as pq

from htsweep.records.io import read_record
from htsweep.records.schema import METRICS_FILE

# (column, header, format) of the summary table, in order; columns a run lacks are left out.
COLUMNS = (
    ("train_loss", "train_loss", "{:.4g}"),
    ("test_loss", "test_loss", "{:.4g}"),
    ("sim_w_beta", "sim(W,beta)", "{:.3f}"),
    ("pl_alpha_hill", "alpha_Hill", "{:.3f}"),
    ("pl_alpha_ks", "alpha_KS", "{:.3f}"),
    ("mp_fit_num_spikes", "spikes", "{:.0f}"),
    ("esd_phase", "esd_phase", "{}"),
)


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def metrics_table(out_dir: Path) -> List[str]:
    """Rows at step 0 and at the last step of the first layer, aligned; [] without metrics."""
    path = Path(out_dir) / METRICS_FILE
    if not path.exists():
        return []
    table = pq.read_table(path)
    have = set(table.column_names)
    cols = [c for c in COLUMNS if c[0] in have]
    frame = table.select([c for c in ("step", "layer") if c in have] + [c[0] for c in cols]).to_pandas()
    if frame.empty:
        return []
    if "layer" in frame.columns:
        frame = frame[frame["layer"] == frame["layer"].iloc[0]]
    steps = sorted({int(frame["step"].min()), int(frame["step"].max())})
    header = ["step", *[c[1] for c in cols]]
    rows = [header]
    for step in steps:
        r = frame[frame["step"] == step].iloc[0]
        rows.append([str(step), *[_cell(r[c], fmt) for c, _, fmt in cols]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]


def run_summary(out_dir: Path) -> str:
    """The summary text of the run in ``out_dir`` (module docstring)."""
    out_dir = Path(out_dir)
    record = read_record(out_dir)
    if record is None:
        return f"htsweep: no readable run record in {out_dir}"
    status = record.get("status", "?")
    wall = record.get("wall_seconds")
    steps = f"{record.get('steps_done', '?')}/{record.get('steps_requested', '?')} steps"
    head = f"htsweep: {status} ({steps}" + (f", {wall:.1f} s" if isinstance(wall, (int, float)) else "") + f") -> {out_dir}"
    lines = [head]
    if record.get("error"):
        lines.append(f"  error: {str(record['error']).splitlines()[0]}")
    if record.get("diverged_at_step") is not None:
        lines.append(f"  diverged at step {record['diverged_at_step']}")
    if record.get("stopped_at_step") is not None:
        lines.append(f"  stopped at step {record['stopped_at_step']} (the stop rule was met)")
    layers = record.get("layers") or []
    table = metrics_table(out_dir)
    if table:
        if len(layers) > 1:
            lines.append(f"  layer {layers[0]} (of {len(layers)}):")
        lines += [f"  {row}" for row in table]
    lines.append(f"  figures: python -m htsweep.aggregate {shlex.quote(str(out_dir))}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m htsweep.records.summary RUN_DIR", file=sys.stderr)
        return 2
    print(run_summary(Path(args[0])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
