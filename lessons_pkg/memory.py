"""Where training memory goes: a tracker of tensor memory, and the arithmetic for large models.

Chapter: Practice › Scaling up. Papers: Rajbhandari et al. (2020), "ZeRO: Memory Optimizations
Toward Training Trillion Parameter Models", §3 and Figure 1 (model states: 2 + 2 + 12 bytes per
parameter in mixed-precision Adam, and how ZeRO's three stages divide them); Korthikanti et al.
(2023), "Reducing Activation Recomputation in Large Transformer Models", §4 (activations per
layer: s·b·h·(34 + 5·a·s/h) bytes in 16 bits, divided by tensor parallelism); Shoeybi et al.
(2019), Megatron-LM (tensor parallelism); Huang et al. (2019), GPipe (pipeline parallelism).

:class:`MemoryTracker` counts the bytes of the tensors that the ops run inside it create, on any
device, from the moment each is created until it is freed, and keeps the peak. It sees every
tensor made by a torch op (activations, gradients, optimizer states, temporaries), not memory
that was there before it started (the weights, the data) nor an allocator's caching and
rounding, so its figures are exact and the same on every machine.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from lessons_pkg._checks import check_choice, check_positive_int

__all__ = ["MemoryTracker", "TrainingMemory", "activation_bytes", "training_memory"]

GIB = 2**30


class MemoryTracker(TorchDispatchMode):
    """Bytes held by the tensors created inside ``with MemoryTracker() as m:``.

    Attributes:
        current: bytes of those tensors still alive.
        peak: the largest ``current`` seen.

    Each storage is counted once, however many views share it, and stops counting when the
    storage is freed (a ``weakref.finalize`` on it). The tracker runs in the autograd engine too,
    so ``backward`` and the optimizer step are counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._alive: dict[int, weakref.finalize] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self._count(tensor.untyped_storage())
        return out

    def _count(self, storage: torch.UntypedStorage) -> None:
        key = id(storage)  # the Python storage object lives as long as the storage itself
        if key in self._alive:
            return  # a view of a tensor already counted, or an op that returned its input
        size = storage.nbytes()
        self.current += size
        self.peak = max(self.peak, self.current)
        self._alive[key] = weakref.finalize(storage, self._freed, key, size)

    def _freed(self, key: int, size: int) -> None:
        self.current -= size
        self._alive.pop(key, None)


# ---------------------------------------------------------------------------------------------
# The arithmetic for a large model


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes one device holds while training, by kind."""

    weights: float
    gradients: float
    optimizer_states: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer_states + self.activations


def activation_bytes(seq_len: int, micro_batch: int, d_model: int, n_heads: int,
                     n_layers: int, *, tensor_parallel: int = 1,
                     recompute: bool = False) -> float:  # fmt: skip
    """Activations kept for ``backward`` by ``n_layers`` Transformer layers in 16-bit precision.

    Korthikanti et al. (2023), eq. (1)-(2): each layer keeps s·b·h·(10 + 24/t + 5·a·s/(h·t))
    bytes (t = 1: 34 + 5·a·s/h), for s = ``seq_len``, b = ``micro_batch``, h = ``d_model``,
    a = ``n_heads``, t = ``tensor_parallel``; the 5·a·s/h term is the attention matrices. With
    full recomputation (activation checkpointing) a layer keeps only its 16-bit input, 2·s·b·h
    bytes (the one layer being recomputed in ``backward`` adds its own activations once).
    """
    for name, value in (("seq_len", seq_len), ("micro_batch", micro_batch),
                        ("d_model", d_model), ("n_heads", n_heads), ("n_layers", n_layers),
                        ("tensor_parallel", tensor_parallel)):  # fmt: skip
        check_positive_int(name, value)
    s, b, h, a, t = seq_len, micro_batch, d_model, n_heads, tensor_parallel
    if recompute:
        return n_layers * 2.0 * s * b * h
    return n_layers * s * b * h * (10 + 24 / t + 5 * a * s / (h * t))


def training_memory(
    n_params: float,
    *,
    activations: float = 0.0,
    zero_stage: int = 0,
    data_parallel: int = 1,
    model_parallel: int = 1,
) -> TrainingMemory:
    """Memory per device for mixed-precision Adam on ``n_params`` parameters (Ψ).

    Rajbhandari et al. (2020), §3.1: 16-bit weights (2Ψ bytes) and gradients (2Ψ), and in float32
    the master weights, Adam's first and second moments (12Ψ): 16Ψ bytes in all. Tensor or
    pipeline parallelism over ``model_parallel`` devices gives each its 1/``model_parallel`` of
    the parameters. ZeRO then splits, over the ``data_parallel`` copies, the optimizer states
    (stage 1), also the gradients (stage 2), also the weights (stage 3; FSDP is this stage).

    Args:
        activations: bytes of activations per device (see :func:`activation_bytes`).
        zero_stage: 0 (plain data parallelism: every copy holds everything), 1, 2 or 3.

    Raises:
        ValueError: ``zero_stage`` is not 0-3, or a device count is not a positive int.
    """
    check_choice("zero_stage", zero_stage, (0, 1, 2, 3))
    check_positive_int("data_parallel", data_parallel)
    check_positive_int("model_parallel", model_parallel)
    psi = n_params / model_parallel
    n_d = data_parallel
    return TrainingMemory(
        weights=2 * psi / (n_d if zero_stage >= 3 else 1),
        gradients=2 * psi / (n_d if zero_stage >= 2 else 1),
        optimizer_states=12 * psi / (n_d if zero_stage >= 1 else 1),
        activations=float(activations),
    )
