"""The example class under tests/fixtures is what its builder makes: ``expected.json`` and
every submitted notebook, built again into a temporary folder (the repository is not
rewritten) and compared."""
from __future__ import annotations

import importlib.util
import json
import re

import pytest

from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "example_class"


def _same_but_for_the_root(fresh: str, committed: str, root: str) -> str | None:
    """The course root a few tampering notebooks write into (the checkout that built them):
    `committed` equals `fresh` with every occurrence of `root` replaced by one same path, and
    the cell ids (derived from the cells' text) left out. Returns that path, or None."""
    def without_ids(text):
        nb = json.loads(text)
        for cell in nb["cells"]:
            cell.pop("id", None)
        return json.dumps(nb, sort_keys=True)

    fresh, committed = without_ids(fresh), without_ids(committed)
    pieces = fresh.split(json.dumps(root)[1:-1])
    pattern = re.escape(pieces[0]) + "(?P<root>/[^\"'\\s;]*)" + "(?P=root)".join(map(re.escape, pieces[1:]))
    found = re.fullmatch(pattern, committed, re.S) if len(pieces) > 1 else None
    return found["root"] if found else None


@pytest.mark.slow
def test_the_example_class_is_current_with_its_builder(tmp_path):
    # in a process of its own: the builder runs the solution notebooks' cells, which register
    # answers and rebind names in tnn_lib's modules, and no later test may see that
    import subprocess
    import sys
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('example_class_build', "
            f"{str(FIXTURE / 'build.py')!r}); mod = importlib.util.module_from_spec(spec); "
            f"spec.loader.exec_module(mod); mod.build(out={str(tmp_path)!r})")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fresh_doc = (tmp_path / "expected.json").read_text(encoding="utf-8")
    assert fresh_doc == (FIXTURE / "expected.json").read_text(encoding="utf-8"), \
        "expected.json is not what build.py makes: run python tests/fixtures/example_class/build.py"
    fresh = {p.relative_to(tmp_path / "submitted"): p for p in (tmp_path / "submitted").rglob("*") if p.is_file()}
    committed = {p.relative_to(FIXTURE / "submitted"): p for p in (FIXTURE / "submitted").rglob("*") if p.is_file()}
    assert sorted(map(str, fresh)) == sorted(map(str, committed))
    roots, differ = set(), []
    for rel, path in sorted(fresh.items()):
        new, old = path.read_bytes(), committed[rel].read_bytes()
        if new == old:
            continue
        root = _same_but_for_the_root(new.decode(), old.decode(), str(ROOT))
        if root is None:
            differ.append(str(rel))
        roots.add(root)
    assert not differ, f"build.py makes other submissions than the committed ones: {differ[:5]}"
    assert len(roots - {None}) <= 1, roots   # one checkout built them all


def test_the_root_comparison_tells_a_path_from_a_change():
    nb = {"cells": [{"id": "a", "source": "open('/here/x'); open('/here/y')"}]}
    old = {"cells": [{"id": "b", "source": "open('/there/x'); open('/there/y')"}]}
    assert _same_but_for_the_root(json.dumps(nb), json.dumps(old), "/here") == "/there"
    changed = {"cells": [{"id": "b", "source": "open('/there/x'); open('/there/z')"}]}
    assert _same_but_for_the_root(json.dumps(nb), json.dumps(changed), "/here") is None
    mixed = {"cells": [{"id": "b", "source": "open('/there/x'); open('/else/y')"}]}
    assert _same_but_for_the_root(json.dumps(nb), json.dumps(mixed), "/here") is None
