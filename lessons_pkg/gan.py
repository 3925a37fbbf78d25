"""Generative adversarial networks: generators, discriminators, the losses and one training step.

Chapter: Algorithms › GAN; Practice › Generative models.
Paper: Goodfellow et al. (2014), "Generative Adversarial Nets" (the minimax game, §3, and the
non-saturating generator loss, §3 end); Lim & Ye (2017) / Miyato et al. (2018) for the hinge loss;
Gulrajani et al. (2017) for WGAN-GP (§4, the gradient penalty); Mescheder et al. (2018) for the
R1 penalty; Lin et al. (2018) for PacGAN packing.
Shapes: B batch, Z latent size, X data size (2 for the toy mixtures), images ``(B, 1, 8, 8)``.

Every discriminator returns one raw score per example, a **logit** ``l``; for the minimax family
D(x) = sigmoid(l). The losses are written on logits with ``softplus`` so that no probability is
ever rounded to 0 or 1 before its logarithm is taken:

    log D(x)       = -softplus(-l)
    log(1 - D(x))  = -softplus(l)

Data scaling for digits: images stay in [0, 1] everywhere in the course (the loader, the VAE and
the judge all use that range), so :class:`DigitsGenerator` ends in a sigmoid rather than a tanh.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons_pkg._checks import (
    check_choice,
    check_generator,
    check_positive_int,
    check_same_shape,
    check_shape,
    check_tensor,
)

__all__ = [
    "LOSSES",
    "GAN",
    "DigitsDiscriminator",
    "DigitsGenerator",
    "Discriminator2D",
    "Generator2D",
    "d_loss_hinge",
    "d_loss_minimax",
    "d_loss_wasserstein",
    "discriminator_step",
    "g_loss_hinge",
    "g_loss_minimax",
    "g_loss_nonsaturating",
    "g_loss_wasserstein",
    "gan_step",
    "generator_step",
    "gradient_penalty",
    "make_gan_train_step",
    "r1_penalty",
    "sample_latent",
]

LOSSES = ("minimax", "nonsaturating", "hinge", "wgan-gp")
DIGIT_SHAPE = (1, 8, 8)


def _maybe_sn(layer: nn.Module, use: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if use else layer


def sample_latent(
    n: int, latent_dim: int, device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw ``(n, latent_dim)`` standard-normal latents on ``device``.

    ``device`` defaults to the ``generator``'s device when a generator is given.
    """
    check_positive_int("n", n)
    check_positive_int("latent_dim", latent_dim)
    check_generator("generator", generator)
    if generator is not None:
        device = generator.device if device is None else device
    return torch.randn(n, latent_dim, device=device, generator=generator)  # (n, Z)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
class Generator2D(nn.Module):
    """MLP generator for 2-D data: ``z (B, Z) -> x (B, X)``, a linear output (no squashing).

    The default latent is 2-D, like the data: while tuning ``benchmarks/bench_gan2d.py``, a 16-D
    latent left the samples spread far wider than the modes' σ = 0.02 after the same training
    (G must then flatten 16 directions of noise instead of 2).
    """

    def __init__(self, latent_dim: int = 2, hidden: int = 64, n_layers: int = 3, data_dim: int = 2):
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("n_layers", n_layers),
                            ("data_dim", data_dim)):
            check_positive_int(name, value)
        self.latent_dim, self.data_dim = latent_dim, data_dim
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, data_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        check_shape("z", z, ("B", self.latent_dim))
        return self.net(z)  # (B, X)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, X)`` drawn with fresh latents on the model's device."""
        device = next(self.parameters()).device
        return self(sample_latent(n, self.latent_dim, device, generator))


