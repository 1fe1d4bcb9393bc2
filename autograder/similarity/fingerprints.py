"""Similar answers: winnowed fingerprints of normalised token streams, weighed per exercise.

For every exercise (an answer cell's grade id) this module compares each student's answer
with every other student's and with the code every student could have copied: the
`tnn_lib` reference of that exercise (found by introspecting `tnn_lib`), the instructor's
solution (the answer cell of ``solutions/<assignment>/``) and the catalogue's variants
(the misconceptions of ``autograder.catalogue``). It never runs a student's code: answers
are read by a lexer of Python's tokens, nothing more (no parser: an answer that does not
parse is still compared).

The method (winnowing, Schleimer, Wilkerson and Aiken 2003, the algorithm behind MOSS):

1. *normalise*: the answer's tokens, with comments, docstrings, blank lines and layout
   dropped; local identifiers become ``V``, numbers ``N``, strings ``S``; attribute
   names, keyword-argument names, builtins and ``np`` stay (renaming a variable changes
   nothing, calling another numpy function does); runs of independent assignments are put
   in one canonical order (a topological order of their data dependencies, smallest
   statement first), so swapping statements whose order does not matter changes nothing;
2. *fingerprint*: hashes of all K-grams of that stream; winnowing keeps the smallest hash
   of each window of W consecutive K-grams, which guarantees that any shared run of at
   least W + K - 1 tokens is found and no run shorter than K is;
3. *index*: per exercise, a table fingerprint → students who have it. A fingerprint that
   is also in the released notebook (the stub, its docstring, the notebook's hints and
   code) is given code and never counts. The table is the exercise's baseline: a
   fingerprint found in more than ``rare_max = max(RARE_MIN, RARE_SHARE × students)``
   answers is common for that exercise and does not count either (short exercises are
   naturally alike); one found in fewer counts the more the fewer have it (:func:`rarity`);
4. *pair*: only the students who share a fingerprint heavy enough to matter are ever
   compared (no all-pairs pass). A pair's *score* is the share of one side's distinctive
   code (its tokens, each weighing as its rarest fingerprint: given and common code weigh
   nothing) that the pair shares (against the reference, the solution or a variant: the
   student's side). It is flagged when that shared, weighed code is at least MIN_TOKENS
   tokens and the score at least MIN_SCORE, or at least LONG_TOKENS and LONG_SCORE (half
   an answer copied). An answer that passed every test cell of its exercise is not compared
   with the catalogue's variants: it does not carry their mistake, so what it shares with
   one is the correct part that every right answer has.

5. *copies of a source however common*: the baseline of step 3 would hide a leaked
   solution that many students hand in (a tenth of a class copying it makes every passage
   of it common). A match with the reference, the solution or a catalogue variant is
   therefore also weighed without the baseline (given code still weighs nothing), and listed
   however many answers share it when the student's answer is mostly that source's code
   (at least MIN_TOKENS tokens and MIN_SCORE of the answer's own code) and one of these says
   it is more than the answer everyone writes:

   - *beyond the shortest correct answer*: the shared code is at least MIN_TOKENS tokens
     longer than the shortest correct answer known for the exercise (the reference, the
     solution and the class's answers that passed all their test cells, counted in tokens of
     their own code). A short answer that every correct student writes the same way shares
     no more than that with the solution; a copy of a solution longer than needed does;
   - *kept verbatim*: the answer keeps, letter for letter, at least VERBATIM_NAMES of the
     source's own local names (three letters or more, none of them named anywhere in the
     released notebook) or one of its comments (three words or more, not in the notebook).
     Independent authors name and comment their code differently; copiers rarely rewrite it.

   A renamed and uncommented copy of a solution that is itself the shortest correct answer
   cannot be told from an honest answer this way, and is not listed once it is common.

The report (:mod:`autograder.similarity.report`) says what matched, how many answers to the
exercise contain it and, for a match listed by rule 5, which evidence; it judges nothing.
"""
from __future__ import annotations

import builtins
import functools
import gc
import keyword
import math
import re
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

