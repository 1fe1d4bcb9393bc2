"""The grading code's layout: its folders follow the path of a submission, no module of
`autograder` imports itself back through others (at module level or inside a function), nor
does a subpackage (``sandbox``, ``release``, ...) through another's modules, no
function is longer than the limit (the catalogue's student-style variants excepted), and a
module is imported inside a function only where its import is slow (:data:`SLOW_IMPORTS`) or
the student edition does not ship it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "autograder"
MAX_LINES = 100
# the pipeline, in the order a submission travels, and what stands beside it
STAGES = ("release", "sandbox", "evaluation", "outcomes", "gradebook", "pages")
BESIDE = ("cli", "runners", "similarity", "lecture", "catalogue")


# Imports inside a function (the import policy of autograder/AUTHORING.md, which has this table).
# A function imports a module only when importing it at the top of the file would put a slow
# import on a path that must stay fast; the line says so (`# slow import (see AUTHORING.md)`).
# Cost: the cumulative time of `python -X importtime -c 'import M'`, range of the min and the
# median of 7 fresh interpreters on the course's busy 2-core development machine.
SLOW_IMPORTS = {
    # module (a package covers its submodules): (measured cost, why it is deferred)
    "nbgrader": ("6.8-9 s", "gradebook, release and LMS export; grading starts without it"),
    "nbconvert": ("4.5-6.8 s", "nbgrader's preprocessors, the lecture export"),
    "nbclient": ("5.5-6.3 s", "with nbconvert; not on grading's path"),
    "nbformat": ("3.5-5.2 s", "the commands that read a notebook pay for it, `--help` does not"),
    "jupyter_client": ("0.5-0.7 s", "kernels: lecture server and nbgrader"),
    "sqlalchemy": ("0.8-1.0 s", "the gradebook; `tnn-course check` never opens one"),
    "alembic": ("1.2-2.5 s", "gradebook migrations, once per gradebook"),
    "dask": ("0.2-0.6 s", "`tnn-course grade --dask` only"),
    "distributed": ("1.6-1.9 s", "`tnn-course grade --dask` only"),
    "matplotlib": ("0.6-0.7 s (pyplot 1.7-2.0 s)", "figures: widgets, the sandbox's warm-up"),
    "ipywidgets": ("0.5 s", "a widget's first display"),
    "IPython": ("0.3-0.4 s", "a shell: the student process, the notebook hooks"),
    "traitlets": ("0.15-0.2 s", "IPython's and nbgrader's configuration, with them"),
    "numpy": ("0.07-0.26 s", "the sandbox's warm-up loads it with matplotlib before the zygote forks"),
    "sklearn": ("1.8-2.7 s", "the digits data set, loaded by the notebooks that train on it"),
    "contourpy": ("0.08 s", "one widget's contour surface"),
    # modules of the course whose import is slow through what they import at their top
    "autograder.runners.dask_cluster": ("1.5-2.2 s", "distributed: `--dask` grading only"),
    "autograder.cli.selfcheck": ("1.0-1.1 s", "the grading pipeline: `tnn-course check` only, `--help` and "
                                 "the other commands go without it"),
    "tnn_lib.widgets.app": ("1.7-2.2 s", "ipywidgets, matplotlib: a widget's first display"),
    "tnn_lib.widgets._blit": ("1.0-1.3 s", "matplotlib: a widget's first display"),
    "tnn_lib.recorded": ("0.13-0.38 s", "numpy: the edition's records, read by the hooks `import tnn_lib` installs"),
}
# modules on a path that must stay light even of fast imports: their other imports wait for use
LIGHT_MODULES = {
    "tnn_lib.student": "`import tnn_lib` installs its notebook hooks: 0.04 s, 0.11 s with re, textwrap, ast "
                       "and tnn_lib.topics (dataclasses) at its top",
    "autograder.lecture.serve": "`tnn-course --help` imports it to build its parser: 0.21 s, 0.27 s with "
                                "psutil, ctypes and tnn_lib.widgets at its top",
}
DEFER_COMMENT = "# slow import (see AUTHORING.md)"
LIGHT_COMMENT = "# keeps start-up light (see AUTHORING.md)"
EDITION_COMMENT = "# not in the student edition"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py")) if "__pycache__" not in p.parts
            and "jupyterhub" not in p.parts}


def imports_of(name: str, path: Path, known) -> set[str]:
    """The autograder modules `name` imports anywhere in its source (function bodies included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")
                up = up[:len(up) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t != "autograder":
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {n: imports_of(n, p, mods) for n, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(g) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_grading_code():
    found = cycles(graph())
    assert found == [], f"import cycles among autograder modules: {found}"


def subpackage_of(module: str) -> str:
    """``autograder.sandbox.launch`` -> ``sandbox``; a module beside the subpackages
    (``autograder.checks``) stands for itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else module


def subpackage_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which subpackage imports which (a module's imports of its own subpackage left out)."""
    out: dict[str, set[str]] = {}
    for a, targets in g.items():
        out.setdefault(subpackage_of(a), set()).update(
            subpackage_of(b) for b in targets if subpackage_of(b) != subpackage_of(a))
    return out


def test_subpackage_cycle_finder_finds_a_planted_cycle():
    """Two modules that import nothing of each other's, but whose subpackages do both ways
    (pages.report -> gradebook.exchange, gradebook.writer -> pages.feedback): a cycle of the
    subpackages, found; without the second edge none."""
    g = {"autograder.pages.report": {"autograder.gradebook.exchange", "autograder.pages.feedback"},
         "autograder.gradebook.writer": {"autograder.pages.feedback", "autograder.checks"},
         "autograder.gradebook.exchange": set(), "autograder.pages.feedback": set(), "autograder.checks": set()}
    assert cycles(g) == []
    assert cycles(subpackage_graph(g)) == [["gradebook", "pages"]]
    g["autograder.gradebook.writer"] = {"autograder.checks"}
    assert cycles(subpackage_graph(g)) == []


def test_no_two_subpackages_import_each_other():
    """At the level of subpackages too (release, sandbox, evaluation, ...): no subpackage
    imports, through any of its modules, one that imports it back."""
    found = cycles(subpackage_graph(graph()))
    assert found == [], f"import cycles among autograder's subpackages: {found}"


def test_the_folders_follow_the_path_of_a_submission():
    for name in STAGES + BESIDE:
        assert (PKG / name / "__init__.py").is_file(), f"autograder/{name}/ is not a package"
    flat = sorted(p.name for p in PKG.glob("*.py"))
    # beside the subpackages only the shared pieces: the package, the course, the defaults,
    # the checks test cells import, small file helpers and nbgrader's config file
    assert set(flat) <= {"__init__.py", "course.py", "defaults.py", "checks.py", "files.py",
                         "nbgrader_config.py", "settings.py", "records.py", "source.py"}, flat
    assert not (PKG / "examples").exists(), "the example class is a test fixture (tests/fixtures)"


def long_functions(limit=MAX_LINES, pkg=PKG) -> list[tuple[str, str, int]]:
    out = []
    for path in sorted(pkg.rglob("*.py")):
        if "catalogue" in path.parts or "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append((str(path.relative_to(pkg.parent)), node.name, n))
    return out


def test_no_function_over_the_limit():
    assert long_functions() == []


def test_no_function_of_the_example_class_builder_over_the_limit():
    assert long_functions(pkg=ROOT / "tests" / "fixtures" / "example_class") == []


def test_the_limit_is_measured(tmp_path):
    """The measure finds a planted long function, nested ones too, and spares the catalogue
    (so an empty list means something)."""
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_LINES))
    for where in ("autograder/runners", "autograder/catalogue"):
        (tmp_path / where).mkdir(parents=True)
        (tmp_path / where / "m.py").write_text(f"class C:\n    def long(self):\n{body}\n\n\ndef short():\n    pass\n")
    assert long_functions(pkg=tmp_path / "autograder") == [("autograder/runners/m.py", "long", MAX_LINES + 1)]


def test_the_sandbox_checks_stub_is_generated_from_the_checks_api():
    import json
    import re

    from autograder import checks
    from autograder.sandbox.launch import checks_stub

    ns: dict = {}
    exec(compile(checks_stub(), "<stub>", "exec"), ns)  # noqa: S102 - our own generated source
    assert sorted(n for n in ns if not n.startswith("__")) == sorted(checks.__all__)
    assert issubclass(ns["CheckFailure"], AssertionError)
    # every name a notebook's cells import from autograder.checks is in the API (and so in the stub)
    imported = set()
    for nb in (ROOT / "solutions").rglob("*.ipynb"):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for m in re.finditer(r"from autograder\.checks import ([\w, ]+)", src):
                imported |= {n.strip() for n in m.group(1).split(",")}
    assert imported and imported <= set(checks.__all__), imported - set(checks.__all__)


def test_a_new_check_function_appears_in_the_sandbox_stub(monkeypatch):
    """A check added to ``autograder.checks`` (and to its ``__all__``) is in the stub the sandbox
    imports, with nothing written by hand; so is a new failure class."""
    from autograder import checks
    from autograder.sandbox.launch import checks_stub

    def check_something_new(x, expected):
        return True

    class NewFailure(checks.CheckFailure):
        pass

    monkeypatch.setattr(checks, "check_something_new", check_something_new, raising=False)
    monkeypatch.setattr(checks, "NewFailure", NewFailure, raising=False)
    monkeypatch.setattr(checks, "__all__", [*checks.__all__, "check_something_new", "NewFailure"])
    ns: dict = {}
    exec(compile(checks_stub(), "<stub>", "exec"), ns)  # noqa: S102 - our own generated source
    assert ns["check_something_new"](1, expected=2) is True
    assert issubclass(ns["NewFailure"], AssertionError)


def _resolve(name: str, path: Path, node) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        up = pkg.split(".")
        base = ".".join(up[:len(up) - node.level + 1] + ([base] if base else []))
    return [base]


def function_imports(root: Path = ROOT, packages=("autograder", "tnn_lib")):
    """(file, line, function, module imported, source line) of every import inside a function,
    the `jupyterhub/` config folder and the catalogue's student-style variants excepted (a
    variant is written as a student would: its source is compared with theirs)."""
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            if "__pycache__" in path.parts or "jupyterhub" in path.parts:
                continue
            rel = path.relative_to(root)
            parts = rel.with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            variants = _variant_names(name) if "catalogue" in parts else set()

            def visit(node, fn):
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        if child.name not in variants:
                            visit(child, child.name)
                    elif isinstance(child, (ast.Import, ast.ImportFrom)) and fn:
                        for mod in _resolve(name, path, child):
                            out.append((str(rel), child.lineno, fn, mod, lines[child.lineno - 1]))
                    else:
                        visit(child, fn)
            visit(ast.parse(text), None)
    return out


def _variant_names(module: str) -> set[str]:
    """The functions of catalogue module `module` that are a misconception's variant."""
    if module == "autograder.catalogue" or not module.startswith("autograder.catalogue."):
        return set()
    from autograder.catalogue import _load
    _, misconceptions = _load()
    return {m.impl.__name__ for ms in misconceptions.values() for m in ms
            if getattr(m.impl, "__module__", None) == module}


def edition_modules(root: Path = ROOT) -> set[str]:
    """The modules of `autograder` the student edition ships (its STUDENT_MODULES)."""
    from autograder.release.edition import STUDENT_MODULES
    return {module_name(p) if root == ROOT else ".".join(p.relative_to(root).with_suffix("").parts)
            for pattern in STUDENT_MODULES for p in root.glob(pattern)}


def _in(mod: str, names) -> bool:
    return any(mod == n or mod.startswith(n + ".") for n in names)


def unexplained_function_imports(root: Path = ROOT, edition=None) -> list[tuple]:
    """The imports inside a function that the policy does not allow: a module outside
    :data:`SLOW_IMPORTS`, unless a module the student edition ships imports one it does not
    or the importer is one of :data:`LIGHT_MODULES`; and an allowed one whose line does not
    say why it is deferred."""
    edition = edition_modules(root) if edition is None else edition
    bad = []
    for rel, line, fn, mod, src in function_imports(root):
        parts = Path(rel).with_suffix("").parts
        importer = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if _in(mod, SLOW_IMPORTS):
            ok = DEFER_COMMENT in src
        elif mod.startswith("autograder.") and importer in edition and mod not in edition:
            ok = EDITION_COMMENT in src
        elif importer in LIGHT_MODULES:
            ok = LIGHT_COMMENT in src
        else:
            ok = False
        if not ok:
            bad.append((rel, line, fn, mod))
    return bad


def test_a_function_imports_only_slow_modules_and_says_so():
    bad = unexplained_function_imports()
    assert bad == [], ("import these at the top of the file, or measure them and add them to SLOW_IMPORTS "
                       f"with the line's comment: {bad}")


def test_the_import_policy_finds_planted_imports(tmp_path):
    """The check finds a planted function-level import of a fast module, of a slow one without
    its comment, and of a grader-only module from a module of the edition without its comment;
    it passes the same imports said to be deferred, and the catalogue's variants."""
    (tmp_path / "autograder" / "runners").mkdir(parents=True)
    (tmp_path / "tnn_lib").mkdir()
    (tmp_path / "autograder" / "runners" / "m.py").write_text(
        "import os\n\n\ndef f():\n    import json\n    import nbgrader.api\n"
        f"    import nbgrader  {DEFER_COMMENT}\n    return json, os\n\n\n"
        "class C:\n    def g(self):\n        from . import grade\n"
        f"        from autograder.runners import worker  {EDITION_COMMENT}\n")
    (tmp_path / "tnn_lib" / "w.py").write_text(
        f"def w():\n    import matplotlib.pyplot as plt  {DEFER_COMMENT}\n    from tnn_lib import topics\n")
    (tmp_path / "tnn_lib" / "student.py").write_text(
        f"def s():\n    import re  {LIGHT_COMMENT}\n    import ast\n")
    edition = {"autograder.runners.m"}
    assert unexplained_function_imports(tmp_path, edition) == [
        ("autograder/runners/m.py", 5, "f", "json"), ("autograder/runners/m.py", 6, "f", "nbgrader.api"),
        ("autograder/runners/m.py", 13, "g", "autograder.runners"), ("tnn_lib/student.py", 3, "s", "ast"),
        ("tnn_lib/w.py", 3, "w", "tnn_lib")]
    # out of the edition, a grader-only module is no excuse
    assert ("autograder/runners/m.py", 14, "g", "autograder.runners") in unexplained_function_imports(tmp_path, set())


def test_every_deferred_module_is_in_the_authoring_table():
    section = (PKG / "AUTHORING.md").read_text(encoding="utf-8").split("## Imports", 1)[1]
    missing = [m for m in [*SLOW_IMPORTS, *LIGHT_MODULES] if f"`{m}`" not in section]
    assert missing == [], f"add these to the table of autograder/AUTHORING.md (## Imports): {missing}"


def _top_level_imports(tree):
    """The import statements that run when the module is imported (not inside a function)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def edition_top_level_misses(known, edition) -> list[tuple[str, str]]:
    """(module, imported module) where a module of the edition imports, when it is imported, a
    module of `autograder` the edition does not ship."""
    bad = []
    for name in sorted(edition & set(known)):
        path = known[name]
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for t in _resolve(name, path, node) + ([f"{_resolve(name, path, node)[0]}.{a.name}" for a in node.names]
                                                  if isinstance(node, ast.ImportFrom) else []):
                while t and t not in known:
                    t = t.rpartition(".")[0]
                if t and t.startswith("autograder.") and t not in edition:
                    bad.append((name, t))
    return sorted(set(bad))


def test_the_edition_modules_import_only_edition_modules_when_imported():
    """An installed edition has only STUDENT_MODULES: a top-level import of another module of
    `autograder` would break its `tnn-course check` (the planted case shows the check sees one)."""
    known, edition = modules(), edition_modules()
    assert edition_top_level_misses(known, edition) == []
    assert edition_top_level_misses(known, edition - {"autograder.outcomes.diagnose"}) != []
