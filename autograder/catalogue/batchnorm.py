"""Exercises and misconceptions of ``02_batchnorm``: batch norm forward, its B×B Jacobian,
its backward, the lecture notes' inference statistics, and layer norm.

Backward exercises get the cache of the *reference* forward, in the fixed layouts
``(z, z_hat, mu, var, gamma, eps)`` (batch norm, ``mu``/``var`` of shape (D,)) and
``(x, x_hat, mu, var, gamma, eps)`` (layer norm, ``mu``/``var`` of shape (N, 1)).

Inputs are drawn so that every catalogued wrong variant shows: ``gamma`` away from 1
(forgetting γ), feature means away from 0, N ≠ D (normalising over the wrong axis), a random
upstream gradient (never all ones, which would make dz exactly 0), and one nearly constant
neuron (the last column of batch-norm inputs, the last row of layer-norm inputs, variance
exactly ``TINY_VAR`` = 1e-10), where an ε that is ignored, 1e-8 or machine epsilon instead
of the given 1e-5 shows. The Jacobian of batch
norm is symmetric, so a *transposed* Jacobian is not a misconception here (the notebook
says so); the Jacobian's catalogue holds the dropped paths instead.

Named cases: ``batch_of_two`` (B = 2, where u = ±1 whatever z is, so the gradient almost
vanishes), ``shifted`` (a minibatch far from the origin, a covariate shift),
``small_variance`` (σ² comparable with ε: ε inside or outside the square root matters a
lot), ``one_batch`` (population statistics from K = 1 batch), ``one_row`` (layer norm of a
single instance, where batch norm would be undefined).
"""
from __future__ import annotations

import numpy as np

from autograder.catalogue import Exercise, Misconception
from tnn_lib import batchnorm as bn


def _unknown(name, case, cases):
    raise ValueError(f"{name}: unknown case {case!r}; expected None or one of {sorted(cases)}")


def _z(rng, N, D, case):
    """A minibatch (N, D) with feature-specific offsets and spreads."""
    loc = rng.uniform(-2.0, 2.0, D)
    scale = rng.uniform(0.5, 2.0, D)
    if case == "shifted":
        loc, scale = loc + 50.0, scale * 5.0
    elif case == "small_variance":
        scale = np.full(D, 3e-3)
    return loc + scale * rng.standard_normal((N, D))


TINY_VAR = 1e-10   # far below eps = 1e-5, far above machine epsilon (2.2e-16)


def _tiny(rng, n):
    """n values around a moderate offset with a (biased) variance of exactly TINY_VAR: where
    it matters what ε is — ignored, 1e-8 or machine epsilon instead of the given 1e-5 — and
    still large enough that the B/(B−1) or D/(D−1) of an unbiased variance shows."""
    if n < 2:
        return rng.uniform(-1.0, 1.0, n)
    u = rng.standard_normal(n)
    return rng.uniform(-1.0, 1.0) + (u - u.mean()) / u.std() * np.sqrt(TINY_VAR)


def _gamma_beta(rng, D):
    gamma = rng.uniform(0.5, 2.0, D)
    gamma[np.abs(gamma - 1.0) < 0.1] += 0.3  # away from 1: forgetting γ must show
    return gamma, rng.standard_normal(D)


def _forward_out(impl, inputs):
    out, _ = impl(**inputs)
    return out


# --------------------------------------------------------------------------- batch norm
_BN_CASES = ("batch_of_two", "shifted", "small_variance")


def _bn_inputs(rng, case=None, N=6, D=3):
    if case is not None and case not in _BN_CASES:
        _unknown("batchnorm_forward", case, _BN_CASES)
    if case == "batch_of_two":
        N = 2
    z = _z(rng, N, D, case)
    if D >= 2:
        z[:, -1] = _tiny(rng, N)          # one neuron whose minibatch is nearly constant
    gamma, beta = _gamma_beta(rng, D)
    return {"z": z, "gamma": gamma, "beta": beta, "eps": 1e-5}


def _bn_forward_variant(ddof=0, axis=0, eps_inside=True):
    def batchnorm_forward(z, gamma, beta, eps=1e-5):
        mu = z.mean(axis=axis, keepdims=True)
        var = z.var(axis=axis, ddof=ddof, keepdims=True)
        s = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        z_hat = (z - mu) / s
        return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)
    return batchnorm_forward


