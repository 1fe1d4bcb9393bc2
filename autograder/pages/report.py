"""The class report ``report.html``: score histogram, pass rate per test cell, the
misconceptions found and how often, who could not be graded, and a row per student saying
who timed out, who crashed and who has which misconception. The charts are pygal SVGs,
without script or anything to fetch, embedded as base64 ``<img>``, so the report is one
self-contained file (pygal imports in about 0.05 s of CPU and draws a chart in about 10 ms,
where matplotlib cost the grading parent about 1 s of CPU for the three).

Each chart is an image of its own whose height grows with the rows it draws (no label of one
chart can fall on another), every label is written in full, counts are drawn on integer
ticks, and the page keeps to the window's width for a class of 4 as for a class of 2,000: the
misconception chart draws the most frequent ones (all of them are in the table below it) and
the per-student table scrolls inside the page under its own header."""
from __future__ import annotations

import base64
import math
from collections import Counter, defaultdict
from pathlib import Path

import pygal
from pygal.style import Style

from autograder.checks import PARTIAL_ID
from autograder.files import atomic_write, esc
from autograder.catalogue import find_misconception

CHART_ROWS = 20  # misconceptions drawn in the chart; the table lists every one
CRASHED = ("error", "kernel-died")
FONT = "system-ui, sans-serif"
TITLE_PX, LABEL_PX = 14, 11  # font sizes of the charts' titles and of their labels
ROW_PX = 22  # a row of a horizontal bar chart: two label heights, so no label touches the next
STYLE = ("body{font-family:system-ui,sans-serif;max-width:84rem;margin:2rem auto;padding:0 1rem}"
         "td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}"
         "table{border-collapse:collapse}td.n,th.n{text-align:right}"
         ".charts{display:flex;flex-wrap:wrap;gap:1rem 2rem;align-items:flex-start}"
         ".charts img{max-width:100%;height:auto}"
         ".students{max-height:32rem;overflow:auto;border:1px solid #ddd}"
         ".students th{position:sticky;top:0;background:#fff;box-shadow:0 1px 0 #ccc}"
         ".students table{width:100%;table-layout:fixed}.students code{overflow-wrap:anywhere}.bad{color:#a31515}")


def late_text(seconds: float) -> str:
    """The report's lateness column: ``late by 2 h 05 min`` (empty when on time)."""
    if not seconds:
        return ""
    m = int(round(seconds / 60))
    if m < 1:
        return f"late by {seconds:.0f} s"
    d, rest = divmod(m, 24 * 60)
    h, m = divmod(rest, 60)
    parts = ([f"{d} d"] if d else []) + ([f"{h} h"] if h or d else []) + [f"{m:02d} min" if h or d else f"{m} min"]
    return "late by " + " ".join(parts)


def _svg(chart, name: str) -> str:
    """The chart's SVG for an ``<img>``: no script (pygal writes its configuration in one even
    with ``js=[]``), no comments (its links and the day), a fixed id (a random one would make
    each report differ)."""
    chart.uuid = name  # the id its CSS is scoped by
    chart.add_xml_filter(_inert)
    return chart.render(is_unicode=True)


def _inert(root):
    for parent in list(root.iter()):
        for node in list(parent):
            if not isinstance(node.tag, str) or node.tag.rsplit("}", 1)[-1] == "script":  # comments' tag is a function
                parent.remove(node)
    return root


def _img(svg: str, alt: str) -> str:
    return (f"<img alt='{esc(alt)}' src='data:image/svg+xml;base64,"
            + base64.b64encode(svg.encode("utf-8")).decode() + "'>")


def _style(*colors: str) -> Style:
    return Style(font_family=FONT, background="#fff", plot_background="#fff", foreground="#333",
                 foreground_strong="#222", foreground_subtle="#ccc", opacity="1", opacity_hover="1",
                 colors=colors, title_font_size=TITLE_PX, label_font_size=LABEL_PX,
                 major_label_font_size=LABEL_PX, legend_font_size=LABEL_PX, tooltip_font_size=LABEL_PX)


def _chart(kind, colors: tuple, **config):
    """A pygal chart drawn for an ``<img>``: no JavaScript, labels in full, its own size."""
    config = {"show_legend": False, **config}
    return kind(style=_style(*colors), js=[], explicit_size=True, truncate_label=-1, truncate_legend=-1,
                print_values=False, **config)


