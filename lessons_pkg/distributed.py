"""Data-parallel training with ``torch.distributed``: DDP, a DistributedSampler, rank 0 in charge.

Chapter: Practice › Scaling up. Paper: Li et al. (2020), "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training" (DDP: gradients all-reduced in buckets while backward runs).

Data parallelism (数据并行): each of W processes holds a whole copy of the model and reads its own
1/W of the data (``DistributedSampler``). After ``backward`` DDP averages the gradients over the
W processes (an all-reduce), so every copy takes the same update: that of one process on the W
batches concatenated. ``fit`` runs unchanged on a DDP-wrapped model; only rank 0 shows progress
and writes checkpoints (:func:`is_main_process`), and checkpoints hold the bare model's weights.

Launch W processes with ``torchrun``, which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` for :func:`init_distributed` to read::

    torchrun --standalone --nproc-per-node 2 -m lessons_pkg.train_ddp --steps 50

trains the course's GPT on the course's corpus (:mod:`lessons_pkg.train_ddp`). The backend is
gloo on the CPU and NCCL on CUDA GPUs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lessons_pkg._checks import check_positive_int, check_seed


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is: ``rank`` in ``0 … world_size - 1``, its GPU index on the machine
    (``local_rank``), where it computes (``device``) and the backend (``None`` alone)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group that ``torchrun`` set up, or run alone when not under torchrun.

    Args:
        device: ``"auto"`` (CUDA when present, else the CPU), ``"cpu"`` or ``"cuda"``. On CUDA
            each process takes the GPU ``LOCAL_RANK`` and the NCCL backend; on the CPU, gloo.

    Raises:
        ValueError: ``device`` is not one of those, or ``"cuda"`` without a GPU.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of ('auto', 'cpu', 'cuda'), got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but torch.cuda.is_available() is False")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world_size == 1:
        return DistributedContext(0, 1, 0, target, None)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, target, backend)


def close_distributed() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True in rank 0, or when no process group is running: the process that logs and saves."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def data_parallel(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``model`` moved to ``context.device`` and, with several processes, wrapped in DDP.

    DDP copies rank 0's weights to every process when it wraps, so all copies start equal.
    """
    model = model.to(context.device)
    if context.world_size == 1:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (the model itself when it is not wrapped)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def gradient_sync(model: nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """A context in which ``backward`` all-reduces the gradients (``sync``) or only adds them to
    ``.grad`` locally (DDP's ``no_sync``, for all micro-batches of an update but the last)."""
    if sync or not isinstance(model, DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def distributed_loader(
    dataset: Dataset,
    batch_size: int,
    context: DistributedContext,
    *,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A ``DataLoader`` over this process's share of ``dataset``: batches of ``batch_size`` per
    process (a global batch of ``world_size · batch_size``).

    ``DistributedSampler`` shuffles with ``seed + epoch`` (``fit`` sets the epoch), pads the data
    set so every process gets the same number of rows, and deals row i of the permutation to
    process ``i % world_size``. Batches that would be short are dropped, so every step averages
    equal shares.
    """
    check_positive_int("batch_size", batch_size)
    check_seed("seed", seed)
    sampler = DistributedSampler(dataset, num_replicas=context.world_size, rank=context.rank,
                                 shuffle=shuffle, seed=seed)  # fmt: skip
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)


def set_sampler_epoch(loader: Any, epoch: int) -> None:
    """Tell a ``DistributedSampler`` inside ``loader`` which epoch starts (its shuffle seed)."""
    for owner in (loader, getattr(loader, "batch_sampler", None)):
        sampler = getattr(owner, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
            return


def mean_over_processes(value: float) -> float:
    """The mean of ``value`` over all processes (``value`` itself when alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    total = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        total = total.cuda()
    dist.all_reduce(total)
    return float(total.item()) / dist.get_world_size()