# ε mistakes, written out as a student would write them
def _bn_eps_ignored(z, gamma, beta, eps=1e-5):
    mu, var = z.mean(axis=0), z.var(axis=0)
    z_hat = (z - mu) / np.sqrt(var)                              # no ε at all
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)


def _bn_eps_1e8(z, gamma, beta, eps=1e-5):
    mu, var = z.mean(axis=0), z.var(axis=0)
    z_hat = (z - mu) / np.sqrt(var + 1e-8)                       # the eps argument ignored
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)


def _bn_eps_machine(z, gamma, beta, eps=1e-5):
    mu, var = z.mean(axis=0), z.var(axis=0)
    z_hat = (z - mu) / np.sqrt(var + np.finfo(float).eps)        # machine epsilon, 2.2e-16
    return gamma * z_hat + beta, (z, z_hat, mu, var, gamma, eps)


def _bn_backward_inputs(rng, case=None, N=6, D=3):
    if case is not None and case not in _BN_CASES:
        _unknown("batchnorm_backward", case, _BN_CASES)
    inputs = _bn_inputs(rng, case, N, D)
    inputs["dout"] = rng.standard_normal(inputs["z"].shape)  # random, never all ones
    return inputs


def _bn_backward_call(impl, inputs):
    _, cache = bn.batchnorm_forward(inputs["z"], inputs["gamma"], inputs["beta"], inputs["eps"])
    return impl(inputs["dout"], cache)


def _bn_backward_variant(mean_path=True, var_path=True, use_gamma=True, dgamma="z_hat", keepdims=False):
    def batchnorm_backward(dout, cache):
        z, z_hat, mu, var, gamma, eps = cache
        du = dout * gamma if use_gamma else dout
        s = np.sqrt(var + eps)
        dz = du.copy()
        if mean_path:
            dz = dz - du.mean(axis=0)
        if var_path:
            dz = dz - z_hat * (du * z_hat).mean(axis=0)
        dg = {"z_hat": (dout * z_hat).sum(axis=0), "none": dout.sum(axis=0),
              "z": (dout * z).sum(axis=0), "out": (dout * gamma * z_hat).sum(axis=0)}[dgamma]   # "out" = γ·u: the output ẑ without β (the cache has no β)
        if keepdims:
            return dz / s, dg[None, :], dout.sum(axis=0, keepdims=True)
        return dz / s, dg, dout.sum(axis=0)
    return batchnorm_backward


# --------------------------------------------------------------------------- Jacobian
_JAC_CASES = ("batch_of_two", "shifted", "small_variance")


def _jac_inputs(rng, case=None, B=5):
    if case is not None and case not in _JAC_CASES:
        _unknown("batchnorm_jacobian", case, _JAC_CASES)
    if case == "batch_of_two":
        B = 2
    return {"z": _z(rng, B, 1, case)[:, 0], "eps": 1e-5}


def _jac_variant(through=True, mean_path=True, var_path=True, cross=True):
    def batchnorm_jacobian(z, eps=1e-5):
        b = z.shape[0]
        c = z - z.mean()
        s = np.sqrt(z.var() + eps)
        J = np.zeros((b, b))
        if through:
            J += np.eye(b) / s
        if mean_path:
            J -= 1.0 / (b * s)
        if var_path:
            J -= np.outer(c, c) / (b * s**3)
        if not cross:
            J = np.diag(np.diag(J))
        return J
    return batchnorm_jacobian


# --------------------------------------------------------------------------- population statistics
_POP_CASES = ("one_batch", "batch_of_two", "one_feature")


def _pop_inputs(rng, case=None, K=8, D=3, B=16):
    if case is not None and case not in _POP_CASES:
        _unknown("population_statistics", case, _POP_CASES)
    if case == "one_batch":
        K = 1
    if case == "batch_of_two":
        B = 2
    shape = (K,) if case == "one_feature" else (K, D)
    means = rng.normal(1.0, 0.5, shape)
    variances = rng.uniform(0.5, 3.0, shape)
    return {"batch_means": means, "batch_vars": variances, "batch_size": int(B)}


def _pop_no_bessel(batch_means, batch_vars, batch_size):
    mean = batch_means.mean(axis=0)
    var = batch_vars.mean(axis=0)
    return (float(mean), float(var)) if batch_means.ndim == 1 else (mean, var)


