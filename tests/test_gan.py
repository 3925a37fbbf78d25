"""Tests for lessons_pkg.gan: the losses against hand formulas and BCE, and the update rules."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from lessons_pkg.gan import (
    GAN,
    DigitsDiscriminator,
    DigitsGenerator,
    Discriminator2D,
    Generator2D,
    d_loss_hinge,
    d_loss_minimax,
    d_loss_wasserstein,
    discriminator_step,
    g_loss_hinge,
    g_loss_minimax,
    g_loss_nonsaturating,
    g_loss_wasserstein,
    gan_step,
    generator_step,
    gradient_penalty,
    make_gan_train_step,
    r1_penalty,
)


def _logits(device, n=7, scale=3.0):
    return torch.randn(n, dtype=torch.float64, device=device) * scale


def test_minimax_losses_equal_hand_formulas_and_bce(device):
    real, fake = _logits(device), _logits(device)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    expected_d = -(d_real.log().mean() + (1 - d_fake).log().mean())
    torch.testing.assert_close(d_loss_minimax(real, fake), expected_d, rtol=1e-12, atol=1e-12)
    bce = F.binary_cross_entropy_with_logits(real, ones) + F.binary_cross_entropy_with_logits(
        fake, zeros
    )
    torch.testing.assert_close(d_loss_minimax(real, fake), bce, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_loss_minimax(fake), (1 - d_fake).log().mean(), rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(g_loss_minimax(fake),
                               -F.binary_cross_entropy_with_logits(fake, zeros), rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(g_loss_nonsaturating(fake), -d_fake.log().mean(), rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(g_loss_nonsaturating(fake),
                               F.binary_cross_entropy_with_logits(fake, ones), rtol=1e-12,
                               atol=1e-12)


def test_hinge_and_wasserstein_losses_equal_hand_formulas(device):
    real, fake = _logits(device), _logits(device)
    expected = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    torch.testing.assert_close(d_loss_hinge(real, fake), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_loss_hinge(fake), -fake.mean())
    torch.testing.assert_close(d_loss_wasserstein(real, fake), fake.mean() - real.mean())
    torch.testing.assert_close(g_loss_wasserstein(fake), -fake.mean())


def test_losses_stay_finite_for_extreme_logits():
    big = torch.tensor([1000.0, -1000.0], requires_grad=True)
    for value in (d_loss_minimax(big, big), g_loss_minimax(big), g_loss_nonsaturating(big)):
        assert torch.isfinite(value)
        (grad,) = torch.autograd.grad(value, big)
        assert torch.isfinite(grad).all()
    # -log D with D = sigmoid(-1000): 1000 nats, not inf.
    assert g_loss_nonsaturating(torch.tensor([-1000.0])).item() == pytest.approx(1000.0)


def test_minimax_generator_gradient_saturates_and_nonsaturating_does_not():
    # Where D confidently rejects a fake (logit -10), d/dl of log(1 - D) is -sigmoid(l) ≈ -4.5e-5,
    # while d/dl of -log D is sigmoid(l) - 1 ≈ -1.
    logit = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (saturating,) = torch.autograd.grad(g_loss_minimax(logit), logit)
    (nonsaturating,) = torch.autograd.grad(g_loss_nonsaturating(logit), logit)
    torch.testing.assert_close(saturating, -torch.sigmoid(logit.detach()))
    torch.testing.assert_close(nonsaturating, torch.sigmoid(logit.detach()) - 1)
    assert abs(saturating.item()) < 1e-4 < 0.99 < abs(nonsaturating.item())


class _Linear(torch.nn.Module):
    """D(x) = w · x: its input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_and_r1_on_a_linear_critic(device):
    w = torch.tensor([3.0, 4.0], dtype=torch.float64, device=device)  # norm 5
    D = _Linear(w.clone())
    real = torch.randn(6, 2, dtype=torch.float64, device=device)
    fake = torch.randn(6, 2, dtype=torch.float64, device=device)
    gp = gradient_penalty(D, real, fake)
    torch.testing.assert_close(gp, torch.tensor(16.0, dtype=torch.float64, device=device))
    gp.backward()  # d/dw (|w| - 1)² = 2 (|w| - 1) w / |w|
    torch.testing.assert_close(D.w.grad, 2 * 4 * w / 5)
    r1 = r1_penalty(D, real)
    torch.testing.assert_close(r1, torch.tensor(25.0, dtype=torch.float64, device=device))


def _pair(device, digits=False, **d_kwargs):
    torch.manual_seed(0)
    if digits:
        G = DigitsGenerator(latent_dim=4, channels=4)
        D = DigitsDiscriminator(channels=4, **d_kwargs)
        real = torch.rand(8, 1, 8, 8, device=device)
    else:
        G = Generator2D(latent_dim=3, hidden=8, n_layers=2)
        D = Discriminator2D(hidden=8, n_layers=2, **d_kwargs)
        real = torch.randn(8, 2, device=device)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    return G, D, opt_g, opt_d, real


def _copy(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(module, saved):
    return all(torch.equal(p, q) for p, q in zip(module.parameters(), saved, strict=True))


@pytest.mark.parametrize("digits", [False, True])
@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "hinge", "wgan-gp"])
def test_discriminator_step_leaves_generator_untouched(device, digits, loss):
    G, D, _, opt_d, real = _pair(device, digits)
    g_before, d_before = _copy(G), _copy(D)
    z = torch.randn(8, G.latent_dim, device=device)
    stats = discriminator_step(G, D, opt_d, real, z, loss=loss, r1_weight=0.1)
    assert all(p.grad is None for p in G.parameters())
    assert _same(G, g_before)
    assert not _same(D, d_before)
    assert {"d_loss", "real_score", "fake_score", "r1"} <= stats.keys()


