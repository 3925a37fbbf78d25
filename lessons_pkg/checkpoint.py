"""Checkpoints that let a training run stop and continue exactly where it was.

Chapter: Concepts › Deep learning in one page (a model saved, then loaded as a serving process
would); ``fit`` writes and resumes from these files when given a ``checkpoint_path``.

A checkpoint holds the model, optimizer(s), scheduler(s), the step, the config, the history, and
the random states of Python, NumPy and torch (CPU and every GPU). ``fit`` adds its place in the
run: the position inside the epoch, the train values not yet logged, and the state the shuffling
generators had when the current epoch began. Resuming replays that epoch start, skips the batches
already used, then restores the random states of the moment of saving, so a run resumed after
step k ends with exactly the weights of an uninterrupted run on the CPU. For that the data order
must come from torch's random numbers: shuffle with a seeded ``torch.Generator``
(``DataLoader(..., shuffle=True, generator=g)``) or with the global torch seed; randomness drawn
from Python's or NumPy's global state inside a ``Dataset`` is not replayed.

Files are written atomically (a crash never leaves half a file) and hold only tensors and plain
Python values, so they are read with ``torch.load(..., weights_only=True)``: loading runs no code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import torch
from torch import nn

from lessons_pkg._checks import check_int

if TYPE_CHECKING:
    from lessons_pkg.training import History

_FORMAT = 1  # version of the checkpoint layout written by save_checkpoint
_EXHAUSTED = object()  # sentinel for next(iterator, default)


# ---------------------------------------------------------------------------------------------
# Random states


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch random states as tensors and plain lists (``weights_only``-safe)."""
    version, internal, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    return {
        "python": [version, list(internal), gauss_next],
        "numpy": [str(np_name), np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Put back the random states that :func:`rng_state` captured."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state(
        (np_name, np.asarray(np_keys, dtype=np.uint32), np_pos, np_has_gauss, np_gauss)
    )
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available() and state["cuda"]:
        for index, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, index)


@contextlib.contextmanager
def rng_preserved() -> Iterator[None]:
    """Run the body, then put every random state back as it was (evaluation draws none)."""
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)


def _loader_generators(loader: Any) -> list[torch.Generator]:
    """The ``torch.Generator`` objects that decide the loader's order (deduplicated)."""
    owners = (
        loader,
        getattr(loader, "sampler", None),
        getattr(getattr(loader, "batch_sampler", None), "sampler", None),
    )
    found: list[torch.Generator] = []
    for owner in owners:
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def _epoch_start_state(loader: Any) -> dict[str, Any]:
    # The global torch state matters even with a seeded generator: with none, the sampler draws
    # its seed from it when the epoch's iterator starts.
    return {
        "torch": torch.get_rng_state(),
        "generators": [g.get_state() for g in _loader_generators(loader)],
    }


def _restore_epoch_start(state: Mapping[str, Any], loader: Any) -> None:
    generators = _loader_generators(loader)
    if len(generators) != len(state["generators"]):
        raise ValueError(
            f"train_loader has {len(generators)} torch.Generator(s) but the checkpoint was "
            f"written with {len(state['generators'])}; resume with a loader built the same way"
        )
    torch.set_rng_state(state["torch"])
    for generator, saved in zip(generators, state["generators"], strict=True):
        generator.set_state(saved)


# ---------------------------------------------------------------------------------------------
# Where fit is in a run


