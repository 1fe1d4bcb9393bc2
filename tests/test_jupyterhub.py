"""The course on JupyterHub, end to end in headless Chromium: JupyterHub from PyPI behind
configurable-http-proxy from npm, a shared-password authenticator, local process spawners,
nbgrader's lab extensions per role (autograder/jupyterhub/). A student logs in, sees the
released 02_batchnorm in the Assignments panel, fetches it, runs its widget cell (the widget
renders), answers one exercise and submits; the instructor collects and grades by command
(`nbgrader collect`, `tnn-course grade`, `nbgrader release_feedback`); the student fetches
the feedback in the panel, and it names the misconception."""
from __future__ import annotations

import json
import shutil
import time

import pytest

from browser_tools import artifacts_dir, launch
from exchange_tools import BN_UNBIASED, ROOT, nbgrader, tnn_course
from hub_tools import Hub, quiet_lab_settings

AID = "02_batchnorm"
STUDENT = "student1"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _course(hub: Hub, exchange) -> object:
    home = hub.home("instructor")
    course = home / "course"
    for part in ("solutions", "notebooks"):
        shutil.copytree(ROOT / part / AID, course / part / AID)
    config = ("from autograder.course import nbgrader_config\n"
              "c = get_config()  # noqa: F821\n"
              f"c.merge(nbgrader_config({str(course)!r}))\n"
              f"c.Exchange.root = {str(exchange)!r}\n")
    (course / "nbgrader_config.py").write_text(config)
    (home / "nbgrader_config.py").write_text(config)   # formgrader reads the one where the server starts
    return course


def _cell_index(nb: dict, pred) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if pred(c))


def _login(ctx, hub: Hub, user: str):
    page = ctx.new_page()
    page.goto(f"{hub.url}/hub/login", timeout=120_000)
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
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


def test_student_fetches_works_submits_and_gets_feedback_on_jupyterhub(tmp_path):
    from playwright.sync_api import sync_playwright

    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    hub = Hub(tmp_path / "hub", exchange, students=[STUDENT])
    for user in (STUDENT, "instructor"):
        quiet_lab_settings(hub.home(user))
    course = _course(hub, exchange)
    ihome = hub.home("instructor")
    nbgrader("db", "assignment", "add", AID, cwd=course, home=ihome)
    nbgrader("release_assignment", AID, cwd=course, home=ihome)
    released = json.loads((course / "notebooks" / AID / f"{AID}.ipynb").read_text())
    widget_cell = _cell_index(released, lambda c: "covariate_shift()" in "".join(c["source"]))
    answer_cell = _cell_index(released, lambda c: c["metadata"].get("nbgrader", {}).get("grade_id") == "batchnorm_forward")
    shots = artifacts_dir()

    with hub, sync_playwright() as pw:
        ctx = launch(pw, tmp_path / "chromium")
        try:
            t0 = time.monotonic()
            page = _login(ctx, hub, STUDENT)
            items = _menu_items(page, "Nbgrader")
            assert "Assignment List" in items and "Formgrader" not in items, items   # a student's extensions

            # the Assignments panel lists the released assignment: fetch it
            _menu(page, "Nbgrader", "Assignment List")
            released_row = page.locator("#released_assignments_list .list_item", has_text=AID)
            released_row.wait_for(timeout=120_000)
            released_row.locator("button", has_text="Fetch").click()
            page.locator("#fetched_assignments_list .list_item", has_text=AID).first.wait_for(timeout=120_000)
            fetched = hub.home(STUDENT) / AID / f"{AID}.ipynb"
            assert fetched.is_file()

            # open it, run the widget cell: the widget renders its figure
            page.goto(f"{hub.url}/user/{STUDENT}/lab/tree/{AID}/{AID}.ipynb", timeout=120_000)
            page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
                                   arg=len(released["cells"]), timeout=120_000)
            page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                                           .some(e => /\\| Idle$/.test(e.textContent.trim()))""", timeout=180_000)
            cell = page.locator(".jp-Notebook .jp-Cell").nth(widget_cell)
            cell.locator(".jp-InputArea").click()
            page.keyboard.press("Control+Enter")
            fig = cell.locator(".jp-OutputArea .tnn-widget img.tnn-figure").first
            fig.wait_for(timeout=180_000)
            page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=fig.element_handle(), timeout=60_000)

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

            # submit from the Assignments panel
            _menu(page, "Nbgrader", "Assignment List")
            row = page.locator("#fetched_assignments_list .list_item", has_text=AID).first
            row.locator("button", has_text="Submit").click()
            page.locator("#submitted_assignments_list .list_item", has_text=AID).first.wait_for(timeout=120_000)

            # the instructor's side: collect, grade, return our feedback
            nbgrader("collect", AID, cwd=course, home=ihome)
            assert (course / "submitted" / STUDENT / AID / f"{AID}.ipynb").is_file()
            graded = tnn_course("grade", "submitted/", "--workers", "1", "-q", cwd=course, home=ihome)
            assert graded.returncode == 0, graded.stdout + graded.stderr
            nbgrader("release_feedback", AID, cwd=course, home=ihome)

            # the student fetches it in the panel and opens it
            page.locator("#refresh_assignments_list").click()
            sub = page.locator("#submitted_assignments_list .list_item", has_text=AID).first
            sub.locator("button", has_text="Fetch Feedback").click()
            page.locator("#submitted_assignments_list", has_text="view feedback").wait_for(timeout=120_000)
            pages = sorted((hub.home(STUDENT) / AID / "feedback").glob(f"*/{AID}.html"))
            assert len(pages) == 1, pages
            cycle = time.monotonic() - t0
            rel = pages[0].relative_to(hub.home(STUDENT)).as_posix()
            page.goto(f"{hub.url}/user/{STUDENT}/files/{rel}", timeout=120_000)
            body = page.locator("body").inner_text()
            assert "Misconception: you normalised with the unbiased variance" in body, body[:2000]
            assert pages[0].read_bytes() == (course / "grading" / "feedback" / STUDENT / f"{AID}.html").read_bytes()
            page.screenshot(path=str(shots / "jupyterhub-student-feedback.png"))
            print(f"\nJupyterHub: login -> fetch -> widget -> answer -> submit -> collect -> grade -> "
                  f"release_feedback -> fetch feedback: {cycle:.1f} s")

            # the instructor has Formgrader and Course Management, and formgrader shows the grade
            page.goto(f"{hub.url}/hub/logout", timeout=120_000)
            ipage = _login(ctx, hub, "instructor")
            items = _menu_items(ipage, "Nbgrader")
            assert {"Assignment List", "Course List", "Formgrader"} <= set(items), items
            ipage.goto(f"{hub.url}/user/instructor/formgrader/manage_students", timeout=120_000)
            ipage.locator("td", has_text=STUDENT).first.wait_for(timeout=120_000)
            ipage.screenshot(path=str(shots / "jupyterhub-formgrader.png"))
            assert not ctx.external, f"the hub's pages tried to reach the web: {ctx.external}"
        finally:
            ctx.close()