@pytest.mark.parametrize("digits", [False, True])
@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "hinge", "wgan-gp"])
def test_generator_step_leaves_discriminator_untouched(device, digits, loss):
    G, D, opt_g, _, real = _pair(device, digits)
    D.net[0].weight.requires_grad_(False)  # a frozen layer must stay frozen afterwards
    g_before, d_before = _copy(G), _copy(D)
    stats = generator_step(G, D, opt_g, torch.randn(8, G.latent_dim, device=device), loss=loss)
    assert all(p.grad is None for p in D.parameters())
    assert _same(D, d_before)
    assert not _same(G, g_before)
    assert [p.requires_grad for p in D.parameters()] == [False] + [True] * (
        len(list(D.parameters())) - 1
    )
    assert set(stats) == {"g_loss"}


def test_gan_step_updates_both_and_reports_floats(device):
    G, D, opt_g, opt_d, real = _pair(device)
    g_before, d_before = _copy(G), _copy(D)
    generator = torch.Generator(device=device).manual_seed(0)
    stats = gan_step(G, D, opt_g, opt_d, real, loss="nonsaturating", generator=generator,
                     d_steps=2)
    assert set(stats) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(isinstance(v, float) for v in stats.values())
    assert not _same(G, g_before) and not _same(D, d_before)
    assert "gp" in gan_step(G, D, opt_g, opt_d, real, loss="wgan-gp")


def test_model_shapes_and_output_range(device):
    z2 = torch.randn(6, 2, device=device)
    assert Generator2D().to(device)(z2).shape == (6, 2)
    assert Discriminator2D().to(device)(torch.randn(6, 2, device=device)).shape == (6,)
    assert Discriminator2D(pack=3).to(device)(torch.randn(6, 2, device=device)).shape == (2,)
    images = DigitsGenerator(latent_dim=8, channels=8).to(device)(torch.randn(5, 8, device=device))
    assert images.shape == (5, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    assert DigitsDiscriminator(channels=8).to(device)(images).shape == (5,)
    assert Generator2D(latent_dim=4).to(device).sample(3).shape == (3, 2)


def test_spectral_norm_keeps_layers_near_unit_norm():
    torch.manual_seed(0)
    D = Discriminator2D(hidden=16, n_layers=2, spectral_norm=True)
    for _ in range(30):  # each training-mode forward runs one power iteration
        D(torch.randn(4, 2))
    for layer in D.net:
        if isinstance(layer, torch.nn.Linear):
            sigma_max = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
            assert sigma_max.item() == pytest.approx(1.0, abs=1e-2)


def test_step_fn_trains_through_fit():
    from lessons_pkg.training import fit

    G, D, opt_g, opt_d, _ = _pair(torch.device("cpu"))
    loader = DataLoader(TensorDataset(torch.randn(32, 2), torch.zeros(32)), batch_size=8)
    model = GAN(G, D)
    step_fn = make_gan_train_step(opt_g, opt_d, loss="hinge")
    history = fit(model, loader, train_step=step_fn, optimizer={"G": opt_g, "D": opt_d},
                  max_steps=5, progress=False)
    assert history.steps == [1, 2, 3, 4, 5]
    assert {"d_loss", "g_loss"} <= history.train.keys()
    assert model(torch.randn(2, 3)).shape == (2, 2)


def test_bad_input_raises():
    G, D, opt_g, opt_d, real = _pair(torch.device("cpu"))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 3\), got \(4, 5\)"):
        G(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\), got \(4, 3\)"):
        D(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(2, 1, 7, 7\)"):
        DigitsDiscriminator(channels=4)(torch.rand(2, 1, 7, 7))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 8\)"):
        DigitsGenerator(latent_dim=8, channels=4)(torch.randn(2, 1, 8))
    with pytest.raises(ValueError, match="loss must be one of"):
        gan_step(G, D, opt_g, opt_d, real, loss="lsgan")
    with pytest.raises(ValueError, match=r"real must have the generator's output shape \(8, 2\)"):
        discriminator_step(G, D, opt_d, torch.randn(8, 3), torch.randn(8, 3))
    with pytest.raises(ValueError, match=r"z must have shape \(B, 3\)"):
        gan_step(G, D, opt_g, opt_d, real, latent_dim=5)
    with pytest.raises(ValueError, match=r"batch size \(7\) must be divisible by pack \(2\)"):
        Discriminator2D(pack=2)(torch.randn(7, 2))
    with pytest.raises(ValueError, match="d_steps must be a positive int, got 0"):
        gan_step(G, D, opt_g, opt_d, real, d_steps=0)
    with pytest.raises(ValueError, match="real and fake must have the same shape"):
        gradient_penalty(D, real, real[:4])
    with pytest.raises(ValueError, match="latent_dim must be given"):
        gan_step(torch.nn.Linear(3, 2), D, opt_g, opt_d, real)
    with pytest.raises(ValueError, match="hidden must be a positive int, got 0"):
        Generator2D(hidden=0)
    with pytest.raises(TypeError, match="d_steps must be an int, got float"):
        gan_step(G, D, opt_g, opt_d, real, d_steps=1.0)
    with pytest.raises(TypeError, match="real must be a torch.Tensor, got list"):
        gan_step(G, D, opt_g, opt_d, real.tolist())
    with pytest.raises(TypeError, match="generator must be a torch.Generator or None, got int"):
        gan_step(G, D, opt_g, opt_d, real, generator=0)
    with pytest.raises(TypeError, match=r"model must hold the generator and discriminator"):
        make_gan_train_step(opt_g, opt_d)(G, real)
