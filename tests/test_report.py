"""python -m htsweep.report: one self-contained report.html per sweep.

A damaged synthetic sweep (tests/sweep/synthetic.py: 8 jobs, of which two missing, one with a
corrupted metrics file, one with a corrupted esd file, one failed and one diverged) runs in the
fast suite; a real one (``python -m htsweep.train -m`` at toy size, 4 runs) in the slow tests.
The page is parsed with the standard library and compared with what is on disk; then it is
opened in a real headless chromium (tests/browser.py, scripts/chromium.sh), which must show
every image decoded, raise no script error, load nothing but the page itself, sort a table on a
click and open a run's diagnostics from its link.  The browser check itself is shown to catch a
broken image, a missing image file and a thrown error.
"""

from __future__ import annotations

import base64
import io
import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from htsweep import figures as figs
from htsweep.records import Status
from htsweep.report.cli import main as report_main
from htsweep.sweep.aggregate import aggregate
from htsweep.sweep.cli import main as aggregate_main
from tests.browser import Browser, chromium_binary, file_url
from tests.sweep.synthetic import config, grid_sweep, lr_grid_sweep, metric_row, write_run

TINY_RUN = ["device=cpu", "progress=false", "data.n=200", "data.d=50", "model.h=75", "steps=1"]
SHOT = (1280, 900)  # the browser viewport, CSS pixels at scale 1


# --------------------------------------------------------------------------------------------
# Reading the page


class Page(HTMLParser):
    """The parts of report.html the tests read: every table (by id) as header and rows of
    cell text, every image source, every link target, every element id and the ids of the
    runs' diagnostics (``details.diag``)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: Dict[str, Dict[str, List]] = {}
        self.images: List[str] = []
        self.links: List[str] = []
        self.ids: List[str] = []
        self.details: List[str] = []
        self._table: Optional[str] = None
        self._row: Optional[List[str]] = None
        self._cell: Optional[List[str]] = None
        self._in_head = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "table":
            self._table = str(a.get("id"))
            self.tables[self._table] = {"head": [], "rows": []}
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(str(a.get("src")))
        elif tag == "a" and a.get("href") is not None:
            self.links.append(str(a["href"]))
        elif tag == "details" and "diag" in str(a.get("class", "")).split():
            self.details.append(str(a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table]["head" if self._in_head else "rows"].append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def frame(self, table_id: str) -> pd.DataFrame:
        """A table as a frame of cell text."""
        t = self.tables[table_id]
        return pd.DataFrame(t["rows"], columns=t["head"][0])


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def disk_statuses(sweep: Path, jobs: int) -> Counter:
    """Each job's status as the files say, read here without htsweep: no folder -> missing,
    a metrics.parquet without a readable footer -> corrupted, else run.json's status."""
    out: Counter = Counter()
    for job in range(jobs):
        run = sweep / str(job)
        if not run.is_dir():
            out["missing"] += 1
            continue
        try:
            pq.read_metadata(run / "metrics.parquet")
        except Exception:
            out["corrupted"] += 1
            continue
        out[json.loads((run / "run.json").read_text())["status"]] += 1
    return out


def page_counts(page: Page) -> Counter:
    return Counter({r[0]: int(r[1]) for r in page.tables["status-counts"]["rows"]})


