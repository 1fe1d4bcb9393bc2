"""``tnn-course lecture`` without a browser: listing, errors, the generated page.

The pages themselves are tested in headless Chromium by tests/test_browser.py.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys

import nbformat
import pytest

from autograder.lecture import serve as lecture
from tnn_lib.widgets import TOPIC_WIDGETS


def tnn_course(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "autograder.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_list_shows_every_topic_with_its_title():
    out = tnn_course("lecture", "--list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(TOPIC_WIDGETS)
    for topic, line in zip(TOPIC_WIDGETS, lines):
        assert lecture.TOPIC_TITLES[topic] in line
    # the titles in one column, the longest id included (08_schedules_and_landscape)
    assert len({line.index(lecture.TOPIC_TITLES[t]) for t, line in zip(TOPIC_WIDGETS, lines)}) == 1, lines


def test_unknown_topic_is_a_clear_error():
    out = tnn_course("lecture", "02_batchnrom")
    assert out.returncode != 0
    assert "unknown topic '02_batchnrom'" in out.stderr and "02_batchnorm" in out.stderr, out.stderr
    assert "--list" in out.stderr


def test_missing_topic_is_a_clear_error():
    out = tnn_course("lecture")
    assert out.returncode != 0 and "expected a topic id" in out.stderr, out.stderr


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = tnn_course("lecture", "06_regularization", "--port", str(port))
    assert out.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in out.stderr and "--port" in out.stderr, out.stderr
    assert "http://" not in out.stdout  # it never claimed to serve


@pytest.mark.parametrize("bad", ["70000", "-1"])
def test_port_out_of_range_is_a_clear_error(bad):
    out = tnn_course("lecture", "06_regularization", "--port", bad)
    assert out.returncode != 0 and "--port must be between 1 and 65535" in out.stderr, out.stderr


@pytest.mark.parametrize("topic", list(TOPIC_WIDGETS))
def test_lecture_notebook_shows_the_topic_widgets_and_nothing_else(topic):
    nb = lecture.lecture_notebook(topic)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and f"widgets_for_topic({topic!r})" in code[0].source
    assert "display(app.widget)" in code[0].source and not code[0].outputs
    assert lecture.TOPIC_TITLES[topic] in nb.cells[0].source


def test_lecture_dpi_is_applied_only_when_asked():
    assert "set_dpi" not in lecture.lecture_notebook("02_batchnorm").cells[1].source
    assert "app.fig.set_dpi(120)" in lecture.lecture_notebook("02_batchnorm", dpi=120).cells[1].source


def test_template_and_command_fetch_nothing_from_the_web(tmp_path):
    tdir = lecture.write_template(tmp_path)
    text = "".join(p.read_text() for p in tdir.iterdir())
    assert not re.search(r"https?://", text), "the lecture template links to the web"
    cmd = lecture.voila_command(tmp_path / "x.ipynb", 8866)
    assert "--Voila.ip=127.0.0.1" in cmd and "--strip_sources=True" in cmd and "--no-browser" in cmd
    assert f"--template={lecture.TEMPLATE}" in cmd and "--Voila.port_retries=0" in cmd


@pytest.mark.parametrize("status", [404, 500])
def test_voila_error_pages_fetch_nothing_from_the_web(tmp_path, monkeypatch, status):
    """Voilà renders its error pages from the lecture template's search path, built here as
    Voilà builds it; base/page.html alone would link Font Awesome from a CDN."""
    import gettext
    import os

    import jinja2
    from voila.paths import collect_template_paths

    lecture.write_template(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]))
    paths = collect_template_paths(["voila", "nbconvert"], lecture.TEMPLATE, prune=True)
    assert str(tmp_path / "jupyter") in paths[0]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(paths), extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_gettext_translations(gettext.NullTranslations(), newstyle=False)
    html = env.get_template("error.html").render(
        status_code=status, status_message="Not Found" if status == 404 else "Internal Server Error",
        message="", exception="(unknown)", base_url="/", theme="light",
        include_css=lambda name: f'<link rel="stylesheet" href="/voila/{name}">')
    assert f"<h1>{status}:" in html
    assert "/voila/static/index.css" in html  # the lab theme's stylesheets are still there
    links = re.findall(r"""(?:href|src)=["'](https?://[^"']+)""", html)
    assert not links, f"the {status} page links to the web: {links}"


def test_the_lecture_kernel_runs_one_blas_thread_unless_told_otherwise(tmp_path, monkeypatch):
    """The kernel's BLAS uses one thread (on a busy machine two OpenBLAS threads waiting for each
    other made 01's small products 100× slower); a value the lecturer set is kept."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    env = lecture.lecture_env(tmp_path)
    assert [env[v] for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")] == ["1", "1", "1"]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert lecture.lecture_env(tmp_path)["OPENBLAS_NUM_THREADS"] == "4"
    out = subprocess.run([sys.executable, "-c", "import numpy, threadpoolctl; "
                          "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'))"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