def _pop_b_over_b_plus_1(batch_means, batch_vars, batch_size):
    mean = batch_means.mean(axis=0)
    var = batch_size / (batch_size + 1.0) * batch_vars.mean(axis=0)
    return (float(mean), float(var)) if batch_means.ndim == 1 else (mean, var)


def _pop_bessel_on_mean(batch_means, batch_vars, batch_size):
    correction = batch_size / (batch_size - 1.0)
    mean = batch_means.mean(axis=0) * correction
    var = correction * batch_vars.mean(axis=0)
    return (float(mean), float(var)) if batch_means.ndim == 1 else (mean, var)


# --------------------------------------------------------------------------- layer norm
_LN_CASES = ("one_row", "square", "shifted")


def _ln_inputs(rng, case=None, N=4, D=6):
    if case is not None and case not in _LN_CASES:
        _unknown("layernorm_forward", case, _LN_CASES)
    if case == "one_row":
        N = 1
    elif case == "square":
        D = N
    loc = rng.uniform(-2.0, 2.0, (N, 1)) + (30.0 if case == "shifted" else 0.0)
    scale = rng.uniform(0.5, 2.0, (N, 1))
    x = loc + scale * rng.standard_normal((N, D))
    x[-1] = _tiny(rng, D)                 # one instance whose features are nearly equal
    gamma, beta = _gamma_beta(rng, D)
    if case == "one_row":
        beta = np.zeros(D)                # the lone tiny row's γ·x̂ (~3e-3) must not drown in β
    return {"x": x, "gamma": gamma, "beta": beta, "eps": 1e-5}


def _ln_forward_variant(axis=1, ddof=0, eps_inside=True):
    def layernorm_forward(x, gamma, beta, eps=1e-5):
        mu = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, ddof=ddof, keepdims=True)
        s = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        with np.errstate(all="ignore"):
            x_hat = (x - mu) / s
        return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
    return layernorm_forward


def _ln_eps_ignored(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


def _ln_eps_1e8(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + 1e-8)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


def _ln_eps_machine(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + np.finfo(float).eps)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)


def _ln_backward_inputs(rng, case=None, N=4, D=6):
    if case is not None and case not in _LN_CASES:
        _unknown("layernorm_backward", case, _LN_CASES)
    inputs = _ln_inputs(rng, case, N, D)
    inputs["dout"] = rng.standard_normal(inputs["x"].shape)
    return inputs


def _ln_backward_call(impl, inputs):
    _, cache = bn.layernorm_forward(inputs["x"], inputs["gamma"], inputs["beta"], inputs["eps"])
    return impl(inputs["dout"], cache)


def _ln_backward_variant(axis=1, mean_path=True, var_path=True, dgamma="x_hat", keepdims=False):
    def layernorm_backward(dout, cache):
        x, x_hat, mu, var, gamma, eps = cache
        du = dout * gamma
        dx = du.copy()
        if mean_path:
            dx = dx - du.mean(axis=axis, keepdims=True)
        if var_path:
            dx = dx - x_hat * (du * x_hat).mean(axis=axis, keepdims=True)
        dg = {"x_hat": (dout * x_hat).sum(axis=0), "none": dout.sum(axis=0),
              "out": (dout * gamma * x_hat).sum(axis=0)}[dgamma]   # "out" = γ·x̂: the cache has no β
        if keepdims:
            return dx / np.sqrt(var + eps), dg[None, :], dout.sum(axis=0, keepdims=True)
        return dx / np.sqrt(var + eps), dg, dout.sum(axis=0)
    return layernorm_backward


# --------------------------------------------------------------------------- weight norm
_WN_CASES = ("one_column", "negative_g", "small_norm")


def _wn_backward_inputs(rng, case=None, D=5, M=3):
    """v (D, M) with column norms away from 1 (in [1.5, 3], or [0.02, 0.2] for ``small_norm``),
    so that a missing or extra 1/‖v‖ shows; g away from 0 and ±1 (a missing g, or g·dg, shows);
    a random upstream dw."""
    if case is not None and case not in _WN_CASES:
        _unknown("weightnorm_backward", case, _WN_CASES)
    if case == "one_column":
        M = 1
    v = rng.standard_normal((D, M))
    lo, hi = (0.02, 0.2) if case == "small_norm" else (1.5, 3.0)
    v = v / np.linalg.norm(v, axis=0) * rng.uniform(lo, hi, M)
    g = rng.uniform(1.3, 2.5, M) * rng.choice([-1.0, 1.0], M)
    if case == "negative_g":
        g = -np.abs(g)
    return {"v": v, "g": g, "dw": rng.standard_normal((D, M))}


