"""Mutation testing of the course (tests/mutation_tools.py): every mutant of an answer that
changes documented behaviour fails the exercise's own test cells; the survivors are listed, each
with its reason, in tests/mutation_survivors.txt. The full run is slow (about two minutes, also
`bench/mutation.py`, which prints the score); a fixed sample of two mutants per exercise runs in
the fast suite."""
from __future__ import annotations

import ast

import pytest

from autograder.course import ASSIGNMENTS
from mutation_tools import SURVIVORS, mutants_of, read_survivors, run_assignment

SOURCE = '''def f(x, w, eps=1e-8):
    """doc 1.0"""
    y = x.copy()
    if np.sum(y, axis=0, keepdims=True)[0, 0] < 0:
        y += 2.0 * w
    return y / (x - 1 + eps)
'''


def test_the_mutator_makes_one_change_of_each_kind():
    ms = mutants_of("f", SOURCE)
    ops = sorted({m.key.split(":")[2].split()[0] for m in ms})
    assert ops == ["arith", "axis", "cmp", "const", "copy", "keepdims"], ops
    original = ast.dump(ast.parse(SOURCE))
    for m in ms:
        assert ast.dump(ast.parse(m.source)) != original, m.key
        assert '"""doc 1.0"""' in m.source or "'doc 1.0'" in m.source, "docstrings are never mutated"
    assert len({m.key for m in ms}) == len(ms), "every mutant has its own key"
    sources = {m.key: m.source for m in ms}
    assert "y = x\n" in sources["f:3:copy .copy() dropped"]
    assert "eps=2e-08" in sources["f:1:const 1e-08 -> 2e-08"]
    assert "<= 0" in sources["f:4:cmp < -> <="]


def test_every_listed_survivor_has_a_reason():
    listed = read_survivors()
    assert SURVIVORS.exists() and listed, "tests/mutation_survivors.txt is missing or empty"
    missing = [k for k, why in listed.items() if len(why) < 10]
    assert not missing, f"survivors without a reason of equivalence: {missing}"


def _unlisted(aid, sample):
    killed, survived, _ = run_assignment(aid, sample=sample)
    listed = read_survivors()
    return killed, [k for k, _ in survived if k not in listed]


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_a_sample_of_mutants_fails_the_tests_or_is_a_listed_survivor(aid):
    killed, new = _unlisted(aid, sample=2)
    assert not new, f"{aid}: mutants that pass every test cell and are not listed as equivalent: {new}"


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_mutant_fails_the_tests_or_is_a_listed_survivor(aid):
    killed, new = _unlisted(aid, sample=None)
    assert killed > 0
    assert not new, f"{aid}: mutants that pass every test cell and are not listed as equivalent: {new}"