K = 9                 # tokens per K-gram (noise threshold)
W = 5                 # K-grams per winnowing window: shared runs of W + K - 1 = 13 tokens are always found
MIN_TOKENS = 20       # a flagged pair shares at least this many (rarity-weighed) normalised tokens ...
MIN_SCORE = 0.7       # ... covering at least this share of one side's distinctive code,
LONG_TOKENS = 40      # or at least this many rare tokens ...
LONG_SCORE = 0.5      # ... covering at least this fraction (half an answer copied, half written)
RARE_SHARE = 0.05     # a fingerprint in more than this share of the class is common ...
RARE_MIN = 3          # ... (but up to this many answers are always rare)
VERBATIM_NAMES = 3    # a common copy keeps at least this many of the source's own names (rule 5) ...
VERBATIM_WORDS = 3    # ... or a comment of at least this many words
SEED_WEIGHT = 0.75    # only pairs sharing a fingerprint at least this rare are examined
MAX_SOURCE_CHARS = 20_000   # longer answers are compared on their first MAX_SOURCE_CHARS characters
KINDS = ("reference", "solution", "variant", "student")

_KEEP = set(dir(builtins)) | {"self"}
_NUMPY = {"np", "numpy"}


# ----------------------------------------------------------------------------------------
# tokens
# ----------------------------------------------------------------------------------------
@dataclass
class Doc:
    """One piece of code, normalised: `tokens` (the stream fingerprinted), `spans` (each
    token's character span in `source`, None for the synthetic ones), its K-gram hashes and
    winnowed fingerprints {hash: [K-gram start, …]}; `given` marks the tokens inside given
    code (stub, hints)."""
    source: str
    tokens: list
    spans: list
    hashes: np.ndarray = field(repr=False)
    prints: dict = field(repr=False)
    given: np.ndarray = field(default=None, repr=False)
    separators: np.ndarray = field(default=None, repr=False)
    own: int = 0          # how many tokens are the answer's own (not given code, not separators)

    def __post_init__(self):
        if self.separators is None:
            self.separators = np.array([t in _SEPARATORS for t in self.tokens], dtype=bool)
            self.own = int((~self.separators).sum())


_SEPARATORS = frozenset((";", "{", "}"))
_LEX = re.compile(r"""
 (?:[ \t\f\r]+|\#[^\n]*|\\\r?\n)*            # layout, comments and line continuations: skipped
 (?:(?P<str>(?:[rRbBuUfF]{1,2})?(?:\"\"\"[\s\S]*?(?:\"\"\"|\Z)|'''[\s\S]*?(?:'''|\Z)|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?))
 |(?P<nl>\n)
 |(?P<num>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[jJ]?)
 |(?P<name>[^\W\d]\w*)
 |(?P<op>\*\*=|//=|>>=|<<=|->|:=|\*\*|//|<<|>>|<=|>=|==|!=|[-+*/%@&|^]=|[-+*/%@&|^~<>=.,:;()\[\]{}])
 |(?P<other>.|\Z))                                # (\Z: a comment at the very end is skipped whole)
""", re.X)
_ASSIGN_OPS = frozenset(("=", "+=", "-=", "*=", "/=", "//=", "%=", "@=", "**=", "&=", "|=", "^=", ">>=", "<<=",
                         ":="))


_STR, _NL, _NUM, _NAME, _OP, _OTHER = range(1, 7)      # _LEX's groups, in order
_GROUP_KIND = (None, "str", "nl", "num", "name", "op", "other")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_KEEP_KW = frozenset(_KEEP | set(keyword.kwlist))       # names kept as they are
_KEYWORDS = frozenset(keyword.kwlist)


def _logical_lines(source: str) -> list:
    """[(indent, [(kind, text, start, end)])]: the source's logical lines (brackets joined,
    ``;`` split), without comments, layout or blank lines. A lexer of Python's tokens
    (strings, numbers, names, operators) that never fails: an answer that does not parse
    is still compared on what it says."""
    lines, cur, depth, indent, line_start, same_line = [], [], 0, 0, 0, False
    kinds = _GROUP_KIND
    for m in _LEX.finditer(source):
        g = m.lastindex
        if g == _NL:
            if depth == 0 and cur:
                lines.append((indent, cur))
                cur = []
            line_start, same_line = m.end(), False
            continue
        if g == _OTHER:
            continue
        a, b = m.span(g)
        text = source[a:b]
        if g == _OP:
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                if depth:
                    depth -= 1
            elif text == ";" and depth == 0:
                if cur:
                    lines.append((indent, cur))
                cur = []
                same_line = True          # the next statement has this one's indent
                continue
        if not cur:
            if not same_line:
                indent = a - line_start if a >= line_start else 0
        same_line = False
        cur.append((kinds[g], text, a, b))
    if cur:
        lines.append((indent, cur))
    return lines


