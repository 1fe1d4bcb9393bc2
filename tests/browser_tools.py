"""Drive the lecture pages and JupyterLab in real headless Chromium (Playwright).

Used by tests/test_browser.py and bench/browser.py. Chromium is Debian's /usr/bin/chromium
(or $TNN_CHROMIUM); Playwright's own browser downloads are never used. Every request the
page makes to anything but 127.0.0.1 is aborted and recorded, so a test can fail if the
page tried to reach the web (CDN, fonts, MathJax, ...).
"""
from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?(/|$)|^(data|blob|about):")
VIEWPORT = {"width": 1600, "height": 1000}


def chromium_path() -> str:
    """The Chromium binary, or RuntimeError saying how to get one (tests fail, not skip)."""
    path = os.environ.get("TNN_CHROMIUM") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"the browser tests need Chromium at {path}: install Debian's package "
                           "(`apt-get install -y chromium`, which .ci/run and `python3 workbook.py test` do "
                           "when root) or set TNN_CHROMIUM to a Chromium binary")
    return path


def artifacts_dir() -> Path:
    """Where screenshots go: $TNN_ARTIFACTS, else test-artifacts/ (gitignored)."""
    d = Path(os.environ.get("TNN_ARTIFACTS") or ROOT / "test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), so that no kernel or client
    socket of a concurrent job takes it between this check and the server's bind."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port found in 20000-32000")


def launch(playwright, user_data_dir: Path, viewport: dict | None = None, device_scale_factor: float = 1):
    """A fresh persistent Chromium context; ``ctx.external`` lists the aborted web requests."""
    ctx = playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS,
        viewport=viewport or VIEWPORT, device_scale_factor=device_scale_factor, service_workers="block")
    ctx.external = []

    def route(r):
        url = r.request.url
        if LOCAL.match(url):
            r.continue_()
        else:
            ctx.external.append(url)
            r.abort()

    ctx.route("**/*", route)
    ctx.on("page", lambda page: page.on("websocket", lambda ws: None if LOCAL.match(ws.url) else ctx.external.append(ws.url)))
    return ctx


class Lecture:
    """``tnn-course lecture TOPIC --port P`` in a child process (the real command line)."""

    def __init__(self, topic: str, port: int | None = None, env: dict | None = None, timeout: float = 90,
                 extra_args: tuple = ()):
        self.topic, self.port = topic, port or free_port()
        self.cmd = [sys.executable, "-m", "autograder.cli.main", "lecture", topic, "--port", str(self.port), *extra_args]
        # its own process group, as a shell gives a foreground job: Ctrl-C goes to the group
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_url(timeout)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def _wait_url(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            m = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if m:
                return m.group(0)
        self.stop()
        raise RuntimeError(f"`{' '.join(self.cmd[2:])}` printed no address; its output:\n{self.output}")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def descendants(self) -> list:
        import psutil
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 30) -> int:
        """Ctrl-C (SIGINT to its process group, as a terminal sends it) and wait; kill by PID
        if it does not stop. Its exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                for child in self.descendants():
                    child.kill()
                self.proc.kill()
                self.proc.wait()
                return -9
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- the page -----------------------------------------------------------------------------

FIGURES_READY = """n => {
  const err = document.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
  if (err) return 'error: ' + err.innerText.slice(-3000);
  const imgs = Array.from(document.querySelectorAll('.tnn-widget img.tnn-figure'));
  return imgs.length === n && imgs.every(i => i.getAttribute('src') && i.complete && i.naturalWidth > 0);
}"""

CONTROLS = """() => Array.from(document.querySelectorAll('.tnn-widget')).flatMap((w, wi) =>
  Array.from(w.querySelectorAll('.tnn-control')).map(c => {
    const name = Array.from(c.classList).find(k => k.startsWith('tnn-control-')).slice(12);
    const cl = c.classList;
    const kind = cl.contains('widget-slider') || cl.contains('widget-hslider') ? 'slider'
      : cl.contains('widget-dropdown') ? 'dropdown'
      : cl.contains('widget-checkbox') ? 'checkbox'
      : cl.contains('widget-toggle-button') ? 'toggle'
      : cl.contains('widget-toggle-buttons') ? 'togglebuttons'
      : cl.contains('widget-radio') ? 'radio'
      : cl.contains('widget-select-multiple') ? 'selectmultiple'
      : cl.contains('widget-select') ? 'select'
      : cl.contains('widget-play') ? 'play'
      : cl.contains('widget-button') ? 'button'
      : (cl.contains('widget-text') || cl.contains('widget-inline-hbox')) && c.querySelector('input') ? 'text'
      : 'other';
    return {widget: wi, name, kind, cls: c.className};
  }))"""


def open_lecture(page, url: str, n_widgets: int, timeout_ms: float = 120_000) -> float:
    """Load the lecture page; seconds until all `n_widgets` figures are shown."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    state = page.wait_for_function(FIGURES_READY, arg=n_widgets, timeout=timeout_ms, polling=50).json_value()
    if state is not True:  # a Python error on the page instead of the widgets
        raise RuntimeError(f"the page shows an error:\n{state[7:]}")
    return time.perf_counter() - t0


