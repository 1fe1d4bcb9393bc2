"""One settings object for a grading run (autograder/settings.py): filled from the defaults
and the command line, frozen, the same values for every layer, JSON only across a process."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from autograder import defaults
from autograder.settings import Settings


def test_settings_are_the_defaults_frozen_and_cross_processes_as_json():
    s = Settings()
    assert (s.timeout, s.budget, s.memory_mb, s.max_output_bytes) == (
        defaults.TIMEOUT_SECONDS, defaults.BUDGET_SECONDS, defaults.MEMORY_MB, defaults.MAX_OUTPUT_BYTES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.timeout = 1.0
    t = s.replace(timeout=7.0, scratch_base="/tmp/x", course="/c", db_url="sqlite:///g.db")
    assert Settings.from_json(t.to_json()) == t and t != s
    assert t.watchdog_seconds() == defaults.watchdog_seconds({"budget": t.budget, "timeout": 7.0})


@pytest.mark.parametrize("bad,match", [({"workers": 0}, "--workers"), ({"timeout": 0}, "--timeout"),
                                       ({"budget": -1}, "--budget"), ({"memory_mb": 0}, "--memory-mb")])
def test_bad_settings_are_said_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        Settings(**bad).checked()


def test_the_command_line_fills_the_settings_and_agrees_with_the_defaults():
    from autograder.cli.main import build_parser
    from autograder.cli.selfcheck import main_check, run_check
    parser = build_parser()
    g = parser.parse_args(["grade", "subs", "--timeout", "12", "--budget", "40", "--memory-mb", "1024",
                           "--workers", "2"])
    s = Settings.from_args(g, course=g.course_dir, db_url=g.db)
    assert (s.timeout, s.budget, s.memory_mb, s.workers, s.max_output_bytes) == (12.0, 40.0, 1024, 2,
                                                                                defaults.MAX_OUTPUT_BYTES)
    c = parser.parse_args(["check", "nb.ipynb"])
    assert Settings.from_args(c) == Settings(workers=1)
    # `check --timeout` and run_check/main_check default to grading's per-cell limit
    assert c.timeout == defaults.TIMEOUT_SECONDS
    for fn in (run_check, main_check):
        assert inspect.signature(fn).parameters["timeout"].default == defaults.TIMEOUT_SECONDS
        assert inspect.signature(fn).parameters["memory_mb"].default == defaults.MEMORY_MB
    d = parser.parse_args(["grade", "subs"])
    assert Settings.from_args(d).timeout == defaults.TIMEOUT_SECONDS
    assert Settings.from_args(d).budget == defaults.BUDGET_SECONDS


def test_one_output_cap_the_student_process_keeps_what_the_grader_says():
    """The student process has no cap of its own: it keeps what each run_cell request says
    (the run's max_output_bytes), and counts everything printed."""
    import ast
    from pathlib import Path

    from autograder.sandbox import student
    src = Path(student.__file__).read_text(encoding="utf-8")
    tree = ast.parse(src)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == defaults.MAX_OUTPUT_BYTES]
    assert "MAX_CELL_OUTPUT" not in src      # no second constant for the cap
    out = student._Capped()
    out.reset(5)
    out.write("abcdefgh")
    assert out.size == 8 and out.kept.getvalue() == "abcde"
    out.reset(defaults.MAX_OUTPUT_BYTES)
    out.write("x" * (defaults.MAX_OUTPUT_BYTES + 10))
    assert out.size == defaults.MAX_OUTPUT_BYTES + 10 and len(out.kept.getvalue()) == defaults.MAX_OUTPUT_BYTES


def test_the_sandboxed_student_sends_the_runs_cap_with_each_cell():
    from autograder.evaluation.testcells import SandboxedStudent

    class Peer:
        deadline = None
        sent: list = []

        def request(self, msg):
            self.sent.append(msg)
            return {"status": "ok", "printed": 3}, []

    st = SandboxedStudent([], 5.0, None, None, None, max_output=1234)
    st.proc = type("P", (), {"peer": Peer()})()
    assert st._run("print(1)", 5.0)["printed"] == 3
    assert Peer.sent == [{"op": "run_cell", "source": "print(1)", "max_output": 1234}]
    assert SandboxedStudent([], 5.0, None, None, None).max_output == defaults.MAX_OUTPUT_BYTES


def test_every_layer_takes_the_settings_object():
    from autograder.runners.dask_cluster import DaskRunner, _WorkerState
    from autograder.runners.grade import WorkerPool, grade
    from autograder.runners.worker import Grader
    assert "settings" in inspect.signature(grade).parameters
    for cls in (Grader, WorkerPool, DaskRunner, _WorkerState):
        assert inspect.signature(cls.__init__).parameters["settings"].annotation in ("Settings", Settings), cls
