"""Benchmark: the from-scratch ``lessons_pkg.lstm.LSTM`` against ``torch.nn.LSTM``.

Chapter: Algorithms › LSTM (where the speed gap comes from).

Both models get the same weights and the same float32 input. For each size the script times the
forward pass (under ``torch.no_grad``) and forward + backward, and prints a Markdown table with
the ratio ours / nn.LSTM measured in this run (above 1 means the from-scratch LSTM is slower).

Memory: "saved" is what autograd keeps for the backward pass (tensors saved by the forward,
parameters and the input excluded), counted with ``torch.autograd.graph.saved_tensors_hooks`` on
any device; on CUDA the true peak allocated during forward + backward is added.

CPU timings use one thread unless ``--threads`` says otherwise: on a machine shared with other
jobs, extra threads mostly measure the contention.

Run: ``python benchmarks/bench_lstm.py [--device auto|cpu|cuda] [--repeats 5] [--threads N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from lessons_pkg.device import describe_device, get_device
from lessons_pkg.lstm import LSTM

# (B, T, input_size, hidden_size, num_layers)
SIZES = [
    (32, 32, 64, 128, 1),
    (32, 64, 128, 256, 1),
    (32, 32, 128, 256, 2),
]
CUDA_EXTRA = [(64, 128, 256, 512, 2), (128, 256, 512, 1024, 1)]
MIB = 2**20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], None], device: torch.device, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _forward_backward(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    out, (h_n, c_n) = model(x)
    (out.sum() + h_n.sum() + c_n.sum()).backward()


def saved_mib(model: nn.Module, x: torch.Tensor) -> float:
    """MiB of distinct storages autograd saves in one forward (parameters and input excluded)."""
    skip = {p.untyped_storage().data_ptr() for p in model.parameters()}
    skip.add(x.untyped_storage().data_ptr())
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out, (h_n, c_n) = model(x)
    del out, h_n, c_n
    return sum(storages.values()) / MIB


def peak_cuda_mib(model: nn.Module, x: torch.Tensor) -> float:
    """Peak CUDA memory above the resting level during one forward + backward."""
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize(x.device)
    base = torch.cuda.memory_allocated(x.device)
    torch.cuda.reset_peak_memory_stats(x.device)
    _forward_backward(model, x)
    torch.cuda.synchronize(x.device)
    peak = torch.cuda.max_memory_allocated(x.device) - base
    model.zero_grad(set_to_none=True)
    return peak / MIB


def bench_size(size: tuple[int, ...], device: torch.device, repeats: int) -> dict[str, float]:
    B, T, I, H, L = size
    ref = nn.LSTM(I, H, L, batch_first=True).to(device)
    ours = LSTM(I, H, L, batch_first=True).to(device)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, I, device=device)

    def forward(model: nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                model(x)

        return run

    row = {}
    for name, model in (("ours", ours), ("ref", ref)):
        row[f"fwd_{name}"] = time_ms(forward(model), device, repeats)
        row[f"fb_{name}"] = time_ms(lambda m=model: _forward_backward(m, x), device, repeats)
        row[f"saved_{name}"] = saved_mib(model, x)
        if device.type == "cuda":
            row[f"peak_{name}"] = peak_cuda_mib(model, x)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: stable timings on a shared machine; 0 = torch default)",
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    torch.manual_seed(0)
    sizes = SIZES + (CUDA_EXTRA if device.type == "cuda" else [])
    cuda = device.type == "cuda"

    print(f"LSTM from scratch vs nn.LSTM on {describe_device(device)}, torch {torch.__version__}")
    print(f"float32, median of {args.repeats} runs; ratio = ours / nn.LSTM (higher = slower)\n")
    head = (
        "| B, T, I, H, L | fwd ours (ms) | fwd nn.LSTM (ms) | ratio "
        "| fwd+bwd ours (ms) | fwd+bwd nn.LSTM (ms) | ratio | saved ours / nn (MiB) |"
    )
    if cuda:
        head += " peak ours / nn (MiB) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for size in sizes:
        r = bench_size(size, device, args.repeats)
        line = (
            f"| {', '.join(map(str, size))} | {r['fwd_ours']:.2f} | {r['fwd_ref']:.2f} "
            f"| {r['fwd_ours'] / r['fwd_ref']:.1f}x | {r['fb_ours']:.2f} | {r['fb_ref']:.2f} "
            f"| {r['fb_ours'] / r['fb_ref']:.1f}x | {r['saved_ours']:.1f} / {r['saved_ref']:.1f} |"
        )
        if cuda:
            line += f" {r['peak_ours']:.1f} / {r['peak_ref']:.1f} |"
        print(line, flush=True)
    print(
        "\nnn.LSTM runs the whole recurrence in one library call (cuDNN's fused RNN kernels on "
        "CUDA, a C++ loop over fused cell ops on the CPU). The from-scratch LSTM launches about a "
        "dozen small operations per time step and layer from Python, so the ratio measures "
        "per-op overhead and lost fusion, not different arithmetic: both compute the same "
        "gates."
    )


if __name__ == "__main__":
    main()