def controls(page) -> list[dict]:
    return page.evaluate(CONTROLS)


def figure_src(page, widget: int) -> str:
    return page.evaluate("w => document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure').src",
                         widget)


def _control(page, c):
    return page.locator(".tnn-widget").nth(c["widget"]).locator(f".tnn-control-{c['name']}").first


def change_control(page, c: dict) -> str:
    """Change control `c` (from :func:`controls`) as a user would; a description of what."""
    loc = _control(page, c)
    kind = c["kind"]
    if kind == "slider":
        handle = loc.locator(".noUi-handle").first
        now, hi = (float(handle.get_attribute(a) or 0) for a in ("aria-valuenow", "aria-valuemax"))
        key = "PageUp" if now < hi else "PageDown"
        handle.focus()
        handle.press(key)
        return f"slider {c['name']}: {key}"
    if kind in ("dropdown", "select"):
        sel = loc.locator("select")
        options = sel.locator("option").all_text_contents()
        current = sel.evaluate("s => s.selectedIndex")
        target = (current + 1) % len(options)
        sel.select_option(index=target)
        return f"{kind} {c['name']}: {options[current]!r} -> {options[target]!r}"
    if kind == "checkbox":
        loc.locator("input[type=checkbox]").click()
        return f"checkbox {c['name']}: click"
    if kind == "toggle":
        (loc if loc.evaluate("e => e.tagName") == "BUTTON" else loc.locator("button").first).click()
        return f"toggle {c['name']}: click"
    if kind == "togglebuttons":
        btn = loc.locator("button:not(.mod-active)").first
        label = btn.text_content()
        btn.click()
        return f"toggle buttons {c['name']}: {label!r}"
    if kind == "radio":
        radio = loc.locator("input[type=radio]:not(:checked)").first
        radio.click()
        return f"radio {c['name']}: click"
    if kind == "selectmultiple":
        sel = loc.locator("select")
        options = sel.locator("option").evaluate_all("os => os.map(o => [o.value, o.selected])")
        chosen = [v for v, on in options if on]
        flip = next(v for v, on in options if not on) if len(chosen) < len(options) else chosen[-1]
        new = [v for v in chosen if v != flip] if flip in chosen else chosen + [flip]
        sel.select_option(value=new)
        return f"select multiple {c['name']}: {new}"
    if kind in ("play", "button"):
        loc.locator("button").first.click() if kind == "play" else loc.click()
        return f"{kind} {c['name']}: click"
    if kind == "text":
        inp = loc.locator("input").first
        value = inp.input_value()
        try:
            new = str(float(value) * 2 if float(value) else 1)
        except ValueError:
            new = value + "x"
        inp.fill(new)
        inp.press("Enter")
        return f"text {c['name']}: {value!r} -> {new!r}"
    raise ValueError(f"control {c['name']} of kind {kind!r} ({c['cls']}): the browser driver does not know it")


def wait_figure_changed(page, widget: int, old_src: str, timeout_ms: float = 30_000, width: int = 0) -> None:
    """Until widget `widget`'s figure has a new src and that image is decoded and shown (and,
    if `width` is given, is that many pixels wide: a full-resolution frame, not a draft)."""
    page.wait_for_function(
        """([w, old, width]) => { const i = document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure');
                           return i.src !== old && i.complete && i.naturalWidth > 0 && (!width || i.naturalWidth === width); }""",
        arg=[widget, old_src, width], timeout=timeout_ms, polling="raf")


