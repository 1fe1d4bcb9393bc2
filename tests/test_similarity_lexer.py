"""The similarity lexer (autograder.similarity.fingerprints) must read every answer as the module before
issue 27 did: a faster lexer (one tried for issue 27 read each physical line once per class) must pass these.

The oracle is ``fixtures/similarity_old/fingerprints_before_issue27.py`` (the module before the speed-ups,
kept verbatim but for one fix both share, a comment at the very end skipped whole): for tricky inputs (strings holding ``#`` or brackets, triple-quoted strings over several
lines or never closed, f-strings, line continuations, unicode names, tabs, CRLF line endings, brackets
left open, unterminated strings, code that does not parse, a comment on the last line without a newline),
for random sources stitched from them, and for the similarity corpus, the new module's documents — tokens,
spans, K-gram hashes, winnowed fingerprints, own-token counts — must equal the oracle's, whether the line
documents are read one at a time or in one batch, in either order."""
from __future__ import annotations

import random

import numpy as np
import pytest


TRICKY = [
    "x = 1  # a comment with 'quotes' and \"more\"\n",
    "s = '# not a comment'  # but this is\nt = s + \"#\"\n",
    "def f(x):\n    \"\"\"Docstring.\n\n    With lines, a # and 'quotes'.\n    \"\"\"\n    return x\n",
    "doc = '''one\ntwo'''; y = doc\n",
    "z = \"\"\"single line\"\"\"\n",
    "name = 'w'\nmsg = f\"{name!r} has {len(name):>3d} {{braces}} and {'#'}\"\n",
    "v = rb'\\x00' + Rb\"\\n\" + u'é' + F'{v}'\n",
    "total = a + \\\n    b + \\\n    c\n",
    "total = a + \\\r\n    b\r\n",
    "λ = 1.5e-3\nσ² = λ * 2\n名前 = λ + σ²\n",
    "def g(x):\n\tif x:\n\t\treturn -x\n\treturn x\n",
    "def h(x):\n    if x:\n\treturn x  # a tab after spaces\n    return 0\n",
    "def f(x):\r\n    y = x * 2\r\n    return y\r\n",
    "a = 'unterminated\nb = 1; c = 2\n",
    "a = \"never closed\n",
    "s = \"\"\"never closed\nstill inside\n# inside too\n",
    "def f(:\n  return ((\n",
    "y = np.sum(x,\n           axis=0)  # a bracket over two lines\nz = [1,\n     2]\n",
    "))) = (\nx = 1\n",
    "w = x[0] ; v = w ;; u = v\n",
    "x = 1  # the last line has no newline",
    "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
    "y = 2 \\",
    "y = \\\n  3\n",
    "a = \"\"\"abc",
    "if x:\n    pass\nelse:\n    y = 0x1F + 0o17 + 0b101 + 1_000 + .5 + 2j\n",
    "lambda x: x ** 2 // 3 @ y\nx @= y\nz := 3\n",
    "class A:\n    def f(self, a=1, *args, b: int = 2, **kw) -> int:\n        return self.g(a, b=b, **kw)\n",
    "\n\n   \n\t\n",
    "",
    "x = $ ? ! ` 1\n",
    "\f x = 1\n\x0c\ny = 2\n",
    "  indented = 1\nnot_indented = 2\n",
    "x = 'a' 'b' \"c\"\ny = ('a'\n     'b')\n",
    "print('#'); # ' \" \\\n",
    "s = 'it\\'s'  # escaped\nt = \"a \\\" b\"\n",
    "s = 'ends with a backslash \\\nx = 1\n",
]


@pytest.fixture(scope="module")
def old(old_similarity):
    return old_similarity


def _same_docs(new, old, sources):
    got, want = new.fingerprint_many(sources), old.fingerprint_many(sources)
    assert len(got) == len(want) == len(sources)
    for src, g, w in zip(sources, got, want):
        assert g.tokens == w.tokens, src
        assert g.spans == w.spans, src
        assert len(g.spans) == len(g.tokens)
        assert (g.prints, g.own) == (w.prints, w.own), src
        assert np.array_equal(g.hashes, w.hashes), src
        assert np.array_equal(g.separators, w.separators), src


