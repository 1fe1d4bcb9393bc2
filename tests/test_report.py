"""The class report ``report.html`` for a class of 4 and of 2,000 (tests/report_class.py):
the charts' SVG read back (counts on integer ticks, bars as long as the counts and rates made
here from the results, every label in full and a font size from the next), SVG with nothing
to fetch and no matplotlib imported, a per-student row saying who timed out, crashed and has
which misconception, and, in real headless Chromium at 1920×1080, a page that keeps to the
window's width with no chart drawn over another and no text of a chart on another or outside it."""
from __future__ import annotations

import base64
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from autograder.pages.report import (CHART_ROWS, misconception_chart, pass_rate_chart, render, score_histogram,
                                     summarise, write_report)
from report_class import class_results

ROOT = Path(__file__).resolve().parent.parent


def _truth(results: list) -> dict:
    """Per student, straight from the results: cells timed out, crashed, misconceptions."""
    out = {}
    for r in results:
        cells = [c for nb in r["notebooks"].values() for c in nb["cells"]]
        out[r["student"]] = {"timeout": sorted(c["grade_id"] for c in cells if c["status"] == "timeout"),
                             "crashed": sorted(c["grade_id"] for c in cells if c["status"] in ("error", "kernel-died")),
                             "misconceptions": sorted({c["misconception"] for c in cells if c["misconception"]})}
    return out


# --- the charts' SVG, against numbers counted here from the results ----------------------

NS = "{http://www.w3.org/2000/svg}"
TOL = 1e-3  # in counts, points or percentage points: the SVG's guide lines are written to 6 decimals


def _classes(el) -> list:
    return (el.get("class") or "").split()


def _label_px(svg: str) -> float:
    """The font size of the axis labels, from the chart's own CSS."""
    return float(re.search(r"\.axis text\{[^}]*font-size:([\d.]+)px", svg).group(1))


def _axis(root, which: str) -> list:
    """(label, position) along axis `which` ("x" or "y"): a tick's guide line where it has one,
    else its label's baseline."""
    g = next(g for g in root.iter(NS + "g") if "axis" in _classes(g) and which in _classes(g))
    out = []
    for tick in g.iter(NS + "g"):
        text, path = tick.find(NS + "text"), tick.find(NS + "path")
        if text is None or not text.text:
            continue
        if path is not None:  # "Mx y v<length>" or "Mx y h<length>", drawn to 6 decimals
            x, y = (float(v) for v in path.get("d")[1:].split()[:2])
            out.append((text.text, x if which == "x" else y))
        else:
            out.append((text.text, float(text.get(which))))
    return out


def _bars(root, serie: int = 0) -> list:
    """(x, y, width, height) of the bars of series `serie`, in the plot's coordinates."""
    g = next((g for g in root.iter(NS + "g") if "series" in _classes(g) and f"serie-{serie}" in _classes(g)), None)
    if g is None:
        return []
    return [tuple(float(r.get(k) or 0) for k in ("x", "y", "width", "height"))  # pygal omits a zero width
            for r in g.iter(NS + "rect") if "rect" in _classes(r)]


def _scale(ticks: list) -> tuple:
    """(value at position 0, value per unit of position) from an axis's numeric labels."""
    (v0, p0), (v1, p1) = min(ticks, key=lambda t: float(t[0])), max(ticks, key=lambda t: float(t[0]))
    per = (float(v1) - float(v0)) / (p1 - p0)
    return float(v0) - p0 * per, per


def _cells_truth(results: list) -> dict:
    """Per test cell, the % of its students who passed it."""
    passed, seen = Counter(), Counter()
    for r in results:
        for nb in r["notebooks"].values():
            for c in nb["cells"]:
                seen[c["grade_id"]] += 1
                passed[c["grade_id"]] += c["status"] == "passed"
    return {g: 100.0 * passed[g] / seen[g] for g in seen}


def _rows(root, bars: list, labels: list) -> dict:
    """Each bar's row label: the label whose baseline is nearest the bar's middle (within half a row)."""
    out = {}
    for x, y, w, h in bars:
        label, at = min(labels, key=lambda t: abs(t[1] - (y + h / 2)))
        assert abs(at - (y + h / 2)) < h / 2, (label, at, y, h)
        out[label] = (x, w)
    return out


