"""The course on JupyterHub as a course runs it, end to end in headless Chromium.

JupyterHub (PyPI) behind configurable-http-proxy (npm) runs as root with the course's own
config (autograder/jupyterhub/). Two students and an instructor are real system accounts
(useradd, homes 0700, their own passwords set with chpasswd) in the course's groups; they log
in through PAM and their servers run as themselves (LocalProcessSpawner). The instructor's
course directory is a copy of this repository in their home, readable by them alone; the
students' servers run a venv built from the student edition that the instructor wrote with
`tnn-course release --student-edition`. nbgrader's exchange is a shared folder with nbgrader's
own permissions.

Student 1 logs in, fetches 02_batchnorm in the Assignments panel, runs its widget, answers one
exercise and submits; the instructor (as their account) collects, grades with `tnn-course
grade` and releases feedback with nbgrader; student 1 fetches the feedback in the panel and
reads it. Student 2 then tries, from a notebook of their own (open() as that account) and
through the Jupyter contents API, to read solutions/, the gradebook, student 1's submission,
notebook and feedback, and to list the exchange's inbound and feedback folders: every one is
refused, while the released assignment stays readable. The instructor, from their own
notebook, reads what student 2 could not (and not student 1's home)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from browser_tools import artifacts_dir, launch
from exchange_tools import BN_UNBIASED
from hub_tools import PREFIX, ROOT, Accounts, Hub, quiet_lab_settings

AID = "02_batchnorm"
COURSE_ID = "tnn-workbook"
S1, S2, INSTR = f"{PREFIX}s1", f"{PREFIX}s2", f"{PREFIX}instructor"
STUDENTS, INSTRUCTORS = f"{PREFIX}students", f"{PREFIX}instructors"
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(2400)]


# ------------------------------------------------------------------------------------------
# the deployment
# ------------------------------------------------------------------------------------------
def _copy_course(course: Path) -> None:
    """The course repository's tracked files (as a clone would have them) into `course`."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True)
    files = [f for f in listed.stdout.split("\0") if f] if listed.returncode == 0 else []
    if files:
        for f in files:
            if (ROOT / f).is_file():
                (course / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / f, course / f)
    else:
        shutil.copytree(ROOT, course, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "test-artifacts", "grading", "gradebook.db"))


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for d, dirs, files in os.walk(path):
        os.chown(d, uid, gid)
        for f in files:
            os.chown(os.path.join(d, f), uid, gid)


# The users' environments are built from Debian's Python, which every account may run (this
# process's interpreter may live where only root can read, as under /root).
SYSTEM_PYTHON = "/usr/bin/python3"


def _pin(dist: str) -> str:
    from importlib.metadata import version
    return f"{dist}=={version(dist)}"


def _pip_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "TNN_"))}


def _build_env(prefix: Path, packages: list, log: Path) -> subprocess.Popen:
    """What a course's admin does: `python3 -m venv PREFIX && PREFIX/bin/pip install PACKAGES`
    (as root; the environment is readable by every account, it holds nothing secret)."""
    script = (f"{SYSTEM_PYTHON} -m venv {prefix!s} && {prefix!s}/bin/pip install -q --no-compile "
              + " ".join(map(str, packages)))
    return subprocess.Popen(["bash", "-c", script], env=_pip_env(), stdin=subprocess.DEVNULL,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _pip(prefix: Path, packages: list, log: Path) -> None:
    with open(log, "ab") as out:
        proc = subprocess.run([str(prefix / "bin" / "pip"), "install", "-q", "--no-compile", *map(str, packages)],
                              env=_pip_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              timeout=1800)
    assert proc.returncode == 0, log.read_text()[-4000:]


def _wait(build: subprocess.Popen, log: Path) -> None:
    assert build.wait(timeout=1800) == 0, log.read_text()[-4000:]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------------
# the browser
# ------------------------------------------------------------------------------------------
def _login(ctx, hub: Hub, user: str, password: str):
    page = ctx.new_page()
    page.goto(f"{hub.url}/hub/login", timeout=120_000)
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=240_000)
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=240_000)
    return page


def _menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _menu_items(page, top: str) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.wait_for_selector(".lm-Menu .lm-Menu-itemLabel", timeout=30_000)
    items = [t.strip() for t in page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()]
    page.keyboard.press("Escape")
    return items