def _normalise_line(toks: list) -> list:
    """[(normalised token, start, end)] of one logical line: see the module docstring."""
    out, depth, params = [], 0, None
    append = out.append
    n = len(toks)
    prev = ""
    for i, (kind, s, a, b) in enumerate(toks):
        if kind == "name":
            if s in _KEEP_KW or prev == ".":
                append((s, a, b))
            elif s in _NUMPY:
                append(("np", a, b))
            elif depth > 0 and params is None and i + 1 < n and toks[i + 1][1] == "=":   # a keyword argument's name
                append((s, a, b))
            else:
                append(("V", a, b))
        elif kind == "op":
            if s in _OPEN:
                depth += 1
                if s == "(" and i >= 2 and params is None and toks[i - 2][1] == "def":
                    params = depth
            elif s in _CLOSE and depth > 0:
                if depth == params:
                    params = None
                depth -= 1
            append((s, a, b))
        elif kind == "num":
            append(("N", a, b))
        elif kind == "str":
            if out and out[-1][0] == "S":      # implicit concatenation: one literal
                out[-1] = ("S", out[-1][1], b)
            else:
                append(("S", a, b))
        else:
            append((s, a, b))
        prev = s
    return out


def _reads_writes(toks: list):
    """(names read, names written) of a simple statement (an assignment or an import), or
    None when the line is not one (a barrier: it keeps its place)."""
    first = toks[0][1]
    if first in ("import", "from"):
        return set(), {t[1] for t in toks if t[0] == "name" and not keyword.iskeyword(t[1])}
    if toks[0][0] != "name" or keyword.iskeyword(first) or toks[-1][1] == ":":
        return None
    depth, cuts, depths = 0, [], []
    for i, (kind, s, _, _) in enumerate(toks):
        depths.append(depth)
        if s in "([{" and kind == "op":
            depth += 1
        elif s in ")]}" and kind == "op":
            depth -= 1
        elif depth == 0 and kind == "op" and s in _ASSIGN_OPS:
            cuts.append(i)
    if not cuts:
        return None
    reads, writes = set(), set()
    last, plain = cuts[-1], toks[cuts[0]][1] == "="
    for i, (kind, s, _, _) in enumerate(toks):
        if kind != "name" or keyword.iskeyword(s) or (i and toks[i - 1][1] == "."):
            continue
        prev = toks[i - 1][1] if i else ","
        if i < last and depths[i] == 0 and (prev in (",", "(", "[", "*") or prev in _ASSIGN_OPS):
            writes.add(s)
            if not plain or (i + 1 < len(toks) and toks[i + 1][1] in ("[", ".")):
                reads.add(s)      # x += …, x[i] = …, x.a = … also read x
        else:
            reads.add(s)
    return reads, writes


_SEMI = (";", None, None)


def _canonical(lines: list) -> list:
    """The normalised token stream: blocks marked ``{`` ``}``, statements ended by ``;``,
    bare strings (docstrings) dropped, and each run of consecutive simple statements of a
    block in one canonical order: a topological order of their data dependencies, the
    smallest statement first."""
    out, stack, run = [], [], []

    def flush():
        if len(run) < 2:
            if run:
                out.extend(run[0][0])
                out.append(_SEMI)
                run.clear()
            return
        deps = [rw for _, rw in run]
        before = [{i for i in range(j) if deps[i][1] & (deps[j][0] | deps[j][1]) or deps[j][1] & deps[i][0]}
                  for j in range(len(run))]
        keys = [tuple(t[0] for t in norm) for norm, _ in run]
        left = set(range(len(run)))
        while left:
            j = min((j for j in left if not (before[j] & left)), key=lambda j: (keys[j], j))
            left.discard(j)
            out.extend(run[j][0])
            out.append(_SEMI)
        run.clear()

    for indent, toks in lines:
        if len(toks) == 1 and toks[0][0] == "str":
            continue                                   # a docstring (or a bare string): not code
        if not stack or indent > stack[-1]:
            if stack:
                flush()
                out.append(("{", None, None))
            stack.append(indent)
        while len(stack) > 1 and indent < stack[-1]:
            flush()
            stack.pop()
            out.append(("}", None, None))
        rw = _reads_writes(toks)
        if rw is None:
            flush()
            out.extend(_normalise_line(toks))
            out.append(_SEMI)
            continue
        run.append((_normalise_line(toks), rw))
        if len(run) == MAX_RUN:
            flush()
    flush()
    out += [("}", None, None)] * (len(stack) - 1)
    return out


MAX_RUN = 16          # independent statements are put in order within runs of at most this many

_TOKEN_IDS: dict = {}
_MULT = np.uint64(1_000_003)