def _labels_apart(svg: str, labels: list) -> None:
    ys = sorted(at for _, at in labels)
    px = _label_px(svg)
    assert all(b - a >= px for a, b in zip(ys, ys[1:])), (px, ys)


@pytest.mark.parametrize("n", [4, 2000])
def test_counts_are_drawn_on_integer_ticks(n):
    """The histogram's students and the misconception chart's test cells: whole-number ticks,
    bars as long as the counts made here from the results."""
    results = class_results(n)
    scores = {r["student"]: sum(c["points"] for nb in r["notebooks"].values() for c in nb["cells"]) for r in results}
    top = max(sum(c["max_points"] for nb in r["notebooks"].values() for c in nb["cells"]) for r in results)
    assert top <= 40 and float(top).is_integer()  # so one bar per point
    want = Counter(int(round(v)) for v in scores.values())
    svg = score_histogram(list(scores.values()), top)
    root = ET.fromstring(svg.encode())
    ys, xs = _axis(root, "y"), _axis(root, "x")
    assert len(ys) >= 2 and all(re.fullmatch(r"\d+", t) for t, _ in ys), ys
    assert all(re.fullmatch(r"\d+", t) for t, _ in xs), xs
    y0, per_y = _scale(ys)
    x0, per_x = _scale(xs)
    got = {}
    for x, y, w, h in _bars(root):
        point = x0 + (x + w / 2) * per_x
        assert abs(point - round(point)) < TOL and abs(w * per_x - 1) < TOL, (x, w)  # one point wide, centred
        got[int(round(point))] = h * -per_y
    assert sorted(got) == list(range(int(top) + 1))
    for point, count in got.items():
        assert abs(count - want[point]) < TOL, (point, count, want[point])
    assert all(abs(y0 + (y + h) * per_y) < TOL for _, y, _, h in _bars(root))  # the bars stand on 0

    counts = Counter(c["misconception"] for r in results for nb in r["notebooks"].values() for c in nb["cells"]
                     if c["misconception"])
    order = sorted(counts, key=lambda m: (-counts[m], m))
    svg = misconception_chart(order, [counts[m] for m in order], [0] * len(order))
    root = ET.fromstring(svg.encode())
    xs, labels = _axis(root, "x"), _axis(root, "y")
    assert len(xs) >= 2 and all(re.fullmatch(r"\d+", t) for t, _ in xs), xs
    x0, per_x = _scale(xs)
    shown = order[:CHART_ROWS]
    assert [t for t, _ in sorted(labels, key=lambda t: t[1])] == shown  # in full, most frequent on top
    rows = _rows(root, _bars(root), labels)
    assert sorted(rows) == sorted(shown)
    for mid, (x, w) in rows.items():
        assert abs(x0 + x * per_x) < TOL and abs(w * per_x - counts[mid]) < TOL, (mid, w * per_x, counts[mid])
    assert not _bars(root, 1) and "one of several" not in svg  # no second series, no legend
    title = root.find(NS + "title").text
    assert ("(the 20 most frequent)" in title) == (len(order) > CHART_ROWS), title


@pytest.mark.parametrize("n", [4, 2000])
def test_chart_labels_do_not_overlap(n):
    """Every test cell is a label of its own, in full, a font size at least from the next, and
    its bar is as long as its pass rate counted here from the results."""
    results = class_results(n)
    truth = _cells_truth(results)
    svg = pass_rate_chart(summarise(results)["02_batchnorm"]["cells"])
    root = ET.fromstring(svg.encode())
    labels, xs = _axis(root, "y"), _axis(root, "x")
    assert [t for t, _ in sorted(labels, key=lambda t: t[1])] == sorted(truth)  # in full, top to bottom
    _labels_apart(svg, labels)
    assert [t for t, _ in xs] == ["0", "20", "40", "60", "80", "100"], xs
    x0, per_x = _scale(xs)
    rows = _rows(root, _bars(root), labels)
    assert sorted(rows) == sorted(truth)
    for gid, (x, w) in rows.items():
        assert abs(x0 + x * per_x) < TOL and abs(w * per_x - truth[gid]) < TOL, (gid, w * per_x, truth[gid])
    width, height = float(root.get("width")), float(root.get("height"))
    plot = next(g for g in root.iter(NS + "g") if "plot" in _classes(g))
    dy = float(re.match(r"translate\(([\d.]+), ([\d.]+)\)", plot.get("transform")).group(2))
    assert all(0 <= dy + at - _label_px(svg) and dy + at <= height for _, at in labels), (dy, height, labels)
    assert width <= 1920

    s = summarise(results)["02_batchnorm"]
    order = sorted(s["misconceptions"], key=lambda m: (-s["misconceptions"][m], m))
    svg = misconception_chart(order, [s["misconceptions"][m] for m in order], [0] * len(order))
    _labels_apart(svg, _axis(ET.fromstring(svg.encode()), "y"))


