"""End to end in real headless Chromium: every topic's lecture page (``tnn-course lecture``)
and every topic's released notebook in JupyterLab after Run All (one server for all of them),
with the layout measures of tests/browser_tools.py (labels not cut off, sliders ≥ 150 px, the
main figure inside the window, text size, no widget error).

For each topic: start the real command on a free port, open the page, wait for every
widget's figure, change every control as a user would (slider by keyboard, dropdown,
checkbox, toggle button, ...) and require a new figure after each change; no code on the
page, no request to anything but 127.0.0.1, a screenshot per topic in $TNN_ARTIFACTS
(default test-artifacts/), and Ctrl-C ends the command with status 0, its Voilà server and
kernel gone. Chromium missing is a failure with a message, not a skip.
"""
from __future__ import annotations

import os
import shutil

import psutil
import pytest

from autograder.lecture.serve import TOPIC_TITLES
from browser_tools import (MIN_LECTURE_TEXT_PX, ROOT, JupyterLab, Lecture, artifacts_dir, change_and_time,
                           chromium_path, code_visible, controls, layout_problems, layout_row, launch, measure_layout,
                           open_lecture, run_all_in_jupyterlab, screenshot)
from tnn_lib.topics import TOPICS
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
        layout = _lecture_layout(page, topic)
        _deck_navigation(page, topic, n_widgets)
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
        print(f"{topic}: rendered in {seconds:.1f} s; {layout}; " + "; ".join(done))
        _stop_and_check_cleanup(lecture)
    return done


LECTURE_SIZES = ((1280, 720), (1920, 1080))


def _lecture_layout(page, topic: str) -> str:
    """The lecture page at a projector's 1280×720 and 1920×1080: no control label cut off,
    sliders long enough, the main figure inside the screen without scrolling, no widget
    error; at 1080p no text under 18 px. The viewport is restored afterwards."""
    size, found, rows = page.viewport_size, [], []
    try:
        for w, h in LECTURE_SIZES:
            page.set_viewport_size({"width": w, "height": h})
            page.wait_for_timeout(300)
            m = measure_layout(page)
            found += [f"{w}×{h}: {p}" for p in layout_problems(m, MIN_LECTURE_TEXT_PX if h >= 1080 else None,
                                                                main_only=False)]
            rows.append(f"{w}×{h} {layout_row(m)}")
            if found:
                page.screenshot(path=str(artifacts_dir() / f"lecture-{topic}-{w}x{h}-FAILED.png"))
    finally:
        page.set_viewport_size(size)
    assert not found, f"{topic}: the lecture page does not fit:\n" + "\n".join(found)
    return "; ".join(rows)


WIDGET_PLACES = """() => Array.from(document.querySelectorAll('.tnn-widget')).map(w => {
  const f = w.querySelector('img.tnn-figure').getBoundingClientRect(), r = w.getBoundingClientRect();
  return {top: r.top, figure_top: f.top, figure_bottom: f.bottom}; })"""


def _deck_navigation(page, topic: str, n_widgets: int) -> None:
    """A page of several widgets is a deck at 1920×1080: a navigation lists the widgets by
    title; PageDown brings the next widget to the top of the screen with its whole figure
    showing (and the one before it out of sight), PageUp the one before, a click on a title
    that widget. A page of one widget shows no navigation."""
    size = page.viewport_size
    page.set_viewport_size({"width": 1920, "height": 1080})
    try:
        page.wait_for_timeout(300)
        nav = page.locator("#tnn-lecture-nav")
        if n_widgets < 2:
            assert nav.count() == 0 or not nav.is_visible(), f"{topic}: a navigation on a page of one widget"
            return
        assert nav.is_visible(), f"{topic}: no navigation between its {n_widgets} widgets"
        titles = [t.strip() for t in page.locator(".tnn-widget .tnn-title").all_inner_texts()]
        buttons = nav.locator("button").all_inner_texts()
        assert len(buttons) == n_widgets and all(t in b for t, b in zip(titles, buttons)), (titles, buttons)

        def shown(k: int, how: str) -> None:
            page.wait_for_timeout(400)
            places = page.evaluate(WIDGET_PLACES)
            w = places[k]
            assert 0 <= w["top"] <= 40, f"{topic}: after {how}, widget {k} starts at {w['top']:.0f} px, not at the top"
            assert w["figure_top"] >= 0 and w["figure_bottom"] <= 1080, f"{topic}: after {how}, widget {k}'s figure " \
                f"spans {w['figure_top']:.0f}–{w['figure_bottom']:.0f} px of the 1080 px screen"
            if k > 0:
                assert places[k - 1]["figure_bottom"] <= 0, f"{topic}: after {how}, widget {k - 1}'s figure still shows"
            current = nav.locator("button[aria-current='true']").all_inner_texts()
            assert current == [buttons[k]], f"{topic}: after {how}, the navigation marks {current}, not {buttons[k]!r}"

        page.locator("h1").first.click()  # the focus on the page, not on a control
        for k in range(1, n_widgets):
            page.keyboard.press("PageDown")
            shown(k, "PageDown")
        page.keyboard.press("PageDown")  # past the last widget: stays
        shown(n_widgets - 1, "PageDown on the last widget")
        for k in range(n_widgets - 2, -1, -1):
            page.keyboard.press("PageUp")
            shown(k, "PageUp")
        nav.locator("button").nth(n_widgets - 1).click()
        shown(n_widgets - 1, "a click on its title")
        nav.locator("button").first.click()
        shown(0, "a click on its title")
    finally:
        page.set_viewport_size(size)


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


