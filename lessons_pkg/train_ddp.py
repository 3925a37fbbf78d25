"""The program that ``torchrun`` launches: the course's GPT trained data-parallel on its corpus.

Chapter: Practice › Scaling up. ::

    torchrun --standalone --nproc-per-node 2 -m lessons_pkg.train_ddp --steps 50
    python -m lessons_pkg.train_ddp --steps 50      # one process, the same program
    python scripts/train_ddp.py --steps 50          # the same, from a checkout

``--help`` lists the options. Each process reads ``--batch-size`` rows per micro-batch, so W
processes step on a global batch of W · batch-size · accumulation-steps rows. With
``--checkpoint`` the run resumes from that file when it exists: run the same command again after
a crash. Rank 0 writes a JSON summary (``--summary``): world size, steps, the step resumed from,
the last loss averaged over the processes, seconds of training and tokens per second.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from lessons_pkg.checkpoint import load_checkpoint
from lessons_pkg.data.corpus import CorpusSource, make_corpus
from lessons_pkg.data.text import CharTokenizer, LMWindows
from lessons_pkg.device import set_seed
from lessons_pkg.distributed import (
    close_distributed,
    data_parallel,
    distributed_loader,
    init_distributed,
    is_main_process,
    mean_over_processes,
)
from lessons_pkg.gpt import GPT, GPTConfig, lm_batch_loss
from lessons_pkg.training import fit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchrun --standalone --nproc-per-node N -m lessons_pkg.train_ddp",
        description="Train the course's character GPT on the course's corpus, data-parallel.",
    )
    add = parser.add_argument
    add("--steps", type=int, default=50, help="optimizer steps (default 50)")
    add("--batch-size", type=int, default=16, help="rows per process and micro-batch")
    add("--accumulation-steps", type=int, default=1, help="micro-batches per step")
    add("--precision", choices=["bf16", "fp16"], default=None, help="autocast (default float32)")
    add("--activation-checkpointing", action="store_true", help="recompute blocks in backward")
    add("--context-length", type=int, default=64)
    add("--d-model", type=int, default=64)
    add("--n-layers", type=int, default=2)
    add("--n-heads", type=int, default=4)
    add("--lr", type=float, default=3e-3)
    add("--train-chars", type=int, default=50_000, help="size of the generated training text")
    add("--seed", type=int, default=0)
    add("--threads", type=int, default=1, help="torch CPU threads per process")
    add("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    add("--checkpoint", type=Path, default=None, help="checkpoint file; resumed when it exists")
    add("--checkpoint-every", type=int, default=None)
    add("--summary", type=Path, default=None, help="rank 0 writes a JSON summary here")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, train, and return (and with ``--summary`` write) rank 0's summary:
    world size, steps, the last logged loss, the training time and tokens per second."""
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    context = init_distributed(args.device)
    try:
        set_seed(args.seed)  # the same seed in every process; DDP copies rank 0's weights anyway
        text, _ = make_corpus(n_train_chars=args.train_chars, n_val_chars=1, seed=args.seed)
        tokenizer = CharTokenizer(CorpusSource().alphabet)
        windows = LMWindows(tokenizer.encode_tensor(text), args.context_length)
        config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=args.context_length,
                           d_model=args.d_model, n_heads=args.n_heads, n_layers=args.n_layers)
        gpt = GPT(config, activation_checkpointing=args.activation_checkpointing)
        model = data_parallel(gpt, context)
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        loader = distributed_loader(windows, args.batch_size, context, seed=args.seed)
        resume = args.checkpoint is not None and args.checkpoint.exists()
        done = load_checkpoint(args.checkpoint, gpt)["step"] if resume else 0
        start = time.perf_counter()
        history = fit(
            model, loader, loss_fn=lm_batch_loss, optimizer=optimizer, max_steps=args.steps,
            precision=args.precision, accumulation_steps=args.accumulation_steps,
            checkpoint_path=args.checkpoint, checkpoint_every=args.checkpoint_every,
            resume=resume, config=config, progress=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        tokens = (args.steps - done) * context.world_size * args.accumulation_steps * (
            args.batch_size * args.context_length
        )
        summary = {
            "world_size": context.world_size,
            "steps": args.steps,
            "resumed_from": done,
            "loss": mean_over_processes(history.train["loss"][-1]),  # of the global batch
            "seconds": seconds,
            "tokens_per_s": tokens / seconds,
        }
        if is_main_process() and args.summary is not None:
            args.summary.write_text(json.dumps(summary))
        return summary
    finally:
        close_distributed()


if __name__ == "__main__":
    main()