def _histogram_bars(svg: str) -> dict:
    """(from, to) in points -> students, read from the histogram's SVG."""
    root = ET.fromstring(svg.encode())
    ys, xs = _axis(root, "y"), _axis(root, "x")
    assert all(re.fullmatch(r"\d+", t) for t, _ in ys + xs), (ys, xs)
    (y0, per_y), (x0, per_x) = _scale(ys), _scale(xs)
    return {(round(x0 + x * per_x, 3), round(x0 + (x + w) * per_x, 3)): round(-h * per_y, 3)
            for x, y, w, h in _bars(root)}


def test_histogram_puts_a_score_on_the_nearest_point_and_bins_above_40_points():
    bars = _histogram_bars(score_histogram([2.5, 2.4, 0.0, 40.0, 40.0], 40))
    assert len(bars) == 41 and all(b - a == 1 for a, b in bars)
    assert {a + 0.5: n for (a, _), n in bars.items() if n} == {3: 1, 2: 1, 0: 1, 40: 2}
    bars = _histogram_bars(score_histogram([0.0, 4.9, 5.0, 99.0, 100.0, 100.0], 100))  # 20 bins of 5 points
    assert len(bars) == 20 and all(abs(b - a - 5) < TOL for a, b in bars)
    assert {a: n for (a, _), n in bars.items() if n} == {0: 2, 5: 1, 95: 3}


def test_misconception_chart_stacks_the_second_series_and_names_it_in_a_legend():
    ids = [f"misconception-with-a-long-name-{i:02d}-{'x' * i}" for i in range(CHART_ROWS + 3)]
    alone = [40 - i for i in range(len(ids))]
    within = [i % 3 for i in range(len(ids))]
    svg = misconception_chart(ids, alone, within)
    root = ET.fromstring(svg.encode())
    labels = _axis(root, "y")
    assert [t for t, _ in sorted(labels, key=lambda t: t[1])] == ids[:CHART_ROWS]
    _labels_apart(svg, labels)
    x0, per_x = _scale(_axis(root, "x"))
    first, second = _rows(root, _bars(root, 0), labels), _rows(root, _bars(root, 1), labels)
    for i, mid in enumerate(ids[:CHART_ROWS]):
        x, w = first[mid]
        assert abs(x0 + x * per_x) < TOL and abs(w * per_x - alone[i]) < TOL
        if within[i]:  # stacked: starts where the first ends
            x2, w2 = second[mid]
            assert abs(x2 - (x + w)) < TOL and abs(w2 * per_x - within[i]) < TOL
    legend = [t.text for g in root.iter(NS + "g") if "legends" in _classes(g) for t in g.iter(NS + "text")]
    assert legend == ["the answer's only mistake", "one of several mistakes in the answer"], legend
    assert "(the 20 most frequent)" in root.find(NS + "title").text


