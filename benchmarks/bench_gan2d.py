"""GANs on the 2-D mixtures: the plain minimax GAN against a stabilised recipe, over 5 seeds.

Chapter: Practice › Generative models (the metric table); Algorithms › GAN (mode collapse).

Data: a ring of 8 Gaussians (radius 2) and a 5×5 grid of 25 (centres -4..4), both σ = 0.02,
fresh samples every step. After training, 2,500 samples are scored with
``lessons_pkg.data.mixtures.mode_metrics``: high-quality = within 3σ of the nearest centre; a mode
is covered when it receives at least a quarter of its fair share, 0.25 · N / K high-quality
samples. Goal for the recipe: every seed covers 8/8 ring modes and >= 24/25 grid modes with
>= 90 % high-quality samples.

Both methods use the same networks (MLPs, 3 hidden layers of 64, a 2-D latent), the same number
of steps, and data divided by its largest coordinate (2 for the ring, 4 for the grid) so that the
networks see values in [-1, 1]; samples are scaled back before scoring.

* ``minimax``: the original game (D: binary cross-entropy; G minimises log(1 - D(G(z)))),
  Adam(lr 1e-3, betas (0.9, 0.999)), batch 128, constant learning rate.
* Ablations, not run by default (add them with ``--methods``): ``nonsaturating`` is the plain
  settings with only the generator loss changed to -log D(G(z)); ``recipe-minimax`` is the
  recipe with the saturating loss put back. Together they separate what the loss buys from
  what the optimisation settings buy.
* ``recipe``: non-saturating G loss -log D(G(z)), batch 512, Adam(lr 2e-3, betas (0.0, 0.9)),
  the learning rate held for the first half and then decayed linearly to 0 (annealing removes
  the jitter of the last updates, which is what lets samples settle within 3σ = 0.06).

Training runs through ``lessons_pkg.training.fit``, with ``make_gan_train_step`` as its
``train_step``.

Run:  python benchmarks/bench_gan2d.py            (about 4-5 CPU-minutes with one thread)
      python benchmarks/bench_gan2d.py --seeds 1 --methods recipe --datasets ring   (quick look)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from dataclasses import dataclass

import torch

from lessons_pkg.data.mixtures import grid_of_gaussians, mode_metrics, ring_of_gaussians
from lessons_pkg.device import describe_device, get_device, set_seed
from lessons_pkg.gan import GAN, Discriminator2D, Generator2D, make_gan_train_step
from lessons_pkg.training import fit

STD = 0.02
N_EVAL = 2500


@dataclass(frozen=True)
class Method:
    loss: str
    batch_size: int
    lr: float
    betas: tuple[float, float]
    anneal: bool  # hold the learning rate for the first half, then decay it linearly to 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"batch_size and lr must be positive, got {self}")


METHODS = {
    "minimax": Method("minimax", 128, 1e-3, (0.9, 0.999), anneal=False),
    "nonsaturating": Method("nonsaturating", 128, 1e-3, (0.9, 0.999), anneal=False),
    "recipe": Method("nonsaturating", 512, 2e-3, (0.0, 0.9), anneal=True),
    "recipe-minimax": Method("minimax", 512, 2e-3, (0.0, 0.9), anneal=True),
}
DATASETS = {  # sampler, steps, scale (largest coordinate of a centre)
    "ring": (ring_of_gaussians, 3000, 2.0),
    "grid": (grid_of_gaussians, 8000, 4.0),
}


class MixtureStream:
    """An endless iterable of fresh, scaled batches from one mixture (a loader for ``fit``)."""

    def __init__(self, sample, batch_size: int, scale: float, seed: int, device: torch.device):
        self.sample, self.batch_size, self.scale, self.device = sample, batch_size, scale, device
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        while True:
            x, _ = self.sample(self.batch_size, generator=self.generator)
            yield (x / self.scale).to(self.device)


def run_one(dataset: str, method: Method, seed: int, steps: int, device: torch.device) -> dict:
    sample, _, scale = DATASETS[dataset]
    set_seed(seed)
    G = Generator2D(latent_dim=2, hidden=64, n_layers=3).to(device)
    D = Discriminator2D(hidden=64, n_layers=3).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=method.lr, betas=method.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=method.lr, betas=method.betas)
    schedulers = None
    if method.anneal:
        def factor(step: int) -> float:
            return min(1.0, 2.0 * (1.0 - step / steps))

        schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, factor)
                      for name, opt in (("g", opt_g), ("d", opt_d))}
    stream = MixtureStream(sample, method.batch_size, scale, seed + 1000, device)
    step_fn = make_gan_train_step(opt_g, opt_d, loss=method.loss)
    start = time.perf_counter()
    fit(GAN(G, D), stream, train_step=step_fn, optimizer={"g": opt_g, "d": opt_d},
        scheduler=schedulers, max_steps=steps, progress=False, log_every=steps)
    seconds = time.perf_counter() - start
    G.eval()
    samples = G.sample(N_EVAL, torch.Generator(device=device).manual_seed(seed)).cpu() * scale
    _, centres = sample(1)
    metrics = mode_metrics(samples, centres, STD)
    metrics["seconds"] = seconds
    return metrics


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=["minimax", "recipe"],
                        choices=list(METHODS))
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every run's number of steps (e.g. 0.2 for a smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    args = parser.parse_args(argv)
    device = get_device(args.device)
    torch.set_num_threads(args.threads)

    rows = []
    total = time.perf_counter()
    for dataset in args.datasets:
        steps = max(1, round(DATASETS[dataset][1] * args.steps_scale))
        for name in args.methods:
            runs = [run_one(dataset, METHODS[name], seed, steps, device)
                    for seed in range(args.seeds)]
            if args.verbose:
                for seed, r in enumerate(runs):
                    print(f"{dataset} {name} seed {seed}: {r['modes_covered']}/{r['n_modes']} "
                          f"modes, {100 * r['high_quality_fraction']:.1f} % HQ, "
                          f"counts {r['mode_counts']}", file=sys.stderr)
            k = runs[0]["n_modes"]
            need = k if k <= 8 else k - 1
            met = sum(r["modes_covered"] >= need and r["high_quality_fraction"] >= 0.9
                      for r in runs)
            rows.append((
                dataset, name, steps,
                f"{mean_std([r['modes_covered'] for r in runs])} / {k}",
                f"{min(r['modes_covered'] for r in runs)}",
                mean_std([100 * r["high_quality_fraction"] for r in runs]),
                f"{100 * min(r['high_quality_fraction'] for r in runs):.1f}",
                f"{met}/{len(runs)}",
                f"{statistics.mean(r['seconds'] for r in runs):.1f}",
            ))
    total = time.perf_counter() - total

    print(f"GANs on 2-D mixtures, {args.seeds} seeds, {N_EVAL} samples scored, device "
          f"{describe_device(device)}\n")
    print("| data | method | steps | modes covered | min modes | high-quality % | min HQ % "
          "| seeds meeting goal | s / run |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    if device.type == "cuda":
        peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB (CUDA)"
    else:
        peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (process RSS)"
    print(f"\nGoal: 8/8 ring modes, >= 24/25 grid modes, >= 90 % high-quality, every seed. "
          f"Mean ± std over seeds. Total {total:.0f} s; peak memory {peak}.")


if __name__ == "__main__":
    main()
