"""Two-dimensional Gaussian mixtures for GAN experiments, and the mode metrics used to score them.

Chapter: Practice › Generative models (the ring and the grid); Algorithms › GAN (mode collapse).
Paper: the ring and grid benchmarks follow Metz et al. (2017), "Unrolled GANs", and
Lin et al. (2018), "PacGAN"; the coverage threshold below is this package's own, stated in
:func:`mode_metrics`.
Shapes: N samples, K modes.

Both data sets are equal-weight mixtures of isotropic Gaussians with a small standard deviation
``std``, so the modes are far apart compared with their width and a generator that drops a mode,
or smears mass between modes, is easy to see and to count.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lessons_pkg._checks import (
    check_generator,
    check_number,
    check_positive_int,
    check_seed,
    check_tensor,
)

__all__ = ["grid_centres", "grid_of_gaussians", "mode_metrics", "ring_centres", "ring_of_gaussians"]


def _make_generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator | None:
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    check_generator("generator", generator)
    if seed is not None:
        check_seed("seed", seed)
        return torch.Generator().manual_seed(seed)
    return generator


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """Centres of ``n_modes`` points equally spaced on a circle, the first on the +x axis.

    Returns:
        ``(K, 2)`` float32 tensor.
    """
    check_positive_int("n_modes", n_modes)
    check_number("radius", radius, low=0.0, low_open=True)
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes  # (K,)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()  # (K, 2)


def grid_centres(side: int = 5, spacing: float = 2.0) -> Tensor:
    """Centres of a ``side`` × ``side`` grid centred on the origin (``-4 … 4`` for the defaults).

    Returns:
        ``(side², 2)`` float32 tensor, row-major (x varies slowest).
    """
    check_positive_int("side", side)
    check_number("spacing", spacing, low=0.0, low_open=True)
    ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing  # (side,)
    xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float()  # (side², 2)


def _sample_mixture(
    n: int, centres: Tensor, std: float, generator: torch.Generator | None
) -> Tensor:
    check_positive_int("n", n)
    check_number("std", std, low=0.0, low_open=True)
    # Equal weights: pick a component uniformly, then add isotropic noise around its centre.
    which = torch.randint(len(centres), (n,), generator=generator)  # (N,)
    noise = torch.randn(n, centres.shape[1], generator=generator)  # (N, 2)
    return centres[which] + std * noise  # (N, 2)


def ring_of_gaussians(
    n: int,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw ``n`` points from an equal-weight mixture of Gaussians on a circle.

    Args:
        n: number of samples.
        n_modes: number of components K, equally spaced on the circle.
        radius: circle radius.
        std: standard deviation of every component (isotropic).
        seed: seeds a private CPU generator (reproducible, leaves the global RNG alone).
        generator: a CPU ``torch.Generator`` to draw from instead; give at most one of the two.

    Returns:
        ``(samples, centres)``: float32 tensors of shapes ``(n, 2)`` and ``(K, 2)``, on the CPU.
    """
    rng = _make_generator(seed, generator)
    centres = ring_centres(n_modes, radius)
    return _sample_mixture(n, centres, std, rng), centres


def grid_of_gaussians(
    n: int,
    side: int = 5,
    spacing: float = 2.0,
    std: float = 0.02,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw ``n`` points from an equal-weight mixture of Gaussians on a square grid.

    With the defaults the 25 centres are ``{-4, -2, 0, 2, 4}²``.

    Args:
        n: number of samples.
        side: the grid has ``side × side`` components.
        spacing: distance between neighbouring centres.
        std: standard deviation of every component (isotropic).
        seed: seeds a private CPU generator; ``generator``: a CPU generator instead (not both).

    Returns:
        ``(samples, centres)``: float32 tensors of shapes ``(n, 2)`` and ``(side², 2)``.
    """
    rng = _make_generator(seed, generator)
    centres = grid_centres(side, spacing)
    return _sample_mixture(n, centres, std, rng), centres


def _check_metric_args(samples: Tensor, centres: Tensor, std: float, n_sigma: float,
                       fair_share: float) -> None:
    check_tensor("samples", samples)
    check_tensor("centres", centres)
    if centres.dim() != 2 or centres.shape[0] < 1:
        raise ValueError(f"centres must have shape (K, D) with K >= 1, got {tuple(centres.shape)}")
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1] or samples.shape[0] < 1:
        raise ValueError(
            f"samples must have shape (N, {centres.shape[1]}) with N >= 1 to match centres, "
            f"got {tuple(samples.shape)}"
        )
    check_number("std", std, low=0.0, low_open=True)
    check_number("n_sigma", n_sigma, low=0.0, low_open=True)
    check_number("fair_share", fair_share, low=0.0, high=1.0, low_open=True)


def mode_metrics(
    samples: Tensor,
    centres: Tensor,
    std: float,
    n_sigma: float = 3.0,
    fair_share: float = 0.25,
) -> dict:
    """Score samples from a generator against the mixture they should reproduce.

    Rules (the ones the course states and the benchmark uses):

    * a sample is **high-quality** when its distance to the nearest centre is at most
      ``n_sigma · std`` (3σ by default);
    * each high-quality sample is credited to its nearest centre;
    * a mode is **covered** when it is credited with at least ``fair_share · N / K``
      high-quality samples, where N is the number of samples scored and K the number of modes.
      ``N / K`` is what a perfect sampler gives each mode on average, so the default demands a
      quarter of that: with N = 2,500 this is 78 samples per ring mode and 25 per grid mode,
      far above the handful a stray sample or two would give, far below what a healthy mode gets.

    Args:
        samples: ``(N, D)`` points (D = 2 for the benchmarks).
        centres: ``(K, D)`` mode centres.
        std: the mixture's per-component standard deviation.
        n_sigma: radius of the high-quality ball, in units of ``std``.
        fair_share: fraction of the average per-mode count a mode needs to be covered, in (0, 1].

    Returns:
        dict with ``high_quality_fraction`` (float in [0, 1]), ``modes_covered`` (int),
        ``n_modes`` (int K), ``mode_counts`` (list of K ints: high-quality samples per mode) and
        ``covered`` (list of K bools).
    """
    _check_metric_args(samples, centres, std, n_sigma, fair_share)
    n, k = samples.shape[0], centres.shape[0]
    x = samples.detach().double()
    c = centres.detach().to(device=x.device, dtype=torch.float64)
    distances = torch.cdist(x, c)  # (N, K)
    nearest_distance, nearest = distances.min(dim=1)  # (N,), (N,)
    high_quality = nearest_distance <= n_sigma * std  # (N,)
    counts = torch.bincount(nearest[high_quality], minlength=k)  # (K,)
    covered = counts >= fair_share * n / k  # (K,)
    return {
        "high_quality_fraction": high_quality.double().mean().item(),
        "modes_covered": int(covered.sum().item()),
        "n_modes": k,
        "mode_counts": counts.tolist(),
        "covered": covered.tolist(),
    }
