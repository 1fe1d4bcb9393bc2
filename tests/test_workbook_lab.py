"""`python3 workbook.py lab` opens JupyterLab whose nbgrader extensions find the course's
nbgrader_config.py (nbgrader logs `No nbgrader_config.py file found` otherwise)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
import urllib.request

from browser_tools import free_port

from conftest import ROOT

from autograder.course import COURSE_ID


def _workbook_lab_command(extra):
    spec = importlib.util.spec_from_file_location("workbook_under_test", ROOT / "workbook.py")
    wb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wb)
    seen = {}
    wb.setup = lambda extras: None                    # the test's .venv is already set up
    wb.run_forwarding = lambda cmd, **kw: seen.update(cmd=[str(c) for c in cmd], **kw) or 0
    wb.lab(extra)
    return seen


def test_workbook_lab_gives_nbgrader_the_course_config(tmp_path):
    port = free_port()
    seen = _workbook_lab_command(["--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
                                  "--IdentityProvider.token=lab"])
    env = dict(seen["env"], HOME=str(tmp_path))
    # the exchange (JUPYTERHUB.md: /srv/nbgrader/exchange on a server) in this HOME's config,
    # without which nbgrader's course list fails; the course's own config still comes first
    (tmp_path / "exchange").mkdir()
    (tmp_path / ".jupyter").mkdir()
    (tmp_path / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n", encoding="utf-8")
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(seen["cmd"], cwd=seen["cwd"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, courses = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/courses?token=lab", timeout=30) as r:
                    courses = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.5)
        assert courses is not None, log.read_text()[-3000:]
        # nbgrader's course list answered without an error (with an exchange to read), and
        # lists no course but this one (here the list is empty: nbgrader's probe of the local
        # formgrader lists nothing in this test's lab; why is not established)
        assert courses["success"] is True, courses
        assert all(c["course_id"] == COURSE_ID for c in courses["value"]), courses
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "nbgrader" in text.lower(), text[-2000:]      # the extensions did load
    assert "No nbgrader_config.py file found" not in text, text[-3000:]
    assert os.path.join("autograder") in seen["env"]["JUPYTER_CONFIG_PATH"]
