"""The student edition (`tnn-course release --student-edition DIR`): what it holds, that no
solution or hidden test leaks into it (folder and zip), and that it works installed in a
fresh venv away from the repository: JupyterLab with the widget extension, `tnn-course
check` with the repository's messages, and a notebook completed there grading like one
from `notebooks/`.

What the leak scan ignores, and why:
* lines shorter than 8 characters (``break``, ``pass``, ``else:``, ``)``), and lines whose only
  names are Python keywords (``return False``, ``return None``): no answer is in them;
* lines that the source notebooks also show outside their solution and hidden-test regions
  (lesson cells, the exercise's signature and docstring, other notebooks): the author
  published them.

Nothing else: no exception for ``tnn_lib`` or the misconception catalogue. The edition's
``tnn_lib`` holds stubs where the repository holds references (and near-twins), its catalogue
the misconceptions' text without their code, and what the visible checks need is recorded
data (``tnn_lib/recorded/``).
"""
from __future__ import annotations

import json
import keyword
import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from autograder.release.edition import EDITION_SETTINGS, FORBIDDEN, write_student_edition

ROOT = Path(__file__).resolve().parent.parent
MIN_LINE = 8
REGION = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


def _cells(nb_text: str):
    return ["".join(c.get("source", "")) for c in json.loads(nb_text).get("cells", [])]


def _generic(line: str) -> bool:
    """A line whose only names are Python keywords (``return False``, ``else:``)."""
    return all(keyword.iskeyword(name) for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line))


def secret_lines(root: Path = ROOT) -> dict:
    """line -> 'solution' | 'poll' | 'hidden' for every line that the source notebooks show
    only inside solution or hidden-test regions."""
    inside, outside = {}, set()
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            mode = None
            for line in "".join(cell.get("source", "")).splitlines():
                m = REGION.match(line)
                if m:
                    mode = None if m.group(1) == "END" else m.group(2)
                    continue
                s = line.strip()
                if mode == "SOLUTION":
                    inside[s] = "poll" if gid.startswith("poll_") else inside.get(s, "solution")
                elif mode == "HIDDEN TESTS":
                    inside[s] = "hidden"
                else:
                    outside.add(s)
    return {s: kind for s, kind in inside.items() if len(s) >= MIN_LINE and not _generic(s) and s not in outside}


def scan(files: dict, secrets: dict) -> list[str]:
    """`files`: relative path -> text. Returns what leaked: 'path: kind: line'."""
    leaks = []
    for rel, text in sorted(files.items()):
        if rel.endswith(".ipynb"):
            lines = {ln.strip() for src in _cells(text) for ln in src.splitlines()}
        else:
            lines = {ln.strip() for ln in text.splitlines()}
        for s in sorted(lines & set(secrets)):
            leaks.append(f"{rel}: {secrets[s]}: {s}")
    return leaks


RELEASED = {}   # when the module's edition was written: (before, after), time.time()


def _texts(files: dict) -> dict:
    """Every file as text; the recorded arrays (``.npz``, numbers only: checked here) as none."""
    import io
    import numpy as np
    out = {}
    for rel, data in files.items():
        if rel.endswith(".npz"):
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                kinds = {z[k].dtype.kind for k in z.files}
            assert kinds <= set("fciub"), (rel, kinds)   # numbers: no text, no objects
            out[rel] = ""
        else:
            out[rel] = data.decode("utf-8")
    return out


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    import time
    before = time.time()
    folder, archive = write_student_edition(tmp_path_factory.mktemp("edition") / "tnn-workbook", root=ROOT)
    RELEASED["span"] = (before, time.time())
    return folder, archive


