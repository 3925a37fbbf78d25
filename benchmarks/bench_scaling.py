"""Benchmark: training throughput with 1 and 2 data-parallel processes and mixed precision, and
peak memory with and without activation checkpointing.

Chapter: Practice › Scaling up.

(a) Tokens/s of ``lessons_pkg.train_ddp`` (the course's GPT, AdamW) launched with ``torchrun
    --nproc-per-node W`` for W = 1, 2, in float32 and in ``--precision`` (bf16 on the CPU, fp16
    on CUDA), at the same global batch (each process reads global / W rows), so every row
    computes the same training; ``--threads`` CPU threads per process. The time is that of the
    training loop, without start-up; the best of ``--repeats`` runs.
(b) Peak memory of one training step (forward, backward, AdamW) of a deeper GPT with and
    without activation checkpointing, counted by ``lessons_pkg.memory.MemoryTracker`` (tensors
    created during the step; on CUDA also ``torch.cuda.max_memory_allocated``), and the step's
    time, best of 5.

Usage: python benchmarks/bench_scaling.py [--device cpu|cuda] [--steps 40] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from lessons_pkg.device import describe_device, get_device
from lessons_pkg.gpt import GPT, GPTConfig, lm_loss
from lessons_pkg.memory import MemoryTracker

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


def throughput(world: int, precision: str | None, args) -> float:
    """Best tokens/s of ``train_ddp`` on ``world`` processes."""
    best = 0.0
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            summary = Path(tmp) / "summary.json"
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                       f"--nproc-per-node={world}", "-m", "lessons_pkg.train_ddp",
                       "--steps", str(args.steps), "--batch-size", str(args.batch // world),
                       "--threads", str(args.threads), "--device", args.device,
                       "--summary", str(summary)]  # fmt: skip
            if precision is not None:
                command += ["--precision", precision]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
            best = max(best, json.loads(summary.read_text())["tokens_per_s"])
    return best


def checkpointing_memory(checkpointing: bool, device: torch.device) -> tuple[float, float, float]:
    """(tracked peak MiB, CUDA peak MiB or nan, best step seconds) of one training step."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=64, context_length=256, d_model=128, n_heads=4, n_layers=8)
    model = GPT(config, activation_checkpointing=checkpointing).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 64, (16, 257), device=device)

    def step() -> None:
        loss = lm_loss(model(ids[:, :-1]), ids[:, 1:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # AdamW's states exist from here on, as in a running training
    cuda_peak = float("nan")
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    with MemoryTracker() as tracker:
        step()
    if device.type == "cuda":
        cuda_peak = (torch.cuda.max_memory_allocated() - before) / MIB
    times = []
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return tracker.peak / MIB, cuda_peak, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32, help="global batch (rows)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer steps, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 15, 1
    device = get_device(args.device)
    torch.set_num_threads(args.threads)
    low = "fp16" if device.type == "cuda" else "bf16"
    worlds = [1, 2] if device.type == "cpu" or torch.cuda.device_count() >= 2 else [1]
    print(f"device: {describe_device(device)}; {os.cpu_count()} CPU cores, "
          f"{args.threads} thread(s) per process; torch {torch.__version__}")
    print(f"\n(a) train_ddp throughput: GPT d_model 64, 2 layers, context 64, global batch "
          f"{args.batch}, {args.steps} steps")
    print(f"{'processes':>9} | {'precision':>9} | {'tokens/s':>9} | vs 1 process float32")
    base = None
    for precision in (None, low):
        for world in worlds:
            rate = throughput(world, precision, args)
            base = base or rate
            print(f"{world:>9} | {precision or 'float32':>9} | {rate:>9,.0f} | {rate / base:.2f}x")
    print("\n(b) one training step of a GPT (d_model 128, 8 layers, context 256, batch 16)")
    print(f"{'checkpointing':>13} | {'tracked peak':>12} | {'CUDA peak':>9} | step time")
    for checkpointing in (False, True):
        peak, cuda_peak, seconds = checkpointing_memory(checkpointing, device)
        cuda = "-" if cuda_peak != cuda_peak else f"{cuda_peak:,.1f} MiB"
        print(f"{'on' if checkpointing else 'off':>13} | {peak:>8,.1f} MiB | {cuda:>9} | "
              f"{seconds * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
