"""Lessons, classes and widgets on the student's own code (the student edition, issue 20 item 3).

The edition is simulated in this process (tests/edition_tools.py): every exercise of
`tnn_lib` becomes a stub of the contract form ``return _student.implementation("NAME")(...)``
and ``tnn_lib.student.EDITION`` is True. "The student's answers" are the answer cells of
`solutions/`, executed as a student's notebook would, and registered the way the edition
registers them: by passing their visible `check`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from edition_tools import checked_as_in_the_edition, simulate_edition
from tnn_lib import student
from tnn_lib.topics import TOPICS

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ORDER = {t.id: i for i, t in enumerate(TOPICS)}
TOPIC_OF = {name: t.id for t in TOPICS for name in t.exercises}


@pytest.fixture(autouse=True)
def _clean_registry():
    student.forget()
    yield
    student.forget()


def _answer_cells(aid: str) -> dict:
    """grade id -> source of every answer cell of solutions/<aid> (nbgrader's solution cells),
    after "imports": the notebook's own top-level import lines."""
    import nbformat
    nb = nbformat.read(ROOT / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    imports = [line for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")
               for line in c.source.splitlines() if line.startswith(("import ", "from "))]
    return {"imports": "\n".join(imports), **{
        c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}}


def solution_function(name: str):
    """The instructor's solution of exercise `name`, defined from its answer cell as a student's
    notebook defines it (numpy as np in the namespace), not the tnn_lib reference object."""
    ns = {"np": np, "__name__": "__main__"}
    for gid, source in _answer_cells(TOPIC_OF[name]).items():   # one notebook: answers may call each other
        if not gid.startswith("poll_"):
            exec(compile(source, f"<answer {gid}>", "exec"), ns)
    return ns[name]


def answer_by_check(name: str):
    """Define the solution of `name` and pass its first visible check (which registers it)."""
    from autograder.checks import check
    fn = solution_function(name)
    assert checked_as_in_the_edition(check, name, fn, seed=0)
    assert student.registered(name) is fn or not student.EDITION
    return fn


# ----------------------------------------------------------------------------------------
# the registry and the checks
# ----------------------------------------------------------------------------------------
def test_sections_name_the_heading_above_each_answer_cell():
    import nbformat
    seen = {}
    for t in TOPICS:
        nb = nbformat.read(ROOT / "solutions" / t.id / f"{t.id}.ipynb", as_version=4)
        heading = None
        for c in nb.cells:
            if c.cell_type == "markdown":
                for line in c.source.splitlines():
                    if line.startswith("## "):
                        heading = line[3:].strip()
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if c.cell_type == "code" and gid in t.exercises and c.metadata["nbgrader"].get("solution"):
                seen[gid] = f"section {heading}"
    assert seen == student.SECTIONS
    assert student.home("adam_step") == "notebook 05_optimizers, section 7. Adam: RMSprop with momentum, and bias correction"


def test_a_passing_check_registers_only_in_the_edition(monkeypatch):
    from autograder.checks import CheckFailure, check
    fn = solution_function("linear_forward")
    check("linear_forward", fn, seed=0)
    assert student.registered("linear_forward") is None          # the repository: never
    monkeypatch.setattr(student, "EDITION", True)
    check("linear_forward", fn, seed=0)
    assert student.registered("linear_forward") is fn

    def wrong(x, W, b):
        return x @ W, (x, W, b)
    with pytest.raises(CheckFailure):
        check("linear_forward", wrong, seed=0)
    assert student.registered("linear_forward") is fn           # a wrong answer never replaces it
    fn_again = solution_function("linear_forward")
    check("linear_forward", fn_again, seed=0)
    assert student.registered("linear_forward") is fn_again


def test_a_failing_check_withdraws_the_answer_it_registered(monkeypatch):
    from autograder.checks import CheckFailure, check
    monkeypatch.setattr(student, "EDITION", True)
    calls = []

    def flaky(x, W, b):          # right on the first case (N = 3), wrong on a later one (b ignored once N > 3)
        calls.append(len(x))
        return (x @ W + b if len(x) <= 3 else x @ W), (x, W, b)
    check("linear_forward", flaky, seed=0)
    assert student.registered("linear_forward") is flaky
    with pytest.raises(CheckFailure):
        check("linear_forward", flaky, seed=3, N=7, D=5, M=2)
    assert student.registered("linear_forward") is None


def test_a_class_exercise_registers_too(monkeypatch):
    from autograder.checks import check
    monkeypatch.setattr(student, "EDITION", True)
    cls = answer_by_check("ReduceLROnPlateau")
    assert isinstance(cls, type) and student.registered("ReduceLROnPlateau") is cls


# ----------------------------------------------------------------------------------------
# classes and lesson code: one line before, the student's code after
# ----------------------------------------------------------------------------------------
def test_classes_say_which_exercise_first_then_run_on_the_students_code(monkeypatch):
    from tnn_lib import nn, optim
    refs = simulate_edition(monkeypatch)
    w, g = np.ones(3), np.full(3, 0.5)
    with pytest.raises(student.NotImplementedYet) as err:
        optim.Adam(lr=0.1).step({"w": w}, {"w": g})
    assert str(err.value).startswith("implement `adam_step` first (notebook 05_optimizers, section 7.")
    shown = ANSI.sub("", "\n".join(err.value._render_traceback_()))
    assert "Traceback" not in shown and "tnn_lib" not in shown and shown.startswith("… not answered yet: implement `adam_step`")

    answer_by_check("adam_step")
    expected = {"w": np.ones(3)}
    with student.tracking() as used:
        optim.Adam(lr=0.1).step({"w": w}, {"w": g})
    refs["adam_step"](expected["w"], g, {}, 0.1)                 # the reference, independently
    np.testing.assert_array_equal(w, expected["w"])
    assert used == {"adam_step"} and student.driven_by(used) == "driven by your `adam_step`"

    bn = nn.BatchNorm1d(2)
    with pytest.raises(student.NotImplementedYet, match="implement `batchnorm_forward` first"):
        bn.forward(np.ones((4, 2)))


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    assert student.install_notebook_hooks(shell)
    return shell


def _run(shell, source: str) -> str:
    from IPython.utils.capture import capture_output
    with capture_output() as out:
        shell.run_cell(source, store_history=False)
    return ANSI.sub("", re.sub(r"Out\[\d+\]: ?", "", out.stdout + out.stderr))


def test_a_lesson_cell_shows_one_line_for_an_unanswered_exercise_in_the_repository():
    """The repository (no edition): a lesson cell calling the student's own unanswered answer
    (nbgrader's stub) shows one line naming it, not a traceback; other errors stay tracebacks."""
    shell = _shell()
    shown = _run(shell, "def batchnorm_forward(z, gamma, beta, eps=1e-5):\n    # YOUR CODE HERE\n"
                        "    raise NotImplementedError()\n\n"
                        "import numpy as np\nout, _ = batchnorm_forward(np.ones((4, 1)), np.ones(1), np.zeros(1))")
    assert shown.strip().startswith("… not answered yet: implement `batchnorm_forward` first (notebook 02_batchnorm, "
                                    "section 2."), shown
    assert "Traceback" not in shown and "NotImplementedError()" not in shown, shown
    assert all(len(line) <= student.WIDTH for line in shown.strip().splitlines()), shown
    other = _run(shell, "def helper():\n    raise NotImplementedError('mine')\nhelper()")
    assert "Traceback" in other and "mine" in other, other          # not an exercise: IPython's usual display
    assert "ZeroDivisionError" in _run(shell, "1/0")


def test_a_cell_using_what_an_unanswered_cell_did_not_make_names_the_exercise():
    """Run All before answering: a cell that stopped at an unanswered exercise did not assign
    `hist`; the next cell, which plots `hist`, names the same exercise in one line instead of a
    NameError. A name no such cell was meant to make stays IPython's NameError."""
    shell = _shell()
    _run(shell, "def batchnorm_forward(z, gamma, beta, eps=1e-5):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")
    first = _run(shell, "import numpy as np\nfor k in range(2):\n    pass\nhist, best_epoch = batchnorm_forward(1, 1, 0)\n"
                        "def plot(h):\n    inner = 1\n    return h\n")
    assert first.strip().startswith("… not answered yet: implement `batchnorm_forward` first"), first
    second = _run(shell, "print(hist['loss'])")
    assert second.strip().startswith("… not answered yet: implement `batchnorm_forward` first"), second
    assert "NameError" not in second and "Traceback" not in second and "`hist`" in second, second
    third = _run(shell, "best = best_epoch + 1\nprint(best)")      # chained: a cell that failed for the name
    assert third.strip().startswith("… not answered yet: implement `batchnorm_forward` first"), third
    assert "… not answered yet" in _run(shell, "print(best)")
    for unrelated in ("print(inner)", "print(no_such_name_anywhere)"):
        shown = _run(shell, unrelated)
        assert "NameError" in shown and "not answered yet" not in shown, shown
    _run(shell, "hist = {'loss': [1.0]}")                                    # once defined, it is just a name
    assert "[1.0]" in _run(shell, "print(hist['loss'])")


def test_a_lesson_cell_in_the_edition_names_the_exercise_then_says_it_ran_on_yours(monkeypatch):
    simulate_edition(monkeypatch)
    shell = _shell()
    cell = ("import numpy as np\nfrom tnn_lib.batchnorm import BatchNorm1d\nbn = BatchNorm1d(1)\n"
            "for zb in np.random.default_rng(0).normal(3.0, 2.0, (5, 4, 1)):\n    bn.forward(zb)\n"
            "print('running mean', round(float(bn.running_mean[0]), 6))")
    before = _run(shell, cell)
    assert before.strip().startswith("… not answered yet: implement `batchnorm_forward` first"), before
    assert "Traceback" not in before and "tnn_lib" not in before and "running mean" not in before, before
    answer_by_check("batchnorm_forward")
    after = _run(shell, cell)
    assert "running mean" in after and "↳ this cell ran on your own code: driven by your `batchnorm_forward`" in after
    assert "not answered yet" not in after, after


# ----------------------------------------------------------------------------------------
# widgets
# ----------------------------------------------------------------------------------------
def _status_text(app) -> str:
    import html
    return html.unescape(re.sub(r"<[^>]+>", " ", app.status.value))


def test_the_optimizer_race_before_and_after_the_students_steps(monkeypatch):
    from tnn_lib.widgets.optimizers import optimizer_race
    reference = optimizer_race(steps=50)
    expected = {k: v.copy() for k, v in reference.last["paths"].items()}
    assert reference.driven_by == "" and reference.needed is None       # the repository: the reference
    simulate_edition(monkeypatch)
    app = optimizer_race(steps=50)                                   # building it never raises
    assert app.needed == student.NotImplementedYet("sgd_step").args[0]
    assert _status_text(app).strip() == app.needed
    png_before = app.image.value
    for name in ("sgd_step", "momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step"):
        answer_by_check(name)
    app.refresh()
    assert app.needed is None and app.image.value != png_before
    assert app.driven_by == ("driven by your `adagrad_step`, `adam_step`, `momentum_step`, `nesterov_step`, "
                             "`rmsprop_step`, `sgd_step`")
    assert app.driven_by in _status_text(app)
    for name, path in expected.items():                              # the same trajectories as the reference's
        np.testing.assert_allclose(app.last["paths"][name], path, rtol=1e-12, atol=1e-12, err_msg=name)
    # a cached trajectory still says whose code drew it; a new registration drops the cache
    app.refresh()
    assert app.driven_by.startswith("driven by your `adagrad_step`")
    student.forget("adam_step")
    app.refresh()
    assert app.needed == student.NotImplementedYet("adam_step").args[0]


def _all_widgets():
    import importlib
    for t in TOPICS:
        module = importlib.import_module(f"tnn_lib.widgets.{t.name}")
        for factory in t.widgets:
            yield t.id, factory, getattr(module, factory)


def test_every_widget_builds_in_a_blank_edition_and_runs_on_the_students_answers(monkeypatch):
    """Blank: every widget builds; one whose figure needs an exercise says which, in one line.
    With every answer of solutions/ checked in: every widget draws, and says which of the
    student's functions drove it."""
    from tnn_lib.widgets.training import train_run
    simulate_edition(monkeypatch)
    blank = {}
    for aid, factory, make in _all_widgets():
        app = make()
        blank[factory] = app.needed
        if app.needed is not None:
            assert re.fullmatch(r"implement `\w+` first \(notebook \d\d_\w+, section .+\); this needs it, and it "
                                r"runs on your own `\w+` once its visible check passes", app.needed), app.needed
            assert "Traceback" not in app.status.value
    needing = {f for f, line in blank.items() if line}
    assert {"activation_explorer", "covariate_shift", "dropout_scaling", "optimizer_race", "convention_switchboard",
            "overfitting_explorer", "schedule_explorer"} <= needing, blank
    for t in TOPICS:
        for name in t.exercises:
            answer_by_check(name)
    for aid, factory, make in _all_widgets():
        app = make()
        assert app.needed is None, (factory, app.needed)
        if factory in needing:
            assert app.driven_by.startswith("driven by your `"), (factory, app.driven_by)
            assert all(TOPIC_OF[n] and ORDER[TOPIC_OF[n]] <= ORDER[aid] for n in app.used), (factory, app.used)
    with student.tracking() as used:
        train_run(epochs=1)
    assert {"train_epoch", "evaluate", "adamw_step", "linear_forward", "batchnorm_backward", "dropout_forward"} <= used


def test_the_training_dashboard_button_says_what_to_implement_first(monkeypatch):
    from tnn_lib.widgets.training import training_dashboard
    simulate_edition(monkeypatch)
    app = training_dashboard(epochs=1, batchnorm=False, dropout=False, optimizer="sgd")
    app.train_button.click()
    assert app.needed is not None and app.needed.startswith("implement `"), app.needed
    assert not app.state.data.get("histories"), "a run that could not train leaves no history"
    assert app.train_button.disabled is False


# ----------------------------------------------------------------------------------------
# no released notebook needs an exercise of a later assignment
# ----------------------------------------------------------------------------------------
def _carrier_uses(monkeypatch) -> dict:
    """name in a notebook -> the exercises it runs, found by running it in the simulated
    edition with every exercise registered (the references), not from a written list."""
    from tnn_lib import batchnorm, nn, optim
    refs = simulate_edition(monkeypatch)
    for name, fn in refs.items():
        student.register(name, fn)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3))

    def module(m, d_out=3):
        out = m.forward(x)
        m.backward(np.ones_like(out))

    def optimizer(opt):
        opt.step({"w": np.ones(3)}, {"w": np.full(3, 0.1)})
        opt.step({"w": np.ones(3)}, {"w": np.full(3, 0.1)})

    probes = {
        "Linear": lambda: module(nn.Linear(3, 2, rng)),
        "Linear(W=)": lambda: module(nn.Linear(3, 2, W=np.ones((3, 2)))),
        "ReLU": lambda: module(nn.ReLU()), "Tanh": lambda: module(nn.Tanh()), "Sigmoid": lambda: module(nn.Sigmoid()),
        "Dropout": lambda: module(nn.Dropout(0.5, rng=rng)),
        "BatchNorm1d": lambda: (module(nn.BatchNorm1d(3)), module(batchnorm.BatchNorm1d(3))),
        "make_mlp": lambda: module(nn.make_mlp([3, 4, 2], rng, batchnorm=True, keep_prob=0.5)),
        "SGD": lambda: (optimizer(optim.SGD(0.1)), optimizer(optim.SGD(0.1, momentum=0.9)),
                        optimizer(optim.SGD(0.1, momentum=0.9, nesterov=True))),
        "Adagrad": lambda: optimizer(optim.Adagrad()), "RMSprop": lambda: optimizer(optim.RMSprop()),
        "Adam": lambda: optimizer(optim.Adam()), "AdamW": lambda: optimizer(optim.AdamW()),
    }
    uses = {}
    for name, probe in probes.items():
        with student.tracking() as used:
            probe()
        uses[name] = used
    for aid, factory, make in _all_widgets():
        uses[factory] = make().used
    from tnn_lib.widgets.training import train_run
    with student.tracking() as used:
        train_run(epochs=1)
    uses["training_dashboard"] |= used
    assert uses["Linear"] >= {"linear_forward", "linear_backward", "init_weights"}
    assert uses["Adam"] == {"adam_step"} and "init_weights" not in uses["Linear(W=)"]
    student.forget()
    return uses