_SEPARATOR_IDS = frozenset(zlib.crc32(t.encode("utf-8")) + 1 for t in _SEPARATORS)
_SEPARATOR_IDS_EXACT = [True]     # no other token has a separator's id (else they are told apart by text)


def _token_id(tok: str) -> int:
    tid = _TOKEN_IDS.get(tok)
    if tid is None:
        tid = _TOKEN_IDS[tok] = zlib.crc32(tok.encode("utf-8")) + 1
        if tid in _SEPARATOR_IDS and tok not in _SEPARATORS:
            _SEPARATOR_IDS_EXACT[0] = False
    return tid


for _t in _SEPARATORS:
    _token_id(_t)


def kgram_hashes(tokens: list, k: int = K) -> np.ndarray:
    """The (stable, 64-bit) hash of every K-gram of `tokens`."""
    if len(tokens) - k + 1 <= 0:
        return np.zeros(0, dtype=np.uint64)
    return _rolling_hashes(_token_ids(tokens), k)


def _token_ids(tokens) -> np.ndarray:
    get = _TOKEN_IDS.get
    return np.array([get(t) or _token_id(t) for t in tokens], dtype=np.uint64)


def _rolling_hashes(ids: np.ndarray, k: int = K) -> np.ndarray:
    """The hash of each run of `k` consecutive token ids: a polynomial of the ids, then one
    64-bit mixer (the one place it is written)."""
    n = len(ids) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * _MULT + ids[j:j + n]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return h


def winnow(hashes: np.ndarray, w: int = W) -> dict:
    """{hash: [positions]} of the winnowed K-grams: the rightmost minimum of every window
    of `w` consecutive hashes (Schleimer, Wilkerson and Aiken 2003)."""
    n = len(hashes)
    if n == 0:
        return {}
    if n <= w:
        pos = [n - 1 - int(np.argmin(hashes[::-1]))]
    else:
        win = np.lib.stride_tricks.sliding_window_view(hashes, w)
        pos = np.unique(np.arange(n - w + 1) + (w - 1 - np.argmin(win[:, ::-1], axis=1))).tolist()
    out: dict = {}
    for p, h in zip(pos, hashes[pos].tolist()):
        out.setdefault(h, []).append(p)
    return out


def fingerprint(source: str) -> Doc:
    """A piece of code, normalised and fingerprinted (read, never run)."""
    return fingerprint_many([source])[0]


def fingerprint_many(sources) -> list:
    """:func:`fingerprint` of each of `sources`, the hashing and winnowing done for all of
    them at once (one pass of numpy over the concatenated streams). Identical sources are
    read once."""
    streams, cache = [], {}
    for src in sources:
        src = str(src)[:MAX_SOURCE_CHARS]
        stream = cache.get(src)
        if stream is None:
            stream = cache[src] = _canonical(_logical_lines(src))
        streams.append((src, stream))
    lengths = np.fromiter((len(st) for _, st in streams), dtype=np.int64, count=len(streams))
    starts = np.concatenate([[0], np.cumsum(lengths)])
    total = int(starts[-1])
    flat = [t[0] for _, st in streams for t in st]
    ids_of = _TOKEN_IDS
    for t in set(flat).difference(ids_of):
        _token_id(t)
    ids = np.array(list(map(ids_of.__getitem__, flat)), dtype=np.uint64)
    if _SEPARATOR_IDS_EXACT[0]:
        separators = np.isin(ids, np.array([ids_of[t] for t in _SEPARATORS], dtype=np.uint64))
    else:       # a token's id equals a separator's: tell them apart by their text
        separators = np.fromiter((t in _SEPARATORS for t in flat), dtype=bool, count=len(flat))
    own = np.concatenate([[0], np.cumsum(~separators)])
    own = (own[starts[1:]] - own[starts[:-1]]).tolist()
    n = total - K + 1
    hashes = _rolling_hashes(ids, K)
    # K-gram q belongs to document d when starts[d] <= q <= starts[d + 1] - K
    doc_of = np.repeat(np.arange(len(streams)), lengths)[:max(n, 0)]
    picked = np.zeros(0, dtype=np.int64)
    if n >= W:
        first = np.arange(n - W + 1)
        inside = first + W - 1 + K - 1 < starts[doc_of[first] + 1]      # the window's last K-gram fits
        win = np.lib.stride_tricks.sliding_window_view(hashes, W)
        pos = first + (W - 1 - np.argmin(win[:, ::-1], axis=1))
        picked = pos[inside]          # non-decreasing: a window's rightmost minimum never moves left
        if len(picked):
            picked = picked[np.concatenate(([True], picked[1:] != picked[:-1]))]
    bounds = np.searchsorted(picked, np.minimum(starts[:-1], starts[1:] - K + 1)).tolist()
    ends = np.searchsorted(picked, np.maximum(starts[:-1], starts[1:] - K + 1)).tolist()
    picked_list = picked.tolist()
    picked_hashes = hashes[picked].tolist()
    out = []
    empty = np.zeros(0, dtype=np.uint64)
    for d, (src, stream) in enumerate(streams):
        a, m = int(starts[d]), int(lengths[d]) - K + 1
        doc_hashes = hashes[a:a + m] if m > 0 else empty
        prints: dict = {}
        if 0 < m < W:           # too short for a window: its smallest K-gram
            q = m - 1 - int(np.argmin(doc_hashes[::-1]))
            prints[int(doc_hashes[q])] = [q]
        elif m > 0:
            lo, hi = bounds[d], ends[d]
            for q, h in zip(picked_list[lo:hi], picked_hashes[lo:hi]):
                got = prints.get(h)
                if got is None:
                    prints[h] = [q - a]
                else:
                    got.append(q - a)
        tokens = flat[a:a + int(lengths[d])]
        spans = [(t[1], t[2]) if t[1] is not None else None for t in stream]
        out.append(Doc(src, tokens, spans, doc_hashes, prints, separators=separators[a:a + int(lengths[d])],
                       own=own[d]))
    return out


