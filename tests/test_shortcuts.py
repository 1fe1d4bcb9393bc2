"""Shortcuts to the reference (near-twins): the search finds them, the table lists them, and
in the grading sandbox an answer that takes one earns 0 as "uses the reference".

The answers below are the shortcuts a hostile class found by hand: each earned full points
while only the assignment's own references were removed from the sandbox.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder.release import shortcuts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def found():
    return shortcuts.find_twins()


def test_the_search_finds_every_listed_shortcut_and_the_table_lists_everything_it_finds(found):
    listed = {(ex, d) for ex, ds in shortcuts.TWINS.items() for d in ds}
    got = {(ex, d) for ex, hits in found.items() for d, _ in hits}
    assert got == listed, {"found, not listed": sorted(got - listed), "listed, not found": sorted(listed - got)}
    # the six shortcuts of the hostile class are among them
    for ex, dotted in [("rmsprop_step", "optim._rmsprop"), ("adam_step", "optim._adam"),
                       ("adamw_step", "optim.adamw_convention_step"), ("relu_backward", "layers.leaky_relu_backward"),
                       ("softmax", "divergences.log_softmax"), ("activation_statistics", "init.forward_activations")]:
        assert (ex, dotted) in got


def test_the_search_has_teeth_and_respects_the_missing_reference():
    """A function that reproduces an exercise only by calling its reference is not a twin
    (the sandbox removes the reference); one that holds the computation is."""
    from autograder.catalogue import get_exercise
    ex = get_exercise("adam_step")
    # with the reference gone, a class built on it cannot reproduce it ...
    import tnn_lib.optim as optim
    with shortcuts.unavailable(ex.reference):
        with pytest.raises(shortcuts.ReferenceUnavailable):
            optim.Adam(lr=0.1)._update(np.ones(2), np.ones(2), {})
        # ... while the private helper still does
        w = optim._adam(np.ones(2), np.ones(2), {}, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False)
    assert np.allclose(w, optim.adam_step(np.ones(2), np.ones(2), {}, lr=0.1))
    assert optim.Adam(lr=0.1)._update(np.ones(2), np.ones(2), {}) is None   # restored afterwards


def test_the_sandbox_stubs_the_twins_of_the_assignments_exercises():
    from autograder.course import COURSE
    from autograder.sandbox import launch
    refs = launch.references_of(COURSE["05_optimizers"])
    assert {"_adam", "_rmsprop", "adamw_convention_step", "adam_step"} <= refs["optim"]
    refs = launch.references_of(COURSE["00_backprop"])
    assert {"leaky_relu_backward", "elu_backward", "relu_backward"} <= refs["layers"]
    assert "optim" not in refs


SHORTCUTS = {  # assignment -> {answer cell: source}: each answer takes one shortcut
    "05_optimizers": {
        "rmsprop_step": "def rmsprop_step(w, dw, state, lr=0.01, alpha=0.99, eps=1e-8):\n"
                        "    from tnn_lib import optim\n"
                        "    return optim._rmsprop(w, dw, state, lr, alpha, eps, False)\n",
        "adam_step": "def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):\n"
                     "    from tnn_lib import optim\n"
                     "    return optim._adam(w, dw, state, lr, beta1, beta2, eps, weight_decay, False, False)\n",
        "adamw_step": "def adamw_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):\n"
                      "    from tnn_lib import optim\n"
                      "    return optim.adamw_convention_step(w, dw, state, lr, beta1, beta2, eps, weight_decay)\n",
    },
    "00_backprop": {
        "relu_backward": "def relu_backward(dout, cache):\n"
                         "    from tnn_lib.layers import leaky_relu_backward\n"
                         "    return leaky_relu_backward(dout, (cache, 0.0))\n",
    },
    "01_divergences": {
        "softmax": "def softmax(z):\n    from tnn_lib.divergences import log_softmax\n    return np.exp(log_softmax(z))\n",
    },
    "04_initialization": {
        "activation_statistics": "def activation_statistics(x, widths, scheme, nonlinearity, rng):\n"
                                 "    from tnn_lib import init\n"
                                 "    init.init_weights = init_weights   # the student's own\n"
                                 "    acts = init.forward_activations(x, widths, scheme, nonlinearity, rng)\n"
                                 "    return np.array([h.mean() for h in acts]), np.array([h.std() for h in acts])\n",
    },
}


def _notebook(aid: str, replace: dict) -> dict:
    """The released notebook with every answer cell holding the solution, except `replace`."""
    import re
    marker = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
    src = json.loads((ROOT / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    answers = {c["metadata"]["nbgrader"]["grade_id"]: marker.sub("", "".join(c["source"]))
               for c in src["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    nb = json.loads((ROOT / "notebooks" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and gid in answers:
            cell["source"] = replace.get(gid, answers[gid])
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("aid", sorted(SHORTCUTS))
def test_each_shortcut_earns_zero_in_the_sandbox_as_uses_the_reference(aid, tmp_path):
    from autograder.runners.grade import grade
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "shortcut.ipynb").write_text(json.dumps(_notebook(aid, SHORTCUTS[aid])), encoding="utf-8")
    (inbox / "honest.ipynb").write_text(json.dumps(_notebook(aid, {})), encoding="utf-8")
    summary = grade(inbox, assignment=aid, workers=1, output=tmp_path / "grading", root=ROOT,
                    db_url=f"sqlite:///{tmp_path / 'gb.db'}", progress=False)
    cells = {r["student"]: {c["grade_id"]: c for nb in r["notebooks"].values() for c in nb["cells"]}
             for r in summary.results}
    for gid, c in cells["honest"].items():     # the same notebook without the shortcut earns everything
        assert c["points"] == c["max_points"], (gid, c["status"], c["message"])
    for ex in SHORTCUTS[aid]:
        tests = [g for g, c in cells["shortcut"].items() if c["exercise"] == ex]
        assert tests, ex
        for g in tests:
            c = cells["shortcut"][g]
            assert c["points"] == 0 and c["status"] == "reference-used", (g, c["status"], c["message"])
    for g, c in cells["shortcut"].items():     # and nothing else changes
        if c["exercise"] not in SHORTCUTS[aid]:
            assert c["points"] == cells["honest"][g]["points"], g
