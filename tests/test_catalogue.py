"""The exercise registry and misconception catalogue: every exercise of the course map is
registered, the reference passes its own checks, and every catalogued misconception is
named by the checks of its notebook."""
from __future__ import annotations

import pytest

from autograder.catalogue import all_exercises, misconceptions_for
from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG, CheckFailure, check
from autograder.course import COURSE
from notebook_tools import check_calls, read, source_notebook

ALL = [(aid, fn) for aid, fns in COURSE.items() for fn in fns]
REGISTERED = all_exercises()
PRESENT = [(aid, fn) for aid, fn in ALL if fn in REGISTERED]


def _cases(aid, fn):
    path = source_notebook(aid)
    calls = [kw for name, kw in check_calls(read(path)) if name == fn] if path.exists() else []
    return calls or [{"seed": 0}]


def test_every_exercise_of_the_course_is_registered():
    missing = [fn for _, fn in ALL if fn not in REGISTERED]
    assert not missing, f"exercises without a catalogue entry: {missing}"


@pytest.mark.parametrize("aid,fn", PRESENT)
def test_reference_passes_every_case_of_its_notebook(aid, fn):
    ex = REGISTERED[fn]
    for kw in _cases(aid, fn):
        # a copy of the reference that is not the reference object itself
        def as_student(*args, _ref=ex.reference, **kwargs):
            return _ref(*args, **kwargs)
        with pytest.raises(CheckFailure, match=REFERENCE_TAG):
            check(fn, as_student, **kw)
        assert check(fn, _copy_function(ex.reference), **kw)


def _copy_function(fn):
    """The reference's source compiled again: the same behaviour, a different code object."""
    import inspect
    import sys
    import textwrap
    src = textwrap.dedent(inspect.getsource(fn))
    ns = dict(vars(sys.modules[fn.__module__]))   # a function's globals, or a class exercise's module
    exec(compile(src, f"<copy of {fn.__name__}>", "exec"), ns)
    return ns[fn.__name__]


@pytest.mark.parametrize("aid,fn", PRESENT)
def test_at_least_two_misconceptions_per_exercise(aid, fn):
    assert len(misconceptions_for(fn)) >= 2, f"{fn} has fewer than two catalogued misconceptions"


@pytest.mark.parametrize("aid,fn", PRESENT)
def test_each_misconception_is_named_by_the_checks_of_its_notebook(aid, fn):
    for m in misconceptions_for(fn):
        named, others = 0, []
        for kw in _cases(aid, fn):
            try:
                check(fn, m.impl, **kw)
            except CheckFailure as err:
                first = str(err).splitlines()[0]
                if first == f"{MISCONCEPTION_TAG} {m.id}":
                    named += 1
                elif first.startswith(MISCONCEPTION_TAG):
                    others.append((kw, first))
        assert named, f"{m.id}: no check of {aid} names this misconception"
        assert not others, f"{m.id} is reported as another misconception: {others[:2]}"


@pytest.mark.parametrize("fn", [fn for aid, fn in PRESENT if aid == "05_optimizers"])
def test_optimizer_variants_differ_from_the_reference_and_each_other_on_every_case(fn):
    """05's checks run whole trajectories, so each catalogued mistake can show on every case the
    notebook checks (the catalogue module says how the inputs are chosen for that): no variant
    agrees with the reference, or with another variant, on any of them."""
    import numpy as np
    from autograder.checks import compare, run_exercise
    ex = REGISTERED[fn]
    for case in _cases("05_optimizers", fn):
        kw = dict(case)
        inputs = ex.make_inputs(np.random.default_rng(kw.pop("seed", 0)), case=kw.pop("case", None), **kw)
        outs = {"the reference": run_exercise(ex, ex.reference, inputs)}
        for m in misconceptions_for(fn):
            with np.errstate(all="ignore"):
                out = run_exercise(ex, m.impl, inputs)
            same = [name for name, other in outs.items() if compare(out, other, ex.tol).ok]
            assert not same, f"{m.id} agrees with {same[0]} on the check {case} of 05"
            outs[m.id] = out
