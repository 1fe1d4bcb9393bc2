"""End to end in real headless Chromium: every topic's lecture page (``tnn-course lecture``)
and one released notebook in JupyterLab.

For each topic: start the real command on a free port, open the page, wait for every
widget's figure, change every control as a user would (slider by keyboard, dropdown,
checkbox, toggle button, ...) and require a new figure after each change; no code on the
page, no request to anything but 127.0.0.1, a screenshot per topic in $TNN_ARTIFACTS
(default test-artifacts/), and Ctrl-C ends the command with status 0, its Voilà server and
kernel gone. Chromium missing is a failure with a message, not a skip.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time

import psutil
import pytest

from autograder.lecture import TOPIC_TITLES
from browser_tools import (ROOT, Lecture, artifacts_dir, change_and_time, chromium_path, code_visible, controls,
                           screenshot, free_port, launch, open_lecture)
from tnn_lib.widgets import TOPIC_WIDGETS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
FAKE = ROOT / "tests" / "lecture_fake"


def _require_chromium() -> None:
    try:
        chromium_path()
        return
    except RuntimeError as err:
        message = str(err)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        ctx = launch(pw, tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def page(browser):
    browser.external.clear()
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.close()


def _stop_and_check_cleanup(lecture: Lecture) -> None:
    started = lecture.descendants()
    assert started, "the lecture command started no Voilà process"
    rc = lecture.stop()
    assert rc == 0, f"Ctrl-C should end `tnn-course lecture` with status 0, got {rc}; output:\n{lecture.output}"
    _, alive = psutil.wait_procs(started, timeout=10)
    left = []
    for p in alive:  # report, and do not leave them behind even when failing
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline()[:4])}")
            p.kill()
        except psutil.NoSuchProcess:
            pass
    assert not left, f"still running after Ctrl-C: {left}"


def _exercise(page, browser, topic: str, n_widgets: int, env=None) -> list[str]:
    """Open `topic`'s lecture page, change every control; returns what was done."""
    done, failures = [], []
    with Lecture(topic, env=env) as lecture:
        assert lecture.url.startswith("http://127.0.0.1:"), lecture.output
        seconds, problem = None, None
        try:
            seconds = open_lecture(page, lecture.url, n_widgets)
        except Exception as err:
            problem = f"{topic}: the {n_widgets} widget figure(s) did not appear ({err}); server output:\n{lecture.output}"
        if problem:
            page.screenshot(path=str(artifacts_dir() / f"lecture-{topic}-FAILED.png"))
            pytest.fail(problem, pytrace=False)
        code = code_visible(page)
        assert not code, f"{topic}: code on the lecture page: {code}"
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"{topic}: error output on the page:\n{errors.first.text_content()[:2000]}"
        cs = controls(page)
        for w in range(n_widgets):
            assert any(c["widget"] == w for c in cs), f"{topic}: widget {w} has no tnn-control"
        unknown = [c for c in cs if c["kind"] == "other"]
        assert not unknown, f"{topic}: controls the driver cannot operate: {unknown}"
        for c in cs:
            try:
                what, secs = change_and_time(page, c)
                done.append(f"{what} ({secs * 1000:.0f} ms)")
            except Exception as err:
                failures.append(f"{c['kind']} {c['name']} (widget {c['widget']}): no new figure after the change "
                                f"({type(err).__name__}: {str(err).splitlines()[0]})")
        screenshot(page, artifacts_dir() / f"lecture-{topic}.png")
        assert not failures, f"{topic}:\n" + "\n".join(failures)
        assert not page.errors, f"{topic}: JavaScript errors on the page: {page.errors}"
        assert not browser.external, f"{topic}: the page tried to reach the web: {browser.external}"
        print(f"{topic}: rendered in {seconds:.1f} s; " + "; ".join(done))
        _stop_and_check_cleanup(lecture)
    return done


def test_chromium_is_there():
    _require_chromium()


