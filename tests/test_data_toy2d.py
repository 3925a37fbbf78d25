"""Tests for lessons_pkg.data.toy2d: two moons and Gaussian blobs, compared with scikit-learn."""

import math

import numpy as np
import pytest
import torch
from sklearn import datasets as skd

from lessons_pkg.data.toy2d import make_blobs, make_moons


@pytest.mark.parametrize("n", [2, 7, 100])
def test_moons_shapes_balance_and_exact_curves(n):
    x, y = make_moons(n, noise=0.0, seed=0)
    assert x.shape == (n, 2) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert int((y == 0).sum()) == n // 2 and int((y == 1).sum()) == n - n // 2
    upper, lower = x[y == 0].double(), x[y == 1].double()
    # without noise: the upper moon is the unit half circle, the lower one is centred at (1, 0.5)
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(len(upper), dtype=torch.float64))
    assert (upper[:, 1] >= -1e-6).all()
    shifted = lower - torch.tensor([1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(shifted.norm(dim=1), torch.ones(len(lower), dtype=torch.float64))
    assert (shifted[:, 1] <= 1e-6).all()


def test_moons_noise_and_determinism():
    x, y = make_moons(400, noise=0.1, seed=5)
    x2, y2 = make_moons(400, noise=0.1, seed=5)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = make_moons(400, noise=0.1, seed=6)
    assert not torch.equal(x, x3)
    upper = x[y == 0].double().norm(dim=1)
    assert 0.07 < (upper - 1).std() < 0.13  # radial spread close to the noise level
    assert y[:50].unique().numel() == 2  # shuffled, not sorted by class


def test_blobs_balance_centres_and_spread():
    x, y = make_blobs(3001, centers=3, std=0.4, seed=1)
    assert x.shape == (3001, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1001, 1000, 1000]
    for k in range(3):
        angle = 2 * math.pi * k / 3
        centre = torch.tensor([3 * math.cos(angle), 3 * math.sin(angle)])
        points = x[y == k]
        torch.testing.assert_close(points.mean(0), centre, rtol=0, atol=0.06)
        torch.testing.assert_close(points.std(0), torch.full((2,), 0.4), rtol=0, atol=0.04)
    given = [[0.0, 0.0], [10.0, -10.0]]
    x, y = make_blobs(10, centers=given, std=0.01, seed=0)
    torch.testing.assert_close(x[y == 1].mean(0), torch.tensor([10.0, -10.0]), rtol=0, atol=0.05)
    assert torch.equal(make_blobs(50, seed=2)[0], make_blobs(50, seed=2)[0])
    assert not torch.equal(make_blobs(50, seed=2)[0], make_blobs(50, seed=3)[0])


# ---------------------------------------------------------------------------- vs scikit-learn
# The package keeps its own generators: scikit-learn draws the noise from NumPy's RandomState,
# which gives other points than torch's generator for every seed, and the pages' data would
# change. What must agree is everything but the random draws.


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    return x[np.lexsort((x[:, 1], x[:, 0]))]


@pytest.mark.parametrize("n", [2, 7, 200, 1001])
def test_noise_free_moons_are_sklearns_points(n):
    x, y = make_moons(n, noise=0.0, seed=0)
    xs, ys = skd.make_moons(n, noise=None, shuffle=False)
    for label in (0, 1):
        np.testing.assert_allclose(_sorted_rows(x[y == label].numpy()),
                                   _sorted_rows(xs[ys == label].astype(np.float32)),
                                   rtol=0, atol=1e-7)


def _per_class_moments(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """(k, 2, 2): per class, the mean and the standard deviation of each coordinate."""
    return np.stack([np.stack([x[y == c].mean(0), x[y == c].std(0)]) for c in range(k)])


def test_moons_match_sklearn_in_distribution():
    n = 400_001
    x, y = (t.numpy() for t in make_moons(n, noise=0.1, seed=0))
    xs, ys = skd.make_moons(n, noise=0.1, random_state=0)
    assert x.shape == xs.shape and y.shape == ys.shape and set(np.unique(y)) == {0, 1}
    assert np.bincount(y).tolist() == np.bincount(ys).tolist() == [n // 2, n - n // 2]
    # standard error of a difference of means here is about 0.002
    np.testing.assert_allclose(_per_class_moments(x, y, 2), _per_class_moments(xs, ys, 2),
                               rtol=0, atol=0.01)
    assert not np.allclose(x[:10], xs[:10])  # the same distribution, not the same draws


def test_blobs_match_sklearn_in_distribution():
    n, k, std = 1_000_002, 4, 0.7
    x, y = (t.numpy() for t in make_blobs(n, centers=k, std=std, seed=0, radius=2.0))
    angle = np.arange(k) * (2 * np.pi / k)
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    xs, ys = skd.make_blobs(n, centers=centres, cluster_std=std, random_state=0)
    assert x.shape == xs.shape and y.shape == ys.shape
    assert np.bincount(y).tolist() == np.bincount(ys).tolist()  # n // k, one more for the first
    moments = _per_class_moments(x, y, k)
    np.testing.assert_allclose(moments, _per_class_moments(xs, ys, k), rtol=0, atol=0.01)
    np.testing.assert_allclose(moments[:, 0], centres, rtol=0, atol=0.01)
    np.testing.assert_allclose(moments[:, 1], std, rtol=0, atol=0.01)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: make_moons(1), ValueError, "n must be an int >= 2, got 1"),
        (lambda: make_moons(10.0), TypeError, "n must be an int, got float"),
        (lambda: make_moons(10, noise=-0.1), ValueError, "noise must be a number >= 0, got -0.1"),
        (lambda: make_moons(10, noise=math.nan), ValueError, "noise must be a number >= 0"),
        (lambda: make_moons(10, noise="0.1"), TypeError, "noise must be a number, got str"),
        (lambda: make_moons(10, seed="0"), TypeError, "seed must be an int, got str"),
        (lambda: make_moons(10, seed=-1), ValueError, r"seed must be in \[0, 2\*\*32\)"),
        (lambda: make_blobs(2, centers=3), ValueError, "n must be an int >= 3, got 2"),
        (lambda: make_blobs(10, centers=0), ValueError, "centers must be a positive int, got 0"),
        (lambda: make_blobs(10, centers=True), TypeError, r"int or a \(K, 2\) array, got bool"),
        (lambda: make_blobs(10, centers=[1, 2]), ValueError, r"shape \(K, 2\), got \(2,\)"),
        (lambda: make_blobs(10, centers="ab"), TypeError, r"int or a \(K, 2\) array, got str"),
        (lambda: make_blobs(10, centers=[[1, 2], [3]]), ValueError, "array of numbers"),
        (lambda: make_blobs(10, std=0), ValueError, "std must be a number > 0, got 0"),
        (lambda: make_blobs(10, radius=-1), ValueError, "radius must be a number > 0, got -1"),
        (lambda: make_blobs(10, centers=[[0, math.inf]]), ValueError, "centers must be finite"),
    ],
)
def test_toy2d_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