# ----------------------------------------------------------------------------------------
# given code: the stub, the notebook's hints
# ----------------------------------------------------------------------------------------
_BACKTICKS = re.compile(r"`+([^`]+)`+")
_WORDS = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+\.?\d*(?:[eE][-+]?\d+)?|\*\*|//|==|!=|<=|>=|->|[^\sA-Za-z_0-9]")


_MATHS = str.maketrans({"·": "*", "×": "*", "−": "-", "←": "=", "²": "**2", "√": "sqrt", "Σ": "sum"})


def _hint_tokens(text: str) -> list:
    """A line of prose or maths read as code as far as it goes: names (a bare numpy
    function name is read as ``np.<name>``, as an answer would write it), numbers,
    operators; the notes' maths signs as Python's (``·`` is ``*``, ``←`` is ``=``, …)."""
    out = []
    words = _WORDS.findall(text.translate(_MATHS))
    for i, w in enumerate(words):
        if w[0].isalpha() or w[0] == "_":
            prev = words[i - 1] if i else ""
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if keyword.iskeyword(w) or prev == "." or w in _KEEP:
                out.append(w)
            elif w in _NUMPY:
                out.append("np")
            elif nxt == "(" and prev != "." and hasattr(np, w) and callable(getattr(np, w)):
                out += ["np", ".", w]
            else:
                out.append("V")
        elif w[0].isdigit():
            out.append("N")
        else:
            out.append(w)
    return out


def given_hashes(texts) -> set:
    """Every K-gram hash of the given code and text (the released answer cell, the
    notebook's markdown, docstrings and code cells), read both as code and as hint lines."""
    out = set()
    for text in texts:
        out |= _text_hashes(str(text))
    return out


@functools.lru_cache(maxsize=4096)
def _text_hashes(text: str) -> frozenset:
    out = {int(h) for h in fingerprint(text).hashes}
    fragments = set()
    for line in text.splitlines():
        fragments.add(line)
        fragments.update(_BACKTICKS.findall(line))
        fragments.update(re.split(r",\s{2,}|;|\s+and\s+|\s+then\s+", line))
    # every K-gram of each fragment's tokens, and of them followed by ";": hashed in one pass
    # over the fragments end to end, the K-grams that straddle two fragments left out
    streams = [toks + [";"] for toks in map(_hint_tokens, fragments) if len(toks) >= K]
    if streams:
        hashes = _rolling_hashes(_token_ids([t for toks in streams for t in toks]), K)
        lengths = np.array([len(toks) for toks in streams])
        ends = np.cumsum(lengths)
        starts = (ends - lengths)
        first = np.repeat(starts, lengths - K + 1)
        within = first + np.concatenate([np.arange(n - K + 1) for n in lengths.tolist()])
        out.update(hashes[within].tolist())
    return frozenset(out)


def _mark_given(docs: list, given: set) -> None:
    """Mark each document's tokens inside K-grams of given code; drop those fingerprints."""
    if not docs:
        return
    given_array = np.fromiter(given, dtype=np.uint64, count=len(given))
    hits = np.isin(np.concatenate([d.hashes for d in docs]), given_array)     # one pass for all
    at = 0
    for doc in docs:
        _mark_one(doc, given, hits[at:at + len(doc.hashes)])
        at += len(doc.hashes)


