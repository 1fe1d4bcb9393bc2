"""``tnn-course release --student-edition DIR``: what students receive, and nothing else.

The edition is a folder (and a zip of the same folder) holding

* ``notebooks/<id>/<id>.ipynb`` — the released notebooks (nbgrader's release: no solution,
  no hidden test);
* the student package: ``tnn_lib`` (the public reference library the widgets, the lesson
  cells and the visible checks are built on) and the few ``autograder`` modules the
  released notebooks import and ``tnn-course check`` runs (:data:`STUDENT_MODULES`), with
  its own ``pyproject.toml`` whose ``tnn-course`` command offers ``check`` only;
* ``README.md`` for students and ``workbook.py``, the one command that sets up a venv and
  opens JupyterLab;
* ``EDITION.json``: which answers the edition holds (``--answers``) and its recorded data.

No answer is in it (:mod:`autograder.release.stubs`): every exercise of `tnn_lib` whose
assignment is not in ``answers`` is a stub that runs the student's own implementation, its
near-twins (:mod:`autograder.release.shortcuts`) too, and the misconception catalogue ships its ids,
titles and hints without their code. What the visible checks need from the reference and
from the misconceptions is recorded as data at release time (:mod:`autograder.release.record`,
``tnn_lib/recorded/``), so that a check gives the same message as in the repository.

Not in it: ``solutions/``, the grader (grading, workers, sandbox launcher, gradebook,
release, report, feedback), the gradebook, the example class, its expected results.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

from autograder.course import course_root
from autograder.release.record import write_recorded
from autograder.release.shortcuts import TWINS
from autograder.release.stubs import stub_module, strip_catalogue
from autograder.sandbox.launch import references_of
from tnn_lib.topics import TOPICS

TEMPLATES = Path(__file__).resolve().parent / "templates" / "student"

# What the released notebooks import (``autograder.checks``) and what ``tnn-course check``
# runs: the visible checks, the misconception catalogue, the evaluation grading shares with
# the self-check, and the proxy protocol that evaluation module names. Nothing that grades.
STUDENT_MODULES = (
    "autograder/__init__.py", "autograder/defaults.py", "autograder/checks.py", "autograder/source.py", "autograder/outcomes/diagnose.py",
    "autograder/outcomes/cells.py", "autograder/evaluation/testcells.py", "autograder/evaluation/submission.py", "autograder/cli/selfcheck.py",
    "autograder/cli/main.py", "autograder/cli/student.py", "autograder/catalogue/*.py",
    "autograder/outcomes/__init__.py", "autograder/evaluation/__init__.py", "autograder/cli/__init__.py",
    "autograder/sandbox/__init__.py", "autograder/sandbox/peer.py", "autograder/sandbox/wire.py",
    # the self-check runs grading's own stages with grading's settings and records
    "autograder/settings.py", "autograder/records.py", "autograder/evaluation/pipeline.py",
    "autograder/evaluation/integrity.py",
)
# never part of an edition, whatever the patterns above match
FORBIDDEN = ("solutions", "tests/fixtures/example_class", "gradebook.db", "expected.json", "autograder/runners/grade.py",
             "autograder/runners/worker.py", "autograder/gradebook/writer.py", "autograder/release/notebooks.py",
             "autograder/sandbox/launch.py", "autograder/sandbox/student.py")


def student_files(root: Path) -> list[Path]:
    """The package files of the edition, relative to the course directory `root`."""
    files = sorted(p for p in (root / "tnn_lib").rglob("*.py") if "__pycache__" not in p.parts)
    for pattern in STUDENT_MODULES:
        found = sorted(root.glob(pattern))
        if not found:
            raise FileNotFoundError(f"the student package needs {pattern}, which is not in {root}")
        files += found
    rel = [p.relative_to(root) for p in files]
    bad = [str(r) for r in rel if any(str(r) == f or str(r).startswith(f + "/") for f in FORBIDDEN)]
    if bad:
        raise ValueError(f"the student package would include grader files: {bad}")
    return rel


def _released(root: Path, assignments) -> list[Path]:
    names = list(assignments) if assignments else sorted(
        p.name for p in (root / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    out = []
    for a in names:
        nbs = sorted((root / "notebooks" / a).glob("*.ipynb"))
        if not nbs:
            raise FileNotFoundError(f"{a} has no released notebook under {root / 'notebooks' / a}: run "
                                    "`tnn-course release` first")
        out += [p.relative_to(root) for p in nbs]
    return out


def solution_lines(root: Path) -> set[str]:
    """Every line (stripped) inside a solution region of the source notebooks."""
    region = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
    out = set()
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            inside = False
            for line in "".join(cell.get("source", "")).splitlines():
                if region.match(line):
                    inside = not line.strip().startswith("### END")
                elif inside and line.strip():
                    out.add(line.strip())
    return out


def stubbed_names(answers=()) -> dict[str, set[str]]:
    """{tnn_lib module stem: names} that the edition stubs: the references of every exercise
    whose assignment is not in `answers`, and their near-twins."""
    unknown = set(answers) - {t.id for t in TOPICS}
    if unknown:
        raise ValueError(f"--answers: unknown assignment(s) {sorted(unknown)}; expected ids such as "
                         f"{', '.join(t.id for t in TOPICS[:2])}")
    exercises = [e for t in TOPICS if t.id not in set(answers) for e in t.exercises]
    return references_of(exercises)


def _twin_exercises(answers) -> dict[str, str]:
    held = {e for t in TOPICS if t.id in set(answers) for e in t.exercises}
    out = {}
    for ex, dotted in TWINS.items():
        if ex not in held:
            for d in dotted:
                out.setdefault(d.split(".", 1)[1], ex)
    return out


def _edition_text(root: Path, rel: Path, stubbed, twins, secrets) -> str | None:
    """The edition's text of the package file `rel`, or None to copy it as it is."""
    parts = rel.parts
    text = (root / rel).read_text(encoding="utf-8")
    if parts[0] == "tnn_lib":
        stem = "/".join(parts[1:])[:-3]
        if stem == "student":
            if "\nEDITION = False\n" not in text:
                raise ValueError("tnn_lib/student.py: expected the line `EDITION = False` for the release to rewrite")
            return text.replace("\nEDITION = False\n", "\nEDITION = True\n")
        names = stubbed.get(stem, set())
        mine = {n: ex for n, ex in twins.items() if n in names}
        if names:
            return stub_module(text, names - set(mine), mine, secrets)
        return None
    if parts[:2] == ("autograder", "catalogue") and parts[-1] != "__init__.py":
        return strip_catalogue(text)
    return None


