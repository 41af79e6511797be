"""The report as one self-contained HTML page: inline CSS, a small inline script (sortable
tables, opening a run's diagnostics when a link targets it), images as ``data:`` URIs.  No
network, no external file: it opens from disk in any browser, and reads without the script
(every table row and image is in the markup).

Tables are rendered a column at a time with vectorised string operations (no Python loop
over cells), so a large aggregate table costs little.  The page carries no timestamp: the
same sweep gives the same bytes.
"""

from __future__ import annotations

import functools
import html
import operator
from typing import Iterable, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from htsweep.report.content import Diagnostic, FigureImage, ReportContent

FLOAT_FORMAT = "%.4g"

CSS = """
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa; --bad: #b3261e; --warn: #8a5a00; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; padding: 0 1.5rem 3rem; max-width: 1500px; }
header { border-bottom: 1px solid var(--line); padding: 1rem 0 .5rem; margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
code, .path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.path { color: var(--muted); word-break: break-all; }
nav a { margin-right: 1rem; }
.note { color: var(--muted); }
.scroll { overflow-x: auto; max-height: 70vh; overflow-y: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ov code { white-space: pre-wrap; word-break: break-all; }
.st { font-weight: 600; }
.st-completed { color: var(--ok); }
.st-failed, .st-corrupted, .st-missing { color: var(--bad); }
.st-diverged, .st-incomplete, .st-interrupted, .st-empty, .st-running { color: var(--warn); }
figure { margin: 1rem 0 2rem; }
figure img, details.diag img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { margin-bottom: .25rem; }
p.error, .error > summary { color: var(--bad); }
details.diag { margin: .25rem 0; }
details.diag > summary { cursor: pointer; }
button { font: inherit; margin-right: .5rem; }
"""

SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    var text = cell ? cell.textContent.trim() : "";
    if (text === "") { return null; }
    var n = Number(text);
    return isNaN(n) ? text : n;
  }
  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }
  function sortBy(table, th, col) {
    var heads = table.tHead.rows[0].cells;
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, i) { return [key(row.cells[col]), i, row]; });
    rows.sort(function (x, y) {
      if (x[0] === null || y[0] === null) {  /* blanks last, either direction */
        return (x[0] === null) - (y[0] === null) || x[1] - y[1];
      }
      return dir * compare(x[0], y[0]) || x[1] - y[1];
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r[2]); });
    body.appendChild(frag);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.title = "click to sort";
      th.addEventListener("click", function () { sortBy(table, th, col); });
    });
  });
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === "DETAILS") { el.open = true; el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  Array.prototype.forEach.call(document.querySelectorAll("button[data-open]"), function (b) {
    b.addEventListener("click", function () {
      var open = b.getAttribute("data-open") === "1";
      Array.prototype.forEach.call(document.querySelectorAll("details.diag"), function (d) { d.open = open; });
    });
  });
})();
"""


# --------------------------------------------------------------------------------------------
# Cells and tables


def esc(text: object) -> str:
    """One value as HTML text (quotes escaped too: safe inside attributes)."""
    return html.escape(str(text), quote=True)


def escape(values: pd.Series) -> pd.Series:
    """A string Series as HTML text, vectorised (``&``, ``<``, ``>``, quotes)."""
    out = values.astype("string").fillna("")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        out = out.str.replace(char, entity, regex=False)
    return out.astype(object)


def is_number(values: pd.Series) -> bool:
    """Numeric and not boolean: shown right-aligned, formatted."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def cell_text(values: pd.Series, fmt: Optional[str] = None) -> pd.Series:
    """A column's cells as HTML text: floats with ``fmt`` (default :data:`FLOAT_FORMAT`),
    integers as integers, missing values blank, everything else escaped."""
    if pd.api.types.is_bool_dtype(values):
        return escape(values.map({True: "true", False: "false"}))
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64").astype("string").fillna("").astype(object)
    if is_number(values):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        text = np.char.mod(fmt or FLOAT_FORMAT, arr)
        return pd.Series(np.where(np.isnan(arr), "", text), index=values.index, dtype=object)
    return escape(values)