def decode_png(src: str) -> Image.Image:
    """A ``data:image/png;base64,...`` image, decoded fully (PIL raises on a broken one)."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    raw = base64.b64decode(src[len(prefix):], validate=True)
    Image.open(io.BytesIO(raw)).verify()
    im = Image.open(io.BytesIO(raw))
    im.load()
    assert im.format == "PNG"
    return im


def exit_status(argv: List[str]) -> int:
    """``python -m htsweep.report`` in this process: its exit status, also when argparse
    stops it (SystemExit)."""
    try:
        return report_main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


def files_under(folder: Path) -> Dict[str, Tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file below ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# A damaged synthetic sweep (milliseconds to make; its report takes seconds)

# (job, problem, file, overrides) the damaged sweep's problems table must list
DAMAGED_PROBLEMS = {
    (1, "missing", "", "lr=0.1 seed=2"),  # a gap: only multirun.yaml knows its overrides
    (2, "corrupted", "metrics.parquet", "lr=0.1 seed=3"),
    (3, "diverged", "run.json", "lr=0.1 seed=4"),
    (5, "failed", "run.json", "lr=1.0 seed=2"),
    (6, "corrupted", "esd.parquet", ""),  # completed: nothing to relaunch
    (7, "missing", "", "lr=1.0 seed=4"),  # past the last folder: multirun.yaml again
}
DAMAGED_CAP = 3  # its --max-diagnostics: 4 runs (0, 3, 4, 5) have metrics and eigenvalues


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lr {0.1, 1} x seed {1, 2, 3, 4}, 1 step, damaged as :data:`DAMAGED_PROBLEMS` says;
    report.html written by the command line in this process."""
    sweep = tmp_path_factory.mktemp("damaged") / "sweep"
    grid_sweep(sweep, {"lr": [0.1, 1.0]}, [1, 2, 3, 4], 1)
    for job in (1, 7):
        shutil.rmtree(sweep / str(job))
    metrics = sweep / "2" / "metrics.parquet"
    metrics.write_bytes(metrics.read_bytes()[:200])  # truncated: no footer
    (sweep / "6" / "esd.parquet").write_bytes(b"not a parquet file")
    write_run(sweep / "3", config(lr=0.1, seed=4, steps=1), [metric_row(0)], status=Status.diverged,
              diverged_at=1, overrides=["lr=0.1", "seed=4"])  # fmt: skip
    write_run(sweep / "5", config(lr=1.0, seed=2, steps=1), [metric_row(0)], status=Status.failed, overrides=["lr=1.0", "seed=2"])
    assert report_main([str(sweep), "--max-diagnostics", str(DAMAGED_CAP)]) == 0
    return sweep


def test_damaged_sweep_page_shows_counts_and_every_problem_with_its_overrides(damaged: Path, tmp_path: Path) -> None:
    page = read_page(damaged / "report.html")
    assert page_counts(page) == disk_statuses(damaged, 8) == Counter(completed=3, missing=2, corrupted=1, diverged=1, failed=1)
    probs = page.frame("problems-table")
    assert {(int(r.job), r.problem, r.file, r.overrides) for r in probs.itertuples()} == DAMAGED_PROBLEMS
    assert len(probs) == len(pd.read_csv(aggregate(damaged, figures=[], out=tmp_path).out_dir / "problems.csv"))
    runs = page.frame("runs-table").set_index("job")
    assert list(runs.index) == [str(j) for j in range(8)]
    assert dict(runs["status"]) == {"0": "completed", "1": "missing", "2": "corrupted", "3": "diverged",
                                    "4": "completed", "5": "failed", "6": "completed", "7": "missing"}  # fmt: skip
    assert runs.loc["5", "problems"] == "failed" and runs.loc["6", "problems"] == "corrupted"
    grid = page.frame("grid-axes").set_index("axis")
    assert list(grid.index) == ["lr"] and {float(v) for v in grid.loc["lr", "values"].split(",")} == {0.1, 1.0}


def test_damaged_sweep_diagnostics_links_and_cap(damaged: Path) -> None:
    path = damaged / "report.html"
    page = read_page(path)
    runs = page.frame("runs-table").set_index("job")
    # runs with readable metrics and eigenvalues: 0, 3, 4, 5; the cap keeps the first 3
    assert list(runs["esd_diagnostics"]) == [
        "ESD diagnostics", "none: needs a readable metrics.parquet and esd.parquet",
        "none: needs a readable metrics.parquet and esd.parquet", "ESD diagnostics", "ESD diagnostics",
        f"not drawn (--max-diagnostics {DAMAGED_CAP})", "none: needs a readable metrics.parquet and esd.parquet",
        "none: needs a readable metrics.parquet and esd.parquet",
    ]  # fmt: skip
    assert page.details == ["diag-0", "diag-3", "diag-4"]
    assert [h for h in page.links if h.startswith("#diag-")] == ["#diag-0", "#diag-3", "#diag-4"]
    text = path.read_text(encoding="utf-8")
    assert f"first {DAMAGED_CAP} of 4 runs with eigenvalues" in text and f"--max-diagnostics {DAMAGED_CAP} left out the other 1" in text


