"""Tests for lessons_pkg.data.mixtures: the ring and grid of Gaussians and the mode metrics."""

import math

import pytest
import torch

from lessons_pkg.data.mixtures import (
    grid_centres,
    grid_of_gaussians,
    mode_metrics,
    ring_centres,
    ring_of_gaussians,
)


def test_ring_centres_lie_on_the_circle_equally_spaced():
    centres = ring_centres(8, radius=2.0)
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    # Neighbouring centres are one chord 2·r·sin(π/K) apart.
    gaps = (centres - centres.roll(1, dims=0)).norm(dim=1)
    torch.testing.assert_close(gaps, torch.full((8,), 4 * math.sin(math.pi / 8)))
    torch.testing.assert_close(centres[0], torch.tensor([2.0, 0.0]))


def test_grid_centres_are_minus_four_to_four():
    centres = grid_centres(5, spacing=2.0)
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert centres.shape == (25, 2)
    assert {tuple(row) for row in centres.tolist()} == expected


@pytest.mark.parametrize("make, k", [(ring_of_gaussians, 8), (grid_of_gaussians, 25)])
def test_samples_have_the_stated_spread_and_equal_weights(make, k):
    samples, centres = make(20_000, seed=0)
    assert samples.shape == (20_000, 2) and samples.dtype == torch.float32
    assert centres.shape == (k, 2)
    nearest = torch.cdist(samples, centres).argmin(dim=1)
    residual = samples - centres[nearest]
    # Each coordinate of the residual is N(0, 0.02²).
    assert abs(residual.std().item() - 0.02) < 0.001
    counts = torch.bincount(nearest, minlength=k).double()
    assert (counts / 20_000 - 1 / k).abs().max() < 0.01


def test_seed_and_generator_give_reproducible_draws():
    a, _ = ring_of_gaussians(100, seed=3)
    b, _ = ring_of_gaussians(100, seed=3)
    c, _ = ring_of_gaussians(100, generator=torch.Generator().manual_seed(3))
    d, _ = ring_of_gaussians(100, seed=4)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    assert not torch.equal(a, d)


def test_true_samples_score_as_theory_predicts():
    # For an isotropic 2-D Gaussian the distance to the centre is Rayleigh distributed, so the
    # share within 3σ is 1 - exp(-9/2) ≈ 0.9889 (modes are far apart, so no sample lands nearer
    # another mode).
    samples, centres = grid_of_gaussians(20_000, seed=1)
    metrics = mode_metrics(samples, centres, std=0.02)
    assert abs(metrics["high_quality_fraction"] - (1 - math.exp(-4.5))) < 0.004
    assert metrics["modes_covered"] == 25 and metrics["n_modes"] == 25
    assert sum(metrics["mode_counts"]) == round(metrics["high_quality_fraction"] * 20_000)
    assert all(metrics["covered"])


def test_mode_metrics_counts_and_threshold_by_hand():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    # 8 samples: 5 on mode 0, 2 on mode 1 (one just inside 3σ), 1 near mode 2 but 4σ away.
    samples = torch.tensor(
        [[0.0, 0.0]] * 5 + [[10.0, 0.0], [10.0 + 0.059, 0.0], [0.0, 10.0 + 0.08]]
    )
    metrics = mode_metrics(samples, centres, std=0.02)
    assert metrics["mode_counts"] == [5, 2, 0, 0]
    assert metrics["high_quality_fraction"] == pytest.approx(7 / 8)
    # Threshold fair_share · N / K = 0.25 · 8 / 4 = 0.5: modes with one sample or more count.
    assert metrics["covered"] == [True, True, False, False]
    assert metrics["modes_covered"] == 2
    # A full fair share (N / K = 2 samples) still covers mode 1, and 0.9 of it (1.8) too.
    assert mode_metrics(samples, centres, std=0.02, fair_share=1.0)["modes_covered"] == 2
    # Widening the ball to 5σ brings in the sample near mode 2.
    assert mode_metrics(samples, centres, std=0.02, n_sigma=5)["mode_counts"] == [5, 2, 1, 0]


def test_a_collapsed_generator_covers_one_mode():
    centres = ring_centres(8)
    samples = centres[3].expand(1000, 2) + 0.01 * torch.randn(1000, 2)
    metrics = mode_metrics(samples, centres, std=0.02)
    assert metrics["modes_covered"] == 1
    assert metrics["covered"][3]


def test_mode_metrics_runs_on_device(device):
    samples, centres = ring_of_gaussians(500, seed=0)
    on_device = mode_metrics(samples.to(device), centres.to(device), std=0.02)
    assert on_device == mode_metrics(samples, centres, std=0.02)


def test_bad_arguments_raise():
    samples, centres = ring_of_gaussians(10, seed=0)
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        mode_metrics(samples[:, :1], centres, std=0.02)
    with pytest.raises(ValueError, match=r"centres must have shape \(K, D\)"):
        mode_metrics(samples, centres[0], std=0.02)
    with pytest.raises(ValueError, match="std must be a number > 0, got 0"):
        mode_metrics(samples, centres, std=0)
    with pytest.raises(ValueError, match=r"fair_share must be a number in \(0, 1\], got 1.5"):
        mode_metrics(samples, centres, std=0.02, fair_share=1.5)
    with pytest.raises(TypeError, match="samples must be a torch.Tensor, got ndarray"):
        mode_metrics(samples.numpy(), centres, std=0.02)
    with pytest.raises(ValueError, match="pass either seed or generator, not both"):
        ring_of_gaussians(10, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        grid_of_gaussians(0)
    with pytest.raises(TypeError, match="n_modes must be an int, got float"):
        ring_of_gaussians(10, n_modes=8.0)
    with pytest.raises(ValueError, match="radius must be a number > 0, got -1"):
        ring_of_gaussians(10, radius=-1)
    with pytest.raises(ValueError, match="radius must be a number > 0, got inf"):
        ring_of_gaussians(10, radius=float("inf"))
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\), got -1"):
        ring_of_gaussians(10, seed=-1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        ring_of_gaussians(10, generator=0)
