"""A corpus for the similarity tests: independently written answers to four exercises (loops,
vectorised code, different orders of steps), and the planted copies made from the course's
own reference, solution and classmates by :func:`rename`, :func:`reorder` and :func:`half`.

Every honest answer here was written on its own from the exercise's docstring; groups marked
*natural* are the short answer most students write (the baseline: common, so never flagged).
"""
from __future__ import annotations

import ast
import io
import keyword
import tokenize

HONEST = {
    ("02_batchnorm", "batchnorm_forward"): {
        # follows the docstring's hints line by line
        "bn_hints": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    mu = np.mean(z, axis=0)
    var = np.mean((z - mu) ** 2, axis=0)
    z_hat = (z - mu) / np.sqrt(var + eps)
    out = gamma * z_hat + beta
    return out, (z, z_hat, mu, var, gamma, eps)
''',
        "bn_loops": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    N, D = z.shape
    mu = np.zeros(D)
    var = np.zeros(D)
    for d in range(D):
        col = z[:, d]
        mu[d] = col.sum() / N
        var[d] = ((col - mu[d]) ** 2).sum() / N
    z_hat = np.empty_like(z)
    for d in range(D):
        z_hat[:, d] = (z[:, d] - mu[d]) / np.sqrt(var[d] + eps)
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)
''',
        "bn_centred": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    n = z.shape[0]
    centred = z - z.sum(axis=0) / n
    var = (centred * centred).sum(axis=0) / n
    inv_std = 1.0 / np.sqrt(var + eps)
    z_hat = centred * inv_std
    mu = z.mean(axis=0)
    return z_hat * gamma + beta, (z, z_hat, mu, var, gamma, eps)
''',
        "bn_keepdims": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    mean = z.mean(axis=0, keepdims=True)
    variance = z.var(axis=0, keepdims=True)
    std = np.sqrt(variance + eps)
    normed = (z - mean) / std
    result = normed * gamma[None, :] + beta[None, :]
    cache = (z, normed, mean.ravel(), variance.ravel(), gamma, eps)
    return result, cache
''',
        "bn_matmul": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    N = len(z)
    ones = np.ones(N) / N
    mu = ones @ z
    diff = z - mu
    var = ones @ (diff ** 2)
    zh = diff / (var + eps) ** 0.5
    return np.add(np.multiply(zh, gamma), beta), (z, zh, mu, var, gamma, eps)
''',
        "bn_rows": '''def batchnorm_forward(z, gamma, beta, eps=1e-5):
    rows = [r for r in z]
    mu = sum(rows) / len(rows)
    var = sum((r - mu) ** 2 for r in rows) / len(rows)
    denom = np.sqrt(var + eps)
    z_hat = np.array([(r - mu) / denom for r in rows])
    out = z_hat * gamma + beta
    return out, (z, z_hat, mu, var, gamma, eps)
''',
    },
    ("01_divergences", "softmax"): {
        "sm_loops": '''def softmax(z):
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        m = z.max()
        e = np.exp(z - m)
        return e / e.sum()
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        row = z[i] - z[i].max()
        w = np.exp(row)
        out[i] = w / w.sum()
    return out
''',
        "sm_logsumexp": '''def softmax(z):
    top = z.max(axis=-1)[..., None]
    log_norm = top + np.log(np.exp(z - top).sum(axis=-1))[..., None]
    return np.exp(z - log_norm)
''',
        "sm_amax": '''def softmax(z):
    c = np.amax(z, axis=z.ndim - 1, keepdims=True)
    numer = np.exp(z - c)
    denom = numer.sum(axis=z.ndim - 1, keepdims=True)
    probs = numer / denom
    return probs
''',
        "sm_python": '''def softmax(z):
    import math

    def one(v):
        v = v - max(v)
        t = [math.exp(a) for a in v]
        s = sum(t)
        return np.array([a / s for a in t])
    return np.apply_along_axis(one, -1, z)
''',
        # natural: the two lines most students write (the solution's too)
        "sm_natural_1": '''def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''',
        "sm_natural_2": '''def softmax(z):
    exps = np.exp(z - z.max(axis=-1, keepdims=True))   # stable
    return exps / exps.sum(axis=-1, keepdims=True)
''',
        "sm_natural_3": '''def softmax(z):
    ez = np.exp(z - z.max(axis = -1, keepdims = True))
    return ez / ez.sum(axis = -1, keepdims = True)
''',
        "sm_natural_4": '''def softmax(z):
    a = np.exp(z - z.max(axis=-1, keepdims=True))

    return a / a.sum(axis=-1, keepdims=True)
''',
    },
    ("01_divergences", "softmax_kl"): {
        "sk_where": '''def softmax_kl(z, d):
    N = len(z)
    m = np.max(z, axis=1)[:, None]
    logsum = m + np.log(np.sum(np.exp(z - m), axis=1))[:, None]
    log_y = z - logsum
    y = np.exp(log_y)
    safe = np.where(d > 0, d, 1.0)
    loss = np.sum(d * (np.log(safe) - log_y)) / N
    return float(loss), (y - d) / N
''',
        "sk_loops": '''def softmax_kl(z, d):
    total = 0.0
    grad = np.zeros_like(z)
    for n in range(z.shape[0]):
        row = z[n] - z[n].max()
        p = np.exp(row) / np.exp(row).sum()
        for i in range(z.shape[1]):
            if d[n, i] > 0:
                total += d[n, i] * np.log(d[n, i] / p[i])
        grad[n] = p - d[n]
    return total / z.shape[0], grad / z.shape[0]
''',
        "sk_entropy": '''def softmax_kl(z, d):
    zs = z - z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(zs).sum(axis=-1, keepdims=True))
    y = np.exp(zs - lse)
    ent = np.sum(d * np.log(d, out=np.zeros_like(d), where=d > 0))
    cross = -np.sum(d * (zs - lse))
    n = z.shape[0]
    return float((ent + cross) / n), (y - d) / n
''',
        "sk_mask": '''def softmax_kl(z, d):
    B = z.shape[0]
    top = z.max(axis=1, keepdims=True)
    probs = np.exp(z - top)
    probs /= probs.sum(axis=1, keepdims=True)
    mask = d > 0
    kl = (d[mask] * np.log(d[mask] / probs[mask])).sum() / B
    dz = (probs - d) / B
    return kl, dz
''',
    },
    ("06_regularization", "clip_grad_norm"): {
        "cg_loop": '''def clip_grad_norm(grads, max_norm):
    sq = 0.0
    for name in grads:
        sq += float((grads[name] ** 2).sum())
    total = sq ** 0.5
    factor = max_norm / (total + 1e-6)
    if factor < 1:
        for name in grads:
            grads[name] *= factor
    return total
''',
        "cg_vdot": '''def clip_grad_norm(grads, max_norm):
    arrays = list(grads.values())
    total = np.sqrt(np.sum([np.vdot(a, a) for a in arrays]))
    scale = min(1.0, max_norm / (total + 1e-6))
    for a in arrays:
        np.multiply(a, scale, out=a)
    return float(total)
''',
        "cg_concat": '''def clip_grad_norm(grads, max_norm):
    flat = np.concatenate([g.ravel() for g in grads.values()])
    total = float(np.linalg.norm(flat))
    ratio = max_norm / (total + 1e-6)
    if ratio < 1:
        for key in grads:
            grads[key][...] = grads[key] * ratio
    return total
''',
        "cg_norms": '''def clip_grad_norm(grads, max_norm):
    norms = {k: np.linalg.norm(v) for k, v in grads.items()}
    total = float(np.sqrt(sum(n * n for n in norms.values())))
    c = max_norm / (total + 1e-6)
    c = c if c < 1 else 1.0
    for v in grads.values():
        v *= c
    return total
''',
        "cg_while": '''def clip_grad_norm(grads, max_norm):
    total_sq = 0.0
    keys = sorted(grads)
    i = 0
    while i < len(keys):
        g = grads[keys[i]]
        total_sq = total_sq + np.sum(np.square(g))
        i += 1
    norm = np.sqrt(total_sq)
    clip = np.minimum(1.0, max_norm / (norm + 1e-6))
    for k in keys:
        grads[k] *= clip
    return float(norm)
''',
        # natural: the docstring's two formulas, as most students write them
        "cg_natural_1": '''def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    for g in grads.values():
        g *= min(1.0, max_norm / (total + 1e-6))
    return total
''',
        "cg_natural_2": '''def clip_grad_norm(grads, max_norm):
    total = np.sqrt(sum(np.sum(v ** 2) for v in grads.values()))
    coef = min(1, max_norm / (total + 1e-6))
    for v in grads.values():
        v *= coef
    return total
''',
        "cg_natural_3": '''def clip_grad_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(a * a) for a in grads.values()))
    for a in grads.values():
        a *= min(1.0, max_norm / (norm + 1e-6))
    return norm