def _mark_one(doc: Doc, given: set, hit: np.ndarray) -> None:
    mask = np.zeros(len(doc.tokens), dtype=bool)
    at = np.flatnonzero(hit)
    if len(at):
        mask[(at[:, None] + _K_RANGE).ravel()] = True      # every given K-gram's K tokens
        doc.prints = {h: p for h, p in doc.prints.items() if h not in given}
    doc.given = mask
    doc.own = int((~(mask | doc.separators)).sum())


# ----------------------------------------------------------------------------------------
# comparing one exercise
# ----------------------------------------------------------------------------------------
@dataclass
class Match:
    assignment: str
    exercise: str
    student: str
    kind: str            # reference, solution, variant or student
    other: str           # the source's name, or the other student
    score: float         # the share of one side's distinctive code that the pair shares (see the module)
    shared_tokens: int
    student_share: float
    other_share: float
    fewest: int          # the fewest answers to the exercise that contain one of the matched fingerprints
    answers: int         # answers to the exercise
    student_marks: list = field(default_factory=list, repr=False)   # character spans in the student's answer
    other_marks: list = field(default_factory=list, repr=False)
    student_source: str = field(default="", repr=False)
    other_source: str = field(default="", repr=False)
    evidence: str = "rare in the class"   # or why a common copy of a source is listed (rule 5)


_K_RANGE = np.arange(K)


def _covered(doc: Doc, weights: dict) -> np.ndarray:
    """Each token's weight: the largest rarity weight of the shared fingerprints covering
    it (0 for given code, separators and code not shared)."""
    out = np.zeros(len(doc.tokens))
    pos, wts = [], []
    prints = doc.prints
    for h, wt in weights.items():
        ps = prints.get(h)
        if ps:
            pos += ps
            wts += [wt] * len(ps)
    if pos:       # every K-gram's K tokens at once: the largest weight covering each token
        idx = (np.asarray(pos, dtype=np.int64)[:, None] + _K_RANGE).ravel()
        np.maximum.at(out, idx, np.repeat(np.asarray(wts, dtype=float), K))
    if doc.given is not None:
        out[doc.given] = 0.0
    out[doc.separators] = 0.0
    return out


def rarity(holders: int, rare_max: int, pair: bool) -> float:
    """How much a shared fingerprint counts, from how many answers have it: 1 when only
    the pair (or, against a source, only the student) has it, falling linearly to 0 past
    `rare_max` answers (the exercise's baseline)."""
    base = 2 if pair else 1
    if holders > rare_max:
        return 0.0
    return 1.0 - (holders - base) / (rare_max - base + 1)


def _marks(doc: Doc, mask: np.ndarray) -> list:
    """Merged character spans of the tokens in `mask`."""
    spans = sorted(doc.spans[i] for i in np.flatnonzero(mask) if doc.spans[i] is not None)
    out = []
    for a, b in spans:
        if out and a <= out[-1][1] + 3 and not doc.source[out[-1][1]:a].count("\n") > 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [tuple(s) for s in out]


def compare_exercise(aid: str, exercise: str, answers: dict, sources: dict, given_texts, stats=None,
                     passed=None) -> list[Match]:
    """:func:`_compare_exercise` with the cyclic garbage collector paused: the tokens, spans
    and dictionaries made here are hundreds of thousands of small objects without cycles
    (freed as usual by their reference counts), which made the collector run its full passes
    over and over: a fifth of the CPU time (bench/similarity.py)."""
    if not gc.isenabled():
        return _compare_exercise(aid, exercise, answers, sources, given_texts, stats, passed)
    gc.disable()
    try:
        return _compare_exercise(aid, exercise, answers, sources, given_texts, stats, passed)
    finally:
        gc.enable()