def write_student_edition(dest, assignments=None, root=None, answers=()) -> tuple[Path, Path]:
    """Write the student edition of the course to folder `dest` (which must be empty or
    absent, and outside the course's own folders) and ``<dest>.zip``; return both paths.
    `answers`: assignment ids whose references the edition holds (released solutions)."""
    root = course_root(root)
    answers = tuple(answers or ())
    dest = Path(dest).resolve()
    if dest == root or root in dest.parents and dest.relative_to(root).parts[0] in (
            "solutions", "notebooks", "tnn_lib", "autograder", "tests"):
        raise ValueError(f"--student-edition {dest}: choose a folder outside the course's own folders")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"--student-edition {dest}: expected a new or empty folder")
    stubbed = stubbed_names(answers)
    twins = _twin_exercises(answers)
    secrets = solution_lines(root)
    notebooks = _released(root, assignments)
    files = notebooks + student_files(root) + [Path("LICENSE")]
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in files:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        text = _edition_text(root, rel, stubbed, twins, secrets) if rel.suffix == ".py" else None
        if text is None:
            shutil.copyfile(root / rel, tmp / rel)
        else:
            (tmp / rel).write_text(text, encoding="utf-8")
    recorded = [write_recorded(tmp / "tnn_lib" / "recorded", root, rel.parts[1], stubbed)
                for rel in notebooks if rel.parts[1] not in answers]
    info = {"answers": sorted(answers), "assignments": [rel.parts[1] for rel in notebooks],
            "recorded": recorded}
    (tmp / "EDITION.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    titles = _titles(root, assignments)
    held = ", ".join(f"`{a}`" for a in sorted(answers)) if answers else "none"
    for name in ("pyproject.toml", "workbook.py", "README.md"):
        text = (TEMPLATES / name).read_text(encoding="utf-8").replace("{{TOPICS}}", titles).replace(
            "{{ANSWERS}}", held)
        (tmp / name).write_text(text, encoding="utf-8")
    (tmp / "workbook.py").chmod(0o755)
    # the student's JupyterLab: nbgrader's student extensions only (no Create Assignment,
    # Formgrader, Course List), the repository's settings (no "Jupyter news" question)
    for rel in EDITION_SETTINGS:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATES / rel, tmp / rel)
    (tmp / "jupyterlab").mkdir(exist_ok=True)
    shutil.copyfile(root / "jupyterlab" / "overrides.json", tmp / "jupyterlab" / "overrides.json")
    if dest.exists():
        dest.rmdir()
    os.replace(tmp, dest)
    zpath = dest.with_suffix(".zip") if dest.suffix == "" else dest.with_name(dest.name + ".zip")
    ztmp = zpath.with_name(f".{zpath.name}.{os.getpid()}.tmp")
    released = _release_time()
    with zipfile.ZipFile(ztmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(dest.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(f"{dest.name}/{p.relative_to(dest).as_posix()}", date_time=released)
                info.external_attr = (0o755 if os.access(p, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, p.read_bytes())
    os.replace(ztmp, zpath)
    return dest, zpath


# the student's Jupyter settings (JUPYTER_CONFIG_PATH of the edition's workbook.py)
EDITION_SETTINGS = ("jupyter/labconfig/page_config.json", "jupyter/jupyter_server_config.json")


def _release_time() -> tuple:
    """The zip's file dates: the time of the release (local time, as zip stores it), or
    ``SOURCE_DATE_EPOCH`` when set (a reproducible build)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = time.gmtime(int(epoch)) if epoch and epoch.isdigit() else time.localtime()
    return tuple(max(v, lo) for v, lo in zip(stamp[:6], (1980, 1, 1, 0, 0, 0)))


def _titles(root: Path, assignments) -> str:
    wanted = set(assignments) if assignments else None
    return "\n".join(f"| `{t.id}` | {t.title} |" for t in TOPICS
                     if (wanted is None or t.id in wanted) and (root / "notebooks" / t.id).is_dir())
