"""GAN and VAE on the 8×8 digits: the VAE's test negative ELBO and judge scores for both.

Chapter: Practice › Generative models (sample grids, judge scores, the ELBO).

* Judge: ``lessons_pkg.judge.train_digits_judge`` (the course's DigitsCNN trained on the real
  training digits); its test accuracy is printed so its verdicts can be weighed.
* VAE: ``lessons_pkg.vae.VAE`` (MLP, 2 hidden layers of 256) trained with ``vae_loss`` (β = 1)
  through ``fit``; the test-set negative ELBO is in nats per image, averaged over the 270 test
  images with 16 posterior samples each. Latent sizes 2 (the one the latent map uses) and 16.
  Two likelihoods, and what each number means:

  - ``bernoulli``: Σ over the 64 pixels of the cross-entropy between the grey level x in [0, 1]
    and λ = sigmoid(logit). The usual VAE loss on such images, but for grey levels it is a
    cross-entropy, not the log-probability of anything, so it is no bound on -log p(x).
  - ``continuous_bernoulli``: a normalised density on [0, 1]. The digits' pixels take only the
    17 values k/16, and a density on such data is unbounded (it can pile up on x = 0), so this VAE
    is trained and tested on dequantised pixels x~ = (k + u) / 17, u ~ U(0, 1). Then
    -log P(x) <= E_u[-ELBO(x~)] + 64 · log 17 for the 17-level image x: the column "bound on
    -log P(x)" is a true upper bound, in nats, on the negative log-likelihood of the real digits.
* GAN: ``DigitsGenerator`` / ``DigitsDiscriminator`` (spectral norm) with the non-saturating
  loss, Adam(2e-4, betas (0.5, 0.999)), batch 64, trained with ``make_gan_train_step`` as ``fit``'s
  step function. Images stay in [0, 1] (sigmoid output).
* Judge scores on 1,000 samples of each model (VAE: the decoder's pixel means for z ~ N(0, I);
  the continuous-Bernoulli VAE is not judged, its sigmoid(logit) is a shape parameter, not a
  mean): share classified with probability >= 0.9, the class histogram, the largest class share.
  The real test digits are scored the same way as a reference.

Run:  python benchmarks/bench_digits_generative.py     (about 2 CPU-minutes with one thread)
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import torch
from torch.utils.data import DataLoader

from lessons_pkg.cnn import accuracy
from lessons_pkg.data.digits import digits_loaders, load_digits_split
from lessons_pkg.device import describe_device, get_device, set_seed
from lessons_pkg.gan import GAN, DigitsDiscriminator, DigitsGenerator, make_gan_train_step
from lessons_pkg.judge import judge_samples, train_digits_judge
from lessons_pkg.training import fit
from lessons_pkg.vae import VAE, vae_loss

N_SAMPLES = 1000
LEVELS = 17  # the bundled digits hold counts 0..16, stored as k / 16
BIN_NATS = 64 * math.log(LEVELS)  # nats from the density on the 17^-64 cell to the cell's mass


def dequantize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Spread each grey level k / 16 uniformly over its bin [k / 17, (k + 1) / 17)."""
    u = torch.rand(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    return (torch.round(x * (LEVELS - 1)) + u) / LEVELS


def train_vae(latent_dim: int, likelihood: str, epochs: int, device: torch.device) -> VAE:
    set_seed(0)
    train_loader, _, _ = digits_loaders(batch_size=64, seed=0)
    model = VAE(data_dim=64, hidden=256, latent_dim=latent_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn(model: VAE, batch) -> torch.Tensor:
        x, _ = batch
        if likelihood == "continuous_bernoulli":
            x = dequantize(x)
        logits, mu, logvar = model(x)
        return vae_loss(x, logits, mu, logvar, likelihood=likelihood)[0]

    fit(model, train_loader, loss_fn=loss_fn, optimizer=optimizer, epochs=epochs, device=device,
        progress=False)
    return model.eval()


@torch.no_grad()
def test_elbo(model: VAE, likelihood: str, device: torch.device, n_draws: int = 16) -> tuple:
    """Mean over test images of (-ELBO, recon, KL), each averaged over ``n_draws`` samples."""
    x_levels = x = load_digits_split().test.tensors[0].to(device)  # (N, 1, 8, 8)
    generator = torch.Generator(device=device).manual_seed(0)
    totals = torch.zeros(3, dtype=torch.float64)
    for _ in range(n_draws):
        if likelihood == "continuous_bernoulli":
            x = dequantize(x_levels, generator)
        logits, mu, logvar = model(x, generator)
        parts = vae_loss(x, logits, mu, logvar, likelihood=likelihood)
        totals += torch.tensor([p.item() for p in parts], dtype=torch.float64)
    return tuple((totals / n_draws).tolist())


def train_gan(epochs: int, device: torch.device) -> DigitsGenerator:
    set_seed(0)
    train_loader, _, _ = digits_loaders(batch_size=64, seed=0)
    G = DigitsGenerator(latent_dim=32, channels=32)
    D = DigitsDiscriminator(channels=32, spectral_norm=True)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    step_fn = make_gan_train_step(opt_g, opt_d, loss="nonsaturating")
    fit(GAN(G, D), train_loader, train_step=step_fn, optimizer={"g": opt_g, "d": opt_d},
        epochs=epochs, device=device, progress=False, log_every=len(train_loader))
    return G.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--judge-epochs", type=int, default=20)
    parser.add_argument("--vae-epochs", type=int, default=100)
    parser.add_argument("--gan-epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    judge = train_digits_judge(seed=0, epochs=args.judge_epochs, device=device)
    split = load_digits_split()
    judge_acc = accuracy(judge, DataLoader(split.test, batch_size=270), device)
    t_judge = time.perf_counter() - start

    elbo_rows, vaes = [], {}
    for latent_dim in (2, 16):
        for likelihood in ("bernoulli", "continuous_bernoulli"):
            t = time.perf_counter()
            model = train_vae(latent_dim, likelihood, args.vae_epochs, device)
            neg_elbo, recon, kl = test_elbo(model, likelihood, device)
            elbo_rows.append((likelihood, latent_dim, neg_elbo, recon, kl,
                              time.perf_counter() - t))
            vaes[(latent_dim, likelihood)] = model

    t = time.perf_counter()
    G = train_gan(args.gan_epochs, device)
    t_gan = time.perf_counter() - t

    sample_gen = torch.Generator(device=device).manual_seed(1)
    sources = {"real test digits": split.test.tensors[0]}
    sources["GAN"] = G.sample(N_SAMPLES, sample_gen)
    for latent_dim in (2, 16):
        images = vaes[(latent_dim, "bernoulli")].sample(N_SAMPLES, sample_gen)
        sources[f"VAE (bernoulli, L={latent_dim})"] = images.reshape(-1, 1, 8, 8)

    print(f"Digits generative models, device {describe_device(device)}; judge test accuracy "
          f"{100 * judge_acc:.1f} % ({args.judge_epochs} epochs, {t_judge:.0f} s)\n")
    print("VAE test-set negative ELBO (nats per image; 270 test images × 16 posterior samples; "
          f"{args.vae_epochs} epochs, β = 1)\n")
    print("| likelihood | latent L | -ELBO | reconstruction | KL | bound on -log P(x) "
          "| train s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for likelihood, latent_dim, neg_elbo, recon, kl, secs in elbo_rows:
        bound = f"{neg_elbo + BIN_NATS:.2f}" if likelihood == "continuous_bernoulli" else "n/a"
        print(f"| {likelihood} | {latent_dim} | {neg_elbo:.2f} | {recon:.2f} | {kl:.2f} | "
              f"{bound} | {secs:.0f} |")
    print("\nbernoulli: grey-level cross-entropy (no bound). continuous_bernoulli: on dequantised "
          f"pixels; bound = -ELBO + 64 log 17 = -ELBO + {BIN_NATS:.2f} nats.")
    print(f"\nJudge scores ({N_SAMPLES} samples per model; GAN {args.gan_epochs} epochs, "
          f"{t_gan:.0f} s)\n")
    print("| source | confident (p >= 0.9) % | classes present | max class share % "
          "| class histogram 0..9 |")
    print("|---|---:|---:|---:|---|")
    for name, images in sources.items():
        s = judge_samples(judge, images.cpu(), confidence=0.9)
        print(f"| {name} | {100 * s['confident_fraction']:.1f} | {s['classes_present']} | "
              f"{100 * s['max_class_share']:.1f} | {s['class_histogram']} |")
    if device.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB (CUDA)"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process RSS)"
    print(f"\nGoal for generated digits: all ten classes present, none above 20 %. "
          f"Total {time.perf_counter() - start:.0f} s; peak memory {peak}.")


if __name__ == "__main__":
    main()
