"""Tests for lessons_pkg.vae: closed-form KL, the reparameterisation gradient, the ELBO loss."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import ContinuousBernoulli, Normal, kl_divergence

from lessons_pkg.vae import (
    VAE,
    continuous_bernoulli_log_norm,
    gaussian_kl,
    interpolate_latents,
    latent_grid,
    reparameterize,
    vae_loss,
)


def test_gaussian_kl_equals_torch_distributions(device):
    mu = torch.randn(6, 5, dtype=torch.float64, device=device) * 2
    logvar = torch.randn(6, 5, dtype=torch.float64, device=device) * 1.5
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected, rtol=1e-12, atol=1e-12)
    # The prior itself has KL zero.
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_reparameterised_gradient_matches_the_analytic_one_for_z_squared():
    # z = mu + σ ε: E[z²] = mu² + σ², so d/dmu = 2 mu and d/dσ = 2 σ.
    mu = torch.tensor([0.7, -1.2], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([0.5, 1.3], dtype=torch.float64, requires_grad=True)
    n = 400_000
    generator = torch.Generator().manual_seed(0)
    z = reparameterize(mu.expand(n, 2), (2 * sigma.log()).expand(n, 2), generator)  # (n, 2)
    z.pow(2).mean(0).sum().backward()
    # Monte-Carlo standard errors are about 2σ/√n ≈ 0.004 (mu) and 2√2σ/√n (σ).
    torch.testing.assert_close(mu.grad, 2 * mu.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(sigma.grad, 2 * sigma.detach(), atol=0.03, rtol=0)


def test_reparameterised_gradient_matches_the_analytic_one_for_exp():
    # E[exp(z)] = exp(mu + σ²/2); d/dmu = that, d/dlogvar = (σ²/2) · that.
    mu = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([-1.0], dtype=torch.float64, requires_grad=True)
    n = 400_000
    z = reparameterize(mu.expand(n, 1), logvar.expand(n, 1), torch.Generator().manual_seed(1))
    z.exp().mean().backward()
    value = math.exp(0.3 + math.exp(-1.0) / 2)
    assert mu.grad.item() == pytest.approx(value, rel=5e-3)
    assert logvar.grad.item() == pytest.approx(math.exp(-1.0) / 2 * value, rel=1e-2)


def test_reparameterize_uses_the_generator_and_the_input_device(device):
    mu = torch.zeros(4, 3, device=device)
    logvar = torch.zeros(4, 3, device=device)
    a = reparameterize(mu, logvar, torch.Generator(device=device).manual_seed(5))
    b = reparameterize(mu, logvar, torch.Generator(device=device).manual_seed(5))
    assert a.device.type == device.type
    torch.testing.assert_close(a, b)
    # Zero variance gives the mean back exactly.
    torch.testing.assert_close(reparameterize(mu + 2, logvar - 200), mu + 2)


def test_bernoulli_loss_equals_bce_with_logits(device):
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64, device=device)
    logits = torch.randn(5, 1, 8, 8, dtype=torch.float64, device=device) * 3
    mu = torch.randn(5, 2, dtype=torch.float64, device=device)
    logvar = torch.randn(5, 2, dtype=torch.float64, device=device)
    loss, recon, kl = vae_loss(x, logits, mu, logvar, beta=0.5, reduction="none")
    expected_recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(recon, expected_recon, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(kl, gaussian_kl(mu, logvar))
    torch.testing.assert_close(loss, expected_recon + 0.5 * kl)
    mean = vae_loss(x, logits, mu, logvar, beta=0.5, reduction="mean")
    total = vae_loss(x, logits, mu, logvar, beta=0.5, reduction="sum")
    for m, s, per in zip(mean, total, (loss, recon, kl), strict=True):
        torch.testing.assert_close(m, per.mean())
        torch.testing.assert_close(s, per.sum())


def test_continuous_bernoulli_loss_equals_torch_log_prob(device):
    x = torch.rand(4, 64, dtype=torch.float64, device=device)
    # Keep |logit| away from 0, where torch switches to its own Taylor expansion.
    logits = torch.randn(4, 64, dtype=torch.float64, device=device) * 3
    logits = torch.where(logits.abs() < 0.05, torch.full_like(logits, 0.5), logits)
    mu = torch.zeros(4, 2, dtype=torch.float64, device=device)
    _, recon, _ = vae_loss(x, logits, mu, mu, reduction="none", likelihood="continuous_bernoulli")
    expected = -ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(recon, expected, rtol=1e-10, atol=1e-10)


def test_continuous_bernoulli_norm_near_zero_is_accurate_and_has_finite_gradient():
    logits = torch.tensor([0.0, 1e-3, -5e-3, 9e-3, 0.011, -0.5], dtype=torch.float64,
                          requires_grad=True)
    value = continuous_bernoulli_log_norm(logits)
    safe = logits.detach().clone()
    safe[0] = 1e-9  # the limit at 0 is log 2
    exact = torch.log(safe / torch.tanh(safe / 2))
    torch.testing.assert_close(value.detach(), exact, rtol=0, atol=1e-12)
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()
    # d/dl log C = 1/l - 1/sinh(l): 0 at l = 0 and ≈ l/6 nearby.
    assert logits.grad[0].item() == 0
    assert logits.grad[1].item() == pytest.approx(1e-3 / 6, rel=1e-4)


def test_vae_shapes_and_devices(device):
    model = VAE(data_dim=64, hidden=16, latent_dim=3).to(device)
    images = torch.rand(5, 1, 8, 8, device=device)
    logits, mu, logvar = model(images)
    assert logits.shape == (5, 1, 8, 8) and mu.shape == (5, 3) and logvar.shape == (5, 3)
    flat_logits, _, _ = model(images.flatten(1))
    assert flat_logits.shape == (5, 64)
    assert model.sample(7).shape == (7, 64)
    assert model.reconstruct(images).shape == images.shape
    assert model.decode(torch.zeros(2, 3, device=device)).shape == (2, 64)
    loss, _, _ = vae_loss(images, logits, mu, logvar)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_vae_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = VAE(hidden=32, latent_dim=2)
    x = torch.rand(8, 64).round()  # binary images: the Bernoulli loss can approach 0
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    first = None
    for _ in range(100):
        logits, mu, logvar = model(x, generator)
        loss, _, _ = vae_loss(x, logits, mu, logvar)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first


def test_latent_grid_and_interpolation():
    grid = latent_grid(4)
    assert grid.shape == (16, 2)
    torch.testing.assert_close(grid[0], -grid[-1])  # quantiles are symmetric
    assert grid[:, 0].max().item() == pytest.approx(Normal(0.0, 1.0).icdf(torch.tensor(0.95)))
    line = interpolate_latents(torch.zeros(3), torch.ones(3), n_steps=5)
    assert line.shape == (5, 3)
    torch.testing.assert_close(line[0], torch.zeros(3))
    torch.testing.assert_close(line[-1], torch.ones(3))
    torch.testing.assert_close(line[2], torch.full((3,), 0.5))


def test_bad_input_raises():
    model = VAE(latent_dim=2, hidden=8)
    x = torch.rand(2, 64)
    logits = torch.zeros(2, 64)
    mu = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r"z must have shape \(B, 2\), got \(3, 4\)"):
        model.decode(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 64\) or \(B, C, H, W\)"):
        model(torch.rand(2, 1, 7, 7))
    with pytest.raises(ValueError, match="beta must be a number >= 0, got -0.1"):
        vae_loss(x, logits, mu, mu, beta=-0.1)
    with pytest.raises(ValueError, match="beta must be a number >= 0, got inf"):
        vae_loss(x, logits, mu, mu, beta=float("inf"))
    with pytest.raises(TypeError, match="beta must be a number, got str"):
        vae_loss(x, logits, mu, mu, beta="1")
    with pytest.raises(ValueError, match=r"x and logits must have the same shape"):
        vae_loss(x, logits[:, :10], mu, mu)
    with pytest.raises(ValueError, match=r"mu and logvar must both have shape \(B, L\) with B = 2"):
        vae_loss(x, logits, mu, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        vae_loss(x * 2 + 0.5, logits, mu, mu)
    with pytest.raises(ValueError, match="reduction must be one of"):
        vae_loss(x, logits, mu, mu, reduction="batchmean")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        vae_loss(x, logits, mu, mu, likelihood="gaussian")
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        reparameterize(mu, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        gaussian_kl(mu, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="latent_dim must be a positive int, got 0"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match=r"low must be a number in \(0, 1\), got 0.0"):
        latent_grid(4, low=0.0)
    with pytest.raises(ValueError, match=r"high must be a number in \(0.5, 1\), got 0.4"):
        latent_grid(4, low=0.5, high=0.4)
    with pytest.raises(ValueError, match=r"z_start and z_end must both have shape \(L,\)"):
        interpolate_latents(torch.zeros(2), torch.zeros(3))
