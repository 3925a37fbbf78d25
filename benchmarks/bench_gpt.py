"""Benchmark: the course's GPT against the same model built from torch.nn layers, and the KV cache.

Chapter: Algorithms › The Transformer (the KV cache and its speed-up) and Practice › Language model.

(a) Training tokens/s of ``lessons_pkg.gpt.GPT`` (fused-attention path and explicit-formula path)
    against ``ReferenceGPT`` (``nn.TransformerEncoderLayer``, norm_first, causal mask), same
    widths and weights, timed in interleaved rounds in one process. Goal: >= 0.9x.
(b) Generation tokens/s at batch 1, ``--new-tokens`` (200) tokens from a ``--prompt-len`` (1)
    token prompt at context 256, with and without the KV cache (same seed, the tokens are checked
    equal), best of ``--repeats`` interleaved runs; the speed-up is the ratio of the best times of
    the same run. Goal: the cache >= 3x faster.
Peak memory: the largest extra memory in use during each workload (3 training steps, or one
full generation) over what was in use before it, measured in a fresh process: memory allocated
by torch on CUDA, resident set size on the CPU.

Usage: python benchmarks/bench_gpt.py [--device auto|cpu|cuda] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from lessons_pkg.device import describe_device, get_device
from lessons_pkg.gpt import GPT, GPTConfig, lm_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from references import ReferenceGPT  # noqa: E402  (torch-assembled test references)

TRAIN_VARIANTS = {
    "lessons_pkg GPT, fused attention (use_sdpa=True)": "sdpa",
    "lessons_pkg GPT, explicit formula (use_sdpa=False)": "formula",
    "torch.nn reference (nn.TransformerEncoderLayer)": "reference",
}


def build(kind: str, config: GPTConfig, device: torch.device, seed: int = 0) -> torch.nn.Module:
    """The same initial weights for every kind."""
    torch.manual_seed(seed)
    gpt = GPT(replace(config, use_sdpa=(kind != "formula")))
    if kind == "reference":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ReferenceGPT(gpt.config).copy_from(gpt).to(device)
    return gpt.to(device)


def make_train_step(model: torch.nn.Module, batch: int, seq_len: int, vocab: int,
                    device: torch.device):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    data = torch.randint(0, vocab, (batch, seq_len + 1), generator=g).to(device)
    inputs, targets = data[:, :-1], data[:, 1:]
    model.train()

    def step() -> None:
        loss = lm_loss(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generate(model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> torch.Tensor:
    g = torch.Generator(prompt.device).manual_seed(0)
    return model.generate(prompt, new_tokens, temperature=1.0, top_k=20, generator=g,
                          use_cache=use_cache)


# ---------------------------------------------------------------- peak memory (child process)


def _proc_status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise OSError(f"{field} not in /proc/self/status")


def _start_rss_peak() -> tuple[str, int]:
    """Start measuring the peak resident set size; returns how, and the baseline in bytes."""
    try:  # Linux: reset the high-water mark to the current RSS, then read VmHWM afterwards
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "hwm", _proc_status_bytes("VmRSS")
    except OSError:  # elsewhere: the lifetime peak, which setup may already have raised
        scale = 1 if sys.platform == "darwin" else 1024
        return "rusage", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _rss_peak_since(how: str, before: int) -> int:
    if how == "hwm":
        return _proc_status_bytes("VmHWM") - before
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale - before


def _memory_worker(workload: str, kind: str, args: argparse.Namespace, config: GPTConfig,
                   queue: mp.Queue) -> None:
    device = get_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build(kind, config, device)
    if workload == "train":
        step = make_train_step(model, args.batch, args.seq_len, config.vocab_size, device)

        def work() -> None:
            for _ in range(3):
                step()
    else:
        prompt = torch.zeros(1, args.prompt_len, dtype=torch.long, device=device)

        def work() -> None:
            generate(model, prompt, args.new_tokens, use_cache=(kind == "cache"))

    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        work()
        sync(device)
        queue.put(torch.cuda.max_memory_allocated(device) - before)
    else:
        how, before = _start_rss_peak()
        work()
        queue.put(_rss_peak_since(how, before))


def peak_memory(workload: str, kind: str, args: argparse.Namespace, config: GPTConfig) -> float:
    """Peak extra memory (MiB) of a few steps of ``workload`` in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_worker, args=(workload, kind, args, config, queue))
    proc.start()
    value = queue.get(timeout=600)
    proc.join()
    return value / 2**20


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--vocab", type=int, default=96)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--n-heads", type=int, default=4)
    parser.add_argument("--n-layers", type=int, default=4)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="training steps per round")
    parser.add_argument("--prompt-len", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="generation runs (best of)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script")
    args = parser.parse_args()
    if args.quick:
        args.d_model, args.n_layers, args.batch, args.seq_len = 32, 2, 2, 32
        args.rounds, args.steps, args.new_tokens, args.context = 1, 1, 16, 64
        args.repeats = 2
    if args.prompt_len + args.new_tokens > args.context:
        parser.error("--prompt-len + --new-tokens must fit in --context (the cache would be "
                     "rebuilt at every step once the window slides)")
    return args


