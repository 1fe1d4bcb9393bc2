"""The class report ``report.html``: score histogram, pass rate per test cell, the
misconceptions found and how often, and who could not be graded. Plots are matplotlib
PNGs embedded as base64, so the report is one self-contained file."""
from __future__ import annotations

import base64
import io
from collections import Counter, defaultdict
from pathlib import Path

from autograder.checks import PARTIAL_ID
from autograder.gradebook.exchange import late_text
from autograder.files import atomic_write, esc


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "<img alt='plot' src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'>"


def summarise(results: list) -> dict:
    """Numbers behind the report, per assignment."""
    by_aid = defaultdict(lambda: {"scores": {}, "max": 0.0, "cells": defaultdict(lambda: [0, 0]),
                                  "misconceptions": Counter(), "partial": Counter(), "statuses": Counter(),
                                  "not_graded": []})
    for r in results:
        s = by_aid[r["assignment"]]
        cells = [c for nb in r["notebooks"].values() for c in nb["cells"]]
        s["scores"][r["student"]] = sum(c["points"] for c in cells)
        s.setdefault("late", {})[r["student"]] = r.get("seconds_late") or 0.0
        s["max"] = max(s["max"], sum(c["max_points"] for c in cells))
        for c in cells:
            s["cells"][c["grade_id"]][0] += c["status"] == "passed"
            s["cells"][c["grade_id"]][1] += 1
            s["statuses"][c["status"]] += 1
            if c["misconception"]:
                s["misconceptions"][c["misconception"]] += 1
            elif c["status"] == "failed":  # one of several mistakes in the same answer
                for mid in set(PARTIAL_ID.findall(c.get("message") or "")):
                    s["partial"][mid] += 1
        bad = [f"{name}: {nb['state']}" for name, nb in r["notebooks"].items() if nb["state"] != "graded"]
        if bad:
            s["not_graded"].append((r["student"], "; ".join(bad)))
    return dict(by_aid)


def render(results: list) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from autograder.catalogue import find_misconception

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Class report</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
             "td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}table{border-collapse:collapse}"
             "</style></head><body><h1>Class report</h1>"]
    unisolated = sorted({f"{r['student']}/{r['assignment']}" for r in results
                         for nb in r.get("notebooks", {}).values() if nb.get("isolated") is False})
    if unisolated:
        parts.append(f"<p><strong>File and network isolation was off</strong> for {len(unisolated)} submissions: "
                     "bubblewrap could not run on the grading machine, so the students' code ran with memory, time "
                     "and process limits only (see INSTRUCTORS.md, \u201cThe sandbox\u201d).</p>")
    for aid, s in sorted(summarise(results).items()):
        scores = [s["scores"][k] for k in sorted(s["scores"])]
        n = len(scores)
        mean = sum(scores) / n if n else 0.0
        parts.append(f"<h2>{esc(aid)}</h2><p>{n} submissions, mean score {mean:.2f} / {s['max']:g}, "
                     f"{len(s['not_graded'])} could not be graded"
                     f"{', ' + str(sum(1 for v in s['late'].values() if v)) + ' late' if any(s['late'].values()) else ''}"
                     ".</p>")
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
        axes[0].hist(scores, bins=min(20, max(5, n)), range=(0, max(s["max"], 1e-9)), color="#4c72b0")
        axes[0].set(title="score histogram", xlabel="points", ylabel="students")
        ids = list(s["cells"])
        rates = [100.0 * s["cells"][g][0] / max(1, s["cells"][g][1]) for g in ids]
        axes[1].barh(range(len(ids)), rates, color="#55a868")
        axes[1].set_yticks(range(len(ids)), ids, fontsize=7)
        axes[1].invert_yaxis()
        axes[1].set(title="pass rate per test cell", xlabel="% of students", xlim=(0, 100))
        parts.append(_png(fig))
        if s["misconceptions"] or s["partial"]:
            total = s["misconceptions"] + s["partial"]
            common = [mid for mid, _ in total.most_common()]
            alone = [s["misconceptions"][m] for m in common]
            within = [s["partial"][m] for m in common]
            fig, ax = plt.subplots(figsize=(11, 0.4 * len(common) + 1))
            ax.barh(range(len(common)), alone, color="#c44e52", label="the answer's only mistake")
            if any(within):
                ax.barh(range(len(common)), within, left=alone, color="#e8a0a2",
                        label="one of several mistakes in the answer")
                ax.legend(loc="lower right", fontsize=8)
            ax.set_yticks(range(len(common)), common, fontsize=8)
            ax.invert_yaxis()
            ax.set(title="misconceptions found", xlabel="test cells")
            parts.append(_png(fig))
            parts.append("<table><tr><th>misconception</th><th>test cells</th>"
                         "<th>and among other mistakes</th><th>what it is</th></tr>")
            for mid, a, w in zip(common, alone, within):
                m = find_misconception(mid)
                parts.append(f"<tr><td><code>{esc(mid)}</code></td><td>{a}</td><td>{w}</td>"
                             f"<td>{esc(m.title) if m else ''}</td></tr>")
            parts.append("</table>")
        parts.append("<p>Statuses: " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(s["statuses"].items())) + "</p>")
        if s["not_graded"]:
            parts.append("<p>Not graded:</p><ul>" + "".join(f"<li>{esc(st)}: {esc(why)}</li>"
                                                            for st, why in s["not_graded"]) + "</ul>")
        late = s.get("late", {})
        parts.append("<table><tr><th>student</th><th>score</th><th>submitted</th></tr>" + "".join(
            f"<tr><td><a href='feedback/{esc(st)}/{esc(aid)}.html'>{esc(st)}</a></td><td>{s['scores'][st]:g}</td>"
            f"<td>{esc(late_text(late[st])) if late.get(st) else 'on time'}</td></tr>"
            for st in sorted(s["scores"])) + "</table>")
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
