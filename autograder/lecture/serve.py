"""``tnn-course lecture TOPIC``: one topic's live widgets, full screen, served by Voilà.

The command writes a small notebook for the topic into a temporary directory (a title and
one code cell that calls :func:`tnn_lib.widgets.widgets_for_topic` and displays every
widget), writes a Voilà template next to it (large controls, full-width figures, nothing
fetched from the web), and runs Voilà on 127.0.0.1 in a child process. It prints the
address once the server listens and, on Ctrl-C (or SIGTERM), stops Voilà, its kernels and
anything else it started, and exits 0.

The public pieces (:func:`lecture_notebook`, :func:`write_template`, :func:`voila_command`)
are what the tests and ``bench/browser.py`` use too.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tnn_lib.topics import TOPICS

DEFAULT_PORT = 8866
HOST = "127.0.0.1"

TEMPLATE = "tnn-lecture"
# Figures are drawn at LECTURE_DPI by default: at 1920×1080 the figure spans about 1400 CSS
# px, so 11 inches at 200 dpi give 1.6 image pixels per CSS pixel (0.8 per device pixel at a
# device pixel ratio of 2); `--dpi` sets another resolution (drawing time grows with its square).
LECTURE_DPI = 200

UNUSED_LAB_EXTENSIONS = ["@jupyter/nbgrader", "@jupyter-notebook/lab-extension",
                         "@voila-dashboards/jupyterlab-preview"]

TOPIC_TITLES = {t.id: t.title for t in TOPICS}

# Extends Voilà's "lab" template. Its notebook_css block links Font Awesome from a CDN;
# this one re-does that block without the links and calls the nbconvert lab block above it
# (super.super), so the page loads nothing but what this server serves.
INDEX_TEMPLATE = r"""{%- extends 'voila/templates/lab/index.html.j2' -%}
{% import "spinner.macro.html.j2" as spinner %}

{%- block notebook_css -%}
  {% if frontend == "voila" %}
    {{ resources.include_js("static/voila-style.js") }}
  {% endif %}
  {{ spinner.css() }}
  <style>
    .jp-mod-noOutputs.jp-mod-noInput { display: none; }
  </style>
  {{ super.super() }}
  <style>
LECTURE_CSS
  </style>
  <script>
LECTURE_JS
  </script>
{%- endblock notebook_css -%}
"""

# Voilà's error pages (404, 500) extend "page.html", and base/page.html links Font Awesome
# from a CDN outside any block. The template directory comes first on the search path, so
# this page.html, the same page without that link (and with the lab theme's stylesheets),
# is the one they extend: even an error page loads nothing from the web.
PAGE_TEMPLATE = r"""<!DOCTYPE HTML>
<html>
  <head>
    <meta charset="utf-8">
    <title>{% block title %} Voilà {% endblock %}</title>
    <meta http-equiv="X-UA-Compatible" content="IE=edge" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    {% block stylesheets %}
    {% if include_css %}
      {{ include_css("static/index.css") }}
      {% if theme == 'dark' %}{{ include_css("static/theme-dark.css") }}
      {% elif theme == 'light' %}{{ include_css("static/theme-light.css") }}
      {% else %}{{ include_lab_theme(theme) }}{% endif %}
    {% endif %}
    {% endblock %}
    {% block meta %}
    {% endblock %}
  </head>
  <body data-base-url="{{ base_url }}voila/" data-voila="voila">
    <noscript><div id='noscript'>Voilà requires JavaScript. Please enable it to proceed.</div></noscript>
    <div>
      {% block body %}
      {% endblock %}
    </div>
    {% block scripts %}
    {% endblock %}
  </body>
