"""Device selection, seeding and the reproducible CPU mode, so every page runs the same on a
laptop, in Colab, or on a GPU.

Chapter: Preface (the version stamp, running the pages) and every page's setup cell.

The reproducible CPU mode (:data:`REPRODUCIBLE_CPU_ENV`) makes float32 training print the same
digits on every x86-64 CPU with AVX2, Intel or AMD, with or without AVX-512: ATen's vector
kernels and oneDNN are capped at AVX2, MKL runs its vendor-independent code path, and the thread
count is fixed. The variables are read when torch is imported, so they must be in the environment
before that: every page's setup cell sets them (unless ``LESSONS_PKG_NATIVE=1``), and
``python -m lessons_pkg run CMD`` runs a command with them.

Batches follow the model: :func:`to_device` moves every tensor of a batch (tuples, lists, dicts,
named tuples) and :func:`model_device` says where a model's parameters live.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from lessons_pkg._checks import check_seed

_DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")

#: The environment of the reproducible CPU mode: its one definition. Every page's setup cell is
#: generated from it, and ``notebooks/conftest.py`` sets it for nbval.
REPRODUCIBLE_CPU_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised kernels: AVX2, also on AVX-512 CPUs
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions, some matmuls): the same cap
    "MKL_CBWR": "COMPATIBLE",  # MKL: one code path on Intel and AMD, whatever the vector width
    "OMP_NUM_THREADS": "2",  # how a sum is split among threads changes its last bits
    "MKL_NUM_THREADS": "2",
}
_X86_64 = ("x86_64", "amd64")
#: Floating-point types Apple's MPS backend cannot hold.
_NOT_ON_MPS = (torch.float64, torch.complex128)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(name: str | torch.device = "auto", dtype: torch.dtype | None = None
               ) -> torch.device:
    """Return the device to compute on.

    Args:
        name: ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. ``"cpu"``, ``"cuda"``
            (optionally ``"cuda:N"``) and ``"mps"`` ask for that device and fail clearly when it
            is missing. A ``torch.device`` is checked the same way.
        dtype: the widest floating-point type the caller will put on the device. MPS has no
            float64 (nor complex128): with such a ``dtype``, ``"auto"`` passes over MPS to the
            CPU, and asking for ``"mps"`` is an error. ``None`` (the default) means float32.

    Raises:
        TypeError: ``name`` is neither a string nor a ``torch.device``, or ``dtype`` is not a
            ``torch.dtype``.
        ValueError: the name is unknown, the device it names is not available here, or it
            cannot hold ``dtype``.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str or torch.device, got {type(name).__name__}")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {type(dtype).__name__}")
    kind, _, index = name.partition(":")
    if kind not in _DEVICE_NAMES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"name must be one of {_DEVICE_NAMES} (or 'cuda:N'), got {name!r}")
    mps_can_hold = dtype not in _NOT_ON_MPS
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_can_hold and _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "mps" and not mps_can_hold:
        raise ValueError(f"dtype {dtype} is not supported on 'mps' (Apple's GPU has no 64-bit "
                         "floating point): ask for get_device('auto', dtype=...) or 'cpu'")
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
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return device.type


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    Raises:
        TypeError: ``seed`` is not an integer.
        ValueError: ``seed`` is negative or does not fit in 32 bits (NumPy's limit).
    """
    check_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    os.environ["PYTHONHASHSEED"] = str(seed)  # inherited by worker processes started later


def cpu_can_reproduce() -> bool:
    """True on an x86-64 CPU with AVX2, where the reproducible CPU mode gives the book's digits.

    ARM laptops (Apple silicon, Graviton) compute float32 in other orders, so they cannot match
    bit for bit; nor can a CPU without AVX2.
    """
    if platform.machine().lower() not in _X86_64:
        return False
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                return any(line.startswith("flags") and " avx2" in line for line in f)
        except OSError:
            return False
    # Elsewhere ask torch, which reports the best vector level it found (capped by the mode).
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def reproducible_mode_problems() -> list[str]:
    """What stops this process from computing in the reproducible CPU mode ([] when it is on)."""
    if not cpu_can_reproduce():
        return [f"this CPU ({platform.machine()}) is not an x86-64 CPU with AVX2"]
    unset = [key for key, value in REPRODUCIBLE_CPU_ENV.items() if os.environ.get(key) != value]
    problems = [f"{', '.join(unset)} not as the mode sets {'it' if len(unset) == 1 else 'them'}"
                ] if unset else []
    capability = torch.backends.cpu.get_cpu_capability()
    if "ATEN_CPU_CAPABILITY" not in unset and capability != "AVX2":  # set after torch chose
        problems.append(f"torch runs {capability} kernels, not AVX2 (the variable came too late)")
    return problems


def describe_numerics(device: torch.device) -> str:
    """One line for the top of a page: where it computes and whether its digits are the book's."""
    where = describe_device(device)
    if device.type != "cpu":
        return (f"{where}: trained results may differ from the book's in the last digits "
                "(the book ran on a CPU)")
    problems = reproducible_mode_problems()
    if not problems:
        return f"{where}, reproducible CPU mode on: printed numbers should equal the book's"
    return (f"{where}, reproducible CPU mode off ({'; '.join(problems)}): trained results may "
            "differ from the book's in the last digits")


def to_device(batch: Any, device: torch.device | str | None) -> Any:
    """Move every tensor in ``batch`` to ``device``, recursing into tuples, lists and dicts.

    Named tuples keep their type, dicts come back as ``dict``; anything that is not a tensor or a
    container (strings, numbers) is returned as it is. ``device=None`` returns ``batch`` unchanged.
    """
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU when it has none."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
