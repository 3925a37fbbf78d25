"""Two-dimensional toy classification sets: two interleaved moons and Gaussian blobs.

Chapter: Practice › MLP from scratch (the autograd engine on two moons, decision boundaries).
Generated from a seeded ``torch.Generator``: the same seed gives the same points on any machine.
Shapes: n points; X is (n, 2) float32, y is (n,) int64.

The shapes are those of ``sklearn.datasets.make_moons`` and ``make_blobs`` (the tests compare
the two distributionally), but the randomness is torch's, not NumPy's: scikit-learn draws its
noise from a ``numpy.random.RandomState``, whose normal deviates differ from torch's for every
seed, so wrapping it would change every point on the pages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lessons_pkg._checks import check_int, check_number, check_seed

Tensor = torch.Tensor


def make_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaved half circles, ``n // 2`` points of class 0 and the rest of class 1.

    Class 0 lies on the upper unit half circle (cos t, sin t), class 1 on the lower one shifted to
    (1 − cos t, 0.5 − sin t), with t evenly spaced in [0, π]; then Gaussian noise of standard
    deviation ``noise`` is added to each coordinate and the points are shuffled.

    Returns:
        X float32 (n, 2), y int64 (n,) in {0, 1}.

    Raises:
        TypeError: ``n`` or ``seed`` is not an int, ``noise`` not a number.
        ValueError: ``n`` < 2, ``noise`` negative or not finite, ``seed`` not in [0, 2**32).
    """
    check_int("n", n, minimum=2)
    check_number("noise", noise, low=0.0)
    check_seed("seed", seed)
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
        TypeError: ``n`` or ``seed`` not an int, ``centers`` neither an int nor an array,
            ``std`` or ``radius`` not a number.
        ValueError: ``n`` < K, ``centers`` not positive or not of shape (K, 2) or not finite,
            ``std`` or ``radius`` not positive, ``seed`` not in [0, 2**32).
    """
    middle = _centres(centers, radius)  # (K, 2)
    k = middle.shape[0]
    check_int("n", n, minimum=k)
    check_number("std", std, low=0.0, low_open=True)
    check_seed("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    counts = torch.full((k,), n // k, dtype=torch.int64)
    counts[: n % k] += 1
    y = torch.repeat_interleave(torch.arange(k), counts)  # (n,)
    x = middle[y] + std * torch.randn((n, 2), generator=generator, dtype=torch.float64)
    return _shuffled(x, y, generator)


def _centres(centers: object, radius: object) -> Tensor:
    """The (K, 2) float64 centres of ``make_blobs``: K on a circle of ``radius``, or as given."""
    wrong_type = f"centers must be an int or a (K, 2) array, got {type(centers).__name__}"
    if isinstance(centers, bool):
        raise TypeError(wrong_type)
    if isinstance(centers, int):
        check_int("centers", centers, minimum=1)
        check_number("radius", radius, low=0.0, low_open=True)
        angle = torch.arange(centers, dtype=torch.float64) * (2 * math.pi / centers)
        return radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    try:
        middle = torch.as_tensor(centers, dtype=torch.float64)
    except TypeError as err:  # not numbers: a str, None, a dict, ...
        raise TypeError(wrong_type) from err
    except (ValueError, RuntimeError) as err:  # ragged rows, strings inside, ...
        raise ValueError(f"centers must be a (K, 2) array of numbers ({err})") from err
    if middle.ndim != 2 or middle.shape[1] != 2 or middle.shape[0] < 1:
        raise ValueError(f"centers must have shape (K, 2), got {tuple(middle.shape)}")
    if not torch.isfinite(middle).all():
        raise ValueError("centers must be finite")
    return middle


def _shuffled(x: Tensor, y: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    order = torch.randperm(len(y), generator=generator)
    return x[order].to(torch.float32), y[order]
