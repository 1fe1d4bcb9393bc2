"""Tests for tnn_lib.data."""

import numpy as np
import pytest

from tnn_lib.data import gaussian_blobs, load_digits_split, noisy_sine, spirals, two_moons


def test_digits_split_shapes_dtypes_and_standardization():
    (xt, yt), (xv, yv), (xs, ys) = load_digits_split()
    assert xt.shape == (1078, 64) and xv.shape == (359, 64) and xs.shape == (360, 64)
    assert xt.dtype == np.float64 and yt.dtype == np.int64
    assert set(np.unique(yt)) == set(range(10))
    np.testing.assert_allclose(xt.mean(axis=0), 0.0, atol=1e-12)
    std = xt.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-12) | (std == 0))  # blank pixels stay 0 (std 1 used)
    assert abs(xv.mean()) < 0.2  # validation uses the training statistics: close, not exact
    assert abs(xv.mean(axis=0)).max() > 1e-6


def test_digits_split_is_reproducible_and_disjoint():
    from sklearn.datasets import load_digits
    a = load_digits_split()
    b = load_digits_split(0)
    c = load_digits_split(np.random.default_rng(1))
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][1], c[0][1])
    raw, labels = load_digits(return_X_y=True)
    assert sum(len(part[1]) for part in a) == len(raw) == 1797
    np.testing.assert_array_equal(np.sort(np.r_[a[0][1], a[1][1], a[2][1]]), np.sort(labels))
    # the split is a permutation: as many distinct images as in the raw data, none lost or repeated
    rows = {tuple(r) for r in np.round(np.r_[a[0][0], a[1][0], a[2][0]], 10)}
    assert len(rows) == len({tuple(r) for r in raw})


def test_digits_split_fractions():
    (xt, _), (xv, _), (xs, _) = load_digits_split(fractions=(0.5, 0.25, 0.25))
    assert (len(xt), len(xv), len(xs)) == (898, 449, 450)
    with pytest.raises(ValueError, match="fractions: expected three positive numbers summing to 1"):
        load_digits_split(fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="fractions: expected three positive numbers summing to 1"):
        load_digits_split(fractions=(0.6, 0.3, 0.3))


@pytest.mark.parametrize("make, n, classes", [
    (lambda: two_moons(101, noise=0.0), 101, 2),
    (lambda: spirals(40, 3, noise=0.0), 120, 3),
    (lambda: gaussian_blobs(30, centers=[[0, 0], [3, 3], [-3, 3]], std=0.1), 90, 3),
])
def test_synthetic_classification_sets(make, n, classes):
    x, y = make()
    assert x.shape == (n, 2) and x.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(classes))
    x2, y2 = make()
    np.testing.assert_array_equal(x, x2)  # fixed default seed


def test_two_moons_geometry_without_noise():
    x, y = two_moons(200, noise=0.0)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, rtol=1e-12)  # unit half circle
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-12)


def test_blobs_are_centred_on_their_centres():
    centers = np.array([[0.0, 0.0], [5.0, -5.0]])
    x, y = gaussian_blobs(2000, centers=centers, std=0.5, rng=3)
    for k in range(2):
        np.testing.assert_allclose(x[y == k].mean(axis=0), centers[k], atol=0.05)
        np.testing.assert_allclose(x[y == k].std(axis=0), 0.5, rtol=0.05)


def test_noisy_sine():
    (xt, yt), (xv, yv) = noisy_sine(n_train=10, noise=0.0, n_val=50)
    assert xt.shape == yt.shape == (10, 1) and xv.shape == yv.shape == (50, 1)
    assert np.all(np.diff(xt[:, 0]) >= 0) and xt.min() >= 0 and xt.max() <= 1
    np.testing.assert_allclose(yt, np.sin(2 * np.pi * xt), atol=1e-15)
    np.testing.assert_allclose(xv[:, 0], np.linspace(0, 1, 50))
    (_, yt2), (_, yv2) = noisy_sine(noise=0.3, rng=np.random.default_rng(5))
    (xt3, yt3), _ = noisy_sine(noise=0.3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(yt2, yt3)
    # the noise has the std asked for: with 20,000 draws the sample std is within ±1 % of
    # 0.3 (its own standard error is 0.3/√(2·20000) ≈ 0.0015), on train and validation alike
    (xt4, yt4), (xv4, yv4) = noisy_sine(n_train=20_000, noise=0.3, n_val=20_000, rng=np.random.default_rng(7))
    assert abs(np.std(yt4 - np.sin(2 * np.pi * xt4)) - 0.3) < 0.003
    assert abs(np.std(yv4 - np.sin(2 * np.pi * xv4)) - 0.3) < 0.003
    assert abs(np.mean(yt4 - np.sin(2 * np.pi * xt4))) < 0.01


@pytest.mark.parametrize("call, match", [
    (lambda: two_moons(1), "n: expected an integer >= 2"),
    (lambda: two_moons(10, noise=-1.0), "noise: expected a non-negative number"),
    (lambda: spirals(10, 1), "n_classes: expected an integer >= 2"),
    (lambda: gaussian_blobs(10, centers=[1.0, 2.0]), "centers: expected shape"),
    (lambda: noisy_sine(rng="seed"), "rng: expected an integer"),
    (lambda: load_digits_split(rng=-1), "rng: expected an integer >= 0"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