def _wn_backward_call(impl, inputs):
    _, cache = bn.weightnorm_forward(inputs["v"], inputs["g"])
    return impl(inputs["dw"], cache)


# weight norm's mistakes, written out as a student would write them
def _wn_no_projection(dw, cache):
    v, g, norm = cache
    dg = (dw * v).sum(axis=0) / norm
    dv = g / norm * dw                               # ‖v‖ treated as a constant
    return dv, dg


def _wn_dg_not_normalised(dw, cache):
    v, g, norm = cache
    dg = (dw * v).sum(axis=0)                        # dw·v without the 1/‖v‖
    dv = g / norm * (dw - dg * v / norm)
    return dv, dg


def _wn_projection_sign(dw, cache):
    v, g, norm = cache
    dg = (dw * v).sum(axis=0) / norm
    dv = g / norm * (dw + dg * v / norm)             # the component along v added, not removed
    return dv, dg


def _wn_dg_uses_w(dw, cache):
    v, g, norm = cache
    w = g * v / norm
    dg = (dw * w).sum(axis=0)                        # ∂w/∂g taken as w instead of v/‖v‖
    dv = g / norm * (dw - dg * v / norm)
    return dv, dg


def _wn_dv_without_g(dw, cache):
    v, g, norm = cache
    dg = (dw * v).sum(axis=0) / norm
    dv = (dw - dg * v / norm) / norm                 # the factor g of w = g·v/‖v‖ dropped
    return dv, dg


# Diagnostic shapes: N ≠ D, neither 1 or 2, so the batch and the feature axis cannot be confused.
_BN_DIAG = ({"seed": 104729, "N": 7, "D": 4},)
_LN_DIAG = ({"seed": 104729, "N": 5, "D": 7},)
EXERCISES = [
    Exercise("batchnorm_forward", bn.batchnorm_forward, _bn_inputs, call=_forward_out, diagnostic_cases=_BN_DIAG),
    Exercise("batchnorm_jacobian", bn.batchnorm_jacobian, _jac_inputs, tol=1e-7,
             diagnostic_cases=({"seed": 104729, "B": 7},)),
    Exercise("batchnorm_backward", bn.batchnorm_backward, _bn_backward_inputs, call=_bn_backward_call,
             output_name="(dz, dgamma, dbeta)", diagnostic_cases=_BN_DIAG),
    Exercise("population_statistics", bn.population_statistics, _pop_inputs, output_name="(mean, var)",
             diagnostic_cases=({"seed": 104729, "K": 7, "D": 3, "B": 5},)),
    Exercise("layernorm_forward", bn.layernorm_forward, _ln_inputs, call=_forward_out, diagnostic_cases=_LN_DIAG),
    Exercise("layernorm_backward", bn.layernorm_backward, _ln_backward_inputs, call=_ln_backward_call,
             output_name="(dx, dgamma, dbeta)", diagnostic_cases=_LN_DIAG),
    Exercise("weightnorm_backward", bn.weightnorm_backward, _wn_backward_inputs, call=_wn_backward_call,
             output_name="(dv, dg)", diagnostic_cases=({"seed": 104729, "D": 7, "M": 4},)),
]