def figure_width(page, widget: int) -> int:
    return page.evaluate("w => document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure').naturalWidth",
                         widget)


def change_and_time(page, c: dict, timeout_ms: float = 30_000) -> tuple[str, float]:
    """Change control `c`, wait for its widget's redrawn figure at the resolution it had
    before (the full one): (what was done, seconds)."""
    old, width = figure_src(page, c["widget"]), figure_width(page, c["widget"])
    t0 = time.perf_counter()
    what = change_control(page, c)
    wait_figure_changed(page, c["widget"], old, timeout_ms, width)
    return what, time.perf_counter() - t0


INPUT_RECORDER = """w => { const img = document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure');
  if (!window.__tnnInputs) { window.__tnnInputs = [];
    for (const ev of ['keydown', 'mousedown', 'click', 'input', 'change'])
      document.addEventListener(ev, () => window.__tnnInputs.push(performance.now()), true); }
  if (!img.__tnnLoads) { img.__tnnLoads = [];
    img.addEventListener('load', () => img.__tnnLoads.push([performance.now(), img.src])); }
  window.__tnnInputs.length = 0; img.__tnnLoads.length = 0; }"""


def change_and_time_in_page(page, c: dict, timeout_ms: float = 30_000) -> tuple[str, float, float]:
    """As :func:`change_and_time`, timed twice: (what was done, seconds from the first input
    event the page saw (key, mouse, input or change, in the capture phase) to the load of the
    redrawn figure shown, both on the page's clock; seconds from the call of the browser
    driver to that figure, as :func:`change_and_time` measures, which adds the driver's
    round trips: locating the control, reading its state, focusing it)."""
    old, width = figure_src(page, c["widget"]), figure_width(page, c["widget"])
    page.evaluate(INPUT_RECORDER, c["widget"])
    t0 = time.perf_counter()
    what = change_control(page, c)
    wait_figure_changed(page, c["widget"], old, timeout_ms, width)
    wall = time.perf_counter() - t0
    try:                                      # the load event is dispatched after `complete` is true
        page.wait_for_function("w => { const i = document.querySelectorAll('.tnn-widget')[w].querySelector("
                               "'img.tnn-figure'); return i.__tnnLoads.some(l => l[1] === i.src); }",
                               arg=c["widget"], timeout=2000)
    except Exception:
        pass
    src = figure_src(page, c["widget"])
    inputs, loads = page.evaluate(
        "w => [window.__tnnInputs, document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure')"
        ".__tnnLoads]", c["widget"])
    shown = [t for t, s in loads if s == src]
    if not inputs or not shown:
        return what, wall, wall
    return what, (shown[-1] - inputs[0]) / 1e3, wall


# --- drags: the figure following the hand ------------------------------------------------------

FRAME_RECORDER = """w => { const img = document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure');
  if (!img.__tnnFrames) { img.__tnnFrames = [];
    img.addEventListener('load', () => img.__tnnFrames.push([performance.now(), img.naturalWidth, img.src])); }
  img.__tnnFrames.length = 0; return performance.now(); }"""

# the values the hand passes while a slider is dragged: noUiSlider's 'slide' events (the slider
# view sets the model's value on each of them), with consecutive repeats dropped
VALUE_RECORDER = """el => { const api = el.noUiSlider; window.__tnnValues = [];
  if (!api) return false;
  api.off('slide.tnnbench');
  api.on('slide.tnnbench', (values, handle, unencoded) => { const v = unencoded[handle], log = window.__tnnValues;
    if (!log.length || log[log.length - 1][1] !== v) log.push([performance.now(), v]); });
  return true; }"""