class Discriminator2D(nn.Module):
    """MLP discriminator for 2-D data: ``x (B, X) -> logits (B,)`` (``(B / pack,)`` when packing).

    Args:
        spectral_norm: wrap every linear layer in spectral normalisation (Miyato et al., 2018),
            which keeps each layer 1-Lipschitz and the discriminator's gradients bounded.
        pack: PacGAN packing (Lin et al., 2018): D judges ``pack`` examples at once, concatenated,
            and returns one logit per group, ``(B / pack,)``. Seeing several samples together
            lets D notice that fakes lack variety, which pushes G to cover more modes.
            ``B`` must be divisible by ``pack``; real and fake batches are packed alike.
    """

    def __init__(self, data_dim: int = 2, hidden: int = 64, n_layers: int = 3,
                 spectral_norm: bool = False, pack: int = 1):
        super().__init__()
        for name, value in (("data_dim", data_dim), ("hidden", hidden), ("n_layers", n_layers),
                            ("pack", pack)):
            check_positive_int(name, value)
        self.data_dim, self.pack = data_dim, pack
        layers: list[nn.Module] = []
        width = data_dim * pack
        for _ in range(n_layers):
            layers += [_maybe_sn(nn.Linear(width, hidden), spectral_norm), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(_maybe_sn(nn.Linear(width, 1), spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_shape("x", x, ("B", self.data_dim))
        B = x.shape[0]
        if B % self.pack:
            raise ValueError(f"batch size ({B}) must be divisible by pack ({self.pack})")
        x = x.reshape(B // self.pack, self.pack * self.data_dim)  # (B / pack, pack * X)
        return self.net(x).squeeze(1)  # (B / pack,)


class DigitsGenerator(nn.Module):
    """Small convolutional generator: ``z (B, Z) -> images (B, 1, 8, 8)`` in [0, 1].

    A linear layer makes a ``(2C, 4, 4)`` map, nearest-neighbour upsampling doubles it to 8×8
    and two 3×3 convolutions turn it into one channel (upsample + convolve avoids the
    checkerboard pattern of strided transposed convolutions). BatchNorm and ReLU as in DCGAN.
    """

    def __init__(self, latent_dim: int = 32, channels: int = 32):
        super().__init__()
        check_positive_int("latent_dim", latent_dim)
        check_positive_int("channels", channels)
        self.latent_dim, self.channels = latent_dim, channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 2 * channels * 4 * 4), nn.BatchNorm1d(2 * channels * 4 * 4),
            nn.ReLU(),
        )
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),  # 4x4 -> 8x8
            nn.Conv2d(2 * channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, 1, 3, padding=1),
        )

    def forward(self, z: Tensor) -> Tensor:
        check_shape("z", z, ("B", self.latent_dim))
        B = z.shape[0]
        h = self.project(z).view(B, 2 * self.channels, 4, 4)  # (B, 2C, 4, 4)
        return torch.sigmoid(self.net(h))  # (B, 1, 8, 8)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images ``(n, 1, 8, 8)`` in [0, 1] drawn with fresh latents."""
        device = next(self.parameters()).device
        return self(sample_latent(n, self.latent_dim, device, generator))


class DigitsDiscriminator(nn.Module):
    """Small convolutional discriminator: ``images (B, 1, 8, 8) -> logits (B,)``.

    3×3 convolution at 8×8, then two strided 4×4 convolutions (8 -> 4 -> 2), LeakyReLU(0.2), no
    BatchNorm (it would couple the examples of a batch, which the gradient penalties assume
    independent), and a linear layer to one logit.
    """

    def __init__(self, channels: int = 32, spectral_norm: bool = False):
        super().__init__()
        check_positive_int("channels", channels)
        c = channels
        self.net = nn.Sequential(
            _maybe_sn(nn.Conv2d(1, c, 3, padding=1), spectral_norm),  # (B, C, 8, 8)
            nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), spectral_norm),  # (B, 2C, 4, 4)
            nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), spectral_norm),  # 2x2
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # (B, 4C * 2 * 2)
            _maybe_sn(nn.Linear(4 * c * 2 * 2, 1), spectral_norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_shape("x", x, ("B", *DIGIT_SHAPE))
        return self.net(x).squeeze(1)  # (B,)


class GAN(nn.Module):
    """A generator and a discriminator in one module, so one ``fit`` call can train, move and
    checkpoint both. ``forward(z)`` is the generator."""

    def __init__(self, G: nn.Module, D: nn.Module):
        super().__init__()
        self.G, self.D = G, D

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z)