_FWD = "see 'Batch norm: the forward pass'"
_DER = "see 'The derivative, step by step'"
MISCONCEPTIONS = [
    # batchnorm_forward
    Misconception("batchnorm_forward", "bn-unbiased-variance-in-training",
                  "you normalised with the unbiased variance (divide by B−1) in training",
                  "training-mode batch norm uses the biased batch variance σ²_B = (1/B) Σ (z_i − μ_B)² "
                  "(np.var's default ddof=0); B/(B−1) belongs to the inference statistics only — " + _FWD,
                  impl=_bn_forward_variant(ddof=1)),
    Misconception("batchnorm_forward", "bn-normalised-over-features",
                  "you normalised each instance over its features (axis 1) instead of each feature over the minibatch",
                  "batch norm computes μ_B and σ²_B per neuron over the B instances of the minibatch: "
                  "z.mean(axis=0); normalising a row over its features is layer norm — " + _FWD,
                  impl=_bn_forward_variant(axis=1)),
    Misconception("batchnorm_forward", "bn-eps-outside-sqrt",
                  "you added ε outside the square root, (z − μ)/(√σ² + ε)",
                  "ε goes inside: u = (z − μ_B)/√(σ²_B + ε) — " + _FWD,
                  impl=_bn_forward_variant(eps_inside=False)),
    Misconception("batchnorm_forward", "bn-eps-ignored",
                  "you left ε out: (z − μ)/√σ², which blows up for a neuron whose minibatch is nearly constant",
                  "u = (z − μ_B)/√(σ²_B + ε) with the ε argument (1e-5 here); it keeps the division finite when "
                  "σ²_B ≈ 0 — " + _FWD,
                  impl=_bn_eps_ignored),
    Misconception("batchnorm_forward", "bn-eps-hard-coded-1e-8",
                  "you used ε = 1e-8 instead of the eps argument",
                  "use the eps you are given (1e-5 by default, as PyTorch): u = (z − μ_B)/√(σ²_B + eps) — " + _FWD,
                  impl=_bn_eps_1e8),
    Misconception("batchnorm_forward", "bn-eps-machine-epsilon",
                  "you used machine epsilon (np.finfo(float).eps ≈ 2.2e-16) as ε instead of the eps argument",
                  "ε is a hyper-parameter, not a rounding guard: u = (z − μ_B)/√(σ²_B + eps) with the given eps — " + _FWD,
                  impl=_bn_eps_machine),
    # batchnorm_jacobian
    Misconception("batchnorm_jacobian", "bnjac-no-cross-lines",
                  "your Jacobian has only the through lines (the diagonal i = j); the cross lines i ≠ j are missing",
                  "every z_i moves μ_B and σ²_B and hence every u_j: du_j/dz_i = −1/(B s) − (z_i − μ)(z_j − μ)/(B s³) "
                  "for i ≠ j — " + _DER,
                  impl=_jac_variant(cross=False)),
    Misconception("batchnorm_jacobian", "bnjac-no-variance-path",
                  "your Jacobian drops the path through the variance σ²_B",
                  "u_j depends on z_i also through σ²_B, with dσ²_B/dz_i = 2(z_i − μ_B)/B; this adds "
                  "−(z_i − μ)(z_j − μ)/(B s³) to every entry — " + _DER,
                  impl=_jac_variant(var_path=False)),
    Misconception("batchnorm_jacobian", "bnjac-no-mean-path",
                  "your Jacobian drops the path through the mean μ_B",
                  "∂u_j/∂μ_B · dμ_B/dz_i = −1/(B s) belongs to every entry, on and off the diagonal — " + _DER,
                  impl=_jac_variant(mean_path=False)),
    Misconception("batchnorm_jacobian", "bnjac-statistics-as-constants",
                  "you treated μ_B and σ²_B as constants: J = I/s",
                  "μ_B and σ²_B are functions of the whole minibatch; batch norm is a vector function, so both "
                  "paths add to every entry of J — " + _DER,
                  impl=_jac_variant(mean_path=False, var_path=False)),
    # batchnorm_backward
    Misconception("batchnorm_backward", "bn-backward-no-mean-path",
                  "your dz drops the path through the mean μ_B",
                  "dz_i = (du_i − mean_j du_j − û_i · mean_j du_j û_j)/s with du = dout·γ; the mean term is "
                  "the −1/(B s) of every line — " + _DER,
                  impl=_bn_backward_variant(mean_path=False)),
    Misconception("batchnorm_backward", "bn-backward-no-variance-path",
                  "your dz drops the path through the variance σ²_B",
                  "dz_i = (du_i − mean_j du_j − û_i · mean_j du_j û_j)/s; the last term comes from dσ²_B/dz_i — " + _DER,
                  impl=_bn_backward_variant(var_path=False)),
    Misconception("batchnorm_backward", "bn-backward-statistics-as-constants",
                  "you treated μ_B and σ²_B as constants: dz = dout·γ/s",
                  "batch norm is a vector function of the minibatch: dz_i = Σ_j du_j · du_j/dz_i, through and "
                  "cross lines — " + _DER,
                  impl=_bn_backward_variant(mean_path=False, var_path=False)),
    Misconception("batchnorm_backward", "bn-backward-no-gamma",
                  "you propagated dout into the normalisation without multiplying by γ",
                  "out = γ·û + β, so dLoss/dû = dout·γ before the normalisation stage — see 'Scale and shift'",
                  impl=_bn_backward_variant(use_gamma=False)),
    Misconception("batchnorm_backward", "bn-dgamma-not-times-zhat",
                  "your dgamma is Σ dout, not multiplied by the normalised u",
                  "dLoss/dγ = Σ_i dout_i · u_i (u = (z − μ)/√(σ² + ε), z_hat in the cache); Σ dout alone is dbeta — see 'Scale and shift'",
                  impl=_bn_backward_variant(dgamma="none")),
    Misconception("batchnorm_backward", "bn-dgamma-times-z",
                  "your dgamma multiplies dout by the raw input z instead of the normalised u",
                  "γ scales u, so dLoss/dγ = Σ_i dout_i · u_i with u = (z − μ)/√(σ² + ε), z_hat from the cache — see 'Scale and shift'",
                  impl=_bn_backward_variant(dgamma="z")),
    Misconception("batchnorm_backward", "bn-dgamma-times-output",
                  "your dgamma multiplies dout by γ·u (the layer's output ẑ = γ·u + β without β) instead of u",
                  "ẑ = γ·u + β, so ∂ẑ/∂γ = u: dLoss/dγ = Σ_i dout_i · u_i (u = z_hat in the cache), without another γ — see 'Scale and shift'",
                  impl=_bn_backward_variant(dgamma="out")),
    Misconception("batchnorm_backward", "bn-param-grads-kept-2d",
                  "dgamma and dbeta have shape (1, D): the sums over the batch kept their axis",
                  "a gradient has the shape of its parameter: γ and β are (D,), so sum over axis 0 without keepdims=True",
                  impl=_bn_backward_variant(keepdims=True)),
    # population_statistics
    Misconception("population_statistics", "popstats-no-bessel",
                  "you averaged the batch variances without the factor B/(B−1)",
                  "σ²_BN = B/(B−1) · (1/K) Σ σ²_B: each σ²_B divides by B, so it underestimates the variance — "
                  "see 'Inference: the statistics of the converged network'",
                  impl=_pop_no_bessel),
    Misconception("population_statistics", "popstats-b-over-b-plus-1",
                  "you used B/(B+1) instead of B/(B−1)",
                  "the unbiased correction is B/(B−1) (> 1): the biased σ²_B is too small by (B−1)/B — "
                  "see 'Inference: the statistics of the converged network'",
                  impl=_pop_b_over_b_plus_1),
    Misconception("population_statistics", "popstats-bessel-on-mean",
                  "you applied B/(B−1) to the mean too",
                  "only the variance needs the correction; μ_BN is the plain mean of the batch means — "
                  "see 'Inference: the statistics of the converged network'",
                  impl=_pop_bessel_on_mean),
    # layernorm_forward
    Misconception("layernorm_forward", "ln-over-batch-axis",
                  "you normalised over the batch axis (axis 0), which is batch norm",
                  "layer norm normalises each instance over its D features: x.mean(axis=1, keepdims=True) — "
                  "see 'Layer norm'",
                  impl=_ln_forward_variant(axis=0)),
    Misconception("layernorm_forward", "ln-unbiased-variance",
                  "you used the unbiased variance (divide by D−1)",
                  "layer norm divides by D: σ²_n = (1/D) Σ_d (x_nd − μ_n)² (np.var's default ddof=0) — see 'Layer norm'",
                  impl=_ln_forward_variant(ddof=1)),
    Misconception("layernorm_forward", "ln-eps-outside-sqrt",
                  "you added ε outside the square root",
                  "x̂ = (x − μ_n)/√(σ²_n + ε) — see 'Layer norm'",
                  impl=_ln_forward_variant(eps_inside=False)),
    Misconception("layernorm_forward", "ln-eps-ignored",
                  "you left ε out: (x − μ)/√σ², which blows up for an instance whose features are nearly equal",
                  "x̂ = (x − μ_n)/√(σ²_n + eps) with the eps argument (1e-5 here) — see 'Layer norm'",
                  impl=_ln_eps_ignored),
    Misconception("layernorm_forward", "ln-eps-hard-coded-1e-8",
                  "you used ε = 1e-8 instead of the eps argument",
                  "use the eps you are given: x̂ = (x − μ_n)/√(σ²_n + eps) — see 'Layer norm'",
                  impl=_ln_eps_1e8),
    Misconception("layernorm_forward", "ln-eps-machine-epsilon",
                  "you used machine epsilon (≈ 2.2e-16) as ε instead of the eps argument",
                  "ε is a hyper-parameter (1e-5 here), not a rounding guard: x̂ = (x − μ_n)/√(σ²_n + eps) — see 'Layer norm'",
                  impl=_ln_eps_machine),
    # layernorm_backward
    Misconception("layernorm_backward", "ln-backward-over-batch-axis",
                  "you took the means of the backward formula over the batch axis (axis 0)",
                  "layer norm's statistics are per row, so the backward's means run over the D features of each "
                  "row: du.mean(axis=1, keepdims=True) — see 'Layer norm'",
                  impl=_ln_backward_variant(axis=0)),
    Misconception("layernorm_backward", "ln-backward-no-mean-path",
                  "your dx drops the path through the row mean μ_n",
                  "dx = (du − mean_d du − x̂ · mean_d(du x̂))/s_n with du = dout·γ — see 'Layer norm'",
                  impl=_ln_backward_variant(mean_path=False)),
    Misconception("layernorm_backward", "ln-backward-no-variance-path",
                  "your dx drops the path through the row variance σ²_n",
                  "dx = (du − mean_d du − x̂ · mean_d(du x̂))/s_n with du = dout·γ — see 'Layer norm'",
                  impl=_ln_backward_variant(var_path=False)),
    Misconception("layernorm_backward", "ln-dgamma-not-times-xhat",
                  "your dgamma is Σ dout, not multiplied by x̂",
                  "dgamma = Σ_n dout_n · x̂_n (x_hat in the cache) — see 'Layer norm'",
                  impl=_ln_backward_variant(dgamma="none")),
    Misconception("layernorm_backward", "ln-dgamma-times-output",
                  "your dgamma multiplies dout by the layer's output γ·x̂ instead of x̂",
                  "out = γ·x̂ + β, so dgamma = Σ_n dout_n · x̂_n, without another γ — see 'Layer norm'",
                  impl=_ln_backward_variant(dgamma="out")),
    Misconception("layernorm_backward", "ln-param-grads-kept-2d",
                  "dgamma and dbeta have shape (1, D): the sums over the batch kept their axis",
                  "γ and β are (D,): dgamma = (dout * x_hat).sum(axis=0), dbeta = dout.sum(axis=0), without keepdims",
                  impl=_ln_backward_variant(keepdims=True)),
    # weightnorm_backward
    Misconception("weightnorm_backward", "wn-no-projection",
                  "your dv is g/‖v‖ · dw: it treats ‖v‖ as a constant",
                  "‖v‖ depends on v: dv = (g/‖v‖)(dw − dg · v/‖v‖), which removes the component along v "
                  "(it went to g) — see 'Weight normalisation'",
                  impl=_wn_no_projection),
    Misconception("weightnorm_backward", "wn-dg-not-normalised",
                  "your dg is dw·v without dividing by ‖v‖",
                  "∂w/∂g = v/‖v‖, so dg = (dw · v)/‖v‖ per column — see 'Weight normalisation'",
                  impl=_wn_dg_not_normalised),
    Misconception("weightnorm_backward", "wn-projection-sign",
                  "your dv adds the component along v instead of removing it",
                  "dv = (g/‖v‖)(dw − dg · v/‖v‖): dv is orthogonal to v — see 'Weight normalisation'",
                  impl=_wn_projection_sign),
    Misconception("weightnorm_backward", "wn-dg-uses-w",
                  "your dg is dw·w: you took ∂w/∂g to be w",
                  "w = g · v/‖v‖ is linear in g with slope v/‖v‖ (not w = g · that): dg = (dw · v)/‖v‖ — see "
                  "'Weight normalisation'",
                  impl=_wn_dg_uses_w),
    Misconception("weightnorm_backward", "wn-dv-without-g",
                  "your dv lacks the factor g",
                  "w = g · v/‖v‖ carries g into every path through v: dv = (g/‖v‖)(dw − dg · v/‖v‖) — see "
                  "'Weight normalisation'",
                  impl=_wn_dv_without_g),
]