''',
        "cg_short": '''def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
    if max_norm < total + 1e-6:
        for g in grads.values():
            g *= max_norm / (total + 1e-6)
    return total
''',
    },
    ("00_backprop", "numerical_gradient"): {
        "ng_flat": '''def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        keep = flat_x[i]
        flat_x[i] = keep + h
        up = f(x)
        flat_x[i] = keep - h
        down = f(x)
        flat_x[i] = keep
        flat_g[i] = (up - down) / (2 * h)
    return grad
''',
        "ng_ndindex": '''def numerical_gradient(f, x, h=1e-5):
    g = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        orig = x[idx]
        x[idx] = orig - h
        fm = f(x)
        x[idx] = orig + h
        fp = f(x)
        x[idx] = orig
        g[idx] = (fp - fm) / (h + h)
    return g
''',
        "ng_unit": '''def numerical_gradient(f, x, h=1e-5):
    out = np.zeros(x.shape, dtype=float)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        out.flat[k] = (f(x + e) - f(x - e)) / (2.0 * h)
    return out
''',
        "ng_unravel": '''def numerical_gradient(f, x, h=1e-5):
    result = np.zeros_like(x, dtype=np.float64)
    n = 0
    while n < x.size:
        pos = np.unravel_index(n, x.shape)
        saved = x[pos]
        try:
            x[pos] = saved + h
            a = float(f(x))
            x[pos] = saved - h
            b = float(f(x))
        finally:
            x[pos] = saved
        result[pos] = 0.5 * (a - b) / h
        n += 1
    return result