def test_the_zip_dates_its_files_at_release(edition, monkeypatch, tmp_path):
    """A student unpacking the zip sees the files dated when the edition was written (zip
    keeps local time to 2 s), not a fixed date; SOURCE_DATE_EPOCH fixes it for a reproducible build."""
    import time
    folder, archive = edition
    before, after = RELEASED["span"]
    with zipfile.ZipFile(archive) as z:
        stamps = {time.mktime(info.date_time + (0, 0, -1)) for info in z.infolist()}
    assert len(stamps) == 1
    assert before - 2 <= stamps.pop() <= after + 2
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")          # 2026-01-01 00:00:00 UTC
    _, again = write_student_edition(tmp_path / "again", assignments=["00_backprop"], root=ROOT)
    with zipfile.ZipFile(again) as z:
        assert {info.date_time for info in z.infolist()} == {(2026, 1, 1, 0, 0, 0)}


def test_the_editions_jupyterlab_has_the_students_nbgrader_extensions_only(edition):
    """Where nbgrader is installed (a course's JupyterHub image), the edition's Jupyter config
    path disables its instructor extensions (Create Assignment, Formgrader, Course List) and
    keeps the student's (Assignment List, Validate); JupyterLab's settings are the repository's
    (no "Jupyter news" question). Asked of JupyterLab itself (`jupyter labextension list`)."""
    import os
    import subprocess
    import sys
    folder, _ = edition
    assert (folder / "jupyterlab" / "overrides.json").read_bytes() == (ROOT / "jupyterlab" / "overrides.json").read_bytes()
    assert "fetchNews" in (folder / "jupyterlab" / "overrides.json").read_text()
    workbook = (folder / "workbook.py").read_text()
    assert "--LabApp.app_settings_dir=" in workbook and 'JUPYTER_CONFIG_PATH' in workbook
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(folder / "jupyter"))
    out = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "labextension", "list"], env=env,
                         capture_output=True, text=True, timeout=300)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    disabled = listing.split("Disabled extensions:")[1] if "Disabled extensions:" in listing else ""
    for plugin in ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list"):
        assert plugin in disabled, listing
    assert "assignment-list" not in disabled and "validate" not in disabled, listing
    plain = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "labextension", "list"],
                           capture_output=True, text=True, timeout=300)
    assert "create-assignment" not in plain.stdout + plain.stderr   # (the repository keeps it, for instructors)


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _zip_files(archive: Path, top: str) -> dict:
    with zipfile.ZipFile(archive) as z:
        return {n[len(top) + 1:]: z.read(n) for n in z.namelist() if not n.endswith("/")}


def test_edition_holds_what_students_receive_and_nothing_else(edition):
    folder, archive = edition
    files = _files(folder)
    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    assert {r.split("/")[0] for r in files} == {"README.md", "workbook.py", "pyproject.toml", "LICENSE", "notebooks",
                                               "tnn_lib", "autograder", "jupyter", "jupyterlab", "EDITION.json"}
    settings = {"jupyterlab/overrides.json", *EDITION_SETTINGS}
    assert {r for r in files if r.startswith(("jupyter/", "jupyterlab/"))} == settings
    assert sorted(r for r in files if r.startswith("notebooks/")) == [f"notebooks/{a}/{a}.ipynb" for a in assignments]
    for rel, data in files.items():
        if rel.startswith("notebooks/"):   # copies, byte for byte
            assert data == (ROOT / rel).read_bytes(), rel
        elif rel.startswith(("tnn_lib/", "autograder/")) and not rel.startswith("tnn_lib/recorded/"):
            assert (ROOT / rel).is_file(), rel   # the repository's files, some rewritten without answers
    recorded = sorted(r for r in files if r.startswith("tnn_lib/recorded/"))
    assert recorded == sorted(f"tnn_lib/recorded/{a}.{x}" for a in assignments for x in ("json", "npz"))
    info = json.loads(files["EDITION.json"])
    assert info["answers"] == [] and info["assignments"] == assignments
    forbidden = [r for r in files if any(r == f or r.startswith(f + "/") for f in FORBIDDEN)
                 or r.endswith((".db", ".pyc")) or r.endswith(".json") and r != "EDITION.json"
                 and r not in settings and not r.startswith("tnn_lib/recorded/") or "examples" in r.split("/")]
    assert not forbidden
    assert not [r for r, d in files.items() if d.startswith(b"SQLite format 3")]
    example_class = {p.read_bytes() for p in (ROOT / "tests" / "fixtures" / "example_class").rglob("*") if p.is_file()}
    assert not [r for r, d in files.items() if d in example_class], "a file of the example class is in the edition"
    assert _zip_files(archive, folder.name) == files, "the zip must hold exactly the folder"
    grader = {"grading.py", "worker.py", "gradebook.py", "release.py", "report.py", "feedback.py", "launch.py"}
    assert not [r for r in files if r.startswith("autograder/") and r.split("/")[-1] in grader]