# --- every released notebook in JupyterLab, one server ---------------------------------------

READABLE_FAILURES = """() => Array.from(document.querySelectorAll(".jp-Notebook .jp-CodeCell"))
  .map(c => c.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"))
  .filter(e => e).map(e => e.innerText)"""


def test_released_notebooks_in_jupyterlab(page, browser, tmp_path):
    """Each topic's released notebook, in one JupyterLab as a new user starts it: Run All
    Cells from the Run menu runs every code cell although nothing is answered, every widget
    of the topic shows, failing checks show their readable message (no grader frame, no
    machine-readable tag), no news prompt; each widget's controls are not cut off, its
    sliders long enough and its figure fits the window when scrolled to; a slider of the
    topic's main widget redraws its figure."""
    import nbformat
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    found, done = [], []
    with JupyterLab(work, tmp_path / "jupyter") as lab:
        for topic in TOPICS:
            rel = f"{topic.id}/{topic.id}.ipynb"
            if not (work / rel).exists():
                found.append(f"{topic.id}: no released notebook {rel}")
                continue
            n = len(nbformat.read(work / rel, as_version=4).cells)
            state = run_all_in_jupyterlab(page, lab, rel, n)
            problems = []
            if state["ran"] != state["code"]:
                problems.append(f"Run All ran {state['ran']} of {state['code']} code cells")
            if state["news"]:
                problems.append("the 'Jupyter news' prompt is shown")
            for text in page.evaluate(READABLE_FAILURES):
                if "checks.py" in text or "TNN-" in text:
                    problems.append(f"a failing check shows more than its message: {text[:300]!r}")
            m = measure_layout(page)
            if len(m["widgets"]) < len(topic.widgets):
                problems.append(f"{len(m['widgets'])} of its {len(topic.widgets)} widgets shown")
            problems += layout_problems(m, main_only=False)
            if m["widgets"]:
                widget = page.locator(".jp-Notebook .jp-OutputArea .tnn-widget").first
                fig = widget.locator("img.tnn-figure").first
                slider = widget.locator(".tnn-control.widget-slider .noUi-handle").first
                if slider.count():
                    widget.scroll_into_view_if_needed()
                    old = fig.get_attribute("src")
                    now, hi = (float(slider.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
                    slider.focus()
                    slider.press("PageUp" if now < hi else "PageDown")
                    try:
                        page.wait_for_function("([i, old]) => i.src !== old && i.complete && i.naturalWidth > 0",
                                               arg=[fig.element_handle(), old], timeout=60_000)
                    except Exception as err:
                        problems.append(f"moving a slider did not redraw the figure ({type(err).__name__})")
            if problems:
                page.screenshot(path=str(artifacts_dir() / f"jupyterlab-{topic.id}-FAILED.png"), full_page=True)
            found += [f"{topic.id}: {p}" for p in problems]
            done.append(f"{topic.id}: {state['ran']}/{state['code']} cells in {state['seconds']:.0f} s, "
                        f"{state['errors']} failing, {layout_row(m) if m['widgets'] else '-'}")
    print("\n".join(done))
    assert not found, "\n".join(found)
    assert not browser.external, f"JupyterLab tried to reach the web: {browser.external}"


# --- a dragged slider: the figure follows the hand -------------------------------------------

DRAGGED = [("02_batchnorm", "shift"), ("08_schedules_and_landscape", "lr_scale"),
           ("01_divergences", "p")]   # p: the y range follows the slider (drafts drawn whole)


@pytest.mark.parametrize("topic,control", DRAGGED)
def test_a_dragged_slider_moves_the_figure_and_ends_on_its_value(topic, control, page, browser):
    """Drag a slider's handle across its track for 2.5 s in the lecture page: the figure
    changes several times during the drag (not only after the release), the last frame is
    at full resolution, and it is the figure the widget draws for the value the slider shows
    (compared with the same widget drawn here, headless, for that value)."""
    from autograder.lecture.serve import LECTURE_DPI
    from browser_tools import drag_slider, figure_png

    page.set_viewport_size({"width": 1920, "height": 1080})
    with Lecture(topic) as lecture:
        open_lecture(page, lecture.url, len(TOPIC_WIDGETS[topic][1]))
        c = next(c for c in controls(page) if c["widget"] == 0 and c["name"] == control)
        d = drag_slider(page, c)
        shown = figure_png(page, 0)
        _stop_and_check_cleanup(lecture)
    _check_drag(topic, control, d, shown, LECTURE_DPI, "lecture")
    assert not browser.external


def _check_drag(topic: str, control: str, d: dict, shown: bytes, dpi: float | None, where: str) -> None:
    """The drag `d` (:func:`browser_tools.drag_slider`) of `control` of `topic`'s main widget
    showed at least 3 different figures during the drag and ended on a full-resolution frame,
    which is the figure the same widget draws here, headless (at `dpi` if given, else its own),
    for the value the slider shows (`shown`: the PNG bytes the page shows)."""
    import io

    import numpy as np
    from PIL import Image

    from tnn_lib.widgets import widgets_for_topic

    distinct = {f[2] for f in d["during"]}
    assert len(distinct) >= 3, f"{topic} {control}: {len(distinct)} figure(s) shown during a {d['seconds']:.1f} s drag"
    assert d["settled"], f"{topic} {control}: no full-resolution frame after the release: {d['frames'][-3:]}"
    app = widgets_for_topic(topic)[0]
    if dpi:
        app.fig.set_dpi(dpi)
    app.controls[control].value = float(d["value"])
    mine, theirs = (np.asarray(Image.open(io.BytesIO(b)).convert("RGB")).astype(int) for b in (app.image.value, shown))
    assert mine.shape == theirs.shape, (mine.shape, theirs.shape)
    differing = (np.abs(mine - theirs).max(axis=-1) > 8).mean()
    if differing >= 0.005:
        (artifacts_dir() / f"drag-{where}-{topic}-{control}-shown.png").write_bytes(shown)
        (artifacts_dir() / f"drag-{where}-{topic}-{control}-expected.png").write_bytes(app.image.value)
    assert differing < 0.005, f"{topic} {control} = {d['value']}: {differing:.2%} of the pixels differ from its figure"


def test_a_dragged_slider_in_jupyterlab_moves_the_figure_and_ends_on_its_value(page, browser, tmp_path):
    """The same in JupyterLab: the released notebook of 02_batchnorm (a throwaway copy), only
    its widget cell run (select, Ctrl+Enter), the slider `shift` of its widget dragged for
    2.5 s: several figures during the drag, and the last one, at full resolution, is the
    widget's figure (at its own dpi) for the value the slider shows."""
    import nbformat

    from browser_tools import drag_slider, figure_png, run_widget_cells_in_jupyterlab

    topic, control = "02_batchnorm", "shift"
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks" / topic, work / topic)
    rel = f"{topic}/{topic}.ipynb"
    page.set_viewport_size({"width": 1920, "height": 1080})
    with JupyterLab(work, tmp_path / "jupyter") as lab:
        n, _ = run_widget_cells_in_jupyterlab(page, lab, rel, nbformat.read(work / rel, as_version=4),
                                              TOPIC_WIDGETS[topic][1])
        assert n == len(TOPIC_WIDGETS[topic][1]), f"{rel}: {n} widget cell(s) found"
        c = next(c for c in controls(page) if c["widget"] == 0 and c["name"] == control)
        d = drag_slider(page, c)
        shown = figure_png(page, 0)
    _check_drag(topic, control, d, shown, None, "jupyterlab")
    assert not page.errors, f"JavaScript errors in JupyterLab: {page.errors}"
    assert not browser.external, f"JupyterLab tried to reach the web: {browser.external}"