def time_training(args: argparse.Namespace, config: GPTConfig,
                  device: torch.device) -> dict[str, float]:
    """Seconds per variant for ``rounds × steps`` training steps, in interleaved rounds so that
    load changes hit every variant alike."""
    steps = {}
    for name, kind in TRAIN_VARIANTS.items():
        model = build(kind, config, device)
        steps[name] = make_train_step(model, args.batch, args.seq_len, config.vocab_size, device)
        for _ in range(2):  # warm-up (allocations, kernel selection)
            steps[name]()
    elapsed = dict.fromkeys(steps, 0.0)
    for _ in range(args.rounds):
        for name, step in steps.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            sync(device)
            elapsed[name] += time.perf_counter() - start
    return elapsed


def time_generation(args: argparse.Namespace, config: GPTConfig,
                    device: torch.device) -> tuple[dict[bool, float], bool]:
    """Best seconds with and without the cache (interleaved runs), and whether the tokens agree."""
    model = build("sdpa", config, device).eval()
    prompt = torch.randint(0, config.vocab_size, (1, args.prompt_len),
                           generator=torch.Generator().manual_seed(2)).to(device)
    for use_cache in (True, False):
        generate(model, prompt, 8, use_cache)  # warm-up
    best, out = {True: float("inf"), False: float("inf")}, {}
    for _ in range(args.repeats):
        for use_cache in (True, False):
            sync(device)
            start = time.perf_counter()
            out[use_cache] = generate(model, prompt, args.new_tokens, use_cache)
            sync(device)
            best[use_cache] = min(best[use_cache], time.perf_counter() - start)
    return best, torch.equal(out[True], out[False])


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    config = GPTConfig(vocab_size=args.vocab, context_length=args.context, d_model=args.d_model,
                       n_heads=args.n_heads, n_layers=args.n_layers)
    n_params = sum(p.numel() for p in GPT(config).parameters())
    print(f"# GPT benchmark on {describe_device(device)}, torch {torch.__version__}")
    print(f"\nModel: d_model={config.d_model}, n_heads={config.n_heads}, "
          f"n_layers={config.n_layers}, d_ff={config.d_ff}, vocab={config.vocab_size}, "
          f"context_length={config.context_length}, {n_params / 1e6:.2f} M parameters (tied).")
    elapsed = time_training(args, config, device)
    gen_time, same = time_generation(args, config, device)
    memory = {}
    if not args.no_memory:
        for name, kind in TRAIN_VARIANTS.items():
            memory[name] = peak_memory("train", kind, args, config)
        for kind in ("cache", "no cache"):
            memory[kind] = peak_memory("generate", kind, args, config)
    report(args, device, elapsed, gen_time, same, memory)


def report(args: argparse.Namespace, device: torch.device, elapsed: dict[str, float],
           gen_time: dict[bool, float], same: bool, memory: dict[str, float]) -> None:
    kind_of_memory = "GPU allocated" if device.type == "cuda" else "RSS"

    def mem(key: str) -> str:
        return f"{memory[key]:.1f}" if key in memory else "n/a"

    tokens = args.rounds * args.steps * args.batch * args.seq_len
    ref_rate = tokens / elapsed[list(TRAIN_VARIANTS)[-1]]
    print(f"\n## (a) Training, batch {args.batch} × {args.seq_len} tokens, AdamW, "
          f"{args.rounds} rounds × {args.steps} steps each\n")
    print(f"| model | tokens/s | ratio vs torch.nn | peak extra memory (MiB, {kind_of_memory}) |")
    print("|---|---:|---:|---:|")
    for name in TRAIN_VARIANTS:
        rate = tokens / elapsed[name]
        print(f"| {name} | {rate:,.0f} | {rate / ref_rate:.2f}× | {mem(name)} |")

    print(f"\n## (b) Generation, batch 1, prompt {args.prompt_len}, {args.new_tokens} new tokens "
          f"(top-k 20 sampling, same seed), best of {args.repeats}\n")
    print(f"| KV cache | best time (ms) | tokens/s | speed-up | peak extra memory (MiB, "
          f"{kind_of_memory}) |")
    print("|---|---:|---:|---:|---:|")
    for use_cache, label, key in ((True, "yes", "cache"), (False, "no", "no cache")):
        rate = args.new_tokens / gen_time[use_cache]
        speedup = gen_time[False] / gen_time[use_cache]
        print(f"| {label} | {gen_time[use_cache] * 1e3:.1f} | {rate:,.1f} | {speedup:.2f}× | "
              f"{mem(key)} |")
    print(f"\nSame tokens with and without the cache: {'yes' if same else 'NO'}.")

    train_ratio = tokens / elapsed[list(TRAIN_VARIANTS)[0]] / ref_rate
    cache_ratio = gen_time[False] / gen_time[True]
    print(f"Goals: training ≥ 0.9× torch.nn: {'met' if train_ratio >= 0.9 else 'NOT met'} "
          f"({train_ratio:.2f}×); KV cache ≥ 3×: {'met' if cache_ratio >= 3 else 'NOT met'} "
          f"({cache_ratio:.1f}×).")


if __name__ == "__main__":
    main()