# ---------------------------------------------------------------------------------------------
# Losses (on logits)
# ---------------------------------------------------------------------------------------------
def d_loss_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss of the original game: ``-E[log D(x)] - E[log(1 - D(G(z)))]``.

    Equals binary cross-entropy with label 1 on real and 0 on fake examples.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: Tensor) -> Tensor:
    """Generator loss of the original game, minimised by G: ``E[log(1 - D(G(z)))]``.

    It *saturates*: when D confidently rejects fakes (l very negative) its gradient in l is
    ``-sigmoid(l) ≈ 0``, so a generator that starts badly barely learns.
    """
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss: ``-E[log D(G(z))]`` (gradient in l is ``sigmoid(l) - 1``,
    close to -1 exactly when D rejects the fakes)."""
    return F.softplus(-fake_logits).mean()


def d_loss_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge discriminator loss: ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]`` on raw scores."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: Tensor) -> Tensor:
    """Hinge generator loss: ``-E[D(G(z))]`` on raw scores."""
    return -fake_logits.mean()


def d_loss_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Critic loss of WGAN: ``E[D(G(z))] - E[D(x)]`` (add :func:`gradient_penalty` for WGAN-GP)."""
    return fake_logits.mean() - real_logits.mean()


def g_loss_wasserstein(fake_logits: Tensor) -> Tensor:
    """Generator loss of WGAN: ``-E[D(G(z))]``."""
    return -fake_logits.mean()