def drag_slider(page, c: dict, seconds: float = 2.5, moves: int = 50) -> dict:
    """Drag slider control `c` as a hand does: press its handle, move it across the slider in
    `moves` steps over `seconds`, release; then wait for the figure to settle (a full-width
    frame after the last move). Returns the frames shown during the drag (``during``), the
    redraws per second, the full width (before the drag) and the draft/full frames counted,
    the milliseconds from release to the last frame, the slider's value at the end, and the new
    values the hand passed during the drag (``values``: [time, value]; ``values_per_second``)."""
    widget = c["widget"]
    loc = _control(page, c)
    handle = loc.locator(".noUi-handle").first
    track = loc.locator(".noUi-target").first
    handle.scroll_into_view_if_needed()
    full_width = page.evaluate("w => document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure')"
                               ".naturalWidth", widget)
    hb, tb = handle.bounding_box(), track.bounding_box()
    x0, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    # towards the farther end, staying inside the track
    x1 = tb["x"] + tb["width"] - 2 if x0 < tb["x"] + tb["width"] / 2 else tb["x"] + 2
    page.evaluate(FRAME_RECORDER, widget)
    recording = track.evaluate(VALUE_RECORDER)
    page.mouse.move(x0, y)
    page.mouse.down()
    t_start = page.evaluate("performance.now()")
    wall0 = time.perf_counter()
    for i in range(1, moves + 1):
        page.mouse.move(x0 + (x1 - x0) * i / moves, y)
        delay = wall0 + seconds * i / moves - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    t_end = page.evaluate("performance.now()")
    page.mouse.up()
    # settled: a full-width frame that arrived after the release, then nothing new for 1 s
    deadline = time.monotonic() + 30
    last_n = -1
    while time.monotonic() < deadline:
        frames = page.evaluate("w => document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure')"
                               ".__tnnFrames", widget)
        done = frames and frames[-1][0] > t_end and frames[-1][1] == full_width
        if done and len(frames) == last_n:
            break
        last_n = len(frames)
        time.sleep(1.0 if done else 0.05)
    during = [f for f in frames if t_start <= f[0] <= t_end]
    after = [f for f in frames if f[0] > t_end]
    values = page.evaluate("window.__tnnValues") if recording else None
    passed = None if values is None else [v for v in values if t_start <= v[0] <= t_end]
    # the value shown (the readout; noUiSlider's aria-valuenow is rounded to one decimal)
    readout = loc.locator(".widget-readout").first
    value = (readout.input_value() if readout.evaluate("e => e.tagName") == "INPUT" else readout.text_content()).strip() \
        if readout.count() else handle.get_attribute("aria-valuenow")
    return dict(during=during, frames=frames, per_second=len(during) / ((t_end - t_start) / 1000),
                drafts=sum(1 for f in frames if f[1] < full_width), full=sum(1 for f in frames if f[1] == full_width),
                full_width=full_width, settle_ms=(after[-1][0] - t_end) if after else None,
                settled=bool(frames) and frames[-1][1] == full_width and frames[-1][0] > t_end, value=value,
                seconds=(t_end - t_start) / 1000,
                # new values the hand passed during the drag, per second: at most that many
                # different figures can be shown (a slider of 21 stops dragged across half its
                # track in 2.5 s gives about 4 a second); None when not recorded
                values=passed,
                values_per_second=None if passed is None else len(passed) / ((t_end - t_start) / 1000))


def figure_png(page, widget: int) -> bytes:
    """The PNG bytes the page shows as widget `widget`'s figure (read back from its blob URL)."""
    import base64
    b64 = page.evaluate("""async w => { const img = document.querySelectorAll('.tnn-widget')[w].querySelector('img.tnn-figure');
        const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let s = ''; for (let i = 0; i < buf.length; i += 8192) s += String.fromCharCode.apply(null, buf.subarray(i, i + 8192));
        return btoa(s); }""", widget)
    return base64.b64decode(b64)