def test_the_charts_are_svg_with_nothing_to_fetch_and_no_matplotlib():
    code = ("import re, sys; sys.path.insert(0, 'tests')\n"
            "from report_class import class_results\n"
            "from autograder.pages.report import render\n"
            "html = render(class_results(4))\n"
            "print('matplotlib' in sys.modules)\n"
            "print(html)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    flag, html = out.split("\n", 1)
    assert flag == "False"
    srcs = re.findall(r"<img alt='[^']+' src='data:image/svg\+xml;base64,([^']+)'>", html)
    assert len(srcs) == 3 and len(re.findall(r"<img ", html)) == 3
    for src in srcs:
        svg = base64.b64decode(src).decode("utf-8")
        ET.fromstring(svg.encode())
        assert "<script" not in svg and "@import" not in svg
        urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", svg))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls


def test_the_per_student_rows_name_timeouts_crashes_and_misconceptions():
    results = class_results(40, seed=3)
    truth = _truth(results)
    assert any(t["timeout"] for t in truth.values()) and any(t["crashed"] for t in truth.values())
    html = render(results)
    table = html[html.index("<h3>Per student</h3>"):]
    rows = re.findall(r"<tr><td><a href='feedback/([^/]+)/02_batchnorm.html'>.*?</tr>", table, re.S)
    assert sorted(rows) == sorted(truth)
    for student, want in truth.items():
        row = re.search(rf"<tr><td><a href='feedback/{student}/.*?</tr>", table, re.S).group(0)
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        got = [sorted(re.findall(r"<code>(.*?)</code>", td)) for td in tds[4:7]]
        assert got[0] == want["timeout"] and got[1] == want["crashed"], (student, got, want)
        assert set(want["misconceptions"]) <= set(got[2]), (student, got[2], want)


# --- in Chromium --------------------------------------------------------------------------

LAYOUT = """() => {
  const imgs = Array.from(document.querySelectorAll('img')).map(i => i.getBoundingClientRect());
  const overlaps = [];
  for (let i = 0; i < imgs.length; i++) for (let j = i + 1; j < imgs.length; j++) {
    const a = imgs[i], b = imgs[j];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps.push([i, j]);
  }
  const rows = Array.from(document.querySelectorAll('.students tr')).length - 1;
  const box = document.querySelector('.students').getBoundingClientRect();
  return {width: document.documentElement.scrollWidth, imgs: imgs.length, overlaps, rows,
          right: Math.max(...imgs.map(r => r.right)), tableRight: box.right,
          tableScrollsAcross: document.querySelector('.students').scrollWidth > box.width + 1,
          broken: Array.from(document.querySelectorAll('img')).filter(i => !i.naturalWidth).length};
}"""

# a chart's SVG drawn inline, in the browser's own fonts: every text inside the chart, none on another
TEXTS = """() => {
  const box = document.querySelector('svg').getBoundingClientRect();
  const texts = Array.from(document.querySelectorAll('svg text'))
    .filter(t => t.textContent.trim() && !t.closest('.tooltip-overlay'))
    .map(t => { const r = t.getBoundingClientRect();
                return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom}; });
  const outside = texts.filter(r => r.left < box.left - 0.5 || r.right > box.right + 0.5
                                    || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5);
  const overlaps = [];
  for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
    const a = texts[i], b = texts[j];
    if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
      overlaps.push([a.text, b.text]);
  }
  return {n: texts.length, outside, overlaps};
}"""


@pytest.mark.browser
@pytest.mark.timeout(600)
@pytest.mark.parametrize("n", [4, 2000])
def test_report_page_in_chromium(n, tmp_path):
    from browser_tools import Static, artifacts_dir, chromium_path, launch
    chromium_path()
    from playwright.sync_api import sync_playwright
    out = tmp_path / "out"
    write_report(out, class_results(n))
    with Static(out) as url, sync_playwright() as pw:
        ctx = launch(pw, tmp_path / "profile", viewport={"width": 1920, "height": 1080})
        try:
            page = ctx.new_page()
            page.goto(url + "report.html")
            m = page.evaluate(LAYOUT)
            page.screenshot(path=str(artifacts_dir() / f"report-{n}.png"), full_page=n < 100)
            charts = []
            for src in re.findall(r"src='data:image/svg\+xml;base64,([^']+)'", (out / "report.html").read_text()):
                svg = base64.b64decode(src).decode("utf-8").split("?>", 1)[1]
                page.set_content(f"<!doctype html><html><body style='margin:0'>{svg}</body></html>")
                charts.append(page.evaluate(TEXTS))
            assert not ctx.external, ctx.external
        finally:
            ctx.close()
    assert m["width"] <= 1920 and m["right"] <= 1920 and m["tableRight"] <= 1920, m
    assert m["imgs"] == 3 and m["broken"] == 0 and not m["overlaps"], m
    assert m["rows"] == n and not m["tableScrollsAcross"], m
    assert len(charts) == 3 and all(c["n"] >= 10 and not c["outside"] and not c["overlaps"] for c in charts), charts


def test_check_and_grade_share_one_time_limit_and_say_it_in_help(capsys):
    """The self-check and grading take their per-cell limit from autograder/defaults.py and print it."""
    from autograder import defaults
    from autograder.cli.main import main
    for command in ("check", "grade"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"time limit of each cell (default {defaults.TIMEOUT_SECONDS:g}" in text, text
