"""The student edition's sources: `tnn_lib` without the answers, the catalogue without its code.

:func:`stub_module` rewrites a `tnn_lib` module with :mod:`ast`:

* every exercise whose answer is not released keeps its signature (and its docstring, if no
  line of it is a line of a solution) and gets the body
  ``return _student.implementation("NAME")(args...)`` (:mod:`tnn_lib.student`): it runs on the
  student's own implementation once registered, and says which exercise to implement first
  until then. A class exercise (``ReduceLROnPlateau``) becomes a class whose construction
  returns an object of the student's registered class. Each stub carries
  ``__tnn_stub__ = "NAME"``;
* every near-twin of such an exercise (:data:`autograder.sandbox.twins.TWINS`: ``optim._adam``,
  ``layers.leaky_relu_backward``, …) is rewritten too: on the student's own implementation
  where the twin is a special case of it (:data:`TWIN_BODIES`), else as
  ``_student.near_twin("NAME", "EXERCISE")``;
* private helpers that nothing calls any more are dropped.

:func:`strip_catalogue` rewrites a module of ``autograder/catalogue``: every misconception
keeps its exercise, id, title, hint and composition flags (text), its ``impl`` becomes ``None``
(its ``factory`` the factory's name), and every
function only the implementations used is dropped. What a misconception's code computed is
recorded as data instead (:mod:`autograder.release.record`).
"""
from __future__ import annotations

import ast

STUDENT_IMPORT = "import tnn_lib.student as _student"

# Near-twins that are special cases of the student's own exercise: their edition bodies call it.
# (A twin not listed here raises NotImplementedYet naming its exercise, unless something
# registers an implementation under the twin's own name.)
TWIN_BODIES = {
    "_adam": '''
if eps_inside or multiplier is not None or not bias_correction:
    raise _student.NotImplementedYet("adamw_step" if decoupled else "adam_step")
name = "adamw_step" if decoupled else "adam_step"
return _student.implementation(name)(w, dw, state, lr, beta1, beta2, eps, weight_decay)
''',
    "_rmsprop": '''
if eps_inside:
    raise _student.NotImplementedYet("rmsprop_step")
return _student.implementation("rmsprop_step")(w, dw, state, lr, alpha, eps)
''',
    "leaky_relu_backward": '''
z, slope = cache
dz = _student.implementation("relu_backward")(dout, z)    # dout where z > 0, else 0
return dz + slope * (dout - dz)
''',
    "log_softmax": '''
return np.log(_student.implementation("softmax")(z))
''',
}


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def safe_docstring(doc: str | None, secrets) -> str | None:
    """`doc` if none of its lines is a line of a solution region (`secrets`), else None."""
    if not doc:
        return None
    lines = {ln.strip() for ln in doc.splitlines()}
    return None if lines & set(secrets or ()) else doc


def _call_args(args: ast.arguments) -> str:
    parts = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        parts.append("*" + args.vararg.arg)
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg:
        parts.append("**" + args.kwarg.arg)
    return ", ".join(parts)


def _function_stub(node, body_src: str, doc) -> list:
    new = ast.parse(body_src).body
    node.body = ([ast.Expr(ast.Constant(doc))] if doc else []) + new
    tag = ast.parse(f"{node.name}.__tnn_stub__ = {node.name!r}").body
    return [node] + tag


def _class_stub(node, exercise: str, doc) -> list:
    src = (f"class {node.name}:\n"
           f"    __tnn_stub__ = {exercise!r}\n\n"
           f"    def __new__(cls, *args, **kwargs):\n"
           f"        return _student.implementation({exercise!r})(*args, **kwargs)\n")
    stub = ast.parse(src).body[0]
    if doc:
        stub.body.insert(0, ast.Expr(ast.Constant(doc)))
    return [stub]