def summarise(results: list) -> dict:
    """Numbers behind the report, per assignment."""
    by_aid = defaultdict(lambda: {"scores": {}, "max": 0.0, "cells": defaultdict(lambda: [0, 0]),
                                  "misconceptions": Counter(), "partial": Counter(), "statuses": Counter(),
                                  "not_graded": [], "students": {}})
    for r in results:
        s = by_aid[r["assignment"]]
        cells = [c for nb in r["notebooks"].values() for c in nb["cells"]]
        s["scores"][r["student"]] = sum(c["points"] for c in cells)
        s.setdefault("late", {})[r["student"]] = r.get("seconds_late") or 0.0
        s["max"] = max(s["max"], sum(c["max_points"] for c in cells))
        row = s["students"][r["student"]] = {"timeout": [], "crashed": [], "misconceptions": [], "not_graded": ""}
        for c in cells:
            s["cells"][c["grade_id"]][0] += c["status"] == "passed"
            s["cells"][c["grade_id"]][1] += 1
            s["statuses"][c["status"]] += 1
            if c["status"] == "timeout":
                row["timeout"].append(c["grade_id"])
            elif c["status"] in CRASHED:
                row["crashed"].append(c["grade_id"])
            if c["misconception"]:
                s["misconceptions"][c["misconception"]] += 1
                row["misconceptions"].append(c["misconception"])
            elif c["status"] == "failed":  # one of several mistakes in the same answer
                for mid in sorted(set(PARTIAL_ID.findall(c.get("message") or ""))):
                    s["partial"][mid] += 1
                    row["misconceptions"].append(mid)
        bad = [f"{name}: {nb['state']}" for name, nb in r["notebooks"].items() if nb["state"] != "graded"]
        if bad:
            s["not_graded"].append((r["student"], "; ".join(bad)))
            row["not_graded"] = "; ".join(bad)
    return dict(by_aid)


