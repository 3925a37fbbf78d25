"""Variational autoencoder: encoder, reparameterised sampling, decoder and the ELBO loss.

Chapter: Algorithms › VAE; Practice › Generative models.
Paper: Kingma & Welling (2014), "Auto-Encoding Variational Bayes" (§2.3 the reparameterisation
trick, Appendix B the closed-form Gaussian KL); Loaiza-Ganem & Cunningham (2019) for the continuous
Bernoulli likelihood.
Shapes: B batch, P = ``data_dim`` pixels (64 for 8×8 digits), L = ``latent_dim``.

The model is q(z|x) = N(mu(x), diag(exp(logvar(x)))), p(z) = N(0, I) and a decoder that returns
one logit per pixel. The negative ELBO per image, in nats, is

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || p(z)),

estimated with one reparameterised sample z = mu + exp(logvar / 2) · eps, eps ~ N(0, I).

Two likelihoods for pixel intensities x in [0, 1] are offered, and the course always says which:

* ``"bernoulli"``: -log p(x|z) = Σ_pixels BCE(logit, x), i.e. -[x log λ + (1 - x) log(1 - λ)]
  with λ = sigmoid(logit). It is a normalised likelihood only for binary pixels; on grey levels
  it is the usual cross-entropy, not a density, so its "nats" are not a bound on -log p(x).
* ``"continuous_bernoulli"``: the same term minus log C(λ), where C(λ) makes
  λ^x (1 - λ)^(1 - x) a density on [0, 1]; then -ELBO is a true upper bound on -log p(x) in
  nats. Note that λ is then a shape parameter, not the mean intensity. On images whose pixels
  take a few discrete grey levels (the digits have 17) a density is unbounded: it can pile up on
  the levels, x = 0 above all. Evaluate it on dequantised pixels (each level spread uniformly
  over its bin) and add 64 · log(levels) nats to turn the result into a bound on the discrete
  images; ``benchmarks/bench_digits_generative.py`` does this.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons_pkg._checks import (
    check_choice,
    check_generator,
    check_number,
    check_positive_int,
    check_same_shape,
    check_shape,
)

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "continuous_bernoulli_log_norm",
    "gaussian_kl",
    "interpolate_latents",
    "latent_grid",
    "reparameterize",
    "vae_loss",
]

LIKELIHOODS = ("bernoulli", "continuous_bernoulli")
_REDUCTIONS = ("mean", "sum", "none")


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``z = mu + sigma · eps`` with ``sigma = exp(logvar / 2)`` and ``eps ~ N(0, I)``.

    The noise carries no parameter, so gradients reach ``mu`` and ``logvar`` through an ordinary
    differentiable expression (the reparameterisation trick).

    Args:
        mu, logvar: ``(B, L)`` mean and log-variance of q(z|x).
        generator: optional ``torch.Generator`` on ``mu``'s device.

    Returns:
        ``(B, L)`` samples.
    """
    check_same_shape("mu", mu, "logvar", logvar)
    eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)  # (B, L)
    return mu + torch.exp(0.5 * logvar) * eps  # (B, L)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in nats, summed over the last dimension.

    Closed form: ½ Σ_j (mu_j² + exp(logvar_j) - 1 - logvar_j).

    Returns:
        ``(B,)`` for inputs ``(B, L)``.
    """
    check_same_shape("mu", mu, "logvar", logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=-1)


def continuous_bernoulli_log_norm(logits: Tensor) -> Tensor:
    """log C(λ) of the continuous Bernoulli with λ = sigmoid(logits), elementwise.

    C(λ) = 2 atanh(1 - 2λ) / (1 - 2λ), which in terms of the logit l is simply
    l / tanh(l / 2) (an even function equal to 2 at l = 0). Near 0 the ratio is 0/0 in floating
    point, so there the Taylor series log 2 + l²/12 - 7 l⁴/1440 is used; the other branch is fed a
    safe value so that its gradient cannot turn into NaN.
    """
    a = logits.abs()
    small = a < 1e-2
    a_safe = torch.where(small, torch.ones_like(a), a)
    exact = torch.log(a_safe) - torch.log(torch.tanh(a_safe / 2))
    l2 = logits.pow(2)
    series = math.log(2.0) + l2 / 12 - 7 * l2.pow(2) / 1440
    return torch.where(small, series, exact)


def _check_loss_args(x: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor, beta: float,
                     reduction: str, likelihood: str) -> None:
    """The arguments of ``vae_loss``."""
    check_number("beta", beta, low=0.0)
    check_choice("reduction", reduction, _REDUCTIONS)
    check_choice("likelihood", likelihood, LIKELIHOODS)
    check_same_shape("x", x, "logits", logits)
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"mu and logvar must both have shape (B, L) with B = {x.shape[0]}, got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"x must lie in [0, 1] for a Bernoulli likelihood, got values in "
            f"[{x.min().item():.3g}, {x.max().item():.3g}]"
        )


def vae_loss(
    x: Tensor,
    logits: Tensor,
    mu: Tensor,
    logvar: Tensor,
    beta: float = 1.0,
    reduction: str = "mean",
    likelihood: str = "bernoulli",
) -> tuple[Tensor, Tensor, Tensor]:
    """Negative ELBO with a β-weighted KL: ``loss = recon + beta · kl`` (nats per image).

    Args:
        x: targets in [0, 1], ``(B, P)`` or ``(B, C, H, W)``.
        logits: decoder output, the same shape as ``x``.
        mu, logvar: ``(B, L)`` parameters of q(z|x).
        beta: KL weight (β = 1 is the ELBO; β > 1 is the β-VAE); must be >= 0.
        reduction: ``"mean"`` over the batch (nats per image), ``"sum"`` or ``"none"`` (``(B,)``).
        likelihood: ``"bernoulli"`` or ``"continuous_bernoulli"`` (see the module docstring).

    Returns:
        ``(loss, recon, kl)``, each reduced the same way; recon = E_q[-log p(x|z)] estimated with
        the sample that produced ``logits``.
    """
    _check_loss_args(x, logits, mu, logvar, beta, reduction, likelihood)
    B = x.shape[0]
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").reshape(B, -1)  # (B, P)
    if likelihood == "continuous_bernoulli":
        nll = nll - continuous_bernoulli_log_norm(logits).reshape(B, -1)
    recon = nll.sum(dim=1)  # (B,)
    kl = gaussian_kl(mu, logvar)  # (B,)
    loss = recon + beta * kl  # (B,)
    if reduction == "mean":
        return loss.mean(), recon.mean(), kl.mean()
    if reduction == "sum":
        return loss.sum(), recon.sum(), kl.sum()
    return loss, recon, kl


class VAE(nn.Module):
    """MLP encoder and decoder for flattened images.

    Args:
        data_dim: pixels per image P (64 for 8×8 digits). Inputs may be ``(B, P)`` or images
            ``(B, C, H, W)`` with ``C·H·W = P``; outputs keep the input's shape.
        hidden: width of the two hidden layers of each network.
        latent_dim: L; 2 gives a latent space that can be drawn as a map.
    """

    def __init__(self, data_dim: int = 64, hidden: int = 256, latent_dim: int = 2):
        super().__init__()
        for name, value in (("data_dim", data_dim), ("hidden", hidden),
                            ("latent_dim", latent_dim)):
            check_positive_int(name, value)
        self.data_dim, self.hidden, self.latent_dim = data_dim, hidden, latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(data_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, data_dim),
        )

    def _flatten(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[0] < 1 or math.prod(x.shape[1:]) != self.data_dim:
            raise ValueError(
                f"x must have shape (B, {self.data_dim}) or (B, C, H, W) with "
                f"C*H*W = {self.data_dim}, got {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], self.data_dim)  # (B, P)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x -> (mu, logvar)``, each ``(B, L)``."""
        h = self.encoder(self._flatten(x))  # (B, 2L)
        mu, logvar = h.chunk(2, dim=1)  # (B, L), (B, L)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """``z (B, L) -> logits (B, P)``."""
        check_shape("z", z, ("B", self.latent_dim))
        return self.decoder(z)  # (B, P)

    def forward(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, draw one z per image, decode.

        Returns:
            ``(logits, mu, logvar)``: logits with ``x``'s shape, mu and logvar ``(B, L)``.
        """
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)  # (B, L)
        return self.decode(z).reshape(x.shape), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decode the posterior mean: pixel probabilities sigmoid(logits), shaped like ``x``."""
        mu, _ = self.encode(x)
        return torch.sigmoid(self.decode(mu)).reshape(x.shape)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw z ~ N(0, I) and return the decoder's pixel probabilities ``(n, P)``.

        (For a Bernoulli decoder these are the means; the course shows means, not coin flips.)
        """
        check_positive_int("n", n)
        check_generator("generator", generator)
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, device=device, generator=generator)  # (n, L)
        return torch.sigmoid(self.decode(z))  # (n, P)


def interpolate_latents(z_start: Tensor, z_end: Tensor, n_steps: int = 8) -> Tensor:
    """Points on the straight line from ``z_start`` to ``z_end`` (both ``(L,)``), ends included.

    Returns:
        ``(n_steps, L)``.
    """
    check_positive_int("n_steps", n_steps)
    if z_start.shape != z_end.shape or z_start.dim() != 1:
        raise ValueError(
            f"z_start and z_end must both have shape (L,), got {tuple(z_start.shape)} and "
            f"{tuple(z_end.shape)}"
        )
    t = torch.linspace(0, 1, n_steps, device=z_start.device, dtype=z_start.dtype)  # (n_steps,)
    return z_start + t[:, None] * (z_end - z_start)  # (n_steps, L)


def latent_grid(n_per_side: int = 10, low: float = 0.05, high: float = 0.95) -> Tensor:
    """A square grid in a 2-D latent space, evenly spaced in probability under N(0, 1).

    Each axis takes the standard-normal quantiles of ``linspace(low, high, n_per_side)``, so
    the grid covers the prior's bulk the way Kingma & Welling's manifold figures do. Row-major,
    the second latent coordinate varying fastest.

    Returns:
        ``(n_per_side², 2)`` float32 points.
    """
    check_positive_int("n_per_side", n_per_side)
    check_number("low", low, low=0.0, high=1.0, low_open=True, high_open=True)
    check_number("high", high, low=low, high=1.0, low_open=True, high_open=True)
    p = torch.linspace(low, high, n_per_side, dtype=torch.float64)
    ticks = torch.distributions.Normal(0.0, 1.0).icdf(p)  # (n,)
    a, b = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1).float()  # (n², 2)