@dataclass
class RunPosition:
    """Where ``fit`` is in its run: what a checkpoint must hold to continue it exactly.

    ``step`` counts the updates done, ``batch_in_epoch`` those of the current epoch (0-based
    ``epoch``). ``epoch_start`` holds the random states of the moment that epoch's pass over the
    loader began; ``pending_rng`` the states to set once a resumed run has replayed its position.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    epoch_start: dict[str, Any] | None = None
    pending_rng: dict[str, Any] | None = None

    def where(self) -> str:
        return f"at step {self.step} (epoch {self.epoch + 1}, batch {self.batch_in_epoch})"

    def epoch_batches(self, loader: Any) -> Iterator[Any]:
        """An iterator over the batches left in the current epoch.

        At an epoch's start this notes the random states, then starts a pass. Inside an epoch (a
        resumed run) it replays how the epoch began and skips the batches already used.
        """
        if self.batch_in_epoch == 0:
            self.settle_rng()
            self.epoch_start = _epoch_start_state(loader)
            return iter(loader)
        _restore_epoch_start(self.epoch_start, loader)
        batches = iter(loader)
        for _ in range(self.batch_in_epoch):
            if next(batches, _EXHAUSTED) is _EXHAUSTED:
                raise ValueError(
                    f"train_loader is shorter than the checkpoint expects ({self.batch_in_epoch}"
                    " batches into the epoch); resume with the same loader"
                )
        self.settle_rng()
        return batches

    def next_epoch(self) -> None:
        if self.batch_in_epoch == 0:
            raise ValueError("train_loader yielded no batches")
        self.epoch += 1
        self.batch_in_epoch = 0

    def settle_rng(self) -> None:
        """Set the random states of the moment of saving, once (a no-op when not resuming)."""
        if self.pending_rng is not None:
            set_rng_state(self.pending_rng)
            self.pending_rng = None


def save_run(path, model, optimizer, scheduler, config, history, position, window,
             scaler=None) -> None:  # fmt: skip
    """Write ``fit``'s checkpoint: :func:`save_checkpoint` plus the position in the run, the
    train values summed since the last log entry (``window``: ``{"sums": ..., "count": ...}``)
    and the state of the float16 gradient scaler (``None`` without one)."""
    loop = {
        "epoch": position.epoch,
        "batch_in_epoch": position.batch_in_epoch,
        "epoch_start": position.epoch_start,
        "scaler": None if scaler is None else scaler.state_dict(),
        **window,
    }
    save_checkpoint(
        path, model, optimizer, position.step, config,
        scheduler=scheduler, history=history, extra={"loop": loop},
    )  # fmt: skip


def resume_run(path, model, optimizer, scheduler, config,
               scaler=None) -> tuple[RunPosition, dict, dict]:  # fmt: skip
    """Load ``fit``'s checkpoint at ``path``; return the position, the history (as a dict) and
    the window of unlogged train values. ``config`` (plain, or ``None``) must equal the saved one.
    A gradient ``scaler`` gets the saved scale (a run saved without one keeps its fresh scale).
    """
    saved = load_checkpoint(path, model, optimizer, scheduler=scheduler)
    loop = (saved.get("extra") or {}).get("loop")
    if loop is None or saved.get("history") is None:
        raise ValueError(
            f"checkpoint_path: {str(path)!r} was written by save_checkpoint, not by fit, so it "
            "holds no loop position to resume from"
        )
    if config is not None and not _same(config, saved["config"]):
        raise ValueError(
            f"config differs from the checkpoint's: got {config}, saved {saved['config']}"
        )
    if scaler is not None and loop.get("scaler") is not None:
        scaler.load_state_dict(loop["scaler"])
    position = RunPosition(
        saved["step"], loop["epoch"], loop["batch_in_epoch"], loop["epoch_start"], saved["rng"]
    )
    return position, saved["history"], {"sums": dict(loop["sums"]), "count": loop["count"]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.equal(a.cpu(), b.cpu()))
        )
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------------------------
# Checkpoint files


def _plain(value: Any, where: str) -> Any:
    """Check that ``value`` holds only what ``torch.load(weights_only=True)`` reads back."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be str, got {type(key).__name__} ({key!r})")
            out[key] = _plain(v, f"{where}[{key!r}]")
        return out
    raise TypeError(
        f"{where} has type {type(value).__name__}; checkpoints store only None, bool, int, "
        "float, str, tensors, and lists, tuples and str-keyed dicts of these"
    )


def plain_config(config: Any) -> dict[str, Any] | None:
    """``config`` (a dataclass instance, a dict or ``None``) as a dict of plain values."""
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(
            f"config must be a dataclass instance, a dict or None, got {type(config).__name__}"
        )
    return _plain(config, "config")


def _states_of(obj: Any, name: str) -> dict[str, Any]:
    """``{name: state_dict}`` for one object, ``{name + "s": {key: state_dict}}`` for a dict."""
    if obj is None:
        return {name: None}
    if isinstance(obj, Mapping):
        return {f"{name}s": {key: o.state_dict() for key, o in obj.items()}}
    return {name: obj.state_dict()}