def screenshot(page, path: Path) -> None:
    """The whole page: Voilà scrolls inside an element, so grow the viewport to fit it first."""
    js = """() => Math.max(document.documentElement.scrollHeight,
        ...Array.from(document.querySelectorAll('body, body *')).filter(e => e.scrollHeight > e.clientHeight + 4
            && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).map(e => e.scrollHeight))"""
    size = page.viewport_size
    try:
        for _ in range(2):  # the layout depends on the viewport height (figures at most 80vh)
            page.set_viewport_size({"width": size["width"], "height": min(int(page.evaluate(js)) + 40, 8000)})
        page.evaluate("() => document.querySelectorAll('body, body *').forEach(e => { e.scrollTop = 0; })")
        page.wait_for_timeout(200)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def code_visible(page) -> list[str]:
    """Code inputs the page shows or holds (Voilà with strip_sources: none)."""
    shown = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor, .jp-InputArea-editor'))
        .filter(e => e.offsetParent !== null).map(e => e.outerHTML.slice(0, 200))""")
    return shown + (["the source `widgets_for_topic(` in the page"] if "widgets_for_topic(" in page.content() else [])


# --- layout: what a student or a lecturer sees ----------------------------------------------

MIN_SLIDER_PX = 150
MIN_LECTURE_TEXT_PX = 18

LAYOUT = """() => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const out = {viewport: [vw, vh], dpr: window.devicePixelRatio, widgets: []};
  document.querySelectorAll('.tnn-widget').forEach((w, wi) => {
    const r = {truncated: [], sliders: [], fonts: [], labels: []};
    w.querySelectorAll('.tnn-control').forEach(c => {
      const name = Array.from(c.classList).find(k => k.startsWith('tnn-control-')).slice(12);
      // every text-bearing element of the control: its description and the buttons' captions
      c.querySelectorAll('.widget-label, label, button, .widget-readout, select, option').forEach(e => {
        const text = (e.innerText || e.textContent || '').trim();
        if (!text || e.offsetParent === null) return;
        if (e.scrollWidth > e.clientWidth + 1) r.truncated.push(name + ': ' + text.slice(0, 60));
        r.fonts.push(parseFloat(getComputedStyle(e).fontSize));
        if (e.classList.contains('widget-label')) r.labels.push(name + ': ' + text);
      });
      c.querySelectorAll('.noUi-target, .slider-container').forEach(s => {
        if (s.classList.contains('slider-container') && s.querySelector('.noUi-target')) return;
        r.sliders.push([name, Math.round(s.getBoundingClientRect().width)]);
      });
    });
    w.querySelectorAll('.tnn-title, p, .tnn-status').forEach(e => {
      if ((e.innerText || '').trim() && e.offsetParent !== null) r.fonts.push(parseFloat(getComputedStyle(e).fontSize));
    });
    const img = w.querySelector('img.tnn-figure');
    if (img) {
      const b = img.getBoundingClientRect();
      r.figure = {top: b.top, bottom: b.bottom, left: b.left, right: b.right, width: b.width, height: b.height,
                  natural: [img.naturalWidth, img.naturalHeight]};
    }
    r.errors = Array.from(w.querySelectorAll('.jupyter-widgets.widget-error, .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'))
                    .map(e => e.innerText.slice(0, 300));
    out.widgets.push(r);
  });
  return out;
}"""


def scroll_to_widget(page, widget: int) -> None:
    """Scroll the page (Voilà scrolls inside an element) so that widget `widget` starts at the top."""
    page.evaluate("w => document.querySelectorAll('.tnn-widget')[w].scrollIntoView({block: 'start'})", widget)
    page.wait_for_timeout(100)


def measure_layout(page, scroll: bool = True) -> dict:
    """The layout measures of every widget on the page (see LAYOUT); with `scroll`, each
    widget's figure is measured after scrolling that widget to the top, as a lecturer would."""
    out = page.evaluate(LAYOUT)
    if scroll:
        for i in range(len(out["widgets"])):
            scroll_to_widget(page, i)
            out["widgets"][i]["figure"] = page.evaluate(LAYOUT)["widgets"][i].get("figure")
        page.evaluate("() => document.querySelectorAll('body, body *').forEach(e => { e.scrollTop = 0; })")
    return out


def layout_problems(m: dict, min_text_px: float | None = None, main_only: bool = True) -> list[str]:
    """What is wrong with a layout measure: truncated labels, short sliders, a main figure
    not inside the viewport (the first widget's; every widget's if not `main_only`), text
    smaller than `min_text_px`, widget errors."""
    vw, vh = m["viewport"]
    found = []
    for i, w in enumerate(m["widgets"]):
        found += [f"widget {i}: label cut off: {t!r}" for t in w["truncated"]]
        found += [f"widget {i}: slider {n} only {px} px long (at least {MIN_SLIDER_PX})"
                  for n, px in w["sliders"] if px < MIN_SLIDER_PX]
        found += [f"widget {i}: error shown: {e}" for e in w["errors"]]
        if min_text_px and w["fonts"] and min(w["fonts"]) < min_text_px:
            found.append(f"widget {i}: text of {min(w['fonts']):g} px (at least {min_text_px})")
        f = w.get("figure")
        if f is None:
            found.append(f"widget {i}: no figure")
        elif (i == 0 or not main_only) and (f["top"] < -1 or f["bottom"] > vh + 1 or f["left"] < -1 or f["right"] > vw + 1):
            found.append(f"widget {i}: figure at {f['left']:.0f},{f['top']:.0f}–{f['right']:.0f},{f['bottom']:.0f} "
                         f"outside the {vw}×{vh} viewport")
    return found


