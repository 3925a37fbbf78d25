"""Tests for lessons_pkg.data.digits (the 8×8 digits split) and lessons_pkg.data.toy2d."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from lessons_pkg.data.digits import DigitsSplit, digits_loaders, load_digits_split
from lessons_pkg.data.toy2d import make_blobs, make_moons

# ------------------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def split() -> DigitsSplit:
    return load_digits_split()


def test_split_sizes_shapes_dtypes_and_range(split):
    sizes = [len(split.train), len(split.val), len(split.test)]
    assert sizes == [1257, 270, 270] and sum(sizes) == 1797
    for part in (split.train, split.val, split.test):
        images, labels = part.tensors
        assert images.shape == (len(part), 1, 8, 8) and images.dtype == torch.float32
        assert labels.shape == (len(part),) and labels.dtype == torch.int64
        assert images.min() == 0.0 and images.max() == 1.0
        assert set(labels.tolist()) == set(range(10))


def test_split_matches_scikit_learn_rows(split):
    reference = load_digits()
    for part, index in ((split.train, split.train_idx), (split.test, split.test_idx)):
        images, labels = part.tensors
        expected = torch.from_numpy(reference.images[index.numpy()] / 16.0).float()
        torch.testing.assert_close(images[:, 0], expected, rtol=0, atol=0)
        assert torch.equal(labels, torch.from_numpy(reference.target[index.numpy()]).long())


def test_split_is_disjoint_complete_and_fixed(split):
    rows = torch.cat([split.train_idx, split.val_idx, split.test_idx])
    assert torch.equal(rows.sort().values, torch.arange(1797))  # disjoint and covers all
    again = load_digits_split()
    for a, b in ((split.train, again.train), (split.val, again.val), (split.test, again.test)):
        assert all(torch.equal(x, y) for x, y in zip(a.tensors, b.tensors, strict=True))
    other = load_digits_split(seed=1)
    assert not torch.equal(other.test_idx, split.test_idx)


def test_split_is_stratified(split):
    overall = np.bincount(load_digits().target, minlength=10) / 1797
    for part in (split.train, split.val, split.test):
        counts = np.bincount(part.tensors[1].numpy(), minlength=10)
        # each class within two examples (two rounded splits) of its share of the whole set
        assert np.all(np.abs(counts - overall * len(part)) <= 2.0), counts


def test_loaders_shuffle_reproducibly_and_keep_val_test_order():
    train, val, test = digits_loaders(batch_size=100, seed=3)
    first = [yb for _, yb in train]
    x, _ = next(iter(train))
    assert x.shape == (100, 1, 8, 8) and x.dtype == torch.float32
    again = [yb for _, yb in digits_loaders(batch_size=100, seed=3)[0]]
    other = [yb for _, yb in digits_loaders(batch_size=100, seed=4)[0]]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    assert len(first) == math.ceil(1257 / 100) and len(first[-1]) == 1257 % 100
    split = load_digits_split()
    assert torch.equal(torch.cat([yb for _, yb in val]), split.val.tensors[1])
    assert torch.equal(torch.cat([yb for _, yb in test]), split.test.tensors[1])


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        digits_loaders(batch_size=0)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0, got -1"):
        digits_loaders(num_workers=-1)
    with pytest.raises(TypeError, match="batch_size must be an int, got float"):
        digits_loaders(batch_size=64.0)
    with pytest.raises(TypeError, match="val_fraction must be a number, got str"):
        load_digits_split(val_fraction="0.15")
    with pytest.raises(TypeError, match="seed must be an int, got float"):
        digits_loaders(seed=1.5)
    with pytest.raises(ValueError, match=r"split_seed must be in \[0, 2\*\*32\), got -1"):
        digits_loaders(split_seed=-1)
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \(0, 1\), got 0"):
        load_digits_split(val_fraction=0)
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\)"):
        load_digits_split(test_fraction=1.5)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be below 1"):
        load_digits_split(val_fraction=0.5, test_fraction=0.5)
    split = load_digits_split()
    with pytest.raises(TypeError, match="train must be a TensorDataset, got list"):
        DigitsSplit([], split.val, split.test, split.train_idx, split.val_idx, split.test_idx)
    with pytest.raises(ValueError, match=r"val_idx must be a tensor of shape \(270,\)"):
        DigitsSplit(split.train, split.val, split.test, split.train_idx, split.test_idx[:3],
                    split.test_idx)  # fmt: skip


# ------------------------------------------------------------------------------------- toy 2-D


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


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: make_moons(1), ValueError, "n must be an int ≥ 2, got 1"),
        (lambda: make_moons(10.0), ValueError, "n must be an int ≥ 2, got 10.0"),
        (lambda: make_moons(10, noise=-0.1), ValueError, "noise must be a finite number ≥ 0"),
        (lambda: make_moons(10, noise=math.nan), ValueError, "noise must be a finite number"),
        (lambda: make_moons(10, seed="0"), TypeError, "seed must be an int, got str"),
        (lambda: make_moons(10, seed=-1), ValueError, "seed must be in"),
        (lambda: make_blobs(2, centers=3), ValueError, "n must be an int ≥ 3, got 2"),
        (lambda: make_blobs(10, centers=0), ValueError, "centers must be a positive int"),
        (lambda: make_blobs(10, centers=True), ValueError, "centers must be a positive int"),
        (lambda: make_blobs(10, centers=[1, 2]), ValueError, r"shape \(K, 2\), got \(2,\)"),
        (lambda: make_blobs(10, centers="ab"), ValueError, "centers must be a positive int"),
        (lambda: make_blobs(10, std=0), ValueError, "std must be a finite number > 0"),
        (lambda: make_blobs(10, radius=-1), ValueError, "radius must be a finite number > 0"),
        (lambda: make_blobs(10, centers=[[0, math.inf]]), ValueError, "centers must be finite"),
    ],
)
def test_toy2d_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