def test_lecture_machinery_with_a_fake_widget(page, browser):
    """Every control kind, independent of the real topic widgets (tests/lecture_fake)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]))
    done = _exercise(page, browser, "99_fake", 1, env=env)
    kinds = {d.split()[0] for d in done}
    assert kinds == {"slider", "dropdown", "checkbox", "toggle"}, done


@pytest.mark.parametrize("topic", list(TOPIC_WIDGETS))
def test_lecture_page_of_topic(topic, page, browser):
    module = ROOT / "tnn_lib" / "widgets" / f"{TOPIC_WIDGETS[topic][0]}.py"
    if not module.exists():
        pytest.fail(f"{topic}: its widget module {module.relative_to(ROOT)} does not exist", pytrace=False)
    _exercise(page, browser, topic, len(TOPIC_WIDGETS[topic][1]))
    assert page.locator("h1").first.text_content().strip().startswith(TOPIC_TITLES[topic])


# --- one released notebook in JupyterLab ----------------------------------------------------

def _widget_notebook():
    """(notebook, index of its first widget cell, whether that cell precedes the first graded
    test): the first released notebook that shows a widget, preferring one whose widget comes
    before any graded test (Run All stops at the first failing exercise test)."""
    import nbformat
    factories = [f for _, fns in TOPIC_WIDGETS.values() for f in fns]
    found = []
    for aid in TOPIC_WIDGETS:
        path = ROOT / "notebooks" / aid / f"{aid}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        widget = next((i for i, c in code if any(f"{f}(" in c.source for f in factories)), None)
        test = next((i for i, c in code if c.metadata.get("nbgrader", {}).get("grade")), len(nb.cells))
        if widget is not None:
            found.append((path, widget, widget < test))
    found.sort(key=lambda f: not f[2])
    return found[0] if found else None


@pytest.fixture
def jupyterlab(tmp_path):
    """`jupyter lab` headless on a free port with a token, serving a temp copy of notebooks/."""
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path / "jupyter"
    # JupyterLab 4 renders only the cells in view by default; the test needs them all in the DOM
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "official Jupyter news?" prompt
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        import urllib.request
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", token, work
    finally:
        children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for p in psutil.wait_procs(children, timeout=10)[1]:
            p.kill()
        log.close()


def test_released_notebook_in_jupyterlab(page, browser, jupyterlab):
    """Open a released notebook, Run All Cells from the Run menu, move a slider of its widget."""
    found = _widget_notebook()
    if found is None:
        pytest.fail("no released notebook under notebooks/ shows a topic widget", pytrace=False)
    path, widget_cell, before_tests = found
    base, token, work = jupyterlab
    rel = path.relative_to(ROOT / "notebooks").as_posix()
    page.goto(f"{base}/lab/tree/{rel}?token={token}", timeout=120_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    n_cells = len(__import__("nbformat").read(path, as_version=4).cells)
    # JupyterLab adds the cells to the page progressively: wait for all of them
    try:
        page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
                               arg=n_cells, timeout=60_000)
    except Exception:
        pass
    count = page.locator(".jp-Notebook .jp-Cell").count()
    assert count == n_cells, f"JupyterLab rendered {count} of the notebook's {n_cells} cells"
    # the kernel is connected when the status bar says "Python 3 (ipykernel) | Idle" (the
    # toolbar's indicator says idle earlier, while there is no kernel yet)
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                                   .some(e => /\\| Idle$/.test(e.textContent.trim()))""", timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
                                   .some(e => /\\[[0-9*]+\\]/.test(e.textContent))""", timeout=60_000)
    fig = page.locator(".jp-Notebook .jp-OutputArea img.tnn-figure").first
    if not before_tests:
        # Run All stops at the first failing exercise test, before the widget: wait for that
        # error, then run the widget cell itself (the setup cells above it have run)
        page.wait_for_selector(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                               timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        cell = page.locator(".jp-Notebook .jp-Cell").nth(widget_cell)
        cell.locator(".jp-InputArea").click()
        page.keyboard.press("Shift+Enter")
    fig.wait_for(timeout=120_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=fig.element_handle(), timeout=60_000)
    widget = page.locator(".jp-Notebook .jp-OutputArea .tnn-widget").first
    slider = widget.locator(".tnn-control.widget-slider .noUi-handle").first
    old = fig.get_attribute("src")
    now, hi = (float(slider.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
    slider.focus()
    slider.press("PageUp" if now < hi else "PageDown")
    page.wait_for_function("([i, old]) => i.src !== old && i.complete && i.naturalWidth > 0",
                           arg=[fig.element_handle(), old], timeout=60_000)
    page.screenshot(path=str(artifacts_dir() / f"jupyterlab-{path.stem}.png"))
    print(f"JupyterLab: {rel}, widget cell {widget_cell} "
          f"({'ran by Run All' if before_tests else 'run after Run All stopped at a failing test'})")
    assert not browser.external, f"JupyterLab tried to reach the web: {browser.external}"