def layout_row(m: dict) -> dict:
    """A summary of a layout measure for a table: worst values over the page's widgets."""
    ws = m["widgets"]
    figs = [w["figure"] for w in ws if w.get("figure")]
    return dict(
        truncated=sum(len(w["truncated"]) for w in ws),
        min_slider=min([px for w in ws for _, px in w["sliders"]], default=None),
        min_font=min([f for w in ws for f in w["fonts"]], default=None),
        main_bottom=round(figs[0]["bottom"]) if figs else None,
        fits=all(f["bottom"] <= m["viewport"][1] + 1 and f["top"] >= -1 for f in figs[:1]),
        sharpness=min((f["natural"][0] / (f["width"] * m["dpr"]) for f in figs if f["width"]), default=None),
        errors=sum(len(w["errors"]) for w in ws),
    )


# --- JupyterLab -----------------------------------------------------------------------------

def lab_settings() -> list:
    """The settings options `workbook.py lab` gives JupyterLab (read from workbook.py itself)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_workbook", ROOT / "workbook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.LAB_SETTINGS)


class JupyterLab:
    """``jupyter lab`` headless on a free port with a token, serving `root` (a copy of
    notebooks/), as a fresh user with the workbook's settings (`workbook.py lab`'s
    jupyterlab/overrides.json, no news prompt), except that
    every cell is kept in the page (JupyterLab 4 otherwise renders only the cells in view)."""

    def __init__(self, root: Path, home: Path, timeout: float = 90, package: Path = ROOT, settings_args=None,
                 config_path: Path | None = None):
        """`package`: the folder whose tnn_lib and autograder the kernels import (a student
        edition's folder, say); `settings_args`: JupyterLab's settings options (default:
        the repository's `workbook.py lab`); `config_path`: prepended to JUPYTER_CONFIG_PATH."""
        import secrets
        import urllib.request

        self.port, self.token, self.root = free_port(), secrets.token_hex(16), Path(root)
        settings = Path(home) / "settings"   # a fresh user: the workbook's overrides.json applies
        tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text('{"windowingMode": "none"}')
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(Path(home) / "config"),
                   JUPYTER_RUNTIME_DIR=str(Path(home) / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(Path(home) / "workspaces"),
                   PYTHONPATH=os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")]))
        if config_path is not None:
            env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config_path), os.environ.get("JUPYTER_CONFIG_PATH", "")])
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
               "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", *(lab_settings() if settings_args is None else settings_args)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = Path(home) / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("jupyter lab did not start:\n" + self.log_path.read_text()[-3000:])
                time.sleep(0.3)

    def url(self, rel: str, workspace: str | None = None) -> str:
        """The address opening notebook `rel`; in a fresh `workspace` (nothing else open) if given."""
        ws = f"workspaces/{workspace}/" if workspace else ""
        return f"{self.base}/lab/{ws}tree/{rel}?token={self.token}" + ("&reset" if workspace else "")

    def shut_down_kernels(self) -> None:
        """Shut down every kernel of this server (its REST API), e.g. between two notebooks."""
        import json
        import urllib.request
        auth = {"Authorization": f"token {self.token}"}
        with urllib.request.urlopen(urllib.request.Request(f"{self.base}/api/kernels", headers=auth), timeout=10) as r:
            kernels = json.load(r)
        for k in kernels:
            req = urllib.request.Request(f"{self.base}/api/kernels/{k['id']}", headers=auth, method="DELETE")
            urllib.request.urlopen(req, timeout=30).close()

    def stop(self) -> None:
        import psutil
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True) if self.proc.poll() is None else []
        except psutil.NoSuchProcess:
            children = []
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for p in psutil.wait_procs(children, timeout=10)[1]:
            p.kill()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


