"""Benchmark: the scalar autograd engine on the classic two-moons demo, against PyTorch.

Chapter: Practice › An MLP from scratch ("what each step costs").

Task: scikit-learn ``make_moons(n_samples=100, noise=0.1)`` with labels ±1, an MLP 2→16→16→1,
100 full-batch steps of the SVM (hinge) loss plus L2,

    L = mean_i relu(1 − yᵢ·f(xᵢ)) + 1e-4 · Σ_p p²,

and SGD with a learning rate falling linearly from 1.0 to 0.1. The same model with the same
initial weights is trained in PyTorch (float64) for the ratio. Peak memory of the engine is the
peak traced by ``tracemalloc`` over one extra step (tracing slows Python, so timings are taken
without it). Times are wall-clock; the CPU time shows how much of it was lost to other
processes on a busy machine. A second engine run with the cyclic garbage collector switched off
shows its cost: its full collections rescan every object of the process, torch's included. The
engine creates no reference cycles, so nothing leaks without it.

Run: ``python benchmarks/bench_autograd.py [--device auto|cpu|cuda] [--steps 100]``.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import torch
from sklearn.datasets import make_moons

from lessons_pkg.autograd import MLP, Value, vsum
from lessons_pkg.device import get_device

ALPHA = 1e-4  # L2 strength


def engine_loss(model: MLP, X: list[list[float]], y: list[float]) -> tuple[Value, float]:
    """Hinge loss + L2 on the whole batch; also the accuracy of the current scores."""
    scores = [model(x) for x in X]
    margins = [(1.0 - yi * s).relu() for yi, s in zip(y, scores, strict=True)]
    data_loss = vsum(margins) * (1.0 / len(margins))
    reg_loss = ALPHA * vsum(p * p for p in model.parameters())
    accuracy = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores, strict=True)) / len(y)
    return data_loss + reg_loss, accuracy


def train_engine(X, y, steps: int) -> dict[str, float]:
    model = MLP(2, [16, 16, 1], seed=1337)
    t_fwd = t_bwd = t_upd = 0.0
    start, cpu_start = time.perf_counter(), time.process_time()
    for k in range(steps):
        t0 = time.perf_counter()
        loss, _ = engine_loss(model, X, y)
        t1 = time.perf_counter()
        model.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        lr = 1.0 - 0.9 * k / steps
        for p in model.parameters():
            p.data -= lr * p.grad
        t3 = time.perf_counter()
        t_fwd, t_bwd, t_upd = t_fwd + t1 - t0, t_bwd + t2 - t1, t_upd + t3 - t2
    total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    loss, accuracy = engine_loss(model, X, y)
    n_nodes = len(loss._topological_order())

    tracemalloc.start()  # one traced step for the memory peak of a whole graph
    loss, _ = engine_loss(model, X, y)
    model.zero_grad()
    loss.backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dict(
        total=total,
        cpu=cpu,
        fwd=t_fwd,
        bwd=t_bwd,
        upd=t_upd,
        acc=accuracy,
        loss=loss.data,
        peak=peak,
        nodes=n_nodes,
        init=MLP(2, [16, 16, 1], seed=1337),
    )


def torch_weights(model: MLP, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The engine's initial weights as (W, b) float64 tensors, one pair per layer."""
    out = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        out.append((W.to(device).requires_grad_(), b.to(device).requires_grad_()))
    return out


def train_torch(init: MLP, X, y, steps: int, device: torch.device) -> dict[str, float]:
    Xt = torch.tensor(X, dtype=torch.float64, device=device)
    yt = torch.tensor(y, dtype=torch.float64, device=device)
    params = torch_weights(init, device)
    flat = [t for pair in params for t in pair]

    def forward() -> tuple[torch.Tensor, torch.Tensor]:
        h = Xt
        for i, (W, b) in enumerate(params):
            h = h @ W.T + b  # (N, width)
            if i < len(params) - 1:
                h = torch.relu(h)
        scores = h[:, 0]  # (N,)
        loss = torch.relu(1 - yt * scores).mean() + ALPHA * sum((p * p).sum() for p in flat)
        return loss, scores

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_fwd = t_bwd = t_upd = 0.0
    sync()
    start = time.perf_counter()
    for k in range(steps):
        t0 = time.perf_counter()
        loss, _ = forward()
        sync()
        t1 = time.perf_counter()
        for p in flat:
            p.grad = None
        loss.backward()
        sync()
        t2 = time.perf_counter()
        lr = 1.0 - 0.9 * k / steps
        with torch.no_grad():
            for p in flat:
                p -= lr * p.grad
        sync()
        t3 = time.perf_counter()
        t_fwd, t_bwd, t_upd = t_fwd + t1 - t0, t_bwd + t2 - t1, t_upd + t3 - t2
    total = time.perf_counter() - start
    with torch.no_grad():
        loss, scores = forward()
    acc = ((scores > 0) == (yt > 0)).double().mean().item()
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return dict(total=total, fwd=t_fwd, bwd=t_bwd, upd=t_upd, acc=acc, loss=loss.item(), peak=peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="device for the PyTorch reference")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    device = get_device(args.device)

    X_np, y_np = make_moons(n_samples=100, noise=0.1, random_state=1337)
    X = X_np.tolist()
    y = (y_np * 2 - 1).astype(float).tolist()  # labels ±1

    eng = train_engine(X, y, args.steps)
    # The engine makes no reference cycles, so the cyclic collector (which rescans every live
    # object of the process now and then) can be switched off: a second run shows what it costs.
    gc.disable()
    try:
        no_gc = train_engine(X, y, args.steps)
    finally:
        gc.enable()
    ref = train_torch(eng["init"], X, y, args.steps, device)

    def ms(seconds: float) -> str:
        return f"{1000 * seconds / args.steps:.2f} ms"

    def mib(n: int | None) -> str:
        return "n/a (CPU allocator)" if n is None else f"{n / 2**20:.2f} MiB"

    rows = [
        (
            "total time (s)",
            f"{eng['total']:.2f}",
            f"{ref['total']:.3f}",
            f"{eng['total'] / ref['total']:.1f}x",
        ),
        ("CPU time of this process (s)", f"{eng['cpu']:.2f}", "", ""),
        ("time per step", ms(eng["total"]), ms(ref["total"]), ""),
        (
            "total time, cyclic GC off (s)",
            f"{no_gc['total']:.2f}",
            "",
            f"{no_gc['total'] / ref['total']:.1f}x",
        ),
        ("forward per step", ms(eng["fwd"]), ms(ref["fwd"]), f"{eng['fwd'] / ref['fwd']:.1f}x"),
        ("backward per step", ms(eng["bwd"]), ms(ref["bwd"]), f"{eng['bwd'] / ref['bwd']:.1f}x"),
        ("update per step", ms(eng["upd"]), ms(ref["upd"]), f"{eng['upd'] / ref['upd']:.1f}x"),
        ("peak memory (one step)", mib(eng["peak"]) + " (tracemalloc)", mib(ref["peak"]), ""),
        ("graph nodes per step", str(eng["nodes"]), "", ""),
        ("final loss", f"{eng['loss']:.4f}", f"{ref['loss']:.4f}", ""),
        ("final train accuracy", f"{eng['acc']:.0%}", f"{ref['acc']:.0%}", ""),
    ]
    print(f"Two moons, MLP 2-16-16-1, {args.steps} full-batch steps; reference on {device}\n")
    print("| metric | lessons_pkg.autograd | torch (float64) | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