def _names_used(source: str) -> set:
    """Names a code cell reads (names, attributes, imported names); ``Linear(..., W=...)`` as
    ``Linear(W=)``; IPython magics dropped."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    tree = ast.parse(code)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if called == "Linear" and any(k.arg == "W" for k in node.keywords):
                names.add("Linear(W=)")
    return names


def _names_defined(source: str) -> set:
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
    return out


def later_uses(nb, aid: str, uses: dict) -> list:
    """(cell index, name, exercise) for every use in notebook `nb` of assignment `aid` of an
    exercise that a later assignment teaches, directly or through a class or widget."""
    cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    own = set().union(*(_names_defined(s) for _, s in cells))
    found = []
    for i, source in cells:
        names = _names_used(source) - own
        if "Linear(W=)" in names and source.count("Linear(") == source.count("W="):
            names.discard("Linear")
        for name in sorted(names):
            needed = {name} if name in TOPIC_OF else uses.get(name, set())
            for ex in sorted(needed):
                if ORDER[TOPIC_OF[ex]] > ORDER[aid]:
                    found.append((i, name, ex))
    return found


def test_no_released_notebook_uses_an_exercise_of_a_later_assignment(monkeypatch):
    import nbformat
    uses = _carrier_uses(monkeypatch)
    problems = {}
    for t in TOPICS:
        nb = nbformat.read(ROOT / "notebooks" / t.id / f"{t.id}.ipynb", as_version=4)
        if found := later_uses(nb, t.id, uses):
            problems[t.id] = found
    assert not problems, problems
    # the scan finds what it looks for: the lesson 03 had before (07's train_epoch and evaluate,
    # 05's Adam, 04's init_weights through nn.Linear)
    old = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from tnn_lib.optim import Adam\nfrom tnn_lib.train import evaluate, train_epoch\n"
        "model = nn.Sequential(nn.Linear(4, 64, rng), nn.ReLU())\ntrain_epoch(model, Adam(lr=2e-3), x, y, 40, rng)")])
    found = {(name, ex) for _, name, ex in later_uses(old, "03_dropout", uses)}
    assert {("train_epoch", "train_epoch"), ("evaluate", "evaluate"), ("Adam", "adam_step"),
            ("Linear", "init_weights")} <= found, found


# ----------------------------------------------------------------------------------------
# Run All of a released notebook, in a kernel (nbclient)
# ----------------------------------------------------------------------------------------
def _run_all(nb, tmp_path, edition: bool, released=()):
    """Execute `nb` as JupyterLab's Run All does (cells tagged raises-exception may fail;
    any other failing cell stops it: CellExecutionError), in the simulated edition if asked
    (holding the answers of the assignments `released`)."""
    import nbformat
    from nbclient import NotebookClient
    if edition:
        from edition_tools import kernel_cell
        nb.cells.insert(0, nbformat.v4.new_code_cell(kernel_cell(Path(__file__).parent, released)))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _errors(nb) -> list:
    return [(i, ANSI.sub("", "\n".join(o.traceback)), o.ename) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _widget_texts(nb) -> str:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return "\n".join(str(m.get("state", {}).get("value", "")) for m in state.values()
                     if m.get("model_name") == "HTMLModel")


def _is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


@pytest.mark.slow
def test_run_all_of_a_blank_notebook_in_the_edition_then_with_answers(tmp_path):
    """02_batchnorm as released, in the simulated edition: Run All shows the lesson with
    one-line "implement X first" messages (no traceback, nothing from tnn_lib's files), the
    widget says which exercise it needs; with the answers of solutions/ in the answer cells,
    nothing fails, a lesson cell and the widget say they ran on the student's code. (Its test
    cells check gradients with 00's `numerical_gradient`: the edition of the second run holds
    the answers of 00 and 01, as ``--answers 00_backprop,01_divergences`` gives them.)"""
    import nbformat
    aid = "02_batchnorm"
    blank = _run_all(nbformat.read(ROOT / "notebooks" / aid / f"{aid}.ipynb", as_version=4), tmp_path, edition=True)
    errors = _errors(blank)
    assert errors
    for i, shown, ename in errors:
        assert "Traceback" not in shown and "tnn_lib/" not in shown and "site-packages" not in shown, shown
        assert shown.startswith("… not answered yet") or shown.startswith("✗ check failed"), shown
        assert len(shown.splitlines()) <= 4 and all(len(line) <= student.WIDTH for line in shown.splitlines()), shown
    lessons = {i: shown for i, shown, _ in errors if not _is_test_cell(blank.cells[i])}
    assert any("implement `batchnorm_forward` first (notebook 02_batchnorm, section 2." in s for s in lessons.values())
    bn_lesson = next(i for i, c in enumerate(blank.cells) if "BatchNorm1d(1)" in c.source)
    assert bn_lesson in lessons and "implement `batchnorm_forward` first" in lessons[bn_lesson]
    widgets = _widget_texts(blank)
    assert "implement `batchnorm_forward` first (notebook 02_batchnorm" in widgets, widgets[:2000]

    filled = nbformat.read(ROOT / "notebooks" / aid / f"{aid}.ipynb", as_version=4)
    answers = _answer_cells(aid)
    for c in filled.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution"):
            c.source = answers[gid]
    done = _run_all(filled, tmp_path, edition=True, released=("00_backprop", "01_divergences"))
    assert not _errors(done), _errors(done)
    shown = "".join(o.get("text", "") for o in done.cells[bn_lesson].outputs)
    assert "↳ this cell ran on your own code: driven by your `batchnorm_backward`, `batchnorm_forward`" in shown or \
        "↳ this cell ran on your own code: driven by your `batchnorm_forward`" in shown, shown
    widgets = _widget_texts(done)
    assert "driven by your `batchnorm_forward`" in widgets, widgets[:2000]
    assert "implement `" not in widgets
