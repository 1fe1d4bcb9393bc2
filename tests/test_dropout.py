"""tnn_lib.dropout: masks, both scaling conventions, backward, the lecture's E[a] example, MC."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnn_lib import dropout as do
from tnn_lib.gradcheck import numerical_gradient, rel_error


def test_lecture_example_expected_activation_is_half_the_full_sum():
    """Lecture: a = w0·x + w1·y with keep probability ½ has E[a] = ½(w0·x + w1·y)."""
    w = np.array([0.7, -1.3])
    xy = np.array([[2.0, 5.0]])
    outputs = []
    for m in itertools.product([0.0, 1.0], repeat=2):  # the 4 equally likely masks
        out, _ = do.dropout_forward(xy, 0.5, mask=np.array([m]), inverted=False)
        outputs.append(out @ w)
    expected = 0.5 * (w[0] * 2.0 + w[1] * 5.0)
    # the products go through BLAS, whose kernels may fuse or order w0·x + w1·y differently
    # (FMA or not): a few hundred ulps of the terms' size |w0·x| + |w1·y| ≈ 7.9
    tol = 1e-13 * (abs(w[0] * 2.0) + abs(w[1] * 5.0))
    assert np.mean(outputs) == pytest.approx(expected, rel=0, abs=tol)
    # the test-time pass reproduces it: scaled activations, or scaled weights
    test_out, cache = do.dropout_forward(xy, 0.5, train=False, inverted=False)
    assert (test_out @ w)[0] == pytest.approx(expected, rel=0, abs=tol)
    assert cache == (None, 0.5, False, False)
    assert (xy @ do.scale_weights_for_test(w, 0.5))[0] == pytest.approx(expected, rel=0, abs=tol)
    # inverted dropout: the training average already equals the unscaled test pass
    inv = [do.dropout_forward(xy, 0.5, mask=np.array([m]))[0] @ w
           for m in itertools.product([0.0, 1.0], repeat=2)]
    assert np.mean(inv) == pytest.approx((xy @ w)[0], rel=0, abs=2 * tol)  # terms doubled by 1/½


def test_forward_exact_values_both_conventions():
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    mask = np.array([[1, 0, 1, 0]])
    out, cache = do.dropout_forward(x, 0.25, mask=mask)
    np.testing.assert_array_equal(out, [[4.0, 0.0, 12.0, 0.0]])
    m, keep_prob, train, inverted = cache
    np.testing.assert_array_equal(m, mask)
    assert (keep_prob, train, inverted) == (0.25, True, True)
    out, _ = do.dropout_forward(x, 0.25, mask=mask, inverted=False)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 3.0, 0.0]])
    np.testing.assert_array_equal(do.dropout_forward(x, 0.25, train=False)[0], x)
    np.testing.assert_array_equal(do.dropout_forward(x, 0.25, train=False, inverted=False)[0], x * 0.25)


def test_mask_drawn_from_rng_is_bernoulli_keep_prob_and_reproducible():
    x = np.ones((200, 100))
    out1, (mask, _, _, _) = do.dropout_forward(x, 0.3, rng=np.random.default_rng(0))
    out2, _ = do.dropout_forward(x, 0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(mask, np.random.default_rng(0).random(x.shape) < 0.3)
    assert set(np.unique(mask)) == {0.0, 1.0}
    # 20000 Bernoulli(0.3) draws: std of the fraction ≈ 0.0032
    assert abs(mask.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(out1, x * mask / 0.3)


def test_keep_prob_one_is_the_identity_in_training():
    x = np.random.default_rng(1).normal(size=(3, 4))
    out, _ = do.dropout_forward(x, 1.0, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(out, x)


def mean_gap_in_sigmas(forward_out, x, keep_prob):
    """(mean(out) − mean(x)) in units of its standard error under inverted dropout."""
    sigma = np.sqrt((1 - keep_prob) / keep_prob * np.mean(x**2) / x.size)
    return abs(forward_out.mean() - x.mean()) / max(sigma, 1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.2, 1.0), st.integers(0, 2**32 - 1))
def test_inverted_dropout_preserves_the_expectation(keep_prob, seed):
    rng = np.random.default_rng(seed)
    x = 1.0 + np.abs(rng.normal(size=(100, 100)))
    out, _ = do.dropout_forward(x, keep_prob, rng=rng)
    assert mean_gap_in_sigmas(out, x, keep_prob) < 6.0  # fails with p ≈ 2e-9 when correct


def test_the_expectation_check_catches_wrong_scaling():
    rng = np.random.default_rng(3)
    x = 1.0 + np.abs(rng.normal(size=(100, 100)))
    out, (mask, _, _, _) = do.dropout_forward(x, 0.8, rng=rng)
    assert mean_gap_in_sigmas(x * mask, x, 0.8) > 6.0  # no scaling
    assert mean_gap_in_sigmas(x * mask * 0.8, x, 0.8) > 6.0  # scaled by keep_prob, not 1/keep_prob
    assert mean_gap_in_sigmas(out, x, 0.8) < 6.0


@pytest.mark.parametrize("train, inverted", [(True, True), (True, False), (False, True), (False, False)])
def test_backward_matches_numerical_gradient(train, inverted):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 6))
    mask = (rng.random(x.shape) < 0.6).astype(float)
    kw = dict(mask=mask, train=train, inverted=inverted)
    out, cache = do.dropout_forward(x, 0.6, **kw)
    dout = rng.normal(size=out.shape)
    dx = do.dropout_backward(dout, cache)
    num = numerical_gradient(lambda v: np.sum(do.dropout_forward(v, 0.6, **kw)[0] * dout), x.copy())
    assert rel_error(dx, num) < 1e-7
    if train:
        np.testing.assert_array_equal(dx[mask == 0], 0.0)  # a dropped unit passes no gradient


def test_backward_accepts_the_documented_cache():
    dout = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(do.dropout_backward(dout, (np.array([[0.0, 1.0]]), 0.5, True, True)),
                                  [[0.0, 4.0]])
    np.testing.assert_array_equal(do.dropout_backward(dout, (None, 0.5, False, False)), [[0.5, 1.0]])


def test_scale_weights_for_test_exact_and_input_untouched():
    W = np.array([[1.0, -2.0], [0.5, 4.0]])
    saved = W.copy()
    np.testing.assert_array_equal(do.scale_weights_for_test(W, 0.25), [[0.25, -0.5], [0.125, 1.0]])
    np.testing.assert_array_equal(W, saved)


def test_mc_dropout_average_converges_to_one_deterministic_pass():
    rng = np.random.default_rng(5)
    x, W = rng.normal(size=(3, 8)), rng.normal(size=(8, 2))

    def forward(inp, mask_rng):
        return do.dropout_forward(inp, 0.5, rng=mask_rng)[0] @ W

    mc = do.mc_dropout_predict(forward, x, 0.5, 4000, np.random.default_rng(6))
    # for a linear net the ensemble mean is exactly the unscaled (inverted) test pass
    per_sample_std = np.sqrt(((x**2) @ (W**2)))  # std of one sample at keep_prob ½
    assert np.all(np.abs(mc - x @ W) < 6 * per_sample_std / np.sqrt(4000))
    # and it is reproducible, one call per sample with the same generator
    single = do.mc_dropout_predict(forward, x, 0.5, 1, np.random.default_rng(7))
    np.testing.assert_array_equal(single, forward(x, np.random.default_rng(7)))
    two = do.mc_dropout_predict(forward, x, 0.5, 2, np.random.default_rng(7))
    r = np.random.default_rng(7)
    np.testing.assert_allclose(two, (forward(x, r) + forward(x, r)) / 2, rtol=1e-15)


def test_a_given_mask_takes_precedence_over_rng_and_leaves_it_untouched():
    x, mask = np.arange(1.0, 7.0).reshape(2, 3), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    rng = np.random.default_rng(4)
    before = rng.bit_generator.state
    out, (m, _, _, _) = do.dropout_forward(x, 0.5, rng=rng, mask=mask)
    np.testing.assert_array_equal(out, x * mask * 2.0)
    np.testing.assert_array_equal(m, mask)
    assert rng.bit_generator.state == before          # no number drawn
    # a boolean mask is accepted and cached as float 0/1
    _, (m, _, _, _) = do.dropout_forward(x, 0.5, mask=mask.astype(bool))
    assert m.dtype == np.float64 and np.array_equal(m, mask)


def test_scale_weights_for_test_returns_a_new_array():
    W = np.ones((2, 2))
    W_test = do.scale_weights_for_test(W, 1.0)
    assert W_test is not W and not np.shares_memory(W_test, W)


def test_mc_dropout_hands_keep_prob_to_a_forward_that_takes_it():
    """One network function for every keep probability: keep_prob reaches forward when its
    signature has a keep_prob keyword (or **kwargs); a two-argument forward gets two."""
    x, W = np.arange(6.0).reshape(2, 3), np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    seen = []

    def forward(inp, mask_rng, keep_prob=1.0):
        seen.append(keep_prob)
        return do.dropout_forward(inp, keep_prob, rng=mask_rng)[0] @ W

    got = do.mc_dropout_predict(forward, x, 0.3, 5, np.random.default_rng(11))
    assert seen == [0.3] * 5
    r = np.random.default_rng(11)
    expected = sum(do.dropout_forward(x, 0.3, rng=r)[0] @ W for _ in range(5)) / 5
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    # the same network at another keep probability gives another average
    other = do.mc_dropout_predict(forward, x, 0.9, 5, np.random.default_rng(11))
    assert not np.allclose(other, got)

    calls = []
    do.mc_dropout_predict(lambda inp, mask_rng, **kw: calls.append(kw) or inp, x, 0.6, 2, np.random.default_rng(0))
    assert calls == [{"keep_prob": 0.6}] * 2
    two_args = []
    do.mc_dropout_predict(lambda inp, mask_rng: two_args.append(1) or inp, x, 0.6, 3, np.random.default_rng(0))
    assert two_args == [1, 1, 1]


def test_mc_dropout_samples_of_different_shapes_raise():
    shapes = iter([(2, 3), (3, 2)])
    with pytest.raises(ValueError, match=r"forward: expected every sample to have shape \(2, 3\), sample 1 has shape"):
        do.mc_dropout_predict(lambda inp, r: np.zeros(next(shapes)), np.ones((2, 3)), 0.5, 2,
                              np.random.default_rng(0))


@pytest.mark.parametrize("keep_prob", [0.0, 1.5, -0.1])
def test_keep_prob_outside_unit_interval_raises(keep_prob):
    with pytest.raises(ValueError, match=r"keep_prob: expected a probability in \(0, 1\]"):
        do.dropout_forward(np.ones(3), keep_prob, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="keep_prob: expected"):
        do.scale_weights_for_test(np.ones(3), keep_prob)
    with pytest.raises(ValueError, match="keep_prob: expected"):
        do.mc_dropout_predict(lambda a, r: a, np.ones(3), keep_prob, 2, np.random.default_rng(0))


def test_other_dropout_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="expected an rng or a mask in training mode, got neither"):
        do.dropout_forward(x, 0.5)
    with pytest.raises(ValueError, match=r"mask and x: expected the same shape"):
        do.dropout_forward(x, 0.5, mask=np.ones((3, 2)))
    with pytest.raises(ValueError, match="mask: expected only 0s and 1s"):
        do.dropout_forward(x, 0.5, mask=np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="rng: expected a numpy.random.Generator, got int"):
        do.dropout_forward(x, 0.5, rng=0)
    with pytest.raises(ValueError, match="n_samples: expected an integer >= 1"):
        do.mc_dropout_predict(lambda a, r: a, x, 0.5, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="forward: expected a callable"):
        do.mc_dropout_predict(None, x, 0.5, 2, np.random.default_rng(0))
    _, cache = do.dropout_forward(x, 0.5, mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="dout and mask"):
        do.dropout_backward(np.ones((3, 2)), cache)


def test_dropout_does_not_modify_inputs():
    x, mask, dout = np.ones((2, 3)), np.array([[1.0, 0.0, 1.0]] * 2), np.full((2, 3), 2.0)
    saved = [a.copy() for a in (x, mask, dout)]
    for train in (True, False):
        for inverted in (True, False):
            out, cache = do.dropout_forward(x, 0.5, mask=mask, train=train, inverted=inverted)
            do.dropout_backward(dout, cache)
            out[...] = 9.0  # the output is not a view of x
    for a, s in zip((x, mask, dout), saved):
        np.testing.assert_array_equal(a, s)