def test_no_solution_or_hidden_test_line_in_the_edition_or_its_zip(edition):
    folder, archive = edition
    secrets = secret_lines()
    kinds = {k: sum(v == k for v in secrets.values()) for k in ("solution", "poll", "hidden")}
    assert kinds["solution"] > 50 and kinds["poll"] > 10 and kinds["hidden"] > 150, kinds  # the scan has teeth
    texts = _texts(_files(folder))
    assert scan(texts, secrets) == []
    ztexts = _texts(_zip_files(archive, folder.name))
    assert scan(ztexts, secrets) == []
    assert any(r.startswith("tnn_lib/recorded/") for r in texts) and any(r.startswith("tnn_lib/") for r in texts)
    # and the scan finds a leak: a source notebook, or one hidden line pasted into the README
    src = (ROOT / "solutions" / "02_batchnorm" / "02_batchnorm.ipynb").read_text(encoding="utf-8")
    assert {k for k in ("solution", "poll", "hidden") if any(f": {k}: " in x for x in scan({"x.ipynb": src}, secrets))} \
        == {"solution", "poll", "hidden"}
    hidden = next(s for s, k in secrets.items() if k == "hidden")
    assert scan({"README.md": texts["README.md"] + "\n" + hidden + "\n"}, secrets) == [f"README.md: hidden: {hidden}"]


# ------------------------------------------------------------------------------------------
# installed in a fresh venv, away from the repository
# ------------------------------------------------------------------------------------------
def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "TNN_"))}
    env.update(HOME=str(home), PATH="/usr/bin:/bin", PYTHONNOUSERSITE="1")
    return env


@pytest.fixture(scope="module")
def installed(edition, tmp_path_factory):
    """The edition unpacked from its zip into a new folder and installed into its own venv
    (from PyPI, a warm cache) with the edition's own `workbook.py` setup."""
    _, archive = edition
    base = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(archive) as z:
        z.extractall(base)
    folder = base / "tnn-workbook"
    home = base / "home"
    home.mkdir()
    env = _env(home)
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    code = "import sys; sys.argv=['workbook.py']; import workbook; workbook.setup()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "deprecated" not in proc.stderr.lower(), proc.stderr[-3000:]
    return folder, env


def _answer(nb: dict, gid: str, source: str) -> dict:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            cell["source"] = source
            return nb
    raise AssertionError(f"no cell {gid}")


BN_UNBIASED = '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    mu = z.mean(axis=0)
    var = z.var(axis=0, ddof=1)
    z_hat = (z - mu) / np.sqrt(var + eps)
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)
'''
POPSTATS = '''def population_statistics(batch_means, batch_vars, batch_size):
    B = batch_size
    mean = np.mean(batch_means, axis=0)
    var = B / (B - 1) * np.mean(batch_vars, axis=0)
    return (float(mean), float(var)) if np.ndim(batch_means) == 1 else (mean, var)