def test_every_embedded_image_is_a_png_and_every_fitting_kind_is_shown(damaged: Path, tmp_path: Path) -> None:
    path = damaged / "report.html"
    page = read_page(path)
    images = [decode_png(src) for src in page.images]
    fits, _ = figs.applicable(aggregate(damaged, figures=[], out=tmp_path).tables)
    shown = [i[len("fig-"):] for i in page.ids if i.startswith("fig-")]
    assert sorted(shown) == sorted(fits) and "lr_sweep" in shown and "esd" in shown
    assert len(images) == len(fits) + DAMAGED_CAP
    for im in images:  # moderate sizes: drawn at 150 dpi, embedded at 80
        assert 100 < im.width <= 1600 and 100 < im.height <= 2400
    assert path.stat().st_size < 1_500_000


def test_page_is_self_contained(damaged: Path) -> None:
    path = damaged / "report.html"
    page = read_page(path)
    text = path.read_text(encoding="utf-8")
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.links and all(h.startswith("#") and h[1:] in page.ids for h in page.links)  # in-page anchors only
    assert "http://" not in text and "https://" not in text and "<link" not in text and "<script src" not in text


def test_aggregate_table_has_every_row(damaged: Path, tmp_path: Path) -> None:
    agg = pd.read_parquet(aggregate(damaged, figures=[], out=tmp_path).out_dir / "aggregate.parquet")
    shown = read_page(damaged / "report.html").frame("aggregate-table")
    assert len(shown) == len(agg) == 4  # 2 learning rates x steps 0, 1 (completed runs 0 | 4, 6)
    assert {"lr", "step", "layer", "n_runs", "seeds", "train_loss_mean", "pl_alpha_ks_std"} <= set(shown.columns)
    got = {(float(r.lr), int(r.step)): (float(r.train_loss_mean), int(r.n_runs), r.seeds) for r in shown.itertuples()}
    for r in agg.itertuples():
        loss, n, seeds = got[(r.lr, r.step)]
        assert n == r.n_runs and seeds == r.seeds and math.isclose(loss, r.train_loss_mean, rel_tol=1e-3)
    assert sorted(n for _, n, _ in got.values()) == [1, 1, 2, 2]


def test_unreadable_sweep_gets_a_report_listing_its_problems(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path / "0", config(seed=1), [metric_row(0)], overrides=["seed=1"])
    (run / "metrics.parquet").write_bytes(b"PAR1 broken")
    assert report_main([str(tmp_path)]) == 1
    assert "no readable run" in capsys.readouterr().err
    page = read_page(tmp_path / "report.html")
    assert page_counts(page) == Counter(corrupted=1)
    assert [(r[0], r[2], r[5]) for r in page.tables["problems-table"]["rows"]] == [("0", "corrupted", "seed=1")]
    assert page.images == [] and not any(i.startswith("fig-") for i in page.ids)


