"""The class report ``report.html``: score histogram, pass rate per test cell, the
misconceptions found and how often, who could not be graded, and a row per student saying
who timed out, who crashed and who has which misconception. Plots are matplotlib PNGs
embedded as base64, so the report is one self-contained file.

Each chart is a figure of its own whose height grows with the rows it draws (no label of one
chart can fall on another), counts are drawn on integer ticks, and the page keeps to the
window's width for a class of 4 as for a class of 2,000: the misconception chart draws the
most frequent ones (all of them are in the table below it) and the per-student table scrolls
inside the page under its own header."""
from __future__ import annotations

import base64
import io
from collections import Counter, defaultdict
from pathlib import Path

from autograder.checks import PARTIAL_ID
from autograder.files import atomic_write, esc
from autograder.catalogue import find_misconception

CHART_ROWS = 20  # misconceptions drawn in the chart; the table lists every one
CRASHED = ("error", "kernel-died")
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


def _png(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    plt.close(fig)
    return (f"<img alt='{esc(alt)}' src='data:image/png;base64,"
            + base64.b64encode(buf.getvalue()).decode() + "'>")


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


def score_histogram(scores: list, max_points: float):
    """Students per score, one bar per point when the assignment has at most 40 points."""
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    from matplotlib.ticker import MaxNLocator  # slow import (see AUTHORING.md)
    top = max(max_points, 1e-9)
    bins = int(round(top)) + 1 if top <= 40 and float(top).is_integer() else 20
    edges = [i - 0.5 for i in range(bins + 1)] if bins == int(round(top)) + 1 else None
    fig, ax = plt.subplots(figsize=(5.2, 3.2), layout="constrained")
    ax.hist(scores, bins=edges if edges else bins, range=None if edges else (0, top), color="#4c72b0",
            edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(title="score histogram", xlabel=f"points (of {max_points:g})", ylabel="students")
    return fig


def pass_rate_chart(cells: dict):
    """Per test cell, the % of students who passed it; its height grows with the cells."""
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    ids = sorted(cells)
    rates = [100.0 * cells[g][0] / max(1, cells[g][1]) for g in ids]
    fig, ax = plt.subplots(figsize=(6.4, 0.26 * len(ids) + 1.1), layout="constrained")
    ax.barh(range(len(ids)), rates, color="#55a868")
    ax.set_yticks(range(len(ids)), ids, fontsize=8)
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set(title="pass rate per test cell", xlabel="% of students who passed", xlim=(0, 100))
    return fig


def misconception_chart(common: list, alone: list, within: list):
    """The first CHART_ROWS misconceptions by frequency, stacked: only mistake / among others."""
    import matplotlib.pyplot as plt  # slow import (see AUTHORING.md)
    from matplotlib.ticker import MaxNLocator  # slow import (see AUTHORING.md)
    common, alone, within = common[:CHART_ROWS], alone[:CHART_ROWS], within[:CHART_ROWS]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(common) + 1.3), layout="constrained")
    ax.barh(range(len(common)), alone, color="#c44e52", label="the answer's only mistake")
    if any(within):
        ax.barh(range(len(common)), within, left=alone, color="#e8a0a2", label="one of several mistakes in the answer")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(range(len(common)), common, fontsize=8)
    ax.set_ylim(len(common) - 0.5, -0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(title="misconceptions found" + (f" (the {CHART_ROWS} most frequent)" if len(alone) == CHART_ROWS else ""),
           xlabel="test cells")
    return fig


def _misconceptions(s: dict) -> list:
    total = s["misconceptions"] + s["partial"]
    common = sorted(total, key=lambda m: (-total[m], m))
    alone = [s["misconceptions"][m] for m in common]
    within = [s["partial"][m] for m in common]
    students = Counter(m for row in s["students"].values() for m in set(row["misconceptions"]))
    parts = [_png(misconception_chart(common, alone, within), "misconceptions found")]
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
             "<div class=charts>" + _png(score_histogram(scores, s["max"]), "score histogram")
             + _png(pass_rate_chart(s["cells"]), "pass rate per test cell") + "</div>"]
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
    import matplotlib  # slow import (see AUTHORING.md)
    matplotlib.use("Agg")

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
