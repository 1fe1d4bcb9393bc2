"""Shared fixtures: where the course is, and which assignments exist."""
from __future__ import annotations

import os

# small matrix products are ~10x slower when the BLAS pool fights other processes for the
# two cores; one thread per process (kernels started by the tests inherit it)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def example_class(tmp_path_factory):
    """The example class (tests/fixtures/example_class/submitted), graded once per session with
    two local workers: (summary, output folder). ``TNN_EXAMPLES=subset`` grades the subset of
    test_grading_examples.subset() instead."""
    import json

    from autograder.runners.grade import grade

    examples = ROOT / "tests" / "fixtures" / "example_class"
    expected = json.loads((examples / "expected.json").read_text())["students"]
    if os.environ.get("TNN_EXAMPLES") == "subset":
        from test_grading_examples import subset
        pairs = subset()
    else:
        pairs = {s: sorted(a) for s, a in expected.items()}
    base = tmp_path_factory.mktemp("example-class")
    subs = base / "submitted"
    for student, aids in pairs.items():
        for aid in aids:
            (subs / student).mkdir(parents=True, exist_ok=True)
            os.symlink(examples / "submitted" / student / aid, subs / student / aid)
    summary = grade(subs, workers=2, timeout=10, output=base / "out", db_url=f"sqlite:///{base / 'gradebook.db'}",
                    root=ROOT, progress=False)
    return summary, base / "out"