def _variants(src: str) -> list:
    """The source, and the same with CRLF line endings, tab indentation, one level deeper."""
    deeper = "".join("    " + ln if ln.strip() else ln for ln in src.splitlines(keepends=True))
    return [src, src.replace("\n", "\r\n"), src.replace("    ", "\t"), deeper]


def test_tricky_inputs_read_as_before_one_at_a_time_and_together(old):
    from autograder.similarity import fingerprints as new
    sources = [v for src in TRICKY for v in _variants(src)]
    for src in sources:                                   # one at a time
        assert new._logical_lines(src) == old._logical_lines(src), src
        _same_docs(new, old, [src])
    _same_docs(new, old, sources)                         # all in one batch
    _same_docs(new, old, sources[::-1])                   # the other order


def test_a_comment_on_the_last_line_leaves_no_token(old):
    """A comment on a last line without a newline (answer cells end so) is skipped whole:
    before, the layout pattern gave its last character back to be read as a name
    (``x = 1  # its done`` read as ``x = 1 e``); the oracle got the same one-line fix."""
    from autograder.similarity import fingerprints as new
    cases = {"x = 1  # its done": ["x", "=", "1"], "x = 1  # its done\n": ["x", "=", "1"],
             "def f(x):\n    # YOUR CODE HERE": ["def", "f", "(", "x", ")", ":"], "# only a comment": [],
             "y = '#'  # s": ["y", "=", "'#'"]}
    for src, tokens in cases.items():
        assert [t[1] for _, ts in new._logical_lines(src) for t in ts] == tokens, src
        assert [t[1] for _, ts in old._logical_lines(src) for t in ts] == tokens, src
        _same_docs(new, old, [src, src + "\n", "y = 0\n" + src])


@pytest.mark.parametrize("seed", range(6))
def test_random_stitches_of_tricky_lines_read_as_before(old, seed):
    """Sources stitched at random from the tricky inputs' lines (so strings open on one
    line and close many lines later, brackets stay open, continuations end a source),
    with random indentation and line endings."""
    from autograder.similarity import fingerprints as new
    rng = random.Random(seed)
    lines = [ln for src in TRICKY for ln in src.splitlines(keepends=True)] + ["x = (\n", ")\n", "'''\n", "\\\n"]
    sources = []
    for _ in range(120):
        picked = [rng.choice(["", " ", "    ", "\t", "        "]) + rng.choice(lines).lstrip(" \t")
                  for _ in range(rng.randint(1, 12))]
        src = "".join(picked)
        if rng.random() < 0.3:
            src = src.replace("\n", "\r\n")
        if rng.random() < 0.3:
            src = src.rstrip("\n")
        sources.append(src)
    for i in range(0, len(sources), 17):
        _same_docs(new, old, sources[i:i + 17])


def test_the_corpus_reads_as_before(old):
    from autograder.similarity.report import reference_source
    from similarity_corpus import HONEST, HONEST_ADAM, first_function, rename, reorder

    from autograder.similarity import fingerprints as new
    sources = [src for answers in list(HONEST.values()) + [HONEST_ADAM] for src in answers.values()]
    refs = [first_function(r) for r in map(reference_source, ("batchnorm_forward", "clip_grad_norm", "softmax")) if r]
    sources += refs + [rename(r) for r in refs]
    for r in refs:
        try:
            sources.append(reorder(rename(r, "w")))
        except ValueError:          # no two statements to swap in that one
            pass
    assert len(sources) > 20
    _same_docs(new, old, sources)
    _same_docs(new, old, [s.replace("\n", "\r\n") for s in sources])
    assert new.given_hashes(sources[:8]) == old.given_hashes(sources[:8])