def _open_notebook(page, hub: Hub, user: str, rel: str, ncells: int) -> None:
    page.goto(f"{hub.url}/user/{user}/lab/tree/{rel}", timeout=120_000)
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
                           arg=ncells, timeout=120_000)
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                                   .some(e => /\\| Idle$/.test(e.textContent.trim()))""", timeout=180_000)


def _cell_index(nb: dict, pred) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if pred(c))


# A notebook cell that tries each path as the account running the kernel: open() and read a
# byte of a file, list a folder. Then symlinks in the home, for the contents API to follow.
PROBE = '''import importlib.util, json, os, sys
import autograder, tnn_lib
TARGETS = json.loads({targets!r})
LINKS = json.loads({links!r})
access = {{}}
for name, path in TARGETS.items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
        access[name] = "read"
    except PermissionError:
        access[name] = "PermissionError"
    except OSError as e:
        access[name] = type(e).__name__
for link, path in LINKS.items():
    if not os.path.lexists(link):
        os.symlink(path, link)
print("TNN-PROBE " + json.dumps({{"uid": os.getuid(), "prefix": sys.prefix, "autograder": autograder.__file__,
      "tnn_lib": tnn_lib.__file__, "grader": importlib.util.find_spec("autograder.runners") is not None,
      "access": access}}))
'''


def _probe_notebook(targets: dict, links: dict) -> str:
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
          "cells": [{"cell_type": "code", "id": "probe", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": PROBE.format(targets=json.dumps({k: str(v) for k, v in targets.items()}),
                                            links=json.dumps({k: str(v) for k, v in links.items()}))}]}
    return json.dumps(nb, indent=1)


def _run_probe(page, hub: Hub, user: str) -> dict:
    _open_notebook(page, hub, user, "probe.ipynb", 1)
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea").click()
    page.keyboard.press("Control+Enter")
    out = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea-output", has_text="TNN-PROBE")
    out.wait_for(timeout=180_000)
    line = next(ln for ln in out.inner_text().splitlines() if ln.startswith("TNN-PROBE "))
    return json.loads(line[len("TNN-PROBE "):])


def _contents(page, hub: Hub, user: str, rel: str) -> tuple[int, str]:
    """GET the Jupyter contents API of `user`'s server from their logged-in page, as
    JupyterLab does (the session cookie, and the _xsrf cookie echoed in X-XSRFToken)."""
    r = page.evaluate("""async url => {
        const m = document.cookie.match(/(?:^|;\\s*)_xsrf=([^;]*)/);
        const headers = m ? {'X-XSRFToken': decodeURIComponent(m[1])} : {};
        const r = await fetch(url, {credentials: 'same-origin', headers});
        return [r.status, await r.text()]; }""",
                      f"{hub.url}/user/{user}/api/contents/{rel}?type=file&format=text&content=1")
    return r[0], r[1]


# ------------------------------------------------------------------------------------------
def test_course_on_jupyterhub_with_system_accounts_pam_and_the_student_edition(tmp_path):
    from playwright.sync_api import sync_playwright

    if os.geteuid() != 0:
        pytest.fail("the JupyterHub test runs the hub as root and makes system accounts (useradd), as CI does: "
                    "run it as root")
    accounts = Accounts()
    # tmp_path's parents are root's only. Not under /tmp: a deployment's environments live
    # outside it, and a student process of an unprivileged grader cannot re-bind an environment
    # under /tmp on its own fresh /tmp (see INSTRUCTORS.md)
    base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}hub-", dir="/var/tmp"))
    hub = None
    try:
        base.chmod(0o755)
        # --- accounts: the course's two groups, an instructor, two students
        accounts.group(STUDENTS)
        accounts.group(INSTRUCTORS)
        accounts.user(INSTR, [INSTRUCTORS])
        accounts.user(S1, [STUDENTS])
        accounts.user(S2, [STUDENTS])
        for u in (INSTR, S1, S2):
            assert _mode(accounts.home(u)) == 0o700, (u, oct(_mode(accounts.home(u))))
            accounts.write_as(u, quiet_lab_settings(accounts.home(u)))
        ipw, ihome = accounts.pw(INSTR), accounts.home(INSTR)

        # --- nbgrader's exchange: a folder everyone may write (nbgrader's docs: chmod ugo+rw)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o777)

        # --- the instructor's course directory: a copy of the repository, theirs alone
        course = ihome / COURSE_ID
        _copy_course(course)
        config = ("from autograder.course import nbgrader_config\n"
                  "c = get_config()  # noqa: F821\n"
                  f"c.merge(nbgrader_config({str(course)!r}))\n"
                  f"c.Exchange.root = {str(exchange)!r}\n")
        (course / "nbgrader_config.py").write_text(config)
        (ihome / "nbgrader_config.py").write_text(config)   # formgrader reads the one where the server starts
        _chown_tree(course, ipw.pw_uid, ipw.pw_gid)
        os.chown(ihome / "nbgrader_config.py", ipw.pw_uid, ipw.pw_gid)
        course.chmod(0o700)
        # the environments: the instructor's has the course installed from their copy (pip
        # install -e), the students' the student edition; both also nbgrader and jupyterhub
        t0 = time.monotonic()
        ienv_prefix, student_env = base / "instructor-env", base / "student-env"
        ilog, slog = base / "instructor-env.log", base / "student-env.log"
        ibuild = _build_env(ienv_prefix, ["-e", course, _pin("jupyterhub")], ilog)
        sbuild = _build_env(student_env, [_pin("nbgrader"), _pin("jupyterhub")], slog)
        _wait(ibuild, ilog)
        ienv = accounts.env(INSTR, PATH=f"{ienv_prefix / 'bin'}:/usr/bin:/bin")

        def as_instructor(*cmd, **kw):
            return accounts.run(INSTR, [ienv_prefix / "bin" / cmd[0], *cmd[1:]], cwd=course, env=ienv, **kw)

        # --- the instructor releases the assignment and writes the student edition
        editions = base / "edition"
        editions.mkdir()
        os.chown(editions, ipw.pw_uid, ipw.pw_gid)
        edition = editions / "tnn-workbook-student"
        out = as_instructor("tnn-course", "release", "--course-dir", course, AID, "--student-edition", edition)
        assert "student edition:" in out.stdout, out.stdout
        assert not (edition / "solutions").exists()
        as_instructor("nbgrader", "db", "assignment", "add", AID)
        as_instructor("nbgrader", "release_assignment", AID)
        ex = exchange / COURSE_ID
        released = ex / "outbound" / AID / f"{AID}.ipynb"
        # nbgrader's own permissions: outbound readable by all, inbound writable but not
        # listable (setgid), both owned by the instructor
        assert (_mode(ex / "outbound"), _mode(ex / "inbound")) == (0o755, 0o2733), \
            (oct(_mode(ex / "outbound")), oct(_mode(ex / "inbound")))
        assert (ex / "inbound").stat().st_uid == ipw.pw_uid and released.is_file()
        # the admin installs the edition for the students
        _wait(sbuild, slog)
        _pip(student_env, [edition], slog)
        t_envs = time.monotonic() - t0

        user_config = base / "jupyter-config"
        shutil.copytree(ROOT / "autograder" / "jupyterhub", user_config, ignore=shutil.ignore_patterns("*.pyc"))
        hub = Hub(base / "state", exchange, student_group=STUDENTS, instructor_group=INSTRUCTORS,
                  student_env=student_env, instructor_env=ienv_prefix,
                  user_config=user_config)
        hub.start()
        print(f"\nthe two environments built, the assignment and the student edition released: {t_envs:.1f} s")

        released_nb = json.loads(released.read_text())
        widget_cell = _cell_index(released_nb, lambda c: "covariate_shift()" in "".join(c["source"]))
        answer_cell = _cell_index(released_nb, lambda c: c["metadata"].get("nbgrader", {}).get("grade_id")
                                  == "batchnorm_forward")
        shots = artifacts_dir()

        with sync_playwright() as pw:
            ctx = launch(pw, tmp_path / "chromium")
            try:
                # a wrong password is refused (PAM), the right one logs in
                page = ctx.new_page()
                page.goto(f"{hub.url}/hub/login", timeout=120_000)
                page.fill("#username_input", S1)
                page.fill("#password_input", accounts.users[S2])
                page.click("#login_submit")
                page.locator(".login_error").wait_for(timeout=60_000)
                assert "/hub/login" in page.url and "/user/" not in page.url, page.url
                page.close()

                t0 = time.monotonic()
                page = _login(ctx, hub, S1, accounts.users[S1])
                items = _menu_items(page, "Nbgrader")
                assert "Assignment List" in items and "Formgrader" not in items, items   # a student's extensions

                # the Assignments panel lists the released assignment: fetch it
                _menu(page, "Nbgrader", "Assignment List")
                row = page.locator("#released_assignments_list .list_item", has_text=AID)
                row.wait_for(timeout=120_000)
                row.locator("button", has_text="Fetch").click()
                page.locator("#fetched_assignments_list .list_item", has_text=AID).first.wait_for(timeout=120_000)
                fetched = accounts.home(S1) / AID / f"{AID}.ipynb"
                assert fetched.is_file() and fetched.stat().st_uid == accounts.pw(S1).pw_uid

                # open it, run the widget cell: the widget renders, and in the edition (which holds
                # no answer) it runs on the student's batchnorm_forward, so it says to implement that first
                _open_notebook(page, hub, S1, f"{AID}/{AID}.ipynb", len(released_nb["cells"]))
                cell = page.locator(".jp-Notebook .jp-Cell").nth(widget_cell)
                cell.locator(".jp-InputArea").click()
                page.keyboard.press("Control+Enter")
                widget = cell.locator(".jp-OutputArea .tnn-widget").first
                widget.wait_for(timeout=180_000)
                assert widget.locator(".tnn-control").count() >= 1
                status = widget.locator(".tnn-status")
                page.wait_for_function("e => e.textContent.includes('implement `batchnorm_forward` first')",
                                       arg=status.element_handle(), timeout=120_000)

                # answer one exercise (with a known misconception), save
                editor = page.locator(".jp-Notebook .jp-Cell").nth(answer_cell).locator(".cm-content")
                editor.click()
                page.keyboard.press("Control+A")
                page.keyboard.insert_text(BN_UNBIASED)
                page.keyboard.press("Control+S")
                deadline = time.monotonic() + 60
                while "ddof=1" not in fetched.read_text() and time.monotonic() < deadline:
                    page.wait_for_timeout(250)
                assert "ddof=1" in fetched.read_text(), "the saved notebook does not hold the answer"
                page.screenshot(path=str(shots / "jupyterhub-student-notebook.png"))

                # submit from the Assignments panel: into the inbound, which no student can list
                _menu(page, "Nbgrader", "Assignment List")
                row = page.locator("#fetched_assignments_list .list_item", has_text=AID).first
                row.locator("button", has_text="Submit").click()
                page.locator("#submitted_assignments_list .list_item", has_text=AID).first.wait_for(timeout=120_000)
                inbound = sorted((ex / "inbound").iterdir())
                assert [p.name.split("+")[:2] for p in inbound] == [[S1, AID]], inbound
                assert inbound[0].stat().st_uid == accounts.pw(S1).pw_uid

                # the instructor's side, as their account: collect, grade, return our feedback
                as_instructor("nbgrader", "collect", AID)
                submitted = course / "submitted" / S1 / AID / f"{AID}.ipynb"
                assert submitted.is_file()
                t1 = time.monotonic()
                graded = as_instructor("tnn-course", "grade", "submitted/", "--workers", "1", "-q", check=False)
                t_grade = time.monotonic() - t1
                if graded.returncode != 0:     # say why: the result files hold the grader's message
                    why = [p.read_text()[:4000] for p in (course / "grading" / "results").rglob("*.json")]
                    raise AssertionError(graded.stdout + graded.stderr + "\n".join(why))
                as_instructor("nbgrader", "release_feedback", AID)
                assert _mode(ex / "feedback") == 0o711, oct(_mode(ex / "feedback"))   # traversable, not listable
                course_page = course / "feedback" / S1 / AID / f"{AID}.html"
                assert course_page.is_file()

                # student 1 fetches it in the panel and opens it
                page.locator("#refresh_assignments_list").click()
                sub = page.locator("#submitted_assignments_list .list_item", has_text=AID).first
                sub.locator("button", has_text="Fetch Feedback").click()
                page.locator("#submitted_assignments_list", has_text="view feedback").wait_for(timeout=120_000)
                pages = sorted((accounts.home(S1) / AID / "feedback").glob(f"*/{AID}.html"))
                assert len(pages) == 1, pages
                cycle = time.monotonic() - t0
                rel = pages[0].relative_to(accounts.home(S1)).as_posix()
                page.goto(f"{hub.url}/user/{S1}/files/{rel}", timeout=120_000)
                body = page.locator("body").inner_text()
                assert "Misconception: you normalised with the unbiased variance" in body, body[:2000]
                assert pages[0].read_bytes() == (course / "grading" / "feedback" / S1 / f"{AID}.html").read_bytes()
                page.screenshot(path=str(shots / "jupyterhub-student-feedback.png"))
                print(f"JupyterHub: login -> fetch -> widget -> answer -> submit -> collect -> grade ({t_grade:.1f} s) "
                      f"-> release_feedback -> fetch feedback: {cycle:.1f} s")
                page.goto(f"{hub.url}/hub/logout", timeout=120_000)

                # --- student 2 tries to read what is not theirs
                others = {
                    "solutions": course / "solutions" / AID / f"{AID}.ipynb",
                    "gradebook": course / "gradebook.db",
                    "course submission": submitted,
                    "course feedback": course_page,
                    "grading report": course / "grading" / "report.html",
                    "s1 home": accounts.home(S1),
                    "s1 notebook": fetched,
                    "s1 feedback": pages[0],
                    "exchange inbound": ex / "inbound",
                    "exchange feedback": ex / "feedback",
                }
                for name, path in others.items():
                    assert path.exists(), (name, path)          # all there: a refusal is about the account
                mine = {"released notebook": released, "exchange outbound": ex / "outbound"}
                links = {"peek-solutions.ipynb": others["solutions"], "peek-gradebook.db": others["gradebook"],
                         "peek-submission.ipynb": submitted, "peek-s1.ipynb": fetched,
                         "peek-s1-feedback.html": pages[0], "released.ipynb": released}
                accounts.write_as(S2, {accounts.home(S2) / "probe.ipynb": _probe_notebook({**others, **mine}, links)})
                page = _login(ctx, hub, S2, accounts.users[S2])
                seen = _run_probe(page, hub, S2)
                page.screenshot(path=str(shots / "jupyterhub-student-probe.png"))
                assert seen["uid"] == accounts.pw(S2).pw_uid, seen
                assert Path(seen["prefix"]).resolve() == student_env.resolve(), seen
                for mod in ("autograder", "tnn_lib"):        # the student edition's package, not the repository
                    assert Path(seen[mod]).resolve().is_relative_to(student_env.resolve()), seen
                assert seen["grader"] is False, seen
                assert seen["access"] == {**{k: "PermissionError" for k in others}, **{k: "read" for k in mine}}, \
                    seen["access"]
                api = {link: _contents(page, hub, S2, link) for link in links}
                status, text = api.pop("released.ipynb")
                assert status == 200 and "batchnorm_forward" in text, (status, text[:300])   # symlinks are followed
                for link, (status, text) in api.items():
                    # refused, whatever the code: jupyter_server answers 403 for a file it may not
                    # read, and 500 when it may not even stat the target (a folder it cannot enter)
                    assert status >= 400 and "batchnorm" not in text and "ddof" not in text, (link, status, text[:300])
                print("student 2: " + ", ".join(f"{k} {v}" for k, v in seen["access"].items())
                      + "; contents API: " + ", ".join(f"{k} {s}" for k, (s, _) in api.items()))
                page.goto(f"{hub.url}/hub/logout", timeout=120_000)

                # --- the instructor: Formgrader, the course's code, and the files student 2 could not read
                accounts.write_as(INSTR, {ihome / "probe.ipynb": _probe_notebook(others, {})})
                ipage = _login(ctx, hub, INSTR, accounts.users[INSTR])
                items = _menu_items(ipage, "Nbgrader")
                assert {"Assignment List", "Course List", "Formgrader"} <= set(items), items
                seen = _run_probe(ipage, hub, INSTR)
                assert seen["uid"] == ipw.pw_uid, seen
                assert Path(seen["autograder"]).resolve().is_relative_to(course.resolve()), seen
                assert seen["grader"] is True, seen
                # the course and the exchange's folders are the instructor's; the students' homes are not
                theirs = {k for k, p in others.items() if course in p.parents or ex in p.parents}
                assert seen["access"] == {k: "read" if k in theirs else "PermissionError" for k in others}, \
                    seen["access"]
                status, text = _contents(ipage, hub, INSTR, f"{COURSE_ID}/solutions/{AID}/{AID}.ipynb")
                assert status == 200 and "BEGIN SOLUTION" in text, (status, text[:300])
                ipage.goto(f"{hub.url}/user/{INSTR}/formgrader/manage_students", timeout=120_000)
                ipage.locator("td", has_text=S1).first.wait_for(timeout=120_000)
                ipage.screenshot(path=str(shots / "jupyterhub-formgrader.png"))
                assert not ctx.external, f"the hub's pages tried to reach the web: {ctx.external}"
            finally:
                ctx.close()
    finally:
        if hub is not None:
            hub.stop()
        accounts.remove()
        shutil.rmtree(base, ignore_errors=True)