</html>
"""

# Big enough to read from the back of a lecture hall; the figure fills the width.
LECTURE_CSS = """
body {
  --jp-content-font-size1: 22px;
  --jp-ui-font-size1: 20px;
  --jp-widgets-font-size: 22px;
  --jp-widgets-inline-height: 44px;
  --jp-widgets-inline-width: 560px;
  --jp-widgets-inline-width-short: 280px;
  --jp-widgets-inline-label-width: 180px;
  --jp-widgets-slider-handle-size: 26px;
  --jp-widgets-slider-track-thickness: 8px;
  --jp-widgets-radio-item-height: 40px;
  --jp-widgets-input-padding: 6px;
}
body { margin: 0; }
#rendered_cells { padding: 4px 24px; }
.jp-Cell { padding: 0; }
.jp-RenderedHTMLCommon h1 { font-size: 1.6em; margin: 0.1em 0 0.1em; }
/* one widget per screen: title and description across, the controls in a column on the
   left, the figure on the right, as high as the screen leaves it */
.tnn-widget { width: 100%; margin: 0 0 2em 0; display: grid !important;
  grid-template-columns: minmax(300px, 26%) minmax(0, 1fr); column-gap: 28px; align-items: start; }
.tnn-widget > .tnn-header { grid-column: 1 / 3; }
.tnn-widget > .tnn-controls { grid-column: 1; grid-row: 2 / 5; flex-flow: column nowrap !important;
  gap: 10px !important; margin: 0; }
.tnn-widget > .tnn-figure { grid-column: 2; grid-row: 2; }
.tnn-widget > .tnn-status { grid-column: 2; grid-row: 3; }
.tnn-widget > :not(.tnn-header):not(.tnn-controls):not(.tnn-figure):not(.tnn-status) { grid-column: 1; }
.tnn-title { font-size: 1.5em; margin: 0.2em 0 0.1em; }
.tnn-widget p { font-size: 20px; margin: 0 0 0.4em; line-height: 1.3; }
/* each control: its label on a line of its own, the control across the column */
.tnn-control.widget-inline-hbox, .tnn-control.widget-inline-vbox { flex-wrap: wrap; width: 100% !important; height: auto !important; }
.tnn-control > .widget-label { width: 100% !important; white-space: normal; text-align: left !important; }
.tnn-control.widget-hslider .slider-container { flex: 1 1 200px !important; width: auto !important; }
.tnn-control .widget-label, .tnn-control label, .tnn-control .widget-readout,
.tnn-control select, .tnn-control button, .tnn-control input { font-size: 22px; }
.tnn-control .widget-toggle-buttons { flex-wrap: wrap; }
/* a label longer than the column wraps instead of being cut */
.tnn-control label, .tnn-control .widget-label, .tnn-control .widget-toggle-button {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  height: auto !important; min-height: var(--jp-widgets-inline-height); line-height: 1.25; }
.tnn-control.widget-checkbox { height: auto !important; align-items: center; }
.tnn-control.widget-checkbox input { width: 26px; height: 26px; }
.tnn-figure { width: 100% !important; max-width: none !important; height: auto;
              max-height: calc(100vh - 290px); object-fit: contain; object-position: left top; }
.tnn-status { font-size: 20px; }
/* a page of several widgets is a deck: each widget snaps to the top of the screen, and the
   navigation at the bottom right (or PageDown / PageUp) moves from one to the next */
html, body, #rendered_cells { scroll-snap-type: y proximity; }
.tnn-widget { scroll-snap-align: start; scroll-margin-top: 8px; min-height: calc(100vh - 24px); }
#tnn-lecture-nav { position: fixed; right: 16px; bottom: 12px; z-index: 100; display: flex; gap: 8px;
  background: rgba(255, 255, 255, 0.92); border: 1px solid #bbb; border-radius: 8px; padding: 6px; }
#tnn-lecture-nav[hidden] { display: none; }
#tnn-lecture-nav button { font-size: 20px; padding: 4px 12px; border: 1px solid #999; border-radius: 6px;
  background: #f4f4f4; cursor: pointer; }