''',
        "ng_product": '''def numerical_gradient(f, x, h=1e-5):
    import itertools
    grad = np.zeros_like(x)
    for index in itertools.product(*[range(s) for s in x.shape]):
        value = x[index]
        x[index] = value + h
        plus = f(x)
        x[index] = value - h
        minus = f(x)
        grad[index] = (plus - minus) / 2 / h
        x[index] = value
    return grad
''',
        # natural: the loop over np.ndindex most students write (a catalogue variant's too)
        "ng_natural_1": '''def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xi = x[i]
        x[i] = xi + h
        fp = f(x)
        x[i] = xi - h
        fm = f(x)
        x[i] = xi
        grad[i] = (fp - fm) / (2 * h)
    return grad
''',
        "ng_natural_2": '''def numerical_gradient(f, x, h=1e-5):
    dx = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        tmp = x[ix]
        x[ix] = tmp + h
        f1 = f(x)
        x[ix] = tmp - h
        f2 = f(x)
        x[ix] = tmp
        dx[ix] = (f1 - f2) / (2 * h)
    return dx
''',
        "ng_natural_3": '''def numerical_gradient(f, x, h=1e-5):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        v = x[idx]
        x[idx] = v + h   # forward
        a = f(x)
        x[idx] = v - h   # backward
        b = f(x)
        x[idx] = v
        g[idx] = (a - b) / (2.0 * h)
    return g
''',
        "ng_steps": '''def numerical_gradient(f, x, h=1e-5):
    base = x.copy()
    grads = []
    for i in range(base.size):
        step = np.zeros_like(base)
        step.flat[i] = h
        x[...] = base + step
        hi = f(x)
        x[...] = base - step
        lo = f(x)
        grads.append((hi - lo) / (2 * h))
    x[...] = base
    return np.array(grads).reshape(base.shape)