RUN_STATE = """() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'));
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  return {code: cells.length, ran: prompts.filter(p => /\\[[0-9]+\\]/.test(p)).length,
          pending: prompts.filter(p => /\\[\\*\\]/.test(p)).length,
          errors: cells.filter(c => c.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).length,
          news: !!Array.from(document.querySelectorAll('.jp-Notification-Toast, .Toastify__toast')).find(t => /news/i.test(t.textContent))};
}"""


IDLE = """() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem')).some(e => /\\| Idle$/.test(e.textContent.trim()))"""


def open_in_jupyterlab(page, lab: JupyterLab, rel: str, n_cells: int) -> None:
    """Shut down `lab`'s kernels, open notebook `rel` in a fresh workspace and wait until its
    `n_cells` cells are in the page and its kernel is idle."""
    lab.shut_down_kernels()
    page.goto(lab.url(rel, workspace=re.sub(r"\W", "-", rel)), timeout=120_000)
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
                           arg=n_cells, timeout=120_000)
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
                                   .some(e => /\\| Idle$/.test(e.textContent.trim()))""", timeout=120_000)


def widget_cells(nb, names) -> list[int]:
    """The indices of the code cells of notebook `nb` (nbformat) that import one of the widget
    factories `names` from tnn_lib.widgets (the released notebooks show each widget in a
    cell of its own: ``from tnn_lib.widgets import f`` then ``f()``)."""
    pattern = re.compile(r"^from tnn_lib\.widgets import (\w+)\s*$", re.M)
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and any(m in names for m in pattern.findall(c.source))]


def run_widget_cells_in_jupyterlab(page, lab: JupyterLab, rel: str, nb, names,
                                   timeout_ms: float = 120_000) -> tuple[int, float]:
    """Open notebook `rel` (nbformat `nb`) of `lab` and run only its widget cells (see
    :func:`widget_cells`), one after the other as a student does (select the cell, Ctrl+Enter),
    each until its widget's figure shows; the number of widgets run, and the seconds it took.
    No other cell runs: the released notebook's answer cells raise NotImplementedError."""
    open_in_jupyterlab(page, lab, rel, len(nb.cells))
    cells = widget_cells(nb, names)
    t0 = time.perf_counter()
    for k, i in enumerate(cells):
        cell = page.locator(".jp-Notebook .jp-Cell").nth(i)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").first.click()
        page.keyboard.press("Control+Enter")
        state = page.wait_for_function(FIGURES_READY, arg=k + 1, timeout=timeout_ms, polling=50).json_value()
        if state is not True:
            raise RuntimeError(f"{rel}: cell {i} shows an error:\n{state[7:]}")
    return len(cells), time.perf_counter() - t0


def run_all_in_jupyterlab(page, lab: JupyterLab, rel: str, n_cells: int, timeout_ms: float = 300_000,
                          quiet: float = 8.0) -> dict:
    """Open notebook `rel` of `lab`, wait for its kernel, Run All Cells from the Run menu and
    wait until the kernel is idle with no cell pending; the state of the code cells
    (how many, how many ran, how many show an error, whether a news prompt is shown) and
    the seconds Run All took."""
    open_in_jupyterlab(page, lab, rel, n_cells)
    t0 = time.perf_counter()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
                                   .some(e => /\\[[0-9*]+\\]/.test(e.textContent))""", timeout=60_000)
    # After the first failing cell JupyterLab shows the cells still queued as not run ("[ ]")
    # although the kernel runs them (stop_on_error: false): wait until every code cell ran,
    # or nothing changed for `quiet` s with the kernel idle.
    deadline, last, since = time.monotonic() + timeout_ms / 1000, None, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(RUN_STATE)
        idle = page.evaluate(IDLE)
        if state["ran"] == state["code"] and idle:
            break
        key = (state["ran"], state["errors"], idle)
        if key != last:
            last, since = key, time.monotonic()
        elif idle and time.monotonic() - since > quiet:
            break
        time.sleep(0.5)
    state = page.evaluate(RUN_STATE)
    state["seconds"] = time.perf_counter() - t0
    return state


class Static:
    """A folder served on 127.0.0.1 (a page opened from file:// would be aborted by
    :func:`launch`'s filter): ``with Static(folder) as url: page.goto(url + "report.html")``."""

    def __init__(self, folder: Path):
        import functools
        import http.server
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