'''


@pytest.mark.slow
def test_installed_edition_checks_grades_and_opens_jupyterlab_with_widgets(installed, tmp_path):
    folder, env = installed
    aid = "02_batchnorm"
    bindir = folder / ".venv" / "bin"
    # the package comes from the edition, not from this checkout
    where = subprocess.run([bindir / "python", "-c", "import tnn_lib, autograder; print(tnn_lib.__file__, "
                            "autograder.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert str(ROOT) not in where.stdout and str(folder) in where.stdout
    gone = subprocess.run([bindir / "python", "-c", "import autograder.runners.grade"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert gone.returncode != 0 and "No module named 'autograder.runners" in gone.stderr

    # a student completes two exercises, one with a known misconception, and saves after Run All
    nb = json.loads((folder / "notebooks" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    nb = _answer(_answer(nb, "batchnorm_forward", BN_UNBIASED), "population_statistics", POPSTATS)
    work = folder / "notebooks" / aid / "mine.ipynb"
    work.write_text(json.dumps(nb), encoding="utf-8")
    run = subprocess.run([bindir / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                          "--ExecutePreprocessor.timeout=300", "--allow-errors", str(work)], cwd=work.parent, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]

    # tnn-course check: the same messages in the edition as in the repository
    mine = subprocess.run([bindir / "tnn-course", "check", str(work)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    ours = subprocess.run([sys.executable, "-m", "autograder.cli.main", "check", str(work)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert mine.stdout == ours.stdout and mine.returncode == ours.returncode == 1, (mine.stdout, mine.stderr)
    assert "PASS  test_population_statistics" in mine.stdout
    assert "misconception:" in mine.stdout and "unbiased" in mine.stdout.lower()
    usage = subprocess.run([bindir / "tnn-course", "--help"], env=env, capture_output=True, text=True).stdout
    commands = [ln.split()[0] for ln in usage.split("COMMAND\n", 1)[-1].split("\noptions")[0].splitlines() if ln.strip()]
    assert commands == ["check"], usage   # the student's tnn-course has the self-check only

    # grading: the notebook run in the edition grades like the same answers in notebooks/
    repo_nb = _answer(_answer(json.loads((ROOT / "notebooks" / aid / f"{aid}.ipynb").read_text(encoding="utf-8")),
                              "batchnorm_forward", BN_UNBIASED), "population_statistics", POPSTATS)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "edition.ipynb").write_bytes(work.read_bytes())
    (inbox / "repo.ipynb").write_text(json.dumps(repo_nb), encoding="utf-8")
    from autograder.runners.grade import grade
    summary = grade(inbox, assignment=aid, workers=1, output=tmp_path / "grading", root=ROOT,
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", progress=False)
    assert summary.exit_status == 0
    rows = {r["student"]: {(c["grade_id"], c["points"], c["status"], c["misconception"])
                           for nb_ in r["notebooks"].values() for c in nb_["cells"]} for r in summary.results}
    assert rows["edition"] == rows["repo"]
    assert any(g == "test_population_statistics" and s == "passed" for g, _, s, _ in rows["edition"])
    assert any(g == "test_batchnorm_forward" and m for g, _, _, m in rows["edition"])

    # JupyterLab opens, with the widget manager extension loaded into the page
    sys.path.insert(0, str(ROOT / "tests"))
    from browser_tools import free_port
    port = free_port()
    # the README's one command (set up already: it goes straight to JupyterLab)
    lab = subprocess.Popen([sys.executable, "workbook.py", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                            "--ServerApp.port_retries=0", "--IdentityProvider.token=edition"],
                           cwd=folder, env=env, stdout=open(tmp_path / "lab.log", "wb"), stderr=subprocess.STDOUT)
    lab.log = tmp_path / "lab.log"
    try:
        page = _get(f"http://127.0.0.1:{port}/lab?token=edition", lab)
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                      page, re.S).group(1))
        fed = {e["name"]: e for e in config.get("federated_extensions", [])}
        assert "@jupyter-widgets/jupyterlab-manager" in fed, sorted(fed)
        entry = fed["@jupyter-widgets/jupyterlab-manager"]
        js = _get(f"http://127.0.0.1:{port}/lab/extensions/{entry['name']}/{entry['load']}?token=edition", lab)
        assert "jupyter-widgets" in js
        contents = json.loads(_get(f"http://127.0.0.1:{port}/api/contents/{aid}?token=edition", lab))
        assert {c["name"] for c in contents["content"]} >= {f"{aid}.ipynb"}
    finally:
        import psutil
        children = psutil.Process(lab.pid).children(recursive=True) if lab.poll() is None else []
        lab.terminate()   # workbook.py passes it on to JupyterLab
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
        gone, alive = psutil.wait_procs(children, timeout=30)
        for p in alive:
            p.kill()
        assert not alive, "JupyterLab outlived workbook.py"
    # no deprecation noise at start (notebook_shim, which sets off "ServerApp.token config is
    # deprecated", is off in the edition's settings)
    assert "deprecated" not in lab.log.read_text().lower(), lab.log.read_text()[-3000:]


def _get(url: str, proc, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    err = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {proc.returncode}: {proc.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read().decode("utf-8")
        except OSError as e:  # not listening yet
            err = e
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout} s: {err}")


# ------------------------------------------------------------------------------------------
# no answer: stubs, no catalogue code, recorded data without hidden cases, --answers
# ------------------------------------------------------------------------------------------
def _in_edition(folder: Path, code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(folder))
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder.parent, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_exercise_and_near_twin_is_a_stub_and_the_catalogue_has_no_code(edition):
    folder, _ = edition
    from autograder.release.shortcuts import TWINS
    from tnn_lib.topics import TOPICS
    exercises = [e for t in TOPICS for e in t.exercises]
    twins = sorted({d for ds in TWINS.values() for d in ds})
    out = json.loads(_in_edition(folder, f'''