def table(
    df: pd.DataFrame,
    table_id: str,
    *,
    sortable: bool = True,
    raw: Optional[Mapping[str, pd.Series]] = None,
    formats: Optional[Mapping[str, str]] = None,
    cell_class: Optional[Mapping[str, str]] = None,
) -> str:
    """``df`` as an HTML table with id ``table_id``.  ``raw``: columns given as HTML already
    (links, code), replacing those of ``df``; ``formats``: printf formats of float columns;
    ``cell_class``: a class for the cells of some columns (numbers get ``n``)."""
    raw = dict(raw or {})
    formats, cell_class = dict(formats or {}), dict(cell_class or {})
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in df.columns)
    cells: List[pd.Series] = []
    for c in df.columns:
        text = raw[c] if c in raw else cell_text(df[c], formats.get(c))
        cls = cell_class.get(c) or ("n" if c not in raw and is_number(df[c]) else "")
        opening = f'<td class="{cls}">' if cls else "<td>"
        cells.append(opening + pd.Series(text, index=df.index).astype(object) + "</td>")
    rows = "\n".join(("<tr>" + functools.reduce(operator.add, cells) + "</tr>").tolist()) if cells and len(df) else ""
    cls = ' class="sortable"' if sortable else ""
    return f'<div class="scroll"><table id="{esc(table_id)}"{cls}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table></div>'


def status_html(values: pd.Series) -> pd.Series:
    """Status names as coloured spans (class ``st-<status>``)."""
    text = escape(values)
    return '<span class="st st-' + text + '">' + text + "</span>"


def code_html(values: pd.Series) -> pd.Series:
    """Values in ``<code>`` (blank stays blank)."""
    text = escape(values)
    return pd.Series(np.where(text != "", "<code>" + text + "</code>", ""), index=values.index, dtype=object)


# --------------------------------------------------------------------------------------------
# Sections


def _counts_line(content: ReportContent) -> str:
    total = int(content.counts["runs"].sum())
    parts = ", ".join(f"{n} {esc(s)}" for s, n in zip(content.counts["status"], content.counts["runs"]))
    expected = f" ({content.expected_jobs} expected from multirun.yaml)" if content.expected_jobs is not None else ""
    return f"{total} runs{expected}: {parts}"


def header(content: ReportContent) -> str:
    axes = " &times; ".join(f"<code>{esc(a)}</code>" for a in content.grid["axis"]) or "one grid point"
    links = [("runs-summary", "runs"), ("grid", "grid"), ("problems", "problems"), ("figures", "figures"),
             ("aggregate", "aggregate table"), ("runs", "per run"), ("diagnostics", "ESD diagnostics")]  # fmt: skip
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in links)
    return (
        f"<header><h1>htsweep report</h1>\n<p class=\"path\">{esc(content.sweep_dir)}</p>\n"
        f"<p>{_counts_line(content)}; grid: {axes}; htsweep {esc(content.version)}</p>\n<nav>{nav}</nav></header>"
    )


def runs_summary(content: ReportContent) -> str:
    body = table(content.counts, "status-counts", sortable=False, raw={"status": status_html(content.counts["status"])})
    return f'<section id="runs-summary"><h2>Runs by status</h2>\n<p>{_counts_line(content)}</p>\n{body}</section>'


def grid_section(content: ReportContent) -> str:
    shared = f"<p>Settings every run shares: <code>{esc(content.shared)}</code></p>" if content.shared else ""
    if content.grid.empty:
        body = "<p>The sweep has one grid point (nothing but the seeds varies).</p>"
    else:
        body = table(content.grid, "grid-axes", sortable=False, raw={"axis": code_html(content.grid["axis"])})
    return f'<section id="grid"><h2>Grid</h2>\n{body}\n{shared}</section>'


def problems_section(content: ReportContent) -> str:
    p = content.problems
    if p.empty:
        return '<section id="problems"><h2>Problems</h2>\n<p id="no-problems">None: every run completed.</p></section>'
    raw = {"problem": status_html(p["problem"]), "overrides": code_html(p["overrides"])}
    note = (
        "<p class=\"note\"><code>overrides</code> are the job's command-line overrides: run "
        "<code>python -m htsweep.train OVERRIDES hydra.run.dir=RUN_DIR</code> to relaunch one job, or relaunch the "
        "whole sweep into the same <code>hydra.sweep.dir</code> (completed runs are skipped).</p>"
    )
    body = table(p, "problems-table", raw=raw, cell_class={"overrides": "ov"})
    return f'<section id="problems"><h2>Problems ({len(p)})</h2>\n{note}\n{body}</section>'


