"""The 8×8 handwritten digits bundled with scikit-learn, split once into train/val/test.

Chapter: Practice › Image classifier (MLP vs a small CNN). Data: the UCI "Optical Recognition of
Handwritten Digits" set (Alpaydin & Kaynak, 1998) as shipped in ``sklearn.datasets.load_digits``:
1,797 grey images of 8×8 pixels with values 0..16, ten classes. It is read from scikit-learn's
package files, so nothing is downloaded.
Shapes: N images; each image is (1, 8, 8), channels first as PyTorch's convolutions expect.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from lessons_pkg._checks import check_int, check_number, check_positive_int, check_seed

N_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)
_MAX_PIXEL = 16.0  # pixel values in the bundled set are counts 0..16


@dataclass(frozen=True)
class DigitsSplit:
    """Fixed, stratified split of the digits.

    Attributes:
        train, val, test: ``TensorDataset(images, labels)`` with images float32 (N, 1, 8, 8) in
            [0, 1] and labels int64 (N,) in 0..9.
        train_idx, val_idx, test_idx: int64 row numbers into ``sklearn.datasets.load_digits()``,
            so any example can be traced back to the original set.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            dataset = getattr(self, name)
            if not isinstance(dataset, TensorDataset):
                raise TypeError(f"{name} must be a TensorDataset, got {type(dataset).__name__}")
            index = getattr(self, f"{name}_idx")
            if not isinstance(index, torch.Tensor) or index.shape != (len(dataset),):
                raise ValueError(f"{name}_idx must be a tensor of shape ({len(dataset)},)")


@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported here: importing the package stays cheap

    bunch = load_digits()
    images = bunch.images.astype(np.float32)  # (N, 8, 8)
    labels = bunch.target.astype(np.int64)  # (N,)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits_split(
    seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> DigitsSplit:
    """Split the 1,797 digits into train/val/test, stratified by class.

    With the defaults the sizes are 1,257 / 270 / 270 (70 / 15 / 15 %), the same for everyone who
    uses ``seed=0``: every page of the course reports numbers on this test set.

    Args:
        seed: seed of the split.
        val_fraction, test_fraction: shares of the whole set; each in (0, 1), sum below 1.

    Raises:
        TypeError: ``seed`` is not an int.
        ValueError: ``seed`` is out of range, or a fraction is outside (0, 1) or they sum to ≥ 1.
    """
    from sklearn.model_selection import train_test_split

    check_seed("seed", seed)
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        check_number(name, value, low=0.0, high=1.0, low_open=True, high_open=True)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave training data, got "
            f"{val_fraction} + {test_fraction}"
        )

    images, labels = _raw_digits()
    rows = np.arange(len(labels))
    rest, test_rows = train_test_split(
        rows, test_size=test_fraction, stratify=labels, random_state=seed
    )
    # The validation share is of the whole set, so rescale it to the part left after the test.
    train_rows, val_rows = train_test_split(
        rest,
        test_size=val_fraction / (1 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )

    def subset(part: np.ndarray) -> tuple[TensorDataset, torch.Tensor]:
        part = np.sort(part)
        x = torch.from_numpy(images[part] / _MAX_PIXEL).unsqueeze(1)  # (N, 1, 8, 8)
        y = torch.from_numpy(labels[part].copy())  # (N,)
        return TensorDataset(x, y), torch.from_numpy(part.astype(np.int64))

    (train, train_idx), (val, val_idx), (test, test_idx) = map(
        subset, (train_rows, val_rows, test_rows)
    )
    return DigitsSplit(train, val, test, train_idx, val_idx, test_idx)


def digits_loaders(
    batch_size: int = 64, seed: int = 0, *, split_seed: int = 0, num_workers: int = 0
) -> tuple[DataLoader, DataLoader, DataLoader]:
    """``(train, val, test)`` DataLoaders over :func:`load_digits_split`.

    The train loader shuffles with its own ``torch.Generator`` seeded with ``seed``, so the batch
    order is reproducible (and ``fit`` can resume a run exactly); val and test keep a fixed order.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        seed: seed of the train loader's shuffling.
        split_seed: seed of the split (keep 0 to compare with the course's numbers).
        num_workers: worker processes for loading (0: load in the main process).

    Raises:
        TypeError / ValueError: an argument has the wrong type or range (the message names it).
    """
    check_positive_int("batch_size", batch_size)
    check_int("num_workers", num_workers, minimum=0)
    check_seed("seed", seed)
    check_seed("split_seed", split_seed)
    split = load_digits_split(seed=split_seed)
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(
        split.train,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=num_workers,
    )
    val = DataLoader(split.val, batch_size=batch_size, num_workers=num_workers)
    test = DataLoader(split.test, batch_size=batch_size, num_workers=num_workers)
    return train, val, test
