"""Every section that feedback points to exists in its notebook.

Hints send the student to a section by its title ("… — see 'Gradient clipping'") and to
numbered sections ("section 9"). A renamed or near-miss title leaves the student searching
for a section that is not there. This test reads, for every notebook in ``solutions/``
(whatever notebooks exist):

* the titles and hints of the misconceptions of its exercises (``autograder/catalogue``),
* the string constants of its graded test cells (assert messages, ``check_poll``
  explanations) and its markdown and code cells,

finds every section they name (``see 'Title'``, ``section 'Title'``, ``section N``) and
checks that the notebook has a heading with that title (with or without its number) or
that number.
"""
from __future__ import annotations

import ast
import re

import pytest

from notebook_tools import ROOT, read

NOTEBOOKS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)
# "see 'Title'", "See “Title”", "section 'Title'"
NAMED = re.compile(r"\b(?:[Ss]ee|[Ss]ection)\s+(?:the section\s+)?['‘\"“]([^'’\"”\n]{3,90})['’\"”]")
NUMBERED = re.compile(r"\b[Ss]ection\s+(\d+)\b(?!\s*[–-]\s*\d)")   # "section 9", not ranges "sections 2–4"
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.M)
NUMBER = re.compile(r"^(\d+)\.\s+(.*)$")


def sections(nb) -> tuple[set[str], set[str]]:
    """(titles, numbers) of the notebook's headings; a title is kept with and without its
    number ("3. The L2 penalty is weight decay" and "The L2 penalty is weight decay")."""
    titles, numbers = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for heading in HEADING.findall(cell.source):
            titles.add(heading)
            m = NUMBER.match(heading)
            if m:
                numbers.add(m.group(1))
                titles.add(m.group(2))
    return titles, numbers


def _strings(source: str) -> list[str]:
    """The string constants of a code cell (assert messages, poll explanations …)."""
    try:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", source, flags=re.M))
    except SyntaxError:
        return [source]
    out = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for n in ast.walk(tree):   # f-strings: their literal parts
        if isinstance(n, ast.JoinedStr):
            out.append("".join(v.value for v in n.values if isinstance(v, ast.Constant)))
    return out + [line for line in source.splitlines() if line.lstrip().startswith("#")]


def texts_of(aid: str, nb) -> list[tuple[str, str]]:
    """(where, text) of every message that may name a section of notebook `aid`."""
    from autograder.catalogue import misconceptions_for
    from tnn_lib.topics import BY_ID

    out = []
    topic = BY_ID.get(aid)
    for ex in (topic.exercises if topic else ()):
        for m in misconceptions_for(ex):
            out += [(f"catalogue {m.id} (title)", m.title), (f"catalogue {m.id} (hint)", m.hint)]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            out.append((f"cell {i} (markdown)", cell.source))
        elif cell.cell_type == "code":
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id", "")
            out += [(f"cell {i} {gid}".rstrip(), s) for s in _strings(cell.source)]
    return out


def test_the_notebooks_are_found():
    assert {"05_optimizers", "06_regularization"} <= set(NOTEBOOKS), NOTEBOOKS


@pytest.mark.parametrize("aid", NOTEBOOKS)
def test_every_section_named_by_a_hint_or_message_exists(aid):
    nb = read(ROOT / "solutions" / aid / f"{aid}.ipynb")
    titles, numbers = sections(nb)
    missing = []
    for where, text in texts_of(aid, nb):
        missing += [(where, f"'{t}'") for t in NAMED.findall(text) if t.strip() not in titles]
        missing += [(where, f"section {n}") for n in NUMBERED.findall(text) if n not in numbers]
    assert not missing, (f"{aid}: sections named but not in the notebook: {missing[:8]}; "
                         f"its headings are {sorted(titles)}")


def test_the_matcher_finds_a_near_miss_title():
    """The test itself can fail: a hint one word off its heading is caught."""
    from nbformat.v4 import new_markdown_cell, new_notebook
    nb = new_notebook(cells=[new_markdown_cell("## 3. The L2 penalty is weight decay\n\ntext, see section 3")])
    titles, numbers = sections(nb)
    assert NAMED.findall("a hint — see 'The L2 penalty is weight decay'")[0] in titles
    assert NAMED.findall("a hint — see 'L2 = weight decay'")[0] not in titles
    assert NUMBERED.findall("as in section 3") == ["3"] and "3" in numbers
    assert NUMBERED.findall("as in section 4") == ["4"] and "4" not in numbers
    assert NUMBERED.findall("(sections 2–4)") == []