''',
    },
}


def first_function(source: str) -> str:
    """The first top-level function of `source` (the reference's own, without its helpers)."""
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    return "\n".join(source.splitlines()[fn.lineno - 1:fn.end_lineno]) + "\n"


def _locals(source: str) -> list[str]:
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    names = [a.arg for a in fn.args.args]
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in names:
            names.append(n.id)
    return names


def rename(source: str, prefix: str = "q") -> str:
    """`source` with every parameter and local variable renamed (attributes, keyword
    arguments and the function's name kept): what a copier does first."""
    mapping = {name: f"{prefix}{i}_{name[::-1]}" for i, name in enumerate(_locals(source))}
    lines = source.splitlines(keepends=True)
    toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits = []
    for i, t in enumerate(toks):
        if t.type != tokenize.NAME or t.string not in mapping or keyword.iskeyword(t.string):
            continue
        prev = toks[i - 1].string if i else ""
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if prev == "." or (nxt == "=" and _in_call(toks, i)):
            continue
        edits.append((t.start, t.end, mapping[t.string]))
    for (r0, c0), (_, c1), new in sorted(edits, reverse=True):
        ln = lines[r0 - 1]
        lines[r0 - 1] = ln[:c0] + new + ln[c1:]
    return "".join(lines)


def _in_call(toks, i) -> bool:
    depth = 0
    for t in reversed(toks[:i]):
        if t.string in ")]}":
            depth += 1
        elif t.string in "([{":
            if depth == 0:
                return t.string == "(" and not any(x.string == "def" for x in toks[:i] if x.start[0] == t.start[0])
            depth -= 1
        elif t.type == tokenize.NEWLINE:
            return False
    return False


def reorder(source: str) -> str:
    """`source` with the first two adjacent one-line assignments of the function's body that
    do not depend on each other swapped, a comment on every other line and a comment line
    added, the docstring dropped."""
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
    lines = source.splitlines()
    for a, b in zip(body, body[1:]):
        if not (isinstance(a, ast.Assign) and isinstance(b, ast.Assign) and a.lineno == a.end_lineno
                and b.lineno == b.end_lineno):
            continue
        wa = {n.id for t in a.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        wb = {n.id for t in b.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        rb = {n.id for n in ast.walk(b.value) if isinstance(n, ast.Name)}
        ra = {n.id for n in ast.walk(a.value) if isinstance(n, ast.Name)}
        if wa & (rb | wb) or wb & ra:
            continue
        lines[a.lineno - 1], lines[b.lineno - 1] = lines[b.lineno - 1], lines[a.lineno - 1]
        break
    else:
        raise ValueError("no two independent one-line assignments to swap")
    if isinstance(fn.body[0], ast.Expr):
        doc = fn.body[0]
        del lines[doc.lineno - 1:doc.end_lineno]
    out = [lines[0], "    # my own implementation"]
    for i, ln in enumerate(lines[1:]):
        out.append(ln + ("  # step" if i % 2 == 0 and ln.strip() and not ln.rstrip().endswith((":", ",", "(")) else ""))
    return "\n".join(out) + "\n"


def half(source: str, own_first_lines: str) -> str:
    """The function's header, the student's own first lines, then the second half of the
    reference's body (cut at a statement of the body): a partial copy."""
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
    lines = source.splitlines()
    first, last = body[0].lineno, body[-1].end_lineno
    middle = (first + last) // 2
    cut = next(s for s in body if s.end_lineno >= middle)
    return "\n".join([lines[fn.lineno - 1], own_first_lines.rstrip("\n")] + lines[cut.lineno - 1:last]) + "\n"


# Independently written answers to 05's adam_step, each written from the docstring alone, for
# the class where a tenth or more hand in the instructor's solution (tests/test_similarity.py).
HONEST_ADAM = {
    "adam_plain": '''def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    if not state:
        state["t"], state["m"], state["v"] = 0, np.zeros_like(w), np.zeros_like(w)
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = beta2 * state["v"] + (1 - beta2) * g ** 2
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    w -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return w
''',
    "adam_locals": '''def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    grad = dw + weight_decay * w if weight_decay != 0 else dw
    step = state.get("t", 0) + 1
    first = state.get("m", np.zeros(w.shape))
    second = state.get("v", np.zeros(w.shape))
    first = beta1 * first + (1 - beta1) * grad
    second = beta2 * second + (1 - beta2) * np.square(grad)
    state.update(t=step, m=first, v=second)
    corrected_first = first / (1 - beta1 ** step)
    corrected_second = second / (1 - beta2 ** step)
    w[...] = w - lr * corrected_first / (np.sqrt(corrected_second) + eps)
    return w
''',
    "adam_short": '''def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * g
    v = state["v"] = beta2 * state.get("v", 0) + (1 - beta2) * g * g
    w -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w
''',
    "adam_keys": '''def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    if "t" not in state:
        state["t"] = 0
        state["m"] = np.zeros_like(w)
        state["v"] = np.zeros_like(w)
    gradient = dw.copy()
    if weight_decay:
        gradient += weight_decay * w
    state["t"] = state["t"] + 1
    state["m"] *= beta1
    state["m"] += (1 - beta1) * gradient
    state["v"] *= beta2
    state["v"] += (1 - beta2) * gradient * gradient
    bias1 = 1 - beta1 ** state["t"]
    bias2 = 1 - beta2 ** state["t"]
    w -= lr * (state["m"] / bias1) / (np.sqrt(state["v"] / bias2) + eps)
    return w
''',
    # the terse answer: the shortest correct one of the class
    "adam_terse": '''def adam_step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    t, m, v = state.get("t", 0) + 1, state.get("m", 0), state.get("v", 0)
    state.update(t=t, m=beta1 * m + (1 - beta1) * g, v=beta2 * v + (1 - beta2) * g * g)
    w -= lr * state["m"] / (1 - beta1 ** t) / (np.sqrt(state["v"] / (1 - beta2 ** t)) + eps)
    return w
''',
}