import importlib, json, numpy as np
import tnn_lib.student as st
from autograder.catalogue import all_exercises, misconceptions_for
exs = all_exercises()
res = {{"edition": st.EDITION, "stubs": {{}}, "impls": [], "twins": {{}}}}
for name in {exercises!r}:
    res["stubs"][name] = getattr(exs[name].reference, "__tnn_stub__", None)
    res["impls"] += [m.id for m in misconceptions_for(name) if m.impl is not None]
for dotted in {twins!r}:
    mod, fn = dotted.split(".", 1)
    res["twins"][dotted] = getattr(getattr(importlib.import_module("tnn_lib." + mod), fn), "__tnn_stub__", None)
try:
    exs["adam_step"].reference(np.ones(2), np.ones(2), {{}}, 0.1)
except st.NotImplementedYet as err:
    res["message"] = str(err)
print(json.dumps(res))
'''))
    assert out["edition"] is True
    assert out["stubs"] == {e: e for e in exercises}
    assert out["twins"] == {d: d.split(".", 1)[1] for d in twins}
    assert out["impls"] == []
    assert "implement `adam_step` first (notebook 05_optimizers" in out["message"]


def test_recorded_data_never_hold_a_case_a_hidden_test_uses(edition):
    folder, _ = edition
    from autograder.checks import case_key
    from autograder.release.record import hidden_cases
    from autograder.course import COURSE
    held = 0
    for aid, exercises in COURSE.items():
        meta = json.loads((folder / "tnn_lib" / "recorded" / f"{aid}.json").read_text(encoding="utf-8"))
        for name in exercises:
            recorded = set(meta["checks"].get(name, {}))
            held += len(recorded)
            hidden = {case_key(kw) for kw in hidden_cases(ROOT, aid, name)}
            assert hidden, (aid, name)         # the hidden tests do check this exercise
            assert not recorded & hidden, (aid, name, sorted(recorded & hidden))
    assert held > 100


def test_answers_option_holds_the_named_assignments_references(tmp_path):
    folder, _ = write_student_edition(tmp_path / "ed", root=ROOT, answers=("00_backprop",),
                                      assignments=("00_backprop", "01_divergences"))
    info = json.loads((folder / "EDITION.json").read_text(encoding="utf-8"))
    assert info["answers"] == ["00_backprop"] and [r["assignment"] for r in info["recorded"]] == ["01_divergences"]
    assert "`00_backprop`" in (folder / "README.md").read_text(encoding="utf-8")
    out = _in_edition(folder, '''
