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

from autograder import lecture
from tnn_lib.widgets import TOPIC_WIDGETS


def tnn_course(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_list_shows_every_topic_with_its_title():
    out = tnn_course("lecture", "--list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(TOPIC_WIDGETS)
    for topic, line in zip(TOPIC_WIDGETS, lines):
        assert lecture.TOPIC_TITLES[topic] in line


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