def count_ticks(top: float, most: int = 6) -> list:
    """Whole numbers from 0 past `top` (or to it), at most `most` steps of 1, 2 or 5 × 10^k."""
    top = max(int(math.ceil(top)), 1)
    power = 1
    while True:
        for m in (1, 2, 5):
            step = m * power
            if step * most >= top:
                return list(range(0, -(-top // step) * step + 1, step))
        power *= 10


def score_bins(scores: list, max_points: float) -> list:
    """(students, from, to) per bar: one bar per point when the assignment has at most 40
    points (a score goes to the nearest point), else 20 equal bins from 0 to the maximum."""
    top = max(max_points, 1e-9)
    if top <= 40 and float(top).is_integer():
        counts = [0] * (int(round(top)) + 1)
        for x in scores:
            counts[min(max(int(math.floor(x + 0.5)), 0), len(counts) - 1)] += 1
        return [(c, i - 0.5, i + 0.5) for i, c in enumerate(counts)]
    width = top / 20
    counts = [0] * 20
    for x in scores:
        counts[min(max(int(x // width), 0), 19)] += 1
    return [(c, i * width, (i + 1) * width) for i, c in enumerate(counts)]


def score_histogram(scores: list, max_points: float) -> str:
    """Students per score (SVG), one bar per point when the assignment has at most 40 points."""
    bins = score_bins(scores, max_points)
    chart = _chart(pygal.Histogram, ("#4c72b0",), width=520, height=320, title="score histogram",
                   x_title=f"points (of {max_points:g})", y_title="students")
    ys = count_ticks(max(c for c, _, _ in bins))
    chart.range = (0, ys[-1])
    chart.y_labels = ys
    chart.x_labels = [x for x in count_ticks(max_points, 10) if x <= max_points]
    chart.add("students", bins)
    return _svg(chart, "score-histogram")


def pass_rate_chart(cells: dict) -> str:
    """Per test cell, the % of students who passed it (SVG); its height grows with the cells."""
    ids = sorted(cells)
    rates = [100.0 * cells[g][0] / max(1, cells[g][1]) for g in ids]
    chart = _chart(pygal.HorizontalBar, ("#55a868",), width=640, height=ROW_PX * len(ids) + 110,
                   title="pass rate per test cell", x_title="% of students who passed", range=(0, 100),
                   y_labels=list(range(0, 101, 20)))
    chart.x_labels = ids[::-1]  # pygal draws the first row at the bottom
    chart.add("passed", rates[::-1])
    return _svg(chart, "pass-rate")


def misconception_chart(common: list, alone: list, within: list) -> str:
    """The first CHART_ROWS misconceptions by frequency (SVG), stacked: only mistake / among others."""
    cut = len(common) > CHART_ROWS
    common, alone, within = common[:CHART_ROWS], alone[:CHART_ROWS], within[:CHART_ROWS]
    ticks = count_ticks(max([a + w for a, w in zip(alone, within)] or [1]))
    chart = _chart(pygal.HorizontalStackedBar, ("#c44e52", "#e8a0a2"), width=800,
                   height=ROW_PX * len(common) + 110 + (2 * ROW_PX + 10 if any(within) else 0),
                   title="misconceptions found" + (f" (the {CHART_ROWS} most frequent)" if cut else ""),
                   x_title="test cells", range=(0, ticks[-1]), y_labels=ticks, show_legend=any(within),
                   legend_at_bottom=True, legend_at_bottom_columns=1)
    chart.x_labels = common[::-1]
    chart.add("the answer's only mistake", alone[::-1])
    if any(within):
        chart.add("one of several mistakes in the answer", within[::-1])
    return _svg(chart, "misconceptions")


def _misconceptions(s: dict) -> list:
    total = s["misconceptions"] + s["partial"]
    common = sorted(total, key=lambda m: (-total[m], m))
    alone = [s["misconceptions"][m] for m in common]
    within = [s["partial"][m] for m in common]
    students = Counter(m for row in s["students"].values() for m in set(row["misconceptions"]))
    parts = [_img(misconception_chart(common, alone, within), "misconceptions found")]
    parts.append("<table><tr><th>misconception</th><th>test cells</th><th>and among other mistakes</th>"
                 "<th class=n>students</th><th>what it is</th></tr>")
    for mid, a, w in zip(common, alone, within):
        m = find_misconception(mid)
        parts.append(f"<tr><td><code>{esc(mid)}</code></td><td>{a}</td><td>{w}</td><td class=n>{students[mid]}</td>"
                     f"<td>{esc(m.title) if m else ''}</td></tr>")
    parts.append("</table>")
    return parts


def _codes(items) -> str:
    return "<br>".join(f"<code>{esc(x)}</code>" for x in sorted(set(items)))


def _student_table(aid: str, s: dict) -> str:
    """One row per student: score, lateness, and which cells timed out, crashed or show a misconception."""
    late = s.get("late", {})
    rows = []
    for st in sorted(s["scores"]):
        row = s["students"][st]
        rows.append(
            f"<tr><td><a href='feedback/{esc(st)}/{esc(aid)}.html'>{esc(st)}</a></td>"
            f"<td class=n>{s['scores'][st]:g}</td>"
            f"<td>{esc(late_text(late[st])) if late.get(st) else 'on time'}</td>"
            f"<td class=bad>{esc(row['not_graded'])}</td>"
            f"<td>{_codes(row['timeout'])}</td><td>{_codes(row['crashed'])}</td>"
            f"<td>{_codes(row['misconceptions'])}</td></tr>")
    n = len(rows)
    counts = {k: sum(1 for r in s["students"].values() if r[k]) for k in ("timeout", "crashed", "misconceptions")}
    return (f"<h3>Per student</h3><p>{n} students: {counts['timeout']} with a test cell that timed out, "
            f"{counts['crashed']} with one that crashed (an unexpected exception or the kernel died), "
            f"{counts['misconceptions']} with a known misconception.</p>"
            "<div class=students><table><colgroup><col style='width:10%'><col style='width:6%'>"
            "<col style='width:12%'><col style='width:12%'><col style='width:19%'><col style='width:19%'>"
            "<col style='width:22%'></colgroup><tr><th>student</th><th class=n>score</th><th>submitted</th>"
            "<th>not graded</th><th>timed out</th><th>crashed</th><th>misconceptions</th></tr>"
            + "".join(rows) + "</table></div>")


def _assignment(aid: str, s: dict) -> list:
    scores = [s["scores"][k] for k in sorted(s["scores"])]
    n = len(scores)
    mean = sum(scores) / n if n else 0.0
    n_late = sum(1 for v in s["late"].values() if v)
    parts = [f"<h2>{esc(aid)}</h2><p>{n} submission{'s' * (n != 1)}, mean score {mean:.2f} / {s['max']:g}, "
             f"{len(s['not_graded'])} could not be graded{f', {n_late} late' if n_late else ''}.</p>",
             "<div class=charts>" + _img(score_histogram(scores, s["max"]), "score histogram")
             + _img(pass_rate_chart(s["cells"]), "pass rate per test cell") + "</div>"]
    if s["misconceptions"] or s["partial"]:
        parts += _misconceptions(s)
    parts.append("<p>Test cells by status: " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(s["statuses"].items()))
                 + "</p>")
    if s["not_graded"]:
        k = len(s["not_graded"])
        parts.append(f"<details{' open' if k <= 10 else ''}><summary>Not graded: {k} submission{'s' * (k != 1)}"
                     "</summary><ul>" + "".join(f"<li>{esc(st)}: {esc(why)}</li>" for st, why in s["not_graded"])
                     + "</ul></details>")
    parts.append(_student_table(aid, s))
    return parts


def render(results: list) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Class report</title><style>{STYLE}"
             "</style></head><body><h1>Class report</h1>"]
    unisolated = sorted({f"{r['student']}/{r['assignment']}" for r in results
                         for nb in r.get("notebooks", {}).values() if nb.get("isolated") is False})
    if unisolated:
        parts.append(f"<p><strong>File and network isolation was off</strong> for {len(unisolated)} submissions: "
                     "bubblewrap could not run on the grading machine, so the students' code ran with memory, time "
                     "and process limits only (see INSTRUCTORS.md, \u201cThe sandbox\u201d).</p>")
    for aid, s in sorted(summarise(results).items()):
        parts += _assignment(aid, s)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(out: Path, results: list) -> Path:
    path = Path(out) / "report.html"
    text = render(results)
    if (Path(out) / "similarity.html").is_file():
        text = text.replace("<h1>Class report</h1>", "<h1>Class report</h1><p><a href='similarity.html'>Similar "
                            "answers</a>: answers unusually alike, or alike to the reference or the solution "
                            "(<a href='similarity.csv'>similarity.csv</a>).</p>", 1)
    atomic_write(path, text)
    return path
