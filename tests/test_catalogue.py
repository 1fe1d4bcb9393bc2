"""The exercise registry and misconception catalogue: every exercise of the course map is
registered, the reference passes its own checks, and every catalogued misconception is
named by the checks of its notebook."""
from __future__ import annotations

import pytest

from autograder.catalogue import all_exercises, misconceptions_for
from autograder.checks import MISCONCEPTION_TAG, REFERENCE_TAG, CheckFailure, check
from autograder.course import COURSE
from notebook_tools import check_calls, nbgrader_meta, read, source_notebook

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
        # the instructor's solution, written apart from tnn_lib, agrees with the reference
        assert check(fn, _solution_function(aid, fn), **kw)


def _solution_function(aid: str, fn: str):
    """The instructor's solution of exercise `fn`, from the answer cells of ``solutions/<aid>``
    (with the notebook's own imports): code written apart from the `tnn_lib` reference."""
    import ast

    import numpy

    from autograder.source import strip_magics
    cells = [c for c in read(source_notebook(aid)).cells if c.cell_type == "code"]
    ns = {"np": numpy, "numpy": numpy}
    for cell in cells:
        tree = ast.parse(strip_magics(cell.source))
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "<imports>", "exec"), ns)  # noqa: S102 - course source
    for cell in cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and not meta.get("grade"):
            exec(compile(strip_magics(cell.source), f"<solution {meta.get('grade_id')}>", "exec"), ns)  # noqa: S102
            if meta.get("grade_id") == fn:
                return ns[fn]
    raise AssertionError(f"solutions/{aid} has no answer cell {fn}")


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


def _cells(aid, fn):
    """(grade_id, source, cases) of every graded test cell of `aid` that checks `fn`."""
    from autograder.checks import check_cases
    from notebook_tools import nbgrader_meta
    path = source_notebook(aid)
    if not path.exists():
        return []
    return [(nbgrader_meta(c)["grade_id"], c.source, check_cases(c.source, fn)) for c in read(path).cells
            if nbgrader_meta(c).get("grade") and check_cases(c.source, fn)]


@pytest.mark.parametrize("aid,fn", PRESENT)
def test_in_every_cell_the_first_failing_check_names_the_misconception(aid, fn):
    """Run as grading runs a cell (its source known to the checks): a catalogued variant is
    named by the first of the cell's checks that it fails, with every case of the cell agreeing
    (a variant that raises on a case ends the cell there, as any error does)."""
    from autograder.checks import cell_source
    for m in misconceptions_for(fn):
        for gid, source, cases in _cells(aid, fn):
            with cell_source(source):
                for kw in cases:
                    try:
                        check(fn, m.impl, **kw)
                    except CheckFailure as err:
                        if not str(err).startswith(f"{fn} raised"):  # a variant that raises ends the cell
                            assert str(err).splitlines()[0] == f"{MISCONCEPTION_TAG} {m.id}", (m.id, gid, kw, str(err))
                        break


MINE = ("00_backprop", "01_divergences", "02_batchnorm", "03_dropout")
# Dropout's wrong variants each break one mode (training or test, inverted or the notes' form)
# and equal the reference in the others; for these the rule is "different where it is wrong".
BY_MODE = {"dropout_forward", "dropout_backward"}


@pytest.mark.parametrize("aid,fn", [(a, f) for a, f in PRESENT if a in MINE])
def test_each_variant_differs_from_the_reference_and_the_others_on_every_case(aid, fn):
    """On every case the notebook checks (and the diagnostic cases), each wrong variant of
    `fn` differs from the reference and from every other variant, so no two mistakes can be
    confused on any of them."""
    import numpy as np
    from autograder.checks import compare, run_exercise
    ex = REGISTERED[fn]
    cases = [kw for _, _, cs in _cells(aid, fn) for kw in cs] + list(ex.diagnostic_cases)
    variants = misconceptions_for(fn)
    for kw in cases:
        args = dict(kw)
        seed, case, tol = args.pop("seed", 0), args.pop("case", None), args.pop("tol", ex.tol)
        inputs = ex.make_inputs(np.random.default_rng(seed), case=case, **args)
        with np.errstate(all="ignore"):
            ref = run_exercise(ex, ex.reference, inputs)
            outs = {m.id: run_exercise(ex, m.impl, inputs) for m in variants}
        wrong = {mid for mid, out in outs.items() if not compare(out, ref, tol).ok}
        if fn not in BY_MODE:
            assert wrong == set(outs), f"{sorted(set(outs) - wrong)} equal the reference on {kw}"
        for a in sorted(wrong):
            for b in sorted(set(outs) - {a}):
                assert not compare(outs[a], outs[b], tol).ok, f"{a} and {b} agree on {kw}"


# ---------------------------------------------------------------------------------------- pairs
# Pairs of composable misconceptions (autograder.catalogue.pairs_for): the variant with both
# mistakes, named (both ids) when an answer matches it on every case and no single one does.
def _with_pairs():
    from autograder.catalogue import pairs_for
    return [(aid, fn) for aid, fn in PRESENT if pairs_for(fn)]


