"""The grading code's layout: its folders follow the path of a submission, no module of
`autograder` imports itself back through others (at module level or inside a function), and no
function is longer than the limit (the catalogue's student-style variants excepted)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "autograder"
MAX_LINES = 100
# the pipeline, in the order a submission travels, and what stands beside it
STAGES = ("release", "sandbox", "evaluation", "outcomes", "gradebook", "pages")
BESIDE = ("cli", "runners", "similarity", "lecture", "catalogue")


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