import numpy as np
from tnn_lib import layers, divergences
print(hasattr(layers.linear_forward, "__tnn_stub__"), hasattr(layers.leaky_relu_backward, "__tnn_stub__"),
      hasattr(divergences.softmax, "__tnn_stub__"))
print(layers.linear_forward(np.ones((2, 2)), np.eye(2), np.zeros(2))[0].tolist())
''')
    assert out.splitlines() == ["False False True", "[[1.0, 1.0], [1.0, 1.0]]"]
    with pytest.raises(ValueError, match="unknown assignment"):
        write_student_edition(tmp_path / "bad", root=ROOT, answers=("99_nothing",))


@pytest.mark.slow
def test_the_same_answer_gets_the_same_message_in_the_edition_and_the_repository(edition, tmp_path):
    """Every non-tampering submission of the example class (one student per catalogued
    misconception, correct, blank, partial, uses-reference; distinct notebooks once), its
    visible test cells evaluated as `tnn-course check` does, with the repository's package and
    with the edition's: the same status, misconception and message for every cell."""
    import hashlib
    folder, _ = edition
    items, seen = [], set()
    for student in sorted((ROOT / "tests" / "fixtures" / "example_class" / "submitted").iterdir()):
        if student.name.startswith("hostile-"):
            continue
        for nb in sorted(student.glob("*/*.ipynb")):
            h = hashlib.sha1(nb.read_bytes()).hexdigest()
            if h not in seen:
                seen.add(h)
                items.append([f"{student.name}/{nb.parent.name}", str(nb)])
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(items))
    got = {}
    # the two sides at once (one process each, one core each)
    procs = {side: subprocess.Popen([sys.executable, str(ROOT / "tests" / "edition_messages.py"), str(listing)],
                                    cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(base)), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for side, base in (("repo", ROOT), ("edition", folder))}
    for side, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=7200)
        assert proc.returncode == 0, stderr[-3000:]
        got[side] = json.loads(stdout)
    named = {m for rows in got["repo"].values() for _, _, m, _ in rows if m}
    assert len(named) > 150     # the comparison covers the catalogue
    differ = {k: [(a, b) for a, b in zip(got["repo"][k], got["edition"][k]) if a != b]
              for k in got["repo"] if got["repo"][k] != got["edition"][k]}
    assert not differ, (f"{len(differ)} of {len(items)} notebooks differ: {sorted(differ)}; the first three: "
                        + json.dumps(dict(list(differ.items())[:3])))


# ------------------------------------------------------------------------------------------
# recorded data: what identifies a recorded call, and how it is stored
# ------------------------------------------------------------------------------------------
def test_a_test_cells_function_is_told_apart_by_the_plain_values_it_reads():
    """03's numerical-gradient check loops ``for inverted in (True, False)`` over one lambda
    that reads ``inverted``: two functions, two recorded calls (the second was the first's
    replay). The same lambda is the same function in a check's ``<test>`` and in JupyterLab's
    kernel (its cells are files of ipykernel's)."""
    from tnn_lib.recorded import _function_id
    src = "f = lambda v: v * scale if inverted else v\n"
    ids = {}
    for inverted in (True, False):
        ns = {"scale": 2.0, "inverted": inverted}
        exec(compile(src, "<test>", "exec"), ns)
        ids[inverted] = _function_id(ns["f"])
    assert ids[True] != ids[False] and "inverted=False" in ids[False]
    ns = {"scale": 2.0, "inverted": False}
    exec(compile(src, "/tmp/ipykernel_4242/1234567.py", "exec"), ns)
    assert _function_id(ns["f"]) == ids[False]


def test_recorded_arrays_are_packed_and_large_draws_stored_as_recipes():
    import numpy as np
    from autograder.release.record import _as_draws, pack
    from tnn_lib.recorded import Encoder, decode, unpack
    arrays = {}
    enc = Encoder(arrays)
    rng = np.random.default_rng(3)
    state = enc.encode(rng)
    normal = rng.standard_normal((80, 60)) * np.sqrt(2 / 80)
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = state["generator"]
    uniform = rng2.uniform(-0.3, 0.3, (80, 60))
    small = np.arange(6.0).reshape(2, 3)
    for value in (normal, uniform):
        j = _as_draws(enc.encode(value), [state], arrays)
        assert "draw" in j and np.array_equal(decode(j, arrays), value)
    j = _as_draws(enc.encode(normal + 1e-3), [state], arrays)   # not a draw: kept as numbers
    assert "array" in j
    assert "array" in _as_draws(enc.encode(small), [state], arrays)
    blobs, index = pack({"a": small, "b": np.arange(3), "c": normal})
    assert len(blobs) == 2     # one per dtype
    back = unpack(blobs, index)
    assert all(np.array_equal(back[k], v) for k, v in {"a": small, "b": np.arange(3), "c": normal}.items())


def test_recorded_data_are_small(edition):
    """The recorded data per assignment (JSON + .npz, as EDITION.json says and as on disk):
    measured at 20–90 kB for most assignments, about 2.1 MB for 04 (two orthogonal 400×300
    matrices of its test cell, which no recipe reproduces) and 2.8 MB for 07 (the layers'
    calls of every train_epoch/evaluate misconception); a cap that fails if they grow."""
    folder, _ = edition
    info = json.loads((folder / "EDITION.json").read_text(encoding="utf-8"))
    sizes = {r["assignment"]: r["bytes"] for r in info["recorded"]}
    on_disk = {a: sum((folder / "tnn_lib" / "recorded" / f"{a}.{x}").stat().st_size for x in ("json", "npz"))
               for a in sizes}
    assert sizes == on_disk
    assert max(sizes.values()) < 3_000_000 and sum(sizes.values()) < 6_000_000, sizes
    assert sorted(a for a, b in sizes.items() if b > 200_000) == ["04_initialization", "07_training"], sizes


def test_a_pair_of_mistakes_gets_the_same_message_in_the_edition_and_the_repository(edition):
    """The answers of tests/test_combined_mistakes.py with two composable mistakes at once, checked
    by every visible check of their notebooks (cell by cell, as `tnn-course check` runs them): the
    edition, which reads the pairs' recorded outcomes, says what the repository says, and both
    name the two mistakes."""
    import inspect
    import test_combined_mistakes as tcm
    folder, _ = edition
    answers = [("01_divergences", "softmax_kl", tcm.softmax_kl_clamped_cross_entropy),
               ("03_dropout", "dropout_forward", tcm.dropout_fwd_drop_prob_one_mask),
               ("05_optimizers", "adam_step", tcm.adam_no_sqrt_beta1_in_v)]
    sources = "import numpy as np\n" + "\n".join(inspect.getsource(fn) for _, _, fn in answers)
    code = f'''