def stub_module(source: str, exercises: set[str], twins: dict[str, str], secrets=()) -> str:
    """`source` (a `tnn_lib` module) with the top-level `exercises` stubbed and the `twins`
    ({name: the exercise it reproduces}) rewritten; unused private helpers dropped."""
    tree = ast.parse(source)
    body, changed = [], False
    for node in tree.body:
        name = getattr(node, "name", None)
        doc = safe_docstring(ast.get_docstring(node), secrets) if name else None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in exercises:
            body += _function_stub(node, f"return _student.implementation({name!r})({_call_args(node.args)})", doc)
            changed = True
        elif isinstance(node, ast.ClassDef) and name in exercises:
            body += _class_stub(node, name, doc)
            changed = True
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in twins:
            src = TWIN_BODIES.get(name) or \
                f"return _student.near_twin({name!r}, {twins[name]!r})({_call_args(node.args)})"
            a = node.args
            if not (a.kwonlyargs or a.kwarg or a.vararg):   # a recorded call of the twin first
                src = (f"found, result = _student.replayed({name!r}, {twins[name]!r}, "
                       f"({''.join(x.arg + ', ' for x in a.posonlyargs + a.args)}))\n"
                       f"if found:\n    return result\n") + src.lstrip("\n")
            body += _function_stub(node, src, doc)
            changed = True
        else:
            body.append(node)
    if not changed:
        return source
    tree.body = _drop_unused_private(body)
    _add_import(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _add_import(tree) -> None:
    at = 0
    for i, node in enumerate(tree.body):
        if _is_docstring(node) and i == 0 or isinstance(node, ast.ImportFrom) and node.module == "__future__":
            at = i + 1
    tree.body.insert(at, ast.parse(STUDENT_IMPORT).body[0])


def _names_used(nodes) -> set[str]:
    used = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                used.add(n.id)
            elif isinstance(n, ast.Attribute):
                used.add(n.attr)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                used.add(n.value)   # names in __all__, getattr(module, "name")
    return used


def _drop_unused_private(body: list, keep_public: bool = True) -> list:
    """Drop top-level private functions (``_name``) that no other statement uses (repeat until
    nothing changes): helpers that only the removed bodies called."""
    while True:
        defs = {n.name: n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        drop = set()
        for name, node in defs.items():
            if not name.startswith("_") or name.startswith("__"):
                continue
            others = [n for n in body if n is not node]
            if name not in _names_used(others):
                drop.add(name)
        if not drop:
            return body
        body = [n for n in body if getattr(n, "name", None) not in drop]


# ----------------------------------------------------------------------------------------
# the catalogue
# ----------------------------------------------------------------------------------------
def strip_catalogue(source: str) -> str:
    """A catalogue module without the code of its misconceptions: ``impl=None`` in every
    ``Misconception(...)`` (or its alias), and the functions nothing else uses dropped."""
    tree = ast.parse(source)
    aliases = {"Misconception"}
    for node in tree.body:   # _M = Misconception
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            aliases.update(t.id for t in node.targets if isinstance(t, ast.Name))

    class Strip(ast.NodeTransformer):
        def visit_Call(self, call):
            self.generic_visit(call)
            if isinstance(call.func, ast.Name) and call.func.id in aliases:
                # impl -> None; factory -> "<its name>", text that keeps no code alive (pairs are
                # derived from the factories' names and the flags: autograder.catalogue._factory_name)
                call.keywords = [ast.keyword("impl", ast.Constant(None)) if k.arg == "impl" else
                                 ast.keyword("factory", ast.Constant(f"<{ast.unparse(k.value)}>"))
                                 if k.arg == "factory" else k for k in call.keywords]
                if len(call.args) >= 5:
                    call.args[4] = ast.Constant(None)
            return call

    tree = Strip().visit(tree)
    body = tree.body
    while True:   # drop every top-level function or class no remaining statement uses
        defs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        drop = {n.name for n in defs if n.name not in _names_used([o for o in body if o is not n])}
        if not drop:
            break
        body = [n for n in body if getattr(n, "name", None) not in drop]
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