#tnn-lecture-nav button[aria-current="true"] { background: #1f6feb; border-color: #1f6feb; color: white; }
"""

# The deck navigation of a page with several widgets. It is built from the widgets the page
# shows (their titles), kept up to date only when the page's elements change (no timer: an
# idle page costs nothing), and leaves PageDown / PageUp to a focused control (a slider uses
# them for big steps).
LECTURE_JS = r"""
(function () {
  function widgets() { return Array.from(document.querySelectorAll('.tnn-widget')); }
  function current() {
    var ws = widgets(), at = 0;
    ws.forEach(function (w, k) { if (w.getBoundingClientRect().top <= window.innerHeight / 3) { at = k; } });
    return at;
  }
  function go(k) {
    var ws = widgets();
    if (!ws.length) { return; }
    k = Math.max(0, Math.min(ws.length - 1, k));
    ws[k].scrollIntoView({block: 'start'});
    mark();
  }
  function nav() {
    var n = document.getElementById('tnn-lecture-nav');
    if (!n && document.body) {
      n = document.createElement('nav');
      n.id = 'tnn-lecture-nav';
      n.setAttribute('aria-label', 'widgets on this page');
      n.hidden = true;
      document.body.appendChild(n);
    }
    return n;
  }
  function mark() {
    var n = nav(), at = current();
    if (!n) { return; }
    Array.from(n.children).forEach(function (b, k) { b.setAttribute('aria-current', k === at ? 'true' : 'false'); });
  }
  function build() {
    var n = nav(), ws = widgets();
    if (!n) { return; }
    if (ws.length < 2) { n.hidden = true; return; }
    if (n.childElementCount === ws.length) { return; }
    n.textContent = '';
    ws.forEach(function (w, k) {
      var b = document.createElement('button'), t = w.querySelector('.tnn-title');
      b.type = 'button';
      b.textContent = (k + 1) + ' · ' + (t ? t.textContent.trim() : 'widget ' + (k + 1));
      b.title = 'show this widget (PageDown / PageUp: the next / previous one)';
      b.addEventListener('click', function () { go(k); });
      n.appendChild(b);
    });
    n.hidden = false;
    mark();
  }
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'PageDown' && e.key !== 'PageUp') { return; }
    var t = e.target;
    if (t && t.closest && (t.closest('.tnn-control') || t.closest('input, select, textarea'))) { return; }
    if (widgets().length < 2) { return; }
    e.preventDefault();
    go(current() + (e.key === 'PageDown' ? 1 : -1));
  });
  window.addEventListener('scroll', mark, {passive: true, capture: true});
  document.addEventListener('DOMContentLoaded', function () {
    build();
    new MutationObserver(build).observe(document.body, {childList: true, subtree: true});
  });
})();
"""


def topics() -> dict:
    """Topic id -> title, for every topic that has lecture widgets."""
    from tnn_lib.widgets import TOPIC_WIDGETS  # keeps start-up light (see AUTHORING.md)
    return {t: TOPIC_TITLES.get(t, t) for t in TOPIC_WIDGETS}


def check_topic(topic: str) -> str:
    known = topics()
    if topic not in known:
        raise ValueError(f"unknown topic {topic!r}; expected one of: {', '.join(known)} "
                         "(`tnn-course lecture --list` shows their titles)")
    return topic


def lecture_notebook(topic: str, dpi: int | None = None):
    """The lecture page of `topic` as a notebook: a title, and a cell showing its widgets
    (their figures redrawn at `dpi` if given)."""
    import nbformat  # slow import (see AUTHORING.md)
    title = topics().get(topic, topic)
    code = (
        "import warnings\n"
        "warnings.simplefilter('ignore')  # no library warnings on the projector; errors still show\n\n"
        "from IPython.display import display\n"
        "from tnn_lib.widgets import widgets_for_topic\n\n"
        f"apps = widgets_for_topic({topic!r})\n"
        "for app in apps:\n"
        + (f"    app.fig.set_dpi({int(dpi)})  # sharper on a projector\n    app.refresh()\n" if dpi else "")
        + "    display(app.widget)\n"
        "for app in apps:\n"
        "    app.warm_drafts()  # a dragged slider's first draft as fast as the next ones\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = f"{topic} · {title}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell(code)]
    return nb


def write_template(jupyter_dir: Path) -> Path:
    """Write the lecture Voilà template under `jupyter_dir` (put it on JUPYTER_PATH)."""
    tdir = Path(jupyter_dir) / "voila" / "templates" / TEMPLATE
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / "conf.json").write_text(json.dumps({"base_template": "lab"}))
    (tdir / "index.html.j2").write_text(INDEX_TEMPLATE.replace("LECTURE_CSS", LECTURE_CSS)
                                         .replace("LECTURE_JS", LECTURE_JS))
    (tdir / "page.html").write_text(PAGE_TEMPLATE)
    return tdir


def check_port(port: int) -> int:
    """`port` if nothing listens on it at 127.0.0.1 (a free one if 0); ValueError otherwise."""
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535 (or 0 for any free port), got {port}")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        s.bind((HOST, port))
        return s.getsockname()[1]
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ValueError(f"port {port} on {HOST} is already in use; expected a free port: pass "
                             "--port P with another port, or --port 0 to pick any free one") from None
        if err.errno == errno.EACCES:
            raise ValueError(f"no permission to listen on port {port}; expected a port above 1023 "
                             "(or run with the rights to use it)") from None
        raise
    finally:
        s.close()


def voila_command(notebook: Path, port: int) -> list:
    """The Voilà command line serving `notebook` on 127.0.0.1:`port`, code cells hidden."""
    return [sys.executable, "-m", "voila", str(notebook),
            "--no-browser", f"--port={port}", f"--Voila.ip={HOST}", "--Voila.port_retries=0",
            f"--template={TEMPLATE}", "--theme=light", "--strip_sources=True", "--show_tracebacks=True",
            # lab extensions built for JupyterLab that fail in Voilà's page and slow its load
            f"--VoilaConfiguration.extension_denylist={json.dumps(UNUSED_LAB_EXTENSIONS)}",
            # one kernel kept ready with the page already executed: the page appears at once
            "--preheat_kernel=True", "--pool_size=1",
            "--Voila.log_level=WARN"]


def lecture_env(jupyter_dir: Path) -> dict:
    """Environment of the Voilà child: the template on JUPYTER_PATH, this checkout importable."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join([str(jupyter_dir)] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("MPLBACKEND", "Agg")
    # one BLAS thread in the kernel: the widgets' products are small (01's loss surfaces: 100 × 2
    # by 2 × 6561, 0.2 ms on one thread), and on a machine whose cores are busy OpenBLAS's threads
    # wait for each other: the same product took 25–35 ms (median) with two threads, a new weight
    # range's surfaces 65 ms instead of 14 (measured for the seventh round, see LECTURE.md)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _die_with_parent():  # runs in the Voilà child before exec: SIGTERM it if we die (Linux)
    try:
        import ctypes  # keeps start-up light (see AUTHORING.md)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _descendants(pid: int) -> list:
    try:
        import psutil  # keeps start-up light (see AUTHORING.md)
        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` itself listens on `port` (not some other program that took it)."""
    try:
        import psutil  # keeps start-up light (see AUTHORING.md)
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except ImportError:  # without psutil: anything answering on the port
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False
    except Exception:
        return False
    return any(c.status == "LISTEN" and c.laddr and c.laddr.port == port for c in conns)


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if _listens(proc.pid, port):
            return True
        time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process_tree(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop Voilà (it shuts its kernels down on SIGTERM); then kill, by PID, whatever of its
    descendants is still there."""
    children = _descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for child in children:
        try:
            child.wait(timeout=3)
        except Exception:
            try:
                child.kill()
            except Exception:
                pass


def serve(topic: str, port: int = DEFAULT_PORT, dpi: int | None = None, out=sys.stdout) -> int:
    """Serve the lecture page of `topic` until Ctrl-C / SIGTERM; the exit status."""
    check_topic(topic)
    dpi = LECTURE_DPI if dpi is None else dpi
    if not 20 <= dpi <= 400:
        raise ValueError(f"--dpi must be between 20 and 400, got {dpi}")
    port = check_port(port)
    import nbformat  # slow import (see AUTHORING.md)
    workdir = Path(tempfile.mkdtemp(prefix=f"tnn-lecture-{topic}-"))
    proc = None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _on_signal(signum, frame):
        raise KeyboardInterrupt

    try:
        write_template(workdir / "jupyter")
        nb_path = workdir / f"{topic}.ipynb"
        nbformat.write(lecture_notebook(topic, dpi), nb_path)
        # explicitly: a shell starting us in the background would have SIGINT ignored
        for sig in previous:
            signal.signal(sig, _on_signal)
        # Voilà's own session: Ctrl-C in the terminal reaches this process only, which then
        # stops Voilà in order (kernels first) instead of both racing to shut down. Its log
        # (kernel warnings, etc.) goes to a file; errors show in the page and are echoed here
        # if Voilà fails.
        log = open(workdir / "voila.log", "wb")
        proc = subprocess.Popen(voila_command(nb_path, port), cwd=workdir, env=lecture_env(workdir / "jupyter"),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        log.close()
        if not _wait_listening(port, proc, timeout=60):
            rc = proc.poll()
            stop_process_tree(proc)
            log_text = _tail(workdir / "voila.log")
            if "no available port" in log_text or "already in use" in log_text:
                raise ValueError(f"port {port} on {HOST} was taken by another program while Voilà started; "
                                 "expected a free port: pass --port P with another port, or --port 0")
            raise ValueError(f"Voilà did not start listening on {HOST}:{port} (exit status {rc}); expected a "
                             f"free port and a working voila installation. Its log:\n{log_text}")
        url = f"http://{HOST}:{port}/"
        print(f"Lecture {topic} · {topics()[topic]}\n  open {url}  (full screen: F11)\n  stop with Ctrl-C",
              file=out, flush=True)
        rc = proc.wait()
        print(f"tnn-course lecture: Voilà stopped unexpectedly (exit status {rc}). Its log:\n"
              f"{_tail(workdir / 'voila.log')}", file=sys.stderr)
        return rc or 1
    except KeyboardInterrupt:
        print("\nstopping the lecture server…", file=out, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        if proc is not None:
            stop_process_tree(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(workdir, ignore_errors=True)


def _lecture(args) -> int:
    if args.list:
        listed = topics()
        width = max(map(len, listed), default=0)     # the longest id sets the column
        for topic, title in listed.items():
            print(f"{topic:<{width}}  {title}")
        return 0
    if not args.topic:
        raise ValueError("expected a topic id (e.g. `tnn-course lecture 02_batchnorm`); "
                         "`tnn-course lecture --list` lists them")
    return serve(args.topic, port=args.port, dpi=args.dpi)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``tnn-course lecture`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "lecture", help="serve one topic's widgets full screen with Voilà on 127.0.0.1",
        description="Serve one topic's live widgets as a full-screen web page (Voilà, no code shown) on "
                    "127.0.0.1. Open the printed address in a browser, press F11; Ctrl-C stops the server.")
    p.add_argument("topic", nargs="?", metavar="TOPIC", help="topic id, e.g. 02_batchnorm (see --list)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--list", action="store_true", help="list the topics and their titles, then exit")
    p.add_argument("--dpi", type=int, default=None,
                   help=f"draw the figures at this resolution (default {LECTURE_DPI}: sharp on a 1080p "
                        "projector and on a high-density screen; lower redraws faster)")
    p.set_defaults(func=_lecture)
    return p
