"""The student's own implementations, where the student edition holds no answer.

In the instructor's repository every exercise of `tnn_lib` is the reference, and nothing
here is consulted. In the student edition (``tnn-course release --student-edition``) the
body of every exercise whose answer is not released is replaced by a stub that calls
:func:`implementation`:

    def adam_step(w, dw, config=None):
        return _student.implementation("adam_step")(w, dw, config)

so that the lessons, the `tnn_lib` classes (``BatchNorm1d``, the optimizer classes,
training) and the widgets run on the student's own code once it exists. A notebook's
visible check registers the student's function (:func:`register`) when it passes; until
then :func:`implementation` raises :class:`NotImplementedYet`, whose message names the
exercise to implement first and where, never a traceback from inside `tnn_lib`.

The registry lives in the kernel's memory only: a restarted kernel starts empty, and Run All
registers again as the checks pass.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from typing import Callable

# True in the student edition (the release rewrites this line); False in the repository.
EDITION = False

_REGISTERED: dict[str, Callable] = {}


class NotImplementedYet(NotImplementedError):
    """An exercise the student has not implemented (or whose visible check has not passed
    yet) was needed by a lesson, a `tnn_lib` class or a widget."""

    def __init__(self, name: str):
        self.exercise = name
        super().__init__(f"implement `{name}` first ({home(name)}); this needs it, and it runs on "
                         f"your own `{name}` once its visible check passes")

    def _render_traceback_(self):
        # IPython shows an exception with this method as the lines it returns: one line,
        # never a traceback through the stub and tnn_lib
        return wrap([f"{_HEAD}{self}"])


_HEAD = "\x1b[1;33m… not answered yet:\x1b[0m "
WIDTH = 96   # JupyterLab breaks output lines anywhere, mid-word too (`word-break: break-all`)


def wrap(lines, width: int = WIDTH) -> list:
    """`lines` broken at spaces into lines of at most `width` characters (a word longer than
    that stays whole), continuations indented by two spaces: a notebook shows them without
    breaking a word in any window at least that wide. A coloured head (``\x1b[…m…\x1b[0m``)
    at the start of a line keeps its colour; colour codes are not counted."""
    import re  # keeps start-up light (see AUTHORING.md)
    import textwrap  # keeps start-up light (see AUTHORING.md)

    ansi = re.compile(r"\x1b\[[0-9;]*m")
    out = []
    for line in lines:
        plain = ansi.sub("", line)
        if len(plain) <= width or plain.startswith(" "):
            out.append(line)
            continue
        head = re.match(r"(\x1b\[[0-9;]*m)([^\x1b]*)(\x1b\[0m)", line)
        pieces = textwrap.wrap(plain, width=width, subsequent_indent="  ", break_long_words=False,
                               break_on_hyphens=False) or [line]
        if head and pieces[0].startswith(head.group(2)):
            pieces[0] = head.group(0) + pieces[0][len(head.group(2)):]
        out.extend(pieces)
    return out


def home(name: str) -> str:
    """Where exercise `name` is written: the notebook (and section, where known)."""
    from tnn_lib.topics import TOPICS  # keeps start-up light (see AUTHORING.md)

    for topic in TOPICS:
        if name in topic.exercises:
            section = SECTIONS.get(name)
            return f"notebook {topic.id}" + (f", {section}" if section else "")
    return "its notebook"


# exercise -> the section of its notebook where the student writes it (the "## n. Title"
# heading above its answer cell; tests/test_student.py checks them against solutions/)
SECTIONS: dict[str, str] = {
    "linear_forward": "section 1. A single unit",
    "linear_backward": "section 1. A single unit",
    "relu_backward": "section 3. Activation functions and their derivatives",
    "sigmoid_backward": "section 3. Activation functions and their derivatives",
    "tanh_backward": "section 3. Activation functions and their derivatives",
    "numerical_gradient": "section 5. Checking gradients numerically",
    "l2_divergence": "section 2. L2 and KL",
    "l2_divergence_grad": "section 2. L2 and KL",
    "kl_divergence": "section 2. L2 and KL",
    "kl_divergence_grad": "section 2. L2 and KL",
    "softmax": "section 5. Softmax, and why the gradient with respect to z is just y − d",
    "softmax_kl": "section 5. Softmax, and why the gradient with respect to z is just y − d",
    "sigmoid_bce": "section 6. Binary outputs: sigmoid + binary cross-entropy from logits",
    "batchnorm_forward": "section 2. Batch norm: the forward pass",
    "batchnorm_jacobian": "section 4. The derivative, step by step",
    "batchnorm_backward": "section 4. The derivative, step by step",
    "population_statistics": "section 5. Inference: the statistics of the converged network",
    "layernorm_forward": "section 6. Layer norm",
    "layernorm_backward": "section 6. Layer norm",
    "weightnorm_backward": "section 7. Weight normalisation",
    "dropout_forward": "section 2. Two conventions: scale at test, or scale in training",
    "dropout_backward": "section 3. Backward through the mask",
    "scale_weights_for_test": "section 4. Testing: the expected network",
    "mc_dropout_predict": "section 5. Monte-Carlo dropout",
    "init_weights": "section 2. How the scale of the weights travels through the layers",
    "activation_statistics": "section 2. How the scale of the weights travels through the layers",
    "sgd_step": "section 1. Batch, stochastic and minibatch gradient descent",
    "momentum_step": "section 2. Momentum",
    "nesterov_step": "section 3. Nesterov's accelerated gradient",
    "adagrad_step": "section 5. Adagrad: every coordinate its own, shrinking learning rate",
    "rmsprop_step": "section 6. RMSprop: a leaky average of squared gradients",
    "adam_step": "section 7. Adam: RMSprop with momentum, and bias correction",
    "adamw_step": "section 8. L2 regularization vs weight decay: Adam + L2 vs AdamW",
    "l2_penalty": "section 3. The L2 penalty is weight decay",
    "l1_penalty": "section 4. The L1 penalty and sparsity",
    "early_stopping_epoch": "section 5. Early stopping",
    "clip_grad_value": "section 6. Gradient clipping",
    "clip_grad_norm": "section 6. Gradient clipping",
    "standardize": "section 9. Input normalization, PCA and whitening",
    "train_epoch": "section 3. One epoch",
    "evaluate": "section 4. Evaluation",
    "gradient_norms": "section 7. Diagnosing a run",
    "dead_relu_fraction": "section 7. Diagnosing a run",
    "ema_update": "section 8. Averaging: checkpoints and seeds",
    "ensemble_predict": "section 8. Averaging: checkpoints and seeds",
    "ReduceLROnPlateau": "section 2. Fix the rate until the error plateaus, then divide by 10",
    "cosine_annealing": "section 3. Warm-up and cosine annealing",
    "linear_warmup": "section 3. Warm-up and cosine annealing",
    "rprop_step": "section 4. Rprop",
    "quickprop_step": "section 5. QuickProp",
    "max_stable_lr": "section 7. The largest stable learning rate",
}


def register(name: str, fn: Callable) -> None:
    """Use `fn`, the student's own implementation of exercise `name`, wherever the edition
    has a stub for it."""
    if not callable(fn):
        raise ValueError(f"register({name!r}, fn): expected a function, got {type(fn).__name__}")
    _REGISTERED[name] = fn
    _changed()


def registered(name: str) -> Callable | None:
    """The student's registered implementation of `name`, or None."""
    return _REGISTERED.get(name)


def implementation(name: str) -> Callable:
    """The student's registered implementation of exercise `name`; raises
    :class:`NotImplementedYet` when there is none yet.

    In the edition, where the release recorded calls of `name` (the visible checks' and
    test cells' own calls of the reference, :mod:`tnn_lib.recorded`), what it returns first
    replays the recorded call whose arguments these are, so that a check gives the same
    message as in the repository; other arguments go to the registered implementation."""
    fn = _REGISTERED.get(name)
    if EDITION and (name in _CHECKING or _recorded_calls(name)):
        return _Replaying(name, fn)
    if fn is None:
        raise NotImplementedYet(name)
    if _TRACKERS:
        _TRACKERS[-1].add(name)
    return fn


def near_twin(twin: str, exercise: str) -> Callable:
    """In the edition, a `tnn_lib` function that would reproduce `exercise`'s answer (a
    near-twin, such as ``forward_activations`` for ``activation_statistics``): what is
    registered under the twin's own name, else a recorded call, else :class:`NotImplementedYet`
    naming `exercise`."""
    fn = _REGISTERED.get(twin)
    if EDITION and (_recorded_calls(twin) or exercise in _CHECKING):
        return _Replaying(twin, fn, exercise)
    if fn is None:
        raise NotImplementedYet(exercise)
    return fn


def replayed(twin: str, exercise: str, args: tuple):
    """In the edition: (True, result) of a recorded call of near-twin `twin` with these
    arguments, else (False, None); raises :class:`OwnReference` while `exercise` is checked."""
    if not EDITION:
        return False, None
    if exercise in _CHECKING or twin in _CHECKING:
        raise OwnReference(f"the reference of {exercise} is not in the student edition")
    if not _recorded_calls(twin):
        return False, None
    from tnn_lib.recorded import STORE  # slow import (see AUTHORING.md)
    return STORE.replay(twin, args)


class OwnReference(RuntimeError):
    """A check's answer called the edition's stub of the very exercise it is checked for."""


# exercises whose visible check is running (autograder.checks): their stubs replay nothing
_CHECKING: list = []


def _recorded_calls(name: str) -> bool:
    try:
        from tnn_lib.recorded import STORE  # slow import (see AUTHORING.md)
    except ImportError:
        return False
    return bool(STORE.calls(name))


class _Replaying:
    def __init__(self, name, fn, exercise=None):
        self.name, self.fn, self.exercise = name, fn, exercise or name

    def __call__(self, *args, **kwargs):
        if self.exercise in _CHECKING or self.name in _CHECKING:
            raise OwnReference(f"the reference of {self.exercise} is not in the student edition")
        # outside a running check, the student's own implementation comes first (a lesson runs
        # on it, and says so); the recorded calls serve the checks, and the test cells' calls
        # of exercises the student has not registered here
        if not _CHECKING and self.fn is not None:
            return self._own(*args, **kwargs)
        if not kwargs:
            from tnn_lib.recorded import STORE  # slow import (see AUTHORING.md)
            found, result = STORE.replay(self.name, args)
            if found:
                return result
        if self.fn is None:
            raise NotImplementedYet(self.exercise)
        return self._own(*args, **kwargs)

    def _own(self, *args, **kwargs):
        if _TRACKERS:
            _TRACKERS[-1].add(self.name)
        return self.fn(*args, **kwargs)


def forget(name: str | None = None) -> None:
    """Drop the registration of `name` (of every exercise when None)."""
    if name is None:
        _REGISTERED.clear()
    else:
        _REGISTERED.pop(name, None)
    _changed()


# ----------------------------------------------------------------------------------------
# saying on screen what ran on the student's code
# ----------------------------------------------------------------------------------------
_TRACKERS: list[set] = []      # innermost last: the names :func:`implementation` handed out
_GENERATION = [0]              # bumped whenever the registry changes
_CACHES: list = []             # the caches of :func:`cached`, cleared when it changes


def _changed() -> None:
    _GENERATION[0] += 1
    for clear in _CACHES:
        clear()


@contextlib.contextmanager
def tracking(isolated: bool = False):
    """Collect, in the set it yields, the exercises whose student implementation ran (was
    handed out by :func:`implementation`) inside the block. What an inner block collects
    also counts for the enclosing one unless `isolated`."""
    used: set = set()
    _TRACKERS.append(used)
    try:
        yield used
    finally:
        _TRACKERS.pop()
        if _TRACKERS and not isolated:
            _TRACKERS[-1].update(used)


def cached(maxsize: int = 128):
    """``functools.lru_cache`` for a function that may run exercises (a widget's trajectory,
    a trained run): a result computed on the student's implementations is dropped when the
    registry changes, and a cached result still counts as driven by them (:func:`tracking`)."""
    def decorate(fn):
        @functools.lru_cache(maxsize=maxsize)
        def inner(_generation, *args, **kwargs):
            with tracking(isolated=True) as used:
                out = fn(*args, **kwargs)
            return out, frozenset(used)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            out, used = inner(_GENERATION[0], *args, **kwargs)
            if _TRACKERS:
                _TRACKERS[-1].update(used)
            return out

        wrapper.cache_clear, wrapper.cache_info = inner.cache_clear, inner.cache_info
        _CACHES.append(inner.cache_clear)
        return wrapper
    return decorate


def driven_by(names) -> str:
    """``driven by your `adam_step` `` (or ``""`` when `names` is empty)."""
    names = sorted(names)
    if not names:
        return ""
    return "driven by your " + ", ".join(f"`{n}`" for n in names)


def exercises() -> set:
    """The names of every exercise of the course."""
    from tnn_lib.topics import TOPICS  # keeps start-up light (see AUTHORING.md)
    return {name for topic in TOPICS for name in topic.exercises}


def needed_first(err: BaseException) -> str | None:
    """The one line a lesson cell, a class or a widget shows for `err` when it is an
    unanswered exercise: :class:`NotImplementedYet`, or the plain ``NotImplementedError``
    of an answer cell not answered yet (``raise NotImplementedError()`` in a function named
    after an exercise, the innermost frame of the traceback). None for any other error."""
    if isinstance(err, NotImplementedYet):
        return str(err)
    if not isinstance(err, NotImplementedError):
        return None
    tb, name = err.__traceback__, None
    while tb is not None:
        name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    if name not in exercises():
        return None
    return (f"implement `{name}` first ({home(name)}): this cell needs it, and your `{name}` "
            "still raises NotImplementedError")


def _show_unanswered(shell, etype, value, tb, tb_offset=None):
    """IPython's handler of NotImplementedError in a notebook (``set_custom_exc``): one line
    for an unanswered exercise (see :func:`needed_first`), shown as the cell's error output;
    anything else as IPython shows it (an exception's own ``_render_traceback_`` included)."""
    line = None if hasattr(value, "_render_traceback_") else needed_first(value)
    return _show_line(shell, (etype, value, tb), tb_offset, line)


def _show_line(shell, exc_info, tb_offset, line):
    """`line` as the cell's error output (one "… not answered yet" box), or, when None, the
    error as IPython shows it."""
    if line is None:
        shell.showtraceback(exc_info, tb_offset=tb_offset)
        return None
    stb = wrap([f"{_HEAD}{line}"])
    shell._showtraceback(exc_info[0], exc_info[1], stb)
    return stb


def _assigned_names(source: str) -> set:
    """The names a cell's code assigns at its top level (assignments, for-loop targets, `def`,
    `class`, imports), never those local to a function it defines. Empty when it is not
    Python (a magic, a syntax error)."""
    import ast  # keeps start-up light (see AUTHORING.md)

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


# name -> the one line of the unanswered exercise that stopped the cell meant to assign it:
# a later cell that uses the name says that line, not "NameError"
_MISSING: dict[str, str] = {}


def _show_missing_name(shell, etype, value, tb, tb_offset=None):
    """A NameError for a name an earlier cell would have assigned had an exercise it needs been
    answered: the earlier cell's one line. Any other NameError as IPython shows it."""
    line = _MISSING.get(getattr(value, "name", None) or "")
    if line is not None:
        line += f" (an earlier cell that makes `{value.name}` needs it)"
    return _show_line(shell, (etype, value, tb), tb_offset, line)


def _show_error(shell, etype, value, tb, tb_offset=None):
    if isinstance(value, NameError):
        return _show_missing_name(shell, etype, value, tb, tb_offset)
    return _show_unanswered(shell, etype, value, tb, tb_offset)


def _remember_missing(result) -> None:
    """After a cell stopped at an unanswered exercise (or at a name such a cell did not
    make), the names it would have assigned are missing for that reason."""
    err = getattr(result, "error_in_exec", None)
    if err is None:
        return
    line = needed_first(err) if isinstance(err, NotImplementedError) else (
        _MISSING.get(getattr(err, "name", None) or "") if isinstance(err, NameError) else None)
    if line is None:
        return
    source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
    for name in _assigned_names(source):
        _MISSING[name] = line


def _cell_started(*_args) -> None:
    _CELL[:] = [set()]
    _TRACKERS[:] = [_CELL[0]]


def _cell_ended(result=None) -> None:
    used = _CELL[0] if _CELL else set()
    _CELL[:] = []
    _TRACKERS[:] = []
    _remember_missing(result)
    if used and getattr(result, "success", False):
        print(f"↳ this cell ran on your own code: {driven_by(used)}")


_CELL: list = []


def install_notebook_hooks(shell=None) -> bool:
    """In an IPython kernel: show an unanswered exercise a cell needs as one line (instead of a
    traceback), and end a cell that ran on the student's registered code with the line
    "↳ this cell ran on your own code: driven by your `…`". Idempotent; False outside IPython."""
    if shell is None:
        if "IPython" not in sys.modules:
            return False
        try:
            from IPython import get_ipython  # slow import (see AUTHORING.md)
            shell = get_ipython()
        except Exception:  # noqa: BLE001
            return False
    if shell is None or not hasattr(shell, "set_custom_exc") or getattr(shell, "_tnn_student_hooks", False):
        return False if shell is None or not hasattr(shell, "set_custom_exc") else True
    shell.set_custom_exc((NotImplementedError, NameError), _show_error)
    if hasattr(shell, "events"):
        shell.events.register("pre_run_cell", _cell_started)
        shell.events.register("post_run_cell", _cell_ended)
    shell._tnn_student_hooks = True
    return True
