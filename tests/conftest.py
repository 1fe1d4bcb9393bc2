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


# graded alone before the example class, into the same output folder and gradebook: correct's
# 00_backprop under a name of its own (test_grading_hostile checks that nothing of the class,
# its tampering submissions above all, changes its result file or its gradebook scores)
HONEST_FIRST, HONEST_SOURCE, HONEST_AID = "honest-first", "correct", "00_backprop"


@pytest.fixture(scope="session")
def example_class_run(tmp_path_factory) -> dict:
    """The example class (tests/fixtures/example_class/submitted), graded once per session with
    two local workers and read by every module that needs it (test_grading_examples,
    test_grading_hostile, test_grading_dask). First one honest submission is graded alone
    (:data:`HONEST_FIRST`), then the whole class, tampering submissions included, into the same
    output folder and gradebook, with what the course directory, /tmp and the process table
    hold before and a second after. ``TNN_EXAMPLES=subset`` grades the subset of
    test_grading_examples.subset() (every hostile submission among it) instead.

    Returns summary (of the class), out, db_url, pairs (student -> assignments graded),
    honest (its result file's text and gradebook scores right after its own grading),
    honest_file, before, after."""
    import json
    import time

    from autograder.runners.grade import grade
    from hostile_tools import gradebook_scores, traces

    examples = ROOT / "tests" / "fixtures" / "example_class"
    expected = json.loads((examples / "expected.json").read_text())["students"]
    if os.environ.get("TNN_EXAMPLES") == "subset":
        from test_grading_examples import subset
        pairs = subset()
    else:
        pairs = {s: sorted(a) for s, a in expected.items()}
    base = tmp_path_factory.mktemp("example-class")
    out, db_url = base / "out", f"sqlite:///{base / 'gradebook.db'}"
    (base / "honest" / HONEST_FIRST).mkdir(parents=True)
    os.symlink(examples / "submitted" / HONEST_SOURCE / HONEST_AID, base / "honest" / HONEST_FIRST / HONEST_AID)
    first = grade(base / "honest", workers=1, timeout=10, output=out, db_url=db_url, root=ROOT, progress=False)
    honest_file = out / "results" / HONEST_FIRST / f"{HONEST_AID}.json"
    honest = {"summary": first, "text": honest_file.read_text(), "scores": gradebook_scores(db_url, HONEST_FIRST,
                                                                                             HONEST_AID)}
    subs = base / "submitted"
    for student, aids in pairs.items():
        for aid in aids:
            (subs / student).mkdir(parents=True, exist_ok=True)
            os.symlink(examples / "submitted" / student / aid, subs / student / aid)
    before = traces()
    summary = grade(subs, workers=2, timeout=10, output=out, db_url=db_url, root=ROOT, progress=False)
    time.sleep(1)
    return {"summary": summary, "out": out, "db_url": db_url, "pairs": pairs, "honest": honest,
            "honest_file": honest_file, "before": before, "after": traces()}


@pytest.fixture(scope="session")
def example_class(example_class_run):
    """The example class graded once per session (:func:`example_class_run`): (summary,
    output folder)."""
    return example_class_run["summary"], example_class_run["out"]


@pytest.fixture(scope="session")
def old_similarity():
    """The similarity module before issue 27's speed-ups (``fixtures/similarity_old``), loaded
    as its own module: the oracle of the similarity and lexer tests."""
    import importlib.util
    import sys
    path = Path(__file__).parent / "fixtures" / "similarity_old" / "fingerprints_before_issue27.py"
    spec = importlib.util.spec_from_file_location("fingerprints_before_issue27", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