def _compare_exercise(aid: str, exercise: str, answers: dict, sources: dict, given_texts, stats=None,
                      passed=None) -> list[Match]:
    """Flagged matches of one exercise: `answers` {student: source}, `sources` {(kind, name):
    source}. See the module docstring. `stats`, a dict, gets the counts of fingerprints
    indexed and of the pairs of students examined; `passed`, the students whose answer
    passed all its test cells (their lengths set the shortest correct answer of rule 5)."""
    t0 = time.perf_counter()
    given = given_hashes(given_texts)
    names = list(answers) + list(sources)
    all_docs = fingerprint_many([answers[k] for k in answers] + [sources[k] for k in sources])
    _mark_given(all_docs, given)
    docs = dict(zip(names[:len(answers)], all_docs[:len(answers)]))
    refs = dict(zip(names[len(answers):], all_docs[len(answers):]))
    t_prints = time.perf_counter() - t0
    n = len(docs)
    rare_max = max(RARE_MIN, math.ceil(RARE_SHARE * n))
    holders = defaultdict(list)
    for st, d in docs.items():
        for h in d.prints:
            holders[h].append(st)
    # candidates: the pairs sharing a fingerprint that weighs at least SEED_WEIGHT. A pair
    # whose shared fingerprints all weigh less could only be flagged if all its distinctive
    # code were shared by a quarter of rare_max answers or more (a ring of identical
    # answers): such pairs are not examined, which keeps the work near-linear in the class
    least = min(MIN_SCORE, LONG_SCORE)
    candidates = set()
    for h, sts in holders.items():
        if len(sts) >= 2 and rarity(len(sts), rare_max, True) >= SEED_WEIGHT:
            for i, a in enumerate(sts):
                for b in sts[i + 1:]:
                    candidates.add((a, b))
    correct = set(passed or ())
    for key, d in refs.items():
        for h in d.prints:
            sts = holders.get(h, ())
            if sts and rarity(len(sts), rare_max, False) >= SEED_WEIGHT:
                candidates.update((st, key) for st in sts if not _variant_of_correct(st, key, correct))
    # each answer's fingerprints that are not common: a pair shares those of one side that
    # the other has (one set intersection each, in C)
    rare = {st: {h for h in d.prints if len(holders[h]) <= rare_max} for st, d in docs.items()}
    pairs = {}
    for a, b in candidates:
        pairs[(a, b)] = rare[a] & (refs[b].prints.keys() if isinstance(b, tuple) else rare[b])
    if stats is not None:
        stats["fingerprints"] = stats.get("fingerprints", 0) + len(holders)
        stats["pairs"] = stats.get("pairs", 0) + sum(not isinstance(b, tuple) for _, b in pairs)
        stats["seconds_fingerprinting"] = stats.get("seconds_fingerprinting", 0.0) + t_prints
    masses: dict = {}
    # rarity() by holder count, and of every indexed fingerprint, once per exercise
    by_count = {pair: [min(1.0, rarity(c, rare_max, pair)) for c in range(n + 2)] for pair in (True, False)}
    weigh = {pair: {h: rarity(len(sts), rare_max, pair) for h, sts in holders.items() if len(sts) <= rare_max}
             for pair in (True, False)}

    def mass(key, doc, pair: bool) -> float:
        """The weight of a document's distinctive code: its tokens, each weighing as its
        rarest fingerprint does (given code and code common in the class weigh nothing)."""
        got = masses.get((key, pair))
        if got is None:
            table = by_count[pair]
            got = masses[(key, pair)] = float(_covered(doc, {h: table[len(holders.get(h, ())) or 1]
                                                             for h in doc.prints}).sum())
        return got

    found = []
    for (a, b), shared in sorted(pairs.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        da = docs[a]
        db = refs[b] if isinstance(b, tuple) else docs[b]
        if len(shared) < 2:
            continue
        is_pair = not isinstance(b, tuple)
        # upper bounds first (each fingerprint covers at most K tokens): cheap, exact
        weight = weigh[is_pair]
        reach = K * sum(map(weight.__getitem__, shared))
        if reach < MIN_TOKENS:
            continue
        weights = {h: weight[h] for h in shared}
        if reach < MIN_TOKENS or reach < least * min(mass(a, da, is_pair), mass(b, db, is_pair)
                                                     if is_pair else mass(a, da, is_pair)):
            continue
        ma, mb = _covered(da, weights), _covered(db, weights)
        weighed = float(ma.sum())
        if weighed < MIN_TOKENS:
            continue
        sa = weighed / max(1.0, mass(a, da, is_pair))
        sb = float(mb.sum()) / max(1.0, mass(b, db, is_pair))
        score = max(sa, sb) if is_pair else sa
        if not ((weighed >= MIN_TOKENS and score >= MIN_SCORE) or (weighed >= LONG_TOKENS and score >= LONG_SCORE)):
            continue
        tokens = int((ma > 0).sum())
        ma, mb = ma > 0, mb > 0
        kind, other = b if isinstance(b, tuple) else ("student", b)
        fewest = min(len(holders[h]) for h in shared)
        found.append(Match(aid, exercise, a, kind, other, round(min(1.0, score), 3), tokens, round(min(1.0, sa), 3),
                           round(min(1.0, sb), 3), fewest, n, _marks(da, ma), _marks(db, mb), da.source, db.source))
    already = {(m.student, (m.kind, m.other)) for m in found if m.kind != "student"}
    found += _common_copies(aid, exercise, docs, refs, holders, given_texts, passed, already)
    found.sort(key=lambda m: (-m.score, KINDS.index(m.kind), m.student, m.other))
    return found


def _variant_of_correct(student, key, correct: set) -> bool:
    """A catalogue variant is a correct answer with one mistake in it. An answer that passed
    every test cell of the exercise does not carry the mistake, so what it shares with the
    variant is the correct part every right answer has (a compact Adam is a compact Adam):
    such pairs are not compared. A copy of the correct part is still found against the
    reference, the solution and the class."""
    return isinstance(key, tuple) and key[0] == "variant" and student in correct


# ----------------------------------------------------------------------------------------
# rule 5: copies of a source, however many students share them
# ----------------------------------------------------------------------------------------
def shortest_correct(docs: dict, refs: dict, passed) -> int:
    """Tokens of own code of the shortest correct answer known: the reference, the solution
    and the answers of `passed` students."""
    lengths = [d.own for (kind, _), d in refs.items() if kind in ("reference", "solution")]
    lengths += [docs[st].own for st in (passed or ()) if st in docs]
    return min(lengths) if lengths else 0


def _local_names(doc: Doc, mask: np.ndarray) -> set:
    return {doc.source[doc.spans[i][0]:doc.spans[i][1]] for i in np.flatnonzero(mask)
            if doc.tokens[i] == "V" and doc.spans[i] is not None}


_COMMENT = re.compile(r"#[ \t]*([^\n]*\S)")


def verbatim(student: Doc, smask: np.ndarray, source: Doc, omask: np.ndarray, given_texts) -> list[str]:
    """The source's own names (three letters or more, named nowhere in the given texts) and
    comments (VERBATIM_WORDS words or more, not in the given texts) that the student's
    answer keeps letter for letter, names within the matched code."""
    given = "\n".join(str(t) for t in given_texts)
    words = set(re.findall(r"[A-Za-z_]\w*", given))
    flat = " ".join(given.split())
    names = sorted(n for n in _local_names(student, smask) & _local_names(source, omask)
                   if len(n) >= 3 and n not in words)
    mine = {" ".join(c.split()) for c in _COMMENT.findall(student.source)}
    comments = sorted({" ".join(c.split()) for c in _COMMENT.findall(source.source)} & mine)
    comments = [c for c in comments if len(c.split()) >= VERBATIM_WORDS and c not in flat]
    return (names if len(names) >= VERBATIM_NAMES else []) + [f"# {c}" for c in comments]


def _common_copies(aid, exercise, docs, refs, holders, given_texts, passed, already) -> list[Match]:
    """Rule 5 of the module docstring: matches with a source weighed without the class's
    baseline, listed with the evidence that they are more than the answer everyone writes."""
    natural = shortest_correct(docs, refs, passed)
    counts: dict = defaultdict(int)
    for key, d in refs.items():
        for h in d.prints:
            for st in holders.get(h, ()):
                counts[(st, key)] += 1
    out = []
    correct = set(passed or ())
    for (st, key), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        da, db = docs[st], refs[key]
        if (st, key) in already or _variant_of_correct(st, key, correct) or c < 2 or K * c < max(MIN_TOKENS, MIN_SCORE * da.own):
            continue
        shared = da.prints.keys() & db.prints.keys()
        weights = dict.fromkeys(shared, 1.0)
        ma = _covered(da, weights)
        full = float(ma.sum())
        score = full / max(1.0, da.own)
        if full < MIN_TOKENS or score < MIN_SCORE:
            continue
        ma, mb = ma > 0, _covered(db, weights) > 0
        evidence = []
        if full - natural >= MIN_TOKENS:
            evidence.append(f"{full:.0f} tokens shared, {full - natural:.0f} beyond the shortest correct answer "
                            f"({natural} tokens)")
        kept = verbatim(da, ma, db, mb, given_texts)
        if kept:
            evidence.append("kept verbatim: " + ", ".join(kept))
        if not evidence:
            continue
        out.append(Match(aid, exercise, st, key[0], key[1], round(min(1.0, score), 3), int(ma.sum()),
                         round(min(1.0, score), 3), round(min(1.0, float(mb.sum()) / max(1, db.own)), 3),
                         min(len(holders[h]) for h in shared), len(docs), _marks(da, ma), _marks(db, mb),
                         da.source, db.source, "; ".join(evidence)))
    return out
