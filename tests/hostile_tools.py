"""What a grading may leave behind, looked at before and after it: files named ``tnn-pwned-*``
under /tmp and the course directory, the course directory's listing, processes whose command
line holds ``98765`` (the tampering submissions of tests/fixtures/example_class/build.py mark
what they try to leave behind with those names), and one submission's gradebook scores."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK, PROCESS_MARK = "tnn-pwned-", b"98765"
SKIP_IN_ROOT = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis",
                "test-artifacts"}   # the browser tests' screenshots (gitignored), should they run meanwhile


def root_listing() -> set[str]:
    out = set()
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_IN_ROOT]
        rel = Path(top).relative_to(ROOT)
        out.update(str(rel / name) for name in dirs + files)
    return out


def marked_paths(top: Path, skip=()) -> list[str]:
    found = []
    for here, dirs, files in os.walk(top, onerror=lambda err: None):
        dirs[:] = [d for d in dirs if d not in skip]
        found += [os.path.join(here, n) for n in dirs + files if n.startswith(MARK)]
    return found


def marked_processes() -> dict[int, str]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if PROCESS_MARK in cmd:
            out[int(entry)] = cmd.replace(b"\0", b" ").decode(errors="replace").strip()
    return out


def traces() -> dict:
    """What the course directory, /tmp and the process table hold now."""
    return {"root": root_listing(), "processes": marked_processes(),
            "marked": set(marked_paths(Path("/tmp")) + marked_paths(ROOT, SKIP_IN_ROOT))}


def gradebook_scores(db_url: str, student: str, aid: str) -> dict:
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(aid, student)
        scores = {"score": sub.score, "max_score": sub.max_score}
        for nb in sub.notebooks:
            for g in nb.grades:
                scores[f"{nb.name}/{g.name}"] = (g.auto_score, g.manual_score, g.extra_credit, g.score, g.max_score,
                                                  g.needs_manual_grade)
    return scores
