"""`python3 workbook.py lab` opens JupyterLab whose nbgrader extensions find the course's
nbgrader_config.py (nbgrader logs `No nbgrader_config.py file found` otherwise) and an
exchange the user can write: the Assignment List lists the course and its assignments, and
*Submit* works from the repository; `nbgrader collect` and `tnn-course grade` take it from there."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
import urllib.request

from browser_tools import free_port

from conftest import ROOT


def _workbook_lab_command(extra):
    spec = importlib.util.spec_from_file_location("workbook_under_test", ROOT / "workbook.py")
    wb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wb)
    seen = {}
    wb.setup = lambda extras: None                    # the test's .venv is already set up
    wb.run_forwarding = lambda cmd, **kw: seen.update(cmd=[str(c) for c in cmd], **kw) or 0
    wb.lab(extra)
    return seen


def _call(port, path, method="GET", data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data,
                                 headers={"Authorization": "token lab"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def test_workbook_lab_gives_nbgrader_the_course_config_and_submitting_works(tmp_path, monkeypatch):
    import shutil
    import urllib.parse

    exchange = tmp_path / "exchange"                   # where `workbook.py lab` lays out the exchange
    monkeypatch.setenv("TNN_EXCHANGE", str(exchange))
    import tempfile
    runtime = tempfile.mkdtemp(prefix="rt-", dir="/tmp")   # tmp_path is too long for a kernel's socket paths
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", runtime)
    port = free_port()
    seen = _workbook_lab_command(["--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
                                  "--IdentityProvider.token=lab"])
    aids = sorted(p.name for p in (ROOT / "notebooks").iterdir() if any(p.glob("*.ipynb")))
    for aid in aids:    # released as `nbgrader release_assignment` would: the notebooks as committed
        assert (exchange / "tnn-workbook" / "outbound" / aid / f"{aid}.ipynb").read_bytes() == \
            (ROOT / "notebooks" / aid / f"{aid}.ipynb").read_bytes()
    env = dict(seen["env"], HOME=str(tmp_path))
    assert env["TNN_EXCHANGE"] == str(exchange)
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(seen["cmd"], cwd=seen["cwd"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, courses = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                courses = _call(port, "/courses")
                break
            except OSError:
                time.sleep(0.5)
        # the Assignment List's first call: "Error fetching courses!" when the exchange is missing
        assert courses == {"success": True, "value": ["tnn-workbook"]}, (courses, log.read_text()[-3000:])
        listed = _call(port, "/assignments?course_id=tnn-workbook")
        assert listed["success"], listed
        assert sorted(a["assignment_id"] for a in listed["value"]) == aids
        # the student works in notebooks/<assignment>/: the panel shows them as fetched, ready to submit
        assert {a["status"] for a in listed["value"]} == {"fetched"}, listed["value"][:2]
        body = urllib.parse.urlencode({"course_id": "tnn-workbook", "assignment_id": "02_batchnorm"}).encode()
        submitted = _call(port, "/assignments/submit", "POST", body)
        assert submitted["success"], submitted
        # a kernel starts on local sockets: no "Kernel is running over TCP without encryption"
        kernel = _call(port, "/api/kernels", "POST", b"{}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _call(port, f"/api/kernels/{kernel['id']}")["execution_state"] \
                in ("starting", "unknown"):
            time.sleep(0.5)
        time.sleep(2)
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
    assert "Kernel started" in text and "without encryption" not in text, text[-3000:]
    # notebook_shim (a shim for classic-notebook extensions; none of ours needs it) reads every
    # ServerApp attribute and so sets off "ServerApp.token config is deprecated": it is off
    assert "deprecated" not in text.lower(), text[-3000:]
    assert "--KernelManager.transport=ipc" in seen["cmd"]
    shutil.rmtree(runtime, ignore_errors=True)
    assert os.path.join("autograder") in seen["env"]["JUPYTER_CONFIG_PATH"]
    inbound = list((exchange / "tnn-workbook" / "inbound").iterdir())
    assert len(inbound) == 1 and inbound[0].name.split("+")[1] == "02_batchnorm", inbound
    assert (inbound[0] / "02_batchnorm.ipynb").read_bytes() == \
        (ROOT / "notebooks" / "02_batchnorm" / "02_batchnorm.ipynb").read_bytes()

    # the instructor's side, with the same exchange: collect into a course directory and grade
    course = tmp_path / "course"
    for sub in ("solutions", "notebooks"):
        shutil.copytree(ROOT / sub / "02_batchnorm", course / sub / "02_batchnorm")
    cenv = dict(env, TNN_COURSE_DIR=str(course))
    bindir = os.path.dirname(seen["cmd"][0])
    collect = subprocess.run([os.path.join(bindir, "nbgrader"), "collect", "02_batchnorm"], cwd=course, env=cenv,
                             capture_output=True, text=True, timeout=300)
    assert collect.returncode == 0, collect.stdout + collect.stderr
    student = inbound[0].name.split("+")[0]
    assert (course / "submitted" / student / "02_batchnorm" / "02_batchnorm.ipynb").is_file()
    graded = subprocess.run([os.path.join(bindir, "tnn-course"), "grade", "submitted/", "--workers", "1", "-q"],
                            cwd=course, env=cenv, capture_output=True, text=True, timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    rows = (course / "grading" / "grades.csv").read_text().splitlines()[1:]
    assert rows and all(r.startswith(f"{student},02_batchnorm,") for r in rows), rows[:3]
    assert {r.split(",")[5] for r in rows} == {"unanswered"}, rows[:3]     # the release as is: nothing answered