def _outputs(ex, kw, impls):
    import numpy as np
    from autograder.checks import run_exercise
    args = dict(kw)
    seed, case, tol = args.pop("seed", 0), args.pop("case", None), args.pop("tol", ex.tol)
    inputs = ex.make_inputs(np.random.default_rng(seed), case=case, **args)
    with np.errstate(all="ignore"):
        return {k: run_exercise(ex, f, inputs) for k, f in impls.items()}, tol


def test_some_exercises_have_pairs():
    assert {fn for _, fn in _with_pairs()} >= {"adam_step", "softmax_kl", "dropout_forward"}


@pytest.mark.parametrize("aid,fn", _with_pairs())
def test_a_composable_misconception_is_its_factory_with_its_flags(aid, fn):
    """A single mistake written out as a student would (the example class uses its source) and
    its factory with its flags give the same output on every case checked: the pairs compose
    the mistake that is named alone."""
    from autograder.checks import compare
    ex = REGISTERED[fn]
    composable = [m for m in misconceptions_for(fn) if m.flags is not None]
    for kw in [kw for _, _, cs in _cells(aid, fn) for kw in cs] + list(ex.diagnostic_cases):
        outs, tol = _outputs(ex, kw, {m.id: m.impl for m in composable})
        again, _ = _outputs(ex, kw, {m.id: m.factory(**m.flags) for m in composable})
        for m in composable:
            assert compare(outs[m.id], again[m.id], tol).ok, f"{m.id}: factory(**{m.flags}) is not its impl on {kw}"


@pytest.mark.parametrize("aid,fn", _with_pairs())
def test_each_pair_differs_from_the_reference_the_singles_and_the_other_pairs(aid, fn):
    """On every case checked (and the diagnostic cases) a pair differs from the reference, from
    every single variant but its own two mistakes and from every other pair, and from each of its
    two mistakes; for the exercises checked by mode (dropout), wherever it is wrong, and from
    each of its two mistakes on at least one case (one_mask does not show where the mask is given)."""
    from autograder.catalogue import pairs_for
    from autograder.checks import compare
    ex = REGISTERED[fn]
    pairs = pairs_for(fn)
    impls = {"the reference": ex.reference, **{m.id: m.impl for m in misconceptions_for(fn)},
             **{p.id: p.impl for p in pairs}}
    apart = {(p.id, part.id): 0 for p in pairs for part in p.parts}
    for kw in [kw for _, _, cs in _cells(aid, fn) for kw in cs] + list(ex.diagnostic_cases):
        outs, tol = _outputs(ex, kw, impls)
        for p in pairs:
            wrong = not compare(outs[p.id], outs["the reference"], tol).ok
            assert wrong or fn in BY_MODE, f"{p.id} equals the reference on {kw}"
            if not wrong:
                continue
            own = {part.id for part in p.parts}
            for other in impls:
                if other == p.id:
                    continue
                same = compare(outs[p.id], outs[other], tol).ok
                if other in own:
                    apart[(p.id, other)] += not same
                    assert not same or fn in BY_MODE, f"{p.id} equals its part {other} on {kw}"
                else:
                    assert not same, f"{p.id} equals {other} on {kw}"
    assert all(apart.values()), f"a pair equals one of its parts on every case: {[k for k, v in apart.items() if not v]}"


@pytest.mark.parametrize("aid,fn", _with_pairs())
def test_in_every_cell_the_first_failing_check_names_both_mistakes_of_a_pair(aid, fn):
    """Run as grading runs a cell: the first failing check of a pair's variant names both of its
    mistakes, each on a line grading reads back, and no single misconception (no tag line)."""
    from autograder.catalogue import pairs_for
    from autograder.checks import PARTIAL_ID, cell_source
    for p in pairs_for(fn):
        failed = 0
        for gid, source, cases in _cells(aid, fn):
            with cell_source(source):
                for kw in cases:
                    try:
                        check(fn, p.impl, **kw)
                    except CheckFailure as err:
                        msg = str(err)
                        assert not msg.startswith(MISCONCEPTION_TAG), (p.id, gid, kw, msg)
                        assert PARTIAL_ID.findall(msg) == [m.id for m in p.parts], (p.id, gid, kw, msg)
                        assert all(f"Hint: {m.hint}" in msg for m in p.parts)
                        failed += 1
                        break
        assert failed, f"{p.id}: no cell of {aid} fails"


def test_the_student_editions_catalogue_derives_the_same_pairs():
    """The edition's catalogue (no code: each factory is its name) derives the same pair ids,
    which its recorded outcomes are stored under."""
    import importlib.util
    from autograder.catalogue import derive_pairs, pairs_for
    from autograder.release.stubs import strip_catalogue
    for topic in ("optimizers", "divergences", "dropout"):
        spec = importlib.util.find_spec(f"autograder.catalogue.{topic}")
        ns = {"__name__": f"stripped_{topic}"}
        exec(compile(strip_catalogue(open(spec.origin, encoding="utf-8").read()), topic, "exec"), ns)  # noqa: S102
        ms = ns["MISCONCEPTIONS"]
        assert all(m.impl is None and not callable(m.factory) for m in ms)
        for name in {m.exercise for m in ms}:
            stripped = derive_pairs(name, ms)
            assert [p.id for p in stripped] == [p.id for p in pairs_for(name)]
            assert all(p.impl is None for p in stripped)