# --------------------------------------------------------------------------------------------
# Bad input


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    proc = subprocess.run([sys.executable, "-m", "htsweep.report", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"python -m htsweep.report: error: sweep folder {tmp_path / 'nope'} does not exist or is not a folder"]
    assert not (tmp_path / "nope").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a run")
    sweep = lr_grid_sweep(tmp_path / "sweep")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    before = files_under(tmp_path)
    cases = [
        ([str(empty)], "no runs under"),
        ([str(sweep), "--out", str(a_file)], "exists and is not a folder"),
        ([str(sweep), "--max-diagnostics", "-1"], "--max-diagnostics must be >= 0, got -1"),
        ([str(sweep), "--max-diagnostics", "many"], "--max-diagnostics: invalid int value: 'many'"),
        ([str(sweep), "--dpi", "0"], "--dpi must be > 0, got 0.0"),
    ]
    for argv, message in cases:
        assert exit_status(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    assert aggregate_main([str(sweep), "--report", "--dpi", "0"]) == 2
    assert capsys.readouterr().err.splitlines() == ["python -m htsweep.aggregate: error: --dpi must be > 0, got 0.0"]
    assert files_under(tmp_path) == before  # nothing written, nothing touched


# --------------------------------------------------------------------------------------------
# A real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    pytest.importorskip("websocket", reason="websocket-client (the test extra) drives chromium")
    with Browser(chromium_binary()) as b:
        yield b


def assert_screenshot(png: bytes) -> None:
    """A PNG of the viewport's size that shows something: many colours, not all white."""
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG" and im.size == SHOT
    grey = im.convert("L")
    dark = sum(grey.histogram()[:200]) / (im.width * im.height)
    assert dark > 0.01, f"only {dark:.1%} of the screenshot is not near-white"
    assert len(im.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50


def check_in_browser(browser: Browser, path: Path) -> None:
    """The page in chromium: no script or load error, every image decoded, no request but the
    page itself (and its data: URIs), a non-blank screenshot of the viewport."""
    tab = browser.open(file_url(path), *SHOT)
    got = tab.check()
    tab.close()
    assert got.errors == []
    assert len(got.images) == len(read_page(path).images) > 0 and got.broken_images == []
    assert all(i["naturalWidth"] > 0 and i["naturalHeight"] > 0 for i in got.images)
    assert all(u == got.url or u.startswith("data:") for u in got.requests), got.requests
    assert_screenshot(got.screenshot)


def test_damaged_report_in_headless_chromium(damaged: Path, browser: Browser) -> None:
    check_in_browser(browser, damaged / "report.html")


def test_header_click_sorts_and_run_link_opens_diagnostics_in_chromium(damaged: Path, browser: Browser) -> None:
    path = damaged / "report.html"
    tab = browser.open(file_url(path), *SHOT)
    column = read_page(path).tables["aggregate-table"]["head"][0].index("step")  # rows come by lr, then step
    values = (
        "Array.from(document.querySelectorAll('#aggregate-table tbody tr'))"
        f".map(function (r) {{ return Number(r.cells[{column}].textContent); }})"
    )
    header = f"document.querySelectorAll('#aggregate-table thead th')[{column}]"
    before = tab.evaluate(values)
    up = tab.evaluate(f"{header}.click(); {values}")
    down = tab.evaluate(f"{header}.click(); {values}")
    assert before == [0, 1, 0, 1] and up == [0, 0, 1, 1] and down == [1, 1, 0, 0]
    assert tab.evaluate("document.getElementById('diag-3').open") is False
    opened = tab.evaluate(
        "document.querySelector('#runs-table a[href=\"#diag-3\"]').click();"
        "new Promise(function (r) { setTimeout(function () { r(document.getElementById('diag-3').open); }, 200); })"
    )
    assert opened is True
    assert tab.check().errors == []
    tab.close()


def test_browser_check_catches_a_broken_image_and_a_script_error(damaged: Path, browser: Browser, tmp_path: Path) -> None:
    """The checks above are not vacuous: a page with a truncated PNG, a missing image file and
    a thrown error fails each of them, while its good image (one of the report's) passes."""
    good = read_page(damaged / "report.html").images[0]
    bad = tmp_path / "bad.html"
    bad.write_text(
        f'<!DOCTYPE html><html><body><h1>broken</h1><img id="good" src="{good}">'
        f'<img id="cut" src="{good[:200]}"><img id="gone" src="missing.png">'
        '<script>throw new Error("deliberate failure");</script></body></html>',
        encoding="utf-8",
    )
    with pytest.raises(AssertionError):
        check_in_browser(browser, bad)
    tab = browser.open(file_url(bad), *SHOT)
    got = tab.check()
    tab.close()
    assert any("deliberate failure" in e for e in got.errors), got.errors
    assert any("missing.png" in e for e in got.errors), got.errors
    assert [i["src"][:20] for i in got.broken_images] == [good[:20], "missing.png"]
    assert len(got.images) == 3 and got.images[0]["naturalWidth"] > 0
    assert any(u.endswith("/missing.png") for u in got.requests)
    only_error = tmp_path / "only_error.html"  # every image fine: the thrown error alone is caught
    only_error.write_text(f'<html><body><img src="{good}"><script>null.x;</script></body></html>', encoding="utf-8")
    tab = browser.open(file_url(only_error), *SHOT)
    got = tab.check()
    tab.close()
    assert got.broken_images == [] and len(got.errors) == 1 and "TypeError" in got.errors[0]


# --------------------------------------------------------------------------------------------
# A real sweep (slow: real training runs)


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lr {0.1, 1} x seed {1, 2} of the real tool, 1 step at toy size: 4 runs."""
    root = tmp_path_factory.mktemp("real")
    sweep = root / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "htsweep.train", "-m", *TINY_RUN, "lr=0.1,1", "seed=1,2", f"hydra.sweep.dir={sweep}"],
        cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sweep


@pytest.fixture(scope="module")
def real_report(real_sweep: Path) -> Tuple[subprocess.CompletedProcess, Path, Dict[str, Tuple[int, int]]]:
    """``python -m htsweep.report`` on the real sweep: (process, report.html, the sweep's
    files before)."""
    before = files_under(real_sweep)
    proc = subprocess.run([sys.executable, "-m", "htsweep.report", str(real_sweep)], capture_output=True, text=True, timeout=600)
    return proc, real_sweep / "report.html", before


@pytest.mark.slow
def test_real_sweep_report(real_sweep: Path, real_report, tmp_path: Path) -> None:
    proc, path, before = real_report
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"wrote {path} ")
    assert files_under(real_sweep).keys() - before.keys() == {"report.html"}  # nothing else written
    page = read_page(path)
    assert page_counts(page) == disk_statuses(real_sweep, 4) == Counter(completed=4)
    assert "problems-table" not in page.tables and "no-problems" in page.ids
    runs = page.frame("runs-table")
    assert list(runs["run_dir"]) == ["0", "1", "2", "3"]
    for job, r in runs.iterrows():
        rec = json.loads((real_sweep / str(job) / "run.json").read_text())
        assert r["status"] == rec["status"] and r["device"] == rec["device"] == "cpu"
        assert float(r["wall_s"]) == pytest.approx(rec["wall_seconds"], abs=0.005)
        assert int(r["steps_done"]) == rec["steps_done"] and int(r["steps_requested"]) == rec["steps_requested"] == 1
    assert list(runs["esd_diagnostics"]) == ["ESD diagnostics"] * 4 and page.details == [f"diag-{i}" for i in range(4)]
    assert "ESD diagnostics of all 4 runs with eigenvalues" in path.read_text(encoding="utf-8")
    agg = pd.read_parquet(aggregate(real_sweep, figures=[], out=tmp_path).out_dir / "aggregate.parquet")
    shown = page.frame("aggregate-table")
    assert len(shown) == len(agg) == 4
    got = {(float(r.lr), int(r.step)): float(r.train_loss_mean) for r in shown.itertuples()}
    assert all(math.isclose(got[(r.lr, r.step)], r.train_loss_mean, rel_tol=1e-3) for r in agg.itertuples())
    for src in page.images:
        decode_png(src)


@pytest.mark.slow
def test_real_report_in_headless_chromium(real_report, browser: Browser) -> None:
    check_in_browser(browser, real_report[1])


@pytest.mark.slow
def test_aggregate_report_writes_the_same_file(real_sweep: Path, real_report, tmp_path: Path) -> None:
    """``aggregate --report`` reuses the figures it drew: the page is the same bytes."""
    out = tmp_path / "agg"
    assert aggregate_main([str(real_sweep), "--report", "--out", str(out)]) == 0
    assert (out / "aggregate.parquet").exists() and (out / "figures" / "lr_sweep.png").exists()
    assert (out / "report.html").read_bytes() == real_report[1].read_bytes()
