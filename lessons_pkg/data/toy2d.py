"""Two-dimensional toy classification sets: two interleaved moons and Gaussian blobs.

Chapter: Practice › MLP from scratch (the autograd engine on two moons, decision boundaries).
Generated from a seeded ``torch.Generator``: the same seed gives the same points on any machine.
Shapes: n points; X is (n, 2) float32, y is (n,) int64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

Tensor = torch.Tensor


def _check_n(n: object, minimum: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise ValueError(f"n must be an int ≥ {minimum}, got {n!r}")


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")


def _check_scale(name: str, value: object, *, allow_zero: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def _shuffled(x: Tensor, y: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    order = torch.randperm(len(y), generator=generator)
    return x[order].to(torch.float32), y[order]


def make_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaved half circles, ``n // 2`` points of class 0 and the rest of class 1.

    Class 0 lies on the upper unit half circle (cos t, sin t), class 1 on the lower one shifted to
    (1 − cos t, 0.5 − sin t), with t evenly spaced in [0, π]; then Gaussian noise of standard
    deviation ``noise`` is added to each coordinate and the points are shuffled.

    Returns:
        X float32 (n, 2), y int64 (n,) in {0, 1}.

    Raises:
        ValueError: ``n`` < 2, ``noise`` negative or not finite, ``seed`` out of range.
        TypeError: ``seed`` is not an int.
    """
    _check_n(n, 2)
    _check_scale("noise", noise, allow_zero=True)
    _check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = torch.linspace(0, math.pi, n_upper, dtype=torch.float64)
    t_lower = torch.linspace(0, math.pi, n_lower, dtype=torch.float64)
    upper = torch.stack([torch.cos(t_upper), torch.sin(t_upper)], dim=1)  # (n_upper, 2)
    lower = torch.stack([1 - torch.cos(t_lower), 0.5 - torch.sin(t_lower)], dim=1)  # (n_lower, 2)
    x = torch.cat([upper, lower])  # (n, 2)
    x = x + noise * torch.randn(x.shape, generator=generator, dtype=torch.float64)
    y = torch.cat([torch.zeros(n_upper, dtype=torch.int64), torch.ones(n_lower, dtype=torch.int64)])
    return _shuffled(x, y, generator)


def make_blobs(
    n: int,
    centers: int | Sequence[Sequence[float]] | Tensor = 3,
    std: float = 0.5,
    seed: int = 0,
    radius: float = 3.0,
) -> tuple[Tensor, Tensor]:
    """Isotropic Gaussian clusters, one class per centre, sizes as equal as possible.

    Args:
        n: number of points; at least one per centre.
        centers: how many clusters (their centres then sit evenly on a circle of ``radius``
            around the origin, the first on the positive x-axis), or explicit centres, shape (K, 2).
        std: standard deviation of each coordinate around its centre.
        seed: seed of the generator.
        radius: radius of the circle of centres when ``centers`` is an int.

    Returns:
        X float32 (n, 2), y int64 (n,) in 0..K−1; class k has ``n // K`` points, plus one for the
        first ``n % K`` classes.

    Raises:
        ValueError: ``n`` < K, ``centers`` not a positive int or a (K, 2) array, ``std`` or
            ``radius`` not positive, ``seed`` out of range.
        TypeError: ``seed`` is not an int.
    """
    if isinstance(centers, bool):
        raise ValueError(f"centers must be a positive int or a (K, 2) array, got {centers!r}")
    if isinstance(centers, int):
        if centers < 1:
            raise ValueError(f"centers must be a positive int or a (K, 2) array, got {centers}")
        _check_scale("radius", radius, allow_zero=False)
        angle = torch.arange(centers, dtype=torch.float64) * (2 * math.pi / centers)
        middle = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (K, 2)
    else:
        try:
            middle = torch.as_tensor(centers, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"centers must be a positive int or a (K, 2) array, got {type(centers).__name__}"
            ) from err
        if middle.ndim != 2 or middle.shape[1] != 2 or middle.shape[0] < 1:
            raise ValueError(f"centers must have shape (K, 2), got {tuple(middle.shape)}")
        if not torch.isfinite(middle).all():
            raise ValueError("centers must be finite")
    k = middle.shape[0]
    _check_n(n, k)
    _check_scale("std", std, allow_zero=False)
    _check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    counts = torch.full((k,), n // k, dtype=torch.int64)
    counts[: n % k] += 1
    y = torch.repeat_interleave(torch.arange(k), counts)  # (n,)
    x = middle[y] + std * torch.randn((n, 2), generator=generator, dtype=torch.float64)
    return _shuffled(x, y, generator)
