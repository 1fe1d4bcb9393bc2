"""The class report ``report.html`` for a class of 4 and of 2,000 (tests/report_class.py):
counts on integer ticks, charts whose labels do not overlap, a per-student row saying who
timed out, crashed and has which misconception, and, in real headless Chromium at 1920×1080,
a page that keeps to the window's width with no chart drawn over another."""
from __future__ import annotations

import re

import pytest

from autograder.pages.report import misconception_chart, pass_rate_chart, render, score_histogram, summarise, write_report
from report_class import class_results


def _truth(results: list) -> dict:
    """Per student, straight from the results: cells timed out, crashed, misconceptions."""
    out = {}
    for r in results:
        cells = [c for nb in r["notebooks"].values() for c in nb["cells"]]
        out[r["student"]] = {"timeout": sorted(c["grade_id"] for c in cells if c["status"] == "timeout"),
                             "crashed": sorted(c["grade_id"] for c in cells if c["status"] in ("error", "kernel-died")),
                             "misconceptions": sorted({c["misconception"] for c in cells if c["misconception"]})}
    return out


def _tick_boxes(fig, axis):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_text()]


@pytest.mark.parametrize("n", [4, 2000])
def test_counts_are_drawn_on_integer_ticks(n):
    results = class_results(n)
    s = summarise(results)["02_batchnorm"]
    hist = score_histogram(list(s["scores"].values()), s["max"])
    ticks = [t for t in hist.axes[0].get_yticks() if t >= 0]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    common = sorted(s["misconceptions"], key=lambda m: -s["misconceptions"][m])
    fig = misconception_chart(common, [s["misconceptions"][m] for m in common], [0] * len(common))
    ticks = [t for t in fig.axes[0].get_xticks() if t >= 0]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


@pytest.mark.parametrize("n", [4, 2000])
def test_chart_labels_do_not_overlap(n):
    s = summarise(class_results(n))["02_batchnorm"]
    fig = pass_rate_chart(s["cells"])
    boxes = sorted(_tick_boxes(fig, fig.axes[0].yaxis), key=lambda b: b.y0)
    assert len(boxes) == len(s["cells"])
    for lower, upper in zip(boxes, boxes[1:]):
        assert lower.y1 <= upper.y0 + 0.5, (lower, upper)
    width, height = fig.canvas.get_width_height()
    assert all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= width and b.y1 <= height for b in boxes)


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
            assert not ctx.external, ctx.external
        finally:
            ctx.close()
    assert m["width"] <= 1920 and m["right"] <= 1920 and m["tableRight"] <= 1920, m
    assert m["imgs"] == 3 and m["broken"] == 0 and not m["overlaps"], m
    assert m["rows"] == n and not m["tableScrollsAcross"], m


def test_check_and_grade_share_one_time_limit_and_say_it_in_help(capsys):
    """The self-check and grading take their per-cell limit from autograder/defaults.py and print it."""
    from autograder import defaults
    from autograder.cli.main import main
    for command in ("check", "grade"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"time limit of each cell (default {defaults.TIMEOUT_SECONDS:g}" in text, text
