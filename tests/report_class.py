"""A class of any size for the class report's tests: the grading results (the records
``autograder.runners.grade`` hands to ``autograder.pages.report``) of `n` students on `assignment`, with
the test cells, points and misconceptions of the example class (tests/fixtures/example_class/expected.json)
and, drawn with an explicit generator, students who time out, crash or are not graded."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "tests" / "fixtures" / "example_class" / "expected.json"


def _cells_of(assignment: str) -> tuple[dict, list]:
    """The test cells' full points, and (cell id, misconception) pairs the catalogue can name."""
    students = json.loads(EXPECTED.read_text())["students"]
    full, wrong = {}, []
    for grades in students.values():
        for gid, cell in grades.get(assignment, {}).items():
            if cell["status"] == "passed":
                full[gid] = max(full.get(gid, 0.0), cell["points"])
            if cell["misconception"] and (gid, cell["misconception"]) not in wrong:
                wrong.append((gid, cell["misconception"]))
    return full, sorted(wrong)


def class_results(n: int, assignment: str = "02_batchnorm", seed: int = 0) -> list[dict]:
    """Results of `n` students; student i's record lists every cell of the assignment."""
    rng = np.random.default_rng(seed)
    full, wrong = _cells_of(assignment)
    results = []
    for i in range(n):
        student = f"student{i:04d}"
        skill = rng.beta(4, 1.5)
        cells = []
        for gid in sorted(full):
            cell = {"grade_id": gid, "points": 0.0, "max_points": full[gid], "status": "passed",
                    "misconception": "", "message": ""}
            u = rng.random()
            if u < skill:
                cell["points"] = full[gid]
            elif u < skill + 0.03:
                cell["status"], cell["message"] = "timeout", "the cell did not finish within 30 s"
            elif u < skill + 0.06:
                cell["status"], cell["message"] = "error", "ValueError: shapes do not match"
            else:
                choices = [m for g, m in wrong if g == gid]
                if choices and rng.random() < 0.7:
                    cell["status"], cell["misconception"] = "misconception", str(rng.choice(choices))
                else:
                    cell["status"] = "failed"
            cells.append(cell)
        state = "graded"
        if rng.random() < 0.02:
            state, cells = "invalid-notebook", []
        results.append({"student": student, "assignment": assignment,
                        "seconds_late": float(rng.choice([0, 0, 0, 0, 3600, 90000])),
                        "notebooks": {f"{assignment}.ipynb": {"state": state, "cells": cells, "isolated": True}}})
    return results