def _load_states(obj: Any, payload: Mapping[str, Any], name: str) -> None:
    if obj is None:
        return  # the caller only wants the weights
    single, named = payload.get(name), payload.get(f"{name}s")
    if single is None and named is None:
        raise ValueError(f"{name} was given but the checkpoint holds no {name} state")
    if isinstance(obj, Mapping):
        if named is None:
            raise ValueError(
                f"{name}: the checkpoint holds a single {name}, got a dict of {len(obj)}"
            )
        if set(obj) != set(named):
            raise ValueError(
                f"{name} has keys {sorted(obj)} but the checkpoint holds {sorted(named)}"
            )
        for key, o in obj.items():
            o.load_state_dict(named[key])
    else:
        if single is None:
            raise ValueError(
                f"{name}: the checkpoint holds a dict {sorted(named)}, got {type(obj).__name__}"
            )
        obj.load_state_dict(single)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``:
    a crash never leaves half a file, and a reader sees the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _atomic_save(payload: Any, path: Path) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    atomic_write(path, lambda handle: torch.save(payload, handle))


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Any = None,
    step: int = 0,
    config: Any = None,
    *,
    scheduler: Any = None,
    history: History | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write model, optimizer(s), step, config and random states to ``path`` atomically.

    Args:
        optimizer: an optimizer, a dict name -> optimizer, or ``None``.
        config: a dataclass instance or a dict of plain values (stored as a dict), or ``None``.
        scheduler: a learning-rate scheduler, a dict of them, or ``None``.
        history: a :class:`~lessons_pkg.training.History` to store beside the weights.
        extra: more plain values (``fit`` keeps its position in the epoch here).

    The file holds only tensors and plain Python values, so :func:`load_checkpoint` reads it with
    ``torch.load(..., weights_only=True)``.

    Raises:
        TypeError: ``step`` is not an int, or ``config`` or ``extra`` holds something other than
            plain values and tensors.
        ValueError: ``step`` is negative.
    """
    check_int("step", step, minimum=0)
    payload = {
        "format": _FORMAT,
        "model": model.state_dict(),
        **_states_of(optimizer, "optimizer"),  # key "optimizer", or "optimizers" for a dict
        **_states_of(scheduler, "scheduler"),
        "step": step,
        "config": plain_config(config),
        "history": None if history is None else history.to_dict(),
        "extra": None if extra is None else _plain(dict(extra), "extra"),
        "rng": rng_state(),
    }
    _atomic_save(payload, Path(path))


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: Any = None,
    *,
    scheduler: Any = None,
    restore_rng: bool = False,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint` into ``model`` (and optimizer, scheduler).

    Read with ``torch.load(..., weights_only=True)``: no code from the file is run. Tensors land on
    ``map_location`` and are then copied to wherever the model's parameters live. Optimizer and
    scheduler states are loaded only when those objects are given.

    Args:
        restore_rng: also set Python's, NumPy's and torch's random states to those saved.

    Returns:
        The checkpoint as a dict: ``step``, ``config`` (a dict or ``None``), ``history`` (a dict
        for :meth:`History.from_dict` or ``None``), ``extra``, ``rng`` and the state dicts.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: the file is not such a checkpoint (damaged, truncated, or another kind of
            file), or holds no state for an object given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {str(path)!r}")
    not_ours = f"path: {str(path)!r} is not a checkpoint written by lessons_pkg.checkpoint"
    with path.open("rb") as handle:
        try:
            payload = torch.load(handle, map_location=map_location, weights_only=True)
        except Exception as err:  # torch raises a different type for each kind of damage
            reason = (str(err).strip().splitlines() or [""])[0]
            reason = reason if len(reason) <= 80 else reason[:77] + "..."
            raise ValueError(
                f"{not_ours}: torch.load cannot read it ({type(err).__name__}: {reason}); is it "
                "damaged, truncated, or another kind of file?"
            ) from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT or "model" not in payload:
        raise ValueError(f"{not_ours} (format {_FORMAT})")
    model.load_state_dict(payload["model"])
    _load_states(optimizer, payload, "optimizer")
    _load_states(scheduler, payload, "scheduler")
    if restore_rng:
        set_rng_state(payload["rng"])
    return payload
