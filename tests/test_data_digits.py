"""Tests for lessons_pkg.data.digits (the 8×8 digits split)."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from lessons_pkg.data.digits import DigitsSplit, digits_loaders, load_digits_split

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
