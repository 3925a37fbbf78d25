"""Device selection and seeding, so every page runs the same on a laptop, in Colab, or on a GPU.

Chapter: Preface (the version stamp) and every page's setup cell.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

_DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(name: str | torch.device = "auto") -> torch.device:
    """Return the device to compute on.

    Args:
        name: ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. ``"cpu"``, ``"cuda"``
            (optionally ``"cuda:N"``) and ``"mps"`` ask for that device and fail clearly when it
            is missing. A ``torch.device`` is checked the same way.

    Raises:
        TypeError: ``name`` is neither a string nor a ``torch.device``.
        ValueError: the name is unknown, or the device it names is not available here.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str or torch.device, got {type(name).__name__}")
    kind, _, index = name.partition(":")
    if kind not in _DEVICE_NAMES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"name must be one of {_DEVICE_NAMES} (or 'cuda:N'), got {name!r}")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                "device 'cuda' was asked for but torch.cuda.is_available() is False: no NVIDIA "
                "GPU is visible or this torch build has no CUDA (in Colab: Runtime > Change "
                "runtime type > GPU)"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} was asked for but only {torch.cuda.device_count()} GPU(s) exist"
            )
    if kind == "mps" and not _mps_available():
        raise ValueError(
            "device 'mps' was asked for but torch.backends.mps.is_available() is False: MPS needs "
            "Apple silicon and a torch build with MPS support"
        )
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A short human-readable name for ``device``, e.g. ``"cpu (2 threads)"``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    Raises:
        TypeError: ``seed`` is not an integer.
        ValueError: ``seed`` is negative or does not fit in 32 bits (NumPy's limit).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    os.environ["PYTHONHASHSEED"] = str(seed)  # inherited by worker processes started later
