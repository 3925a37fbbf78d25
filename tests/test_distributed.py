"""Tests for lessons_pkg.distributed and lessons_pkg.train_ddp: DDP on 2 CPU processes equals one
process on the concatenated batches; a run killed with SIGKILL resumes to the same weights; a
checkpoint write killed half-way leaves the previous checkpoint loadable."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from fit_helpers import _dataset, _loss, _model
from torch.utils.data import DistributedSampler

from lessons_pkg.checkpoint import load_checkpoint, save_checkpoint
from lessons_pkg.distributed import (
    DistributedContext,
    close_distributed,
    data_parallel,
    distributed_loader,
    init_distributed,
    is_main_process,
    unwrap,
)
from lessons_pkg.train_ddp import main
from lessons_pkg.training import fit

ROOT = Path(__file__).resolve().parents[1]
WORLD, BATCH, SEED = 2, 4, 3  # 40 rows: 20 per process, 5 batches of 4 per epoch
RUNS = {1: 6, 2: 4}  # accumulation steps -> optimizer steps; both cross an epoch boundary


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)


def _worker(rank, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD))  # what torchrun sets
    torch.set_num_threads(1)
    context = init_distributed("cpu")
    try:
        for k, steps in RUNS.items():
            model = data_parallel(_model(dropout=0.0, dtype=torch.float64), context)
            loader = distributed_loader(_dataset(dtype=torch.float64), BATCH, context, seed=SEED)
            fit(model, loader, loss_fn=_loss, optimizer=_sgd(model), max_steps=steps,
                accumulation_steps=k, progress=False,
                checkpoint_path=Path(out) / f"rank{rank}-k{k}.pt")  # fmt: skip
    finally:
        close_distributed()


def _global_micro_batches(epoch):
    """The micro-batches of one epoch as one process would see them: each process's j-th batch,
    concatenated over the processes."""
    data = _dataset(dtype=torch.float64)
    per_rank = []
    for rank in range(WORLD):
        sampler = DistributedSampler(data, num_replicas=WORLD, rank=rank, shuffle=True, seed=SEED)
        sampler.set_epoch(epoch)
        per_rank.append(torch.tensor(list(sampler)).split(BATCH))
    return [data[torch.cat(parts)] for parts in zip(*per_rank, strict=True)]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_on_two_processes_equals_one_process_on_the_concatenated_batches(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    assert not any(tmp_path.glob("rank1-*"))  # only rank 0 writes checkpoints
    for k, steps in RUNS.items():
        batches = []  # one process, batches of WORLD · k · BATCH rows (what is left at the end)
        for epoch in range(2):
            micro = _global_micro_batches(epoch)
            for start in range(0, len(micro), k):
                group = micro[start:start + k]
                batches.append(tuple(torch.cat(parts) for parts in zip(*group, strict=True)))
        reference = _model(dropout=0.0, dtype=torch.float64)
        fit(reference, batches, loss_fn=_loss, optimizer=_sgd(reference), max_steps=steps,
            progress=False)  # fmt: skip
        ddp = _model(dropout=0.0, dtype=torch.float64)
        assert load_checkpoint(tmp_path / f"rank0-k{k}.pt", ddp)["step"] == steps
        for a, b in zip(ddp.parameters(), reference.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_alone_the_helpers_run_one_process():
    context = init_distributed("cpu")
    assert context == DistributedContext(0, 1, 0, torch.device("cpu"), None)
    model = _model()
    assert data_parallel(model, context) is model and unwrap(model) is model
    assert is_main_process()
    loader = distributed_loader(_dataset(), 8, context, shuffle=False)
    assert len(loader) == 5
    with pytest.raises(ValueError, match=r"device must be one of \('auto', 'cpu', 'cuda'\)"):
        init_distributed("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' was asked for"):
            init_distributed("cuda")
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        distributed_loader(_dataset(), 0, context)


# ------------------------------------------------------------------------------ crash and resume

TRAIN = ["--steps", "120", "--batch-size", "8", "--context-length", "16", "--d-model", "32",
         "--n-layers", "2", "--train-chars", "3000", "--checkpoint-every", "5"]


def _run_env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _wait_for(predicate, process, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, "the training process ended before it could be killed"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_weights(tmp_path):
    path = tmp_path / "run.pt"
    command = [sys.executable, "-m", "lessons_pkg.train_ddp", *TRAIN, "--checkpoint", str(path)]
    process = subprocess.Popen(command, env=_run_env(), cwd=tmp_path)
    _wait_for(path.exists, process)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    killed_at = torch.load(path, weights_only=True)["step"]
    assert 5 <= killed_at < 120 and killed_at % 5 == 0

    subprocess.run(command, env=_run_env(), cwd=tmp_path, check=True, timeout=120)  # resumes
    torch.set_num_threads(1)
    summary = main([*TRAIN, "--checkpoint", str(tmp_path / "uninterrupted.pt")])
    assert summary["resumed_from"] == 0
    resumed, uninterrupted = (torch.load(p, weights_only=True)
                              for p in (path, tmp_path / "uninterrupted.pt"))  # fmt: skip
    assert resumed["step"] == uninterrupted["step"] == 120
    for key, value in uninterrupted["model"].items():
        assert torch.equal(resumed["model"][key], value), key
    assert resumed["history"] == uninterrupted["history"]


_KILLED_WHILE_WRITING = """
import sys, time
import torch
from lessons_pkg import checkpoint
from lessons_pkg.checkpoint import save_checkpoint

model = torch.nn.Linear(64, 64)
save_checkpoint(sys.argv[1], model, None, 1)

def slow_save(obj, handle):  # writes half a file, then stalls there until it is killed
    handle.write(b"half a checkpoint")
    handle.flush()
    print("writing", flush=True)
    time.sleep(120)

checkpoint.torch.save = slow_save
save_checkpoint(sys.argv[1], model, None, 2)
"""


def test_a_checkpoint_write_killed_half_way_leaves_the_previous_one(tmp_path):
    path = tmp_path / "run.pt"
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED_WHILE_WRITING),
                                str(path)], env=_run_env(), stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert load_checkpoint(path, torch.nn.Linear(64, 64))["step"] == 1
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run.pt.")  # the unfinished temp file
    save_checkpoint(path, torch.nn.Linear(64, 64), None, 3)  # the next write still works
    assert load_checkpoint(path, torch.nn.Linear(64, 64))["step"] == 3
