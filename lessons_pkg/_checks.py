"""Argument checks shared by every module: one policy, one wording.

Policy: a value of the wrong *type* raises ``TypeError``; a value of the right type but outside
what is allowed raises ``ValueError``. Every message names the argument as the caller spelled it,
says what was expected and shows what came: ``"top_p must be a number in (0, 1], got 1.5"``.
``bool`` is never accepted where a number is asked for (``True`` is an ``int`` in Python, but a
caller who passes it has made a mistake).

Functions that the book shows with ``literalinclude`` call these in one line each, so that the
listing shows the algorithm and not the checks.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import torch

SEED_LIMIT = 2**32  # NumPy's limit; torch accepts more, but one bound keeps seeds portable


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` is an int (not a bool) with ``minimum <= value <= maximum``; return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int <= {maximum}, got {value}")
    return value


def check_positive_int(name: str, value: Any, *, optional: bool = False) -> int | None:
    """``value`` is an int >= 1 (or ``None`` when ``optional``); return it."""
    if value is None and optional:
        return None
    return check_int(name, value, minimum=1)


def check_seed(name: str, value: Any) -> int:
    """A seed: an int in [0, 2**32)."""
    check_int(name, value)
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be in [0, 2**32), got {value}")
    return value


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` is a finite real number (int or float, not bool) inside the given interval.

    ``low``/``high`` are bounds (``None``: unbounded); ``low_open``/``high_open`` exclude them.
    Returns the value as a float.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(f"{name} must be {_interval(low, high, low_open, high_open)}, "
                         f"got {value!r}")
    return float(value)


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a number {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a number {'<' if high_open else '<='} {high:g}"
    return (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}")


def check_probability(name: str, value: Any, *, open_low: bool = False) -> float:
    """A probability in [0, 1] (or (0, 1] with ``open_low``)."""
    return check_number(name, value, low=0.0, high=1.0, low_open=open_low)


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_tensor(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None,
                 floating: bool | None = None) -> torch.Tensor:
    """``value`` is a tensor with this many dimensions; ``floating``: a float (or integer) dtype."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(value)}")
    if floating is True and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if floating is False and (value.is_floating_point() or value.is_complex()
                              or value.dtype == torch.bool):
        raise TypeError(f"{name} must be an integer tensor, got dtype {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if value.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape "
                             f"{tuple(value.shape)}")
    return value


def check_shape(name: str, value: Any, shape: tuple[int | str, ...], *,
                floating: bool | None = None) -> torch.Tensor:
    """A tensor of this shape: an int is a required size, a string names a free one, so
    ``("B", 1, 8, 8)`` asks for a batch of 1×8×8 images. ``floating`` as in ``check_tensor``."""
    check_tensor(name, value, floating=floating)
    if value.ndim != len(shape) or any(not isinstance(want, str) and got != want
                                       for got, want in zip(value.shape, shape, strict=True)):
        want = ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "")
        raise ValueError(f"{name} must have shape ({want}), got {tuple(value.shape)}")
    return value


def check_token_ids(name: str, ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Integer token ids in [0, vocab_size): a clear error instead of an IndexError deep inside
    an embedding."""
    check_tensor(name, ids, floating=False)
    if ids.numel():
        low, high = (int(v) for v in torch.aminmax(ids))  # one pass over the ids
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{name} must hold token ids in [0, {vocab_size}), got values in "
                             f"[{low}, {high}]")
    return ids


def check_generator(name: str, value: Any) -> torch.Generator | None:
    """``None`` or a ``torch.Generator``: the one way the package takes randomness."""
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {_type_name(value)}")
    return value


def check_int_sequence(name: str, value: Any, *, length: int | None = None,
                       min_length: int = 0, minimum: int | None = 1) -> list[int]:
    """A sequence (not a string) of ints, each >= ``minimum`` and named ``name[i]`` when wrong;
    ``length``: exactly that many, ``min_length``: at least that many. Returns it as a list."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {_type_name(value)}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must hold {length} int{'s' * (length != 1)}, got {len(value)}")
    if len(value) < min_length:
        raise ValueError(f"{name} must hold at least {min_length} int{'s' * (min_length != 1)}, "
                         f"got {len(value)}")
    for i, item in enumerate(value):
        check_int(f"{name}[{i}]", item, minimum=minimum)
    return list(value)


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Two tensors that must have one shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")


def check_token_batch(name: str, ids: Any, vocab_size: int, *,
                      context_length: int | None = None) -> torch.Tensor:
    """A (B, T) batch of token ids for an embedding of ``vocab_size`` rows: an int64 or int32
    tensor (what ``nn.Embedding`` takes) with ids in [0, vocab_size) and T <= ``context_length``."""
    check_tensor(name, ids, ndim=2, floating=False)
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must be an int64 or int32 tensor of token ids, got dtype "
                        f"{ids.dtype}")
    if context_length is not None and ids.shape[1] > context_length:
        raise ValueError(f"{name} has length {ids.shape[1]} > context_length ({context_length})")
    return check_token_ids(name, ids, vocab_size)