import json, nbformat
from autograder.checks import CheckFailure, cell_source, check, check_cases
from autograder.outcomes.cells import is_test_cell, visible_source
ns = {{}}
exec({sources!r}, ns)
out = []
for aid, name, fn in {[(a, n, f.__name__) for a, n, f in answers]!r}:
    nb = nbformat.read({str(ROOT)!r} + f"/notebooks/{{aid}}/{{aid}}.ipynb", as_version=4)
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        src = visible_source(cell.source)
        with cell_source(src):
            for kw in check_cases(src, name):
                try:
                    check(name, ns[fn], **kw)
                    out.append([name, repr(kw), "passed"])
                except CheckFailure as err:
                    out.append([name, repr(kw), str(err)])
print(json.dumps(out))
'''
    got = {}
    for side, base in (("repo", ROOT), ("edition", folder)):
        proc = subprocess.run([sys.executable, "-c", code], cwd=folder.parent, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(base)), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        got[side] = json.loads(proc.stdout)
    assert got["repo"] == got["edition"]
    from autograder.checks import PARTIAL_ID
    for name in ("softmax_kl", "dropout_forward", "adam_step"):
        named = {mid for n, _, msg in got["repo"] if n == name for mid in PARTIAL_ID.findall(msg)}
        assert len(named) == 2, (name, named)