def gradient_penalty(
    D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP penalty ``E[(||∇_x̂ D(x̂)||₂ - 1)²]`` on random points between real and fake.

    ``x̂ = ε·x + (1 - ε)·x̃`` with one ``ε ~ U(0, 1)`` per example. The graph is kept
    (``create_graph=True``) so the penalty can be back-propagated into D.
    """
    check_same_shape("real", real, "fake", fake)
    B = real.shape[0]
    eps = torch.rand(B, *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype,
                     generator=generator)  # (B, 1, ...)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = D(mixed)  # (B,)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grads.reshape(B, -1).norm(dim=1)  # (B,)
    return ((norms - 1) ** 2).mean()


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """R1 penalty ``E_x[||∇_x D(x)||₂²]`` on real data only (Mescheder et al., 2018).

    It damps the discriminator's slope at the data, which stops the oscillation of the
    unregularised game around its equilibrium. Multiply by ``γ / 2`` in the D loss.
    """
    x = real.detach().requires_grad_(True)
    (grads,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grads.reshape(x.shape[0], -1).pow(2).sum(dim=1).mean()


_D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": d_loss_minimax,
    "nonsaturating": d_loss_minimax,
    "hinge": d_loss_hinge,
    "wgan-gp": d_loss_wasserstein,
}
_G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": g_loss_minimax,
    "nonsaturating": g_loss_nonsaturating,
    "hinge": g_loss_hinge,
    "wgan-gp": g_loss_wasserstein,
}


def _check_step_args(G: nn.Module, real: Tensor, latent_dim: int | None, loss: str,
                     d_steps: int) -> int:
    """The arguments of ``gan_step``; returns the latent size, ``G.latent_dim`` when not given."""
    check_choice("loss", loss, LOSSES)
    check_positive_int("d_steps", d_steps)
    if latent_dim is None:
        latent_dim = getattr(G, "latent_dim", None)
        if latent_dim is None:
            raise ValueError("latent_dim must be given when G has no latent_dim attribute")
    check_positive_int("latent_dim", latent_dim)
    check_tensor("real", real)
    if real.dim() < 2 or real.shape[0] < 1:
        raise ValueError(f"real must be a batch tensor (B, ...), got {tuple(real.shape)}")
    return latent_dim


# ---------------------------------------------------------------------------------------------
# Training steps
# ---------------------------------------------------------------------------------------------
def discriminator_step(
    G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, real: Tensor, z: Tensor,
    loss: str = "nonsaturating", gp_weight: float = 10.0,
    generator: torch.Generator | None = None, r1_weight: float = 0.0,
) -> dict[str, float]:
    """One update of D on ``real`` and on fakes ``G(z)`` that are detached from G.

    G runs under ``no_grad``: no graph is built through it, its parameters receive no gradient and
    are not changed.
    """
    check_choice("loss", loss, LOSSES)
    with torch.no_grad():
        fake = G(z)
    if fake.shape != real.shape:
        raise ValueError(
            f"real must have the generator's output shape {tuple(fake.shape)}, got "
            f"{tuple(real.shape)}"
        )
    opt_d.zero_grad(set_to_none=True)
    real_logits, fake_logits = D(real), D(fake)  # (B,), (B,)
    d_loss = _D_LOSSES[loss](real_logits, fake_logits)
    stats = {"real_score": real_logits.mean().item(), "fake_score": fake_logits.mean().item()}
    if loss == "wgan-gp":
        gp = gradient_penalty(D, real, fake, generator=generator)
        stats["gp"] = gp.item()
        d_loss = d_loss + gp_weight * gp
    if r1_weight > 0:
        r1 = r1_penalty(D, real)
        stats["r1"] = r1.item()
        d_loss = d_loss + 0.5 * r1_weight * r1
    d_loss.backward()
    opt_d.step()
    stats["d_loss"] = d_loss.item()
    return stats


def generator_step(
    G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, z: Tensor,
    loss: str = "nonsaturating",
) -> dict[str, float]:
    """One update of G through a frozen D.

    D's parameters are switched to ``requires_grad=False`` for the step (then restored), so D gets
    no gradient and is not changed; the gradient still flows through D into G.
    """
    check_choice("loss", loss, LOSSES)
    flags = [p.requires_grad for p in D.parameters()]
    D.requires_grad_(False)
    try:
        opt_g.zero_grad(set_to_none=True)
        g_loss = _G_LOSSES[loss](D(G(z)))
        g_loss.backward()
        opt_g.step()
    finally:
        for p, flag in zip(D.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    return {"g_loss": g_loss.item()}


def gan_step(
    G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
    real: Tensor, latent_dim: int | None = None, loss: str = "nonsaturating",
    generator: torch.Generator | None = None, d_steps: int = 1, gp_weight: float = 10.0,
    r1_weight: float = 0.0,
) -> dict[str, float]:
    """One round of the game: ``d_steps`` updates of D on detached fakes, then one update of G.

    Args:
        G, D: generator and discriminator (D returns logits ``(B,)``).
        opt_g, opt_d: their optimizers.
        real: a batch of real data, ``(B, X)`` or ``(B, 1, 8, 8)``.
        latent_dim: latent size; defaults to ``G.latent_dim``.
        loss: ``"minimax"`` (original game, saturating G loss), ``"nonsaturating"`` (same D loss,
            G minimises ``-log D(G(z))``), ``"hinge"`` or ``"wgan-gp"``.
        generator: optional ``torch.Generator`` (on ``real``'s device) for the latents.
        d_steps: discriminator updates per generator update, each with fresh latents.
        gp_weight: weight of the gradient penalty (``"wgan-gp"`` only).

    Returns:
        ``{"d_loss", "g_loss", "real_score", "fake_score"}`` (plus ``"gp"`` for WGAN-GP) as floats,
        the D values from the last D update.
    """
    latent_dim = _check_step_args(G, real, latent_dim, loss, d_steps)
    B = real.shape[0]
    for _ in range(d_steps):
        z = sample_latent(B, latent_dim, real.device, generator)
        stats = discriminator_step(G, D, opt_d, real, z, loss, gp_weight, generator, r1_weight)
    z = sample_latent(B, latent_dim, real.device, generator)
    stats.update(generator_step(G, D, opt_g, z, loss))
    return stats


def make_gan_train_step(
    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, latent_dim: int | None = None,
    loss: str = "nonsaturating", generator: torch.Generator | None = None, d_steps: int = 1,
    gp_weight: float = 10.0,
) -> Callable[[nn.Module, object], dict[str, float]]:
    """A ``train_step(model, batch)`` for ``lessons_pkg.training.fit``.

    ``model`` is a :class:`GAN` (it has ``.G`` and ``.D``); ``batch`` is the real data, or a
    tuple/list whose first element is (labels are ignored). Pass ``optimizer={"g": opt_g,
    "d": opt_d}`` to ``fit`` so checkpoints include both optimizers.
    """
    check_choice("loss", loss, LOSSES)

    def train_step(model: nn.Module, batch: object) -> dict[str, float]:
        if not (isinstance(getattr(model, "G", None), nn.Module)
                and isinstance(getattr(model, "D", None), nn.Module)):
            raise TypeError(
                f"model must hold the generator and discriminator as .G and .D (wrap them in "
                f"GAN(G, D)), got {type(model).__name__}"
            )
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        return gan_step(model.G, model.D, opt_g, opt_d, real, latent_dim, loss, generator, d_steps,
                        gp_weight)

    return train_step
