"""Per-student HTML feedback: ``feedback/<student>/<assignment>.html``.

Built from the result of grading, not from nbgrader's ``generate_feedback`` (which shows
hidden tests and full tracebacks): for each graded test cell the points, a status, the
check's message (exception type and message only), the misconception's name and hint when
one matched, and the test's *visible* source with its hidden region replaced by a note;
for each exercise the student's own answer.
"""
from __future__ import annotations

from pathlib import Path

from autograder.catalogue import find_misconception
from autograder.files import atomic_write, esc

STATUS_TEXT = {
    "passed": "passed", "failed": "not right yet", "misconception": "a known misconception",
    "unanswered": "not answered", "reference-used": "uses the reference: no points", "error": "raised an error",
    "timeout": "timed out", "kernel-died": "crashed the kernel", "not-run": "not run", "partial": "partial credit",
    "missing-notebook": "notebook missing", "invalid-notebook": "invalid notebook", "not-a-notebook": "not a notebook",
    "grader-error": "grader error",
}
CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.85rem;white-space:pre-wrap}
.passed{color:#1a7f37}.bad{color:#b42318}.box{border-left:4px solid #d4a72c;background:#fff8e1;padding:.5rem 1rem}
.note{border-left:4px solid #888;background:#f3f3f3;padding:.5rem 1rem}"""




def misconception_box(mid: str) -> str:
    try:
        m = find_misconception(mid)
    except Exception:
        m = None
    if m is None:
        return f'<div class="box"><b>Misconception <code>{esc(mid)}</code>.</b></div>'
    return (f'<div class="box"><b>Misconception: {esc(m.title)}.</b><br>Hint: {esc(m.hint)}'
            f'<br><small>(<code>{esc(mid)}</code>)</small></div>')


def render(result: dict) -> str:
    student, aid = result["student"], result["assignment"]
    cells = [c for nb in result["notebooks"].values() for c in nb["cells"]]
    got, total = sum(c["points"] for c in cells), sum(c["max_points"] for c in cells)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(aid)} — {esc(student)}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{esc(aid)}: feedback for {esc(student)}</h1>",
             f"<p><b>Score: {got:g} / {total:g}</b></p>"]
    for name, nb in sorted(result["notebooks"].items()):
        if nb["state"] != "graded":
            parts.append(f'<div class="note"><b>{esc(name)}.ipynb could not be graded:</b> {esc(nb["message"])}. '
                         "Every test of this notebook counts as 0 points.</div>")
        if nb["notes"]:
            parts.append('<div class="note"><b>While grading your notebook:</b><ul>'
                         + "".join(f"<li>{esc(n)}</li>" for n in nb["notes"]) + "</ul></div>")
    parts.append("<h2>Summary</h2><table><tr><th>exercise</th><th>test</th><th>points</th><th>result</th></tr>")
    for c in cells:
        cls = "passed" if c["status"] == "passed" else "bad"
        what = STATUS_TEXT.get(c["status"], c["status"])
        if c["misconception"]:
            what += f" ({c['misconception']})"
        parts.append(f"<tr><td>{esc(c['exercise'])}</td><td><a href='#{esc(c['grade_id'])}'>{esc(c['grade_id'])}</a>"
                     f"</td><td>{c['points']:g} / {c['max_points']:g}</td><td class='{cls}'>{esc(what)}</td></tr>")
    parts.append("</table>")
    shown = set()
    for name, nb in sorted(result["notebooks"].items()):
        for c in nb["cells"]:
            ex = c["exercise"]
            if ex and ex not in shown:
                shown.add(ex)
                parts.append(f"<h2>{esc(ex)}</h2>")
                if ex in nb.get("answers", {}):
                    parts.append(f"<p>Your answer:</p><pre>{esc(nb['answers'][ex])}</pre>")
            cls = "passed" if c["status"] == "passed" else "bad"
            parts.append(f"<h3 id='{esc(c['grade_id'])}'>{esc(c['grade_id'])}: "
                         f"<span class='{cls}'>{esc(STATUS_TEXT.get(c['status'], c['status']))}</span> "
                         f"({c['points']:g} / {c['max_points']:g})</h3>")
            if c["misconception"]:
                parts.append(misconception_box(c["misconception"]))
            if c["message"] and c["status"] != "passed":
                parts.append(f"<pre>{esc(c['message'])}</pre>")
            if c.get("source"):
                parts.append(f"<details><summary>the test</summary><pre>{esc(c['source'])}</pre></details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def feedback_path(out: Path, student: str, aid: str) -> Path:
    return Path(out) / "feedback" / student / f"{aid}.html"


def write_feedback(out: Path, result: dict) -> Path:
    path = feedback_path(out, result["student"], result["assignment"])
    atomic_write(path, render(result))
    return path