def figure_html(fig: FigureImage) -> str:
    caption = f"<figcaption><strong>{esc(fig.kind)}</strong> &mdash; {esc(fig.doc)}</figcaption>"
    if fig.uri is None:
        return f'<figure id="fig-{esc(fig.kind)}" class="error">{caption}<p class="error">could not be drawn: {esc(fig.error)}</p></figure>'
    return f'<figure id="fig-{esc(fig.kind)}">{caption}<img src="{fig.uri}" alt="{esc(fig.kind)}"></figure>'


def figures_section(content: ReportContent) -> str:
    shown = "\n".join(figure_html(f) for f in content.figures) or "<p>No figure kind fits this sweep.</p>"
    skipped = ""
    if content.skipped_figures:
        items = "".join(f"<li><code>{esc(k)}</code>: {esc(why)}</li>" for k, why in content.skipped_figures.items())
        skipped = f"<details><summary>{len(content.skipped_figures)} kinds do not fit this sweep</summary><ul>{items}</ul></details>"
    return f'<section id="figures"><h2>Figures ({len(content.figures)})</h2>\n{skipped}\n{shown}</section>'


def aggregate_section(content: ReportContent) -> str:
    a = content.aggregate
    note = (
        f"<p class=\"note\">{len(a)} rows (one per grid point, step and layer; mean and std over seeds). "
        f"Click a column header to sort. The {len(a.columns)} columns shown are a selection of the "
        f"{content.aggregate_columns} of <code>aggregate.parquet</code> (<code>python -m htsweep.aggregate</code> writes it).</p>"
    )
    body = table(a, "aggregate-table") if len(a.columns) else "<p>No run was averaged.</p>"
    return f'<section id="aggregate"><h2>Aggregate table</h2>\n{note}\n{body}</section>'


def runs_section(content: ReportContent, diagnostics: Sequence[Diagnostic]) -> str:
    r = content.runs
    shown = {d.anchor for d in diagnostics if d.uri is not None}
    link = '<a href="#' + r["anchor"] + '">ESD diagnostics</a>'
    diag = pd.Series(np.where(r["anchor"].isin(shown), link, escape(r["esd_diagnostics"])), index=r.index, dtype=object)
    view = r.drop(columns=["anchor"])
    raw = {"status": status_html(view["status"]), "run_dir": code_html(view["run_dir"]), "esd_diagnostics": diag}
    body = table(view, "runs-table", raw=raw, formats={"wall_s": "%.2f"})
    return f'<section id="runs"><h2>Per run ({len(r)})</h2>\n{body}</section>'


def diagnostic_html(d: Diagnostic) -> str:
    summary = f"<summary><code>{esc(d.run_dir)}</code> &middot; {esc(d.status)}"
    if d.uri is None:
        return f'<details id="{esc(d.anchor)}" class="diag error">{summary}: could not be drawn</summary><p class="error">{esc(d.error)}</p></details>'
    return f'<details id="{esc(d.anchor)}" class="diag">{summary}</summary><img src="{d.uri}" alt="ESD diagnostics of {esc(d.run_dir)}"></details>'


def diagnostics_section(content: ReportContent) -> str:
    buttons = '<p><button type="button" data-open="1">open all</button><button type="button" data-open="0">close all</button></p>'
    items = "\n".join(diagnostic_html(d) for d in content.diagnostics)
    note = f'<p class="note" id="diagnostics-note">{esc(content.diagnostics_note)}</p>'
    return f'<section id="diagnostics"><h2>ESD diagnostics per run</h2>\n{note}\n{buttons if items else ""}\n{items}</section>'


def render(content: ReportContent) -> str:
    """The whole page."""
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in content.notes)
    sections: Iterable[str] = (
        header(content),
        notes,
        runs_summary(content),
        grid_section(content),
        problems_section(content),
        figures_section(content),
        aggregate_section(content),
        runs_section(content, content.diagnostics),
        diagnostics_section(content),
    )
    title = f"htsweep report: {content.sweep_dir.name or content.sweep_dir}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
