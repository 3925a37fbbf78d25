"""One training loop for every model in the course: ``fit``, ``evaluate`` and checkpoints.

Chapter: Algorithms › Backpropagation (the loop itself) and every Practice page that trains.
Papers: Rumelhart, Hinton & Williams (1986) for learning by back-propagated gradients;
Pascanu, Mikolov & Bengio (2013), "On the difficulty of training RNNs", for gradient-norm clipping.

The loop knows no model. It runs in one of two modes:

* ``loss_fn(model, batch) -> scalar tensor`` with an ``optimizer``: ``fit`` does ``zero_grad``,
  ``backward``, optional clipping, ``optimizer.step()`` and ``scheduler.step()`` (once per step).
* ``step_fn(model, batch) -> dict[str, float]``: the function does its own updates (a GAN's two
  optimizers). Pass those optimizers as ``optimizer={"g": opt_g, "d": opt_d}`` so checkpoints
  hold them.

Steps are counted from 1: "step s" is the state after s updates.

Reproducible resume. A checkpoint holds the model, optimizer(s), scheduler(s), the step, the
position inside the epoch, the config, the history, and the random states of Python, NumPy and
torch (CPU and every GPU), plus the state the shuffling generators had when the current epoch
began. Resuming replays that epoch start, skips the batches already used, then restores the random
states of the moment of saving, so a run resumed after step k ends with exactly the weights of an
uninterrupted run on the CPU. For that the data order must come from torch's random numbers:
shuffle with a seeded ``torch.Generator`` (``DataLoader(..., shuffle=True, generator=g)``) or with
the global torch seed; randomness drawn from Python's or NumPy's global state inside a ``Dataset``
is not replayed. Evaluation runs with the random states saved and restored around it, so
validating (or not) never changes the training trajectory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lessons_pkg.device import get_device

_FORMAT = 1  # version of the checkpoint layout written by save_checkpoint
_PROGRESS_CHOICES = ("auto", True, False)
_EXHAUSTED = object()  # sentinel for next(iterator, default)


# ---------------------------------------------------------------------------------------------
# History


@dataclass
class History:
    """What ``fit`` recorded.

    Attributes:
        steps: the step numbers at which train values were logged (every ``log_every`` steps).
        train: name -> values; each value is the mean over the ``log_every`` steps that end at the
            matching entry of ``steps``. ``"loss"`` in ``loss_fn`` mode (plus ``"grad_norm"``,
            the norm before clipping, when ``clip_grad_norm`` is set); the keys of ``step_fn``'s
            dict otherwise.
        val_steps: the step numbers at which the validation loader was evaluated.
        val: ``{"loss": [...]}``, one mean validation loss per entry of ``val_steps``.
    """

    steps: list[int] = field(default_factory=list)
    train: dict[str, list[float]] = field(default_factory=dict)
    val_steps: list[int] = field(default_factory=list)
    val: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and dicts, as stored in a checkpoint."""
        return {
            "steps": list(self.steps),
            "train": {k: list(v) for k, v in self.train.items()},
            "val_steps": list(self.val_steps),
            "val": {k: list(v) for k, v in self.val.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(
            steps=[int(s) for s in data["steps"]],
            train={k: [float(x) for x in v] for k, v in data["train"].items()},
            val_steps=[int(s) for s in data["val_steps"]],
            val={k: [float(x) for x in v] for k, v in data["val"].items()},
        )

    def plot(self, ax=None, keys: list[str] | None = None):
        """Draw train (line) and validation (dots) curves against the step; return the axes.

        Args:
            ax: matplotlib axes to draw on; a new figure is made when ``None``.
            keys: which recorded values to draw; default ``["loss"]`` when recorded, otherwise
                every key (e.g. ``d_loss`` and ``g_loss`` of a GAN).
        """
        if ax is None:
            import matplotlib.pyplot as plt  # imported here: the package must not need a display

            _, ax = plt.subplots(figsize=(6, 4))
        recorded = list(dict.fromkeys([*self.train, *self.val]))
        if keys is None:
            keys = ["loss"] if "loss" in recorded else recorded
        for key in keys:
            if key not in recorded:
                raise ValueError(f"keys: {key!r} was not recorded; recorded keys are {recorded}")
            if key in self.train:
                ax.plot(self.steps, self.train[key], label=f"train {key}")
            if key in self.val:
                ax.plot(self.val_steps, self.val[key], "o-", label=f"val {key}")
        ax.set_xlabel("step")
        ax.set_ylabel(keys[0] if len(keys) == 1 else "value")
        if keys:
            ax.legend()
        return ax


# ---------------------------------------------------------------------------------------------
# Batches and devices


def to_device(batch: Any, device: torch.device | str | None) -> Any:
    """Move every tensor in ``batch`` to ``device``, recursing into tuples, lists and dicts.

    Named tuples keep their type, dicts come back as ``dict``; anything that is not a tensor or a
    container (strings, numbers) is returned as it is. ``device=None`` returns ``batch`` unchanged.
    """
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU when it has none."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _batch_size(batch: Any) -> int:
    """Rows in the first tensor found in ``batch`` (1 when there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim > 0 else 1
    if isinstance(batch, Mapping):
        items = list(batch.values())
    elif isinstance(batch, (tuple, list)):
        items = batch
    else:
        return 1
    for item in items:
        if isinstance(item, (torch.Tensor, Mapping, tuple, list)):
            return _batch_size(item)
    return 1


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    loader: Any,
    device: torch.device | str | None = None,
) -> float:
    """Mean of ``loss_fn(model, batch)`` over ``loader``, without gradients.

    Each batch's loss is weighted by its number of rows (the first dimension of the first tensor
    in the batch), so a smaller last batch counts for what it holds; this is the mean over the
    examples when ``loss_fn`` returns a per-batch mean. The model is put in ``eval()`` mode (no
    dropout, frozen batch-norm statistics) and given back the mode it had.

    Args:
        device: where batches go; default: the device of the model's parameters.

    Raises:
        ValueError: ``loader`` yielded no batches.
    """
    device = model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for batch in loader:
                batch = to_device(batch, device)
                loss = _as_scalar(loss_fn(model, batch), "loss_fn")
                rows = _batch_size(batch)
                total += loss.item() * rows
                count += rows
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("loader yielded no batches; cannot evaluate an empty loader")
    return total / count


def _as_scalar(loss: Any, name: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{name} must return a scalar torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"{name} must return a scalar tensor (one element), got shape {tuple(loss.shape)}; "
            "reduce it, e.g. with .mean()"
        )
    return loss


# ---------------------------------------------------------------------------------------------
# Random states


def _rng_state() -> dict[str, Any]:
    """Python, NumPy and torch random states as tensors and plain lists (``weights_only``-safe)."""
    version, internal, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    return {
        "python": [version, list(internal), gauss_next],
        "numpy": [str(np_name), np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
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
def _rng_preserved() -> Iterator[None]:
    """Run the body, then put every random state back as it was (evaluation draws none)."""
    saved = _rng_state()
    try:
        yield
    finally:
        _set_rng_state(saved)


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
# Checkpoints


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


def _plain_config(config: Any) -> dict[str, Any] | None:
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


def _atomic_save(payload: Any, path: Path) -> None:
    """Write to a temporary file beside ``path``, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
        history: a :class:`History` to store beside the weights.
        extra: more plain values (``fit`` keeps its position in the epoch here).

    The file holds only tensors and plain Python values, so :func:`load_checkpoint` reads it with
    ``torch.load(..., weights_only=True)``.

    Raises:
        TypeError: ``config`` or ``extra`` holds something other than plain values and tensors.
        ValueError: ``step`` is not a non-negative int.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    payload = {
        "format": _FORMAT,
        "model": model.state_dict(),
        **_states_of(optimizer, "optimizer"),  # key "optimizer", or "optimizers" for a dict
        **_states_of(scheduler, "scheduler"),
        "step": step,
        "config": _plain_config(config),
        "history": None if history is None else history.to_dict(),
        "extra": None if extra is None else _plain(dict(extra), "extra"),
        "rng": _rng_state(),
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
        ValueError: the file is not such a checkpoint, or holds no state for an object given.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no checkpoint file at {str(path)!r}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT or "model" not in payload:
        raise ValueError(
            f"path: {str(path)!r} is not a checkpoint written by lessons_pkg.training "
            f"(format {_FORMAT})"
        )
    model.load_state_dict(payload["model"])
    _load_states(optimizer, payload, "optimizer")
    _load_states(scheduler, payload, "scheduler")
    if restore_rng:
        _set_rng_state(payload["rng"])
    return payload


# ---------------------------------------------------------------------------------------------
# The loop


def _positive_int(name: str, value: Any, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive int or None" if optional else "a positive int"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _env_disables_tqdm() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


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


def _check_fit_arguments(
    model, loss_fn, optimizer, step_fn, epochs, max_steps, val_loader, val_loss_fn, eval_every,
    clip_grad_norm, progress, checkpoint_path, checkpoint_every, resume, log_every,
) -> None:  # fmt: skip
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if (loss_fn is None) == (step_fn is None):
        raise ValueError("pass exactly one of loss_fn or step_fn (got both or neither)")
    if loss_fn is not None:
        if optimizer is None:
            raise ValueError("optimizer is required with loss_fn (fit does the optimizer step)")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer with loss_fn (a dict of optimizers "
                f"goes with step_fn), got {type(optimizer).__name__}"
            )
    elif optimizer is not None:
        optimizers = optimizer.values() if isinstance(optimizer, Mapping) else [optimizer]
        for opt in optimizers:
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(
                    "optimizer must be None, a torch.optim.Optimizer or a dict of them, got "
                    f"{type(opt).__name__}"
                )
    if (epochs is None) == (max_steps is None):
        raise ValueError(
            f"pass exactly one of epochs or max_steps, got epochs={epochs!r}, "
            f"max_steps={max_steps!r}"
        )
    _positive_int("epochs", epochs)
    _positive_int("max_steps", max_steps)
    _positive_int("eval_every", eval_every)
    _positive_int("checkpoint_every", checkpoint_every)
    _positive_int("log_every", log_every, optional=False)
    if eval_every is not None and val_loader is None:
        raise ValueError("eval_every needs a val_loader to evaluate on, got val_loader=None")
    if val_loss_fn is not None and val_loader is None:
        raise ValueError("val_loss_fn needs a val_loader, got val_loader=None")
    if step_fn is not None and val_loader is not None and val_loss_fn is None:
        raise ValueError("val_loss_fn is required with step_fn and a val_loader")
    if clip_grad_norm is not None:
        if step_fn is not None:
            raise ValueError("clip_grad_norm works with loss_fn only; step_fn clips for itself")
        if (
            isinstance(clip_grad_norm, bool)
            or not isinstance(clip_grad_norm, (int, float))
            or not clip_grad_norm > 0
            or not math.isfinite(clip_grad_norm)
        ):
            raise ValueError(f"clip_grad_norm must be a positive number, got {clip_grad_norm!r}")
    if not (isinstance(progress, bool) or progress == "auto"):
        raise ValueError(f"progress must be one of {_PROGRESS_CHOICES}, got {progress!r}")
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("checkpoint_every needs a checkpoint_path, got checkpoint_path=None")
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be a bool, got {type(resume).__name__}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path to resume from")


def fit(
    model: nn.Module,
    train_loader: Any,
    *,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    optimizer: Any = None,
    step_fn: Callable[[nn.Module, Any], Mapping[str, float]] | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: torch.device | str | None = None,
    val_loader: Any = None,
    val_loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    eval_every: int | None = None,
    clip_grad_norm: float | None = None,
    scheduler: Any = None,
    progress: bool | str = "auto",
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    config: Any = None,
    log_every: int = 1,
) -> History:
    """Train ``model`` on ``train_loader`` and return the :class:`History`.

    Args:
        model: any ``nn.Module``; it is put in ``train()`` mode.
        train_loader: an iterable of batches (usually a ``DataLoader``). For an exact resume,
            shuffle with a seeded ``torch.Generator`` (see the module docstring).
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; needs ``optimizer``.
        optimizer: a ``torch.optim.Optimizer`` (``loss_fn`` mode), or with ``step_fn`` an
            optimizer, a dict name -> optimizer, or ``None``; stored in checkpoints.
        step_fn: ``step_fn(model, batch) -> dict[str, float]``, doing its own updates; must return
            the same keys every step.
        epochs / max_steps: how long to train; pass exactly one. With ``max_steps`` the loader is
            passed over again as often as needed. Each call starts a new pass over the loader
            (and a new history), so two calls of n steps are not one call of 2n steps; to
            continue a run exactly, save checkpoints and call again with ``resume=True``.
        device: where the model and batches go; default: where the model's parameters are.
        val_loader: evaluated (mean loss, no grad, ``eval()`` mode) every ``eval_every`` steps,
            or at the end of each epoch when ``eval_every`` is ``None``, and at the end.
        val_loss_fn: loss for validation; default ``loss_fn``. Required with ``step_fn``.
        clip_grad_norm: rescale the gradients so their total 2-norm is at most this
            (``loss_fn`` mode); the norm before clipping is logged as ``"grad_norm"``.
        scheduler: a learning-rate scheduler (or a dict of them), stepped once per step.
        progress: ``"auto"``: a tqdm bar (notebook widget or terminal, via ``tqdm.auto``) unless
            the environment variable ``TQDM_DISABLE`` is set; ``True``: always; ``False``: never.
        checkpoint_path: where checkpoints go; one is written at the end of training and, with
            ``checkpoint_every``, every that many steps (after that step's evaluation).
        resume: load ``checkpoint_path`` and continue from its step. The file must exist; in a
            notebook, ``resume=os.path.exists(path)`` resumes when there is something to resume.
        config: a dataclass or dict of plain values stored in checkpoints; on resume it must
            equal the stored one.
        log_every: record the mean of the train values every this many steps.

    Raises:
        ValueError / TypeError: an argument is wrong (the message names it).
        FloatingPointError: the loss (or a ``step_fn`` value, the gradient norm, or the validation
            loss) is NaN or infinite; the message names the step and the value. This is not a
            ``ValueError`` on purpose: the arguments were fine, the numbers diverged (NumPy raises
            the same error under ``np.seterr(all="raise")``). In ``loss_fn`` mode it is raised
            before the update, so the weights and the last checkpoint are those of the step
            before.
        FileNotFoundError: ``resume=True`` and no checkpoint at ``checkpoint_path``.
    """
    _check_fit_arguments(
        model, loss_fn, optimizer, step_fn, epochs, max_steps, val_loader, val_loss_fn,
        eval_every, clip_grad_norm, progress, checkpoint_path, checkpoint_every, resume, log_every,
    )  # fmt: skip
    if val_loss_fn is None:
        val_loss_fn = loss_fn
    if device is None:
        device = model_device(model)
    else:
        device = get_device(device)
        model.to(device)
    config_dict = _plain_config(config)

    history = History()
    step, epoch, batch_in_epoch = 0, 0, 0
    sums: dict[str, float] = {}  # train values summed since the last log entry
    count = 0
    epoch_start: dict[str, Any] | None = None
    pending_rng: dict[str, Any] | None = None  # states to set once the data position is replayed

    if resume:
        saved = load_checkpoint(checkpoint_path, model, optimizer, scheduler=scheduler)
        loop = (saved.get("extra") or {}).get("loop")
        if loop is None or saved.get("history") is None:
            raise ValueError(
                f"checkpoint_path: {str(checkpoint_path)!r} was written by save_checkpoint, not "
                "by fit, so it holds no loop position to resume from"
            )
        if config_dict is not None and not _same(config_dict, saved["config"]):
            raise ValueError(
                f"config differs from the checkpoint's: got {config_dict}, saved {saved['config']}"
            )
        step, epoch, batch_in_epoch = saved["step"], loop["epoch"], loop["batch_in_epoch"]
        sums, count = dict(loop["sums"]), loop["count"]
        epoch_start = loop["epoch_start"]
        history = History.from_dict(saved["history"])
        pending_rng = saved["rng"]

    try:
        n_batches = len(train_loader)
    except TypeError:
        n_batches = None
    if max_steps is not None:
        total = max_steps
    else:
        total = None if n_batches is None else epochs * n_batches
    show = progress is True or (progress == "auto" and not _env_disables_tqdm())
    if show:
        # Imported here, not at module level: tqdm.auto warns on import in a notebook without
        # ipywidgets, and a page that turns the bar off should not see that warning.
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    bar = tqdm(total=total, initial=step, disable=not show, unit="step", dynamic_ncols=True)
    expected_keys: set[str] | None = None

    def finished() -> bool:
        if max_steps is not None:
            return step >= max_steps
        return epoch >= epochs

    def validate() -> None:
        if history.val_steps and history.val_steps[-1] == step:
            return  # already evaluated at this step
        with _rng_preserved():
            value = evaluate(model, val_loss_fn, val_loader, device=device)
        if not math.isfinite(value):
            raise FloatingPointError(f"validation loss is {value} at step {step}")
        history.val_steps.append(step)
        history.val.setdefault("loss", []).append(value)
        bar.set_postfix_str(f"val_loss={value:.4g}", refresh=False)

    def checkpoint() -> None:
        loop_state = {
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "epoch_start": epoch_start,
            "sums": dict(sums),
            "count": count,
        }
        save_checkpoint(
            checkpoint_path, model, optimizer, step, config_dict,
            scheduler=scheduler, history=history, extra={"loop": loop_state},
        )  # fmt: skip

    def train_step(batch: Any) -> dict[str, float]:
        where = f"at step {step} (epoch {epoch + 1}, batch {batch_in_epoch})"
        batch = to_device(batch, device)
        if step_fn is not None:
            out = step_fn(model, batch)
            if not isinstance(out, Mapping) or not out:
                raise TypeError(
                    f"step_fn must return a non-empty dict[str, float], got {type(out).__name__}"
                )
            values = {}
            for key, raw in out.items():
                try:
                    value = float(raw.detach() if isinstance(raw, torch.Tensor) else raw)
                except (TypeError, ValueError, RuntimeError) as err:
                    raise TypeError(
                        f"step_fn must return dict[str, float]; its {key!r} is "
                        f"{type(raw).__name__}, not a number"
                    ) from err
                if not math.isfinite(value):
                    raise FloatingPointError(f"step_fn's {key!r} is {value} {where}")
                values[str(key)] = value
        else:
            optimizer.zero_grad(set_to_none=True)
            loss = _as_scalar(loss_fn(model, batch), "loss_fn")
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"loss is {value} {where}; stopped before this update. Try a smaller "
                    "learning rate, clip_grad_norm, or check the data"
                )
            loss.backward()
            values = {"loss": value}
            if clip_grad_norm is not None:
                norm = float(nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm))
                if not math.isfinite(norm):
                    raise FloatingPointError(f"gradient norm is {norm} {where}")
                values["grad_norm"] = norm
            optimizer.step()
        for sched in scheduler.values() if isinstance(scheduler, Mapping) else [scheduler]:
            if sched is not None:
                sched.step()
        return values

    model.train()
    try:
        while not finished():
            if batch_in_epoch > 0:
                # Resuming inside an epoch: replay how it began, then skip the batches it used.
                _restore_epoch_start(epoch_start, train_loader)
                batches = iter(train_loader)
                for _ in range(batch_in_epoch):
                    if next(batches, _EXHAUSTED) is _EXHAUSTED:
                        raise ValueError(
                            f"train_loader is shorter than the checkpoint expects ({batch_in_epoch}"
                            " batches into the epoch); resume with the same loader"
                        )
            else:
                if pending_rng is not None:
                    _set_rng_state(pending_rng)
                    pending_rng = None
                epoch_start = _epoch_start_state(train_loader)
                batches = iter(train_loader)
            if pending_rng is not None:
                _set_rng_state(pending_rng)
                pending_rng = None

            stopped = False
            for batch in batches:
                step += 1
                batch_in_epoch += 1
                values = train_step(batch)
                if expected_keys is None:
                    expected_keys = set(values)
                elif set(values) != expected_keys:
                    raise ValueError(
                        f"step_fn returned keys {sorted(values)} at step {step} but "
                        f"{sorted(expected_keys)} before; return the same keys every step"
                    )
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
                if step % log_every == 0:
                    history.steps.append(step)
                    for key, total_value in sums.items():
                        history.train.setdefault(key, []).append(total_value / count)
                    bar.set_postfix({k: f"{v / count:.4g}" for k, v in sums.items()}, refresh=False)
                    sums, count = {}, 0
                bar.update(1)
                if eval_every is not None and step % eval_every == 0:
                    validate()
                if checkpoint_every is not None and step % checkpoint_every == 0:
                    checkpoint()
                if max_steps is not None and step >= max_steps:
                    stopped = True
                    break
            if stopped:
                break
            if batch_in_epoch == 0:
                raise ValueError("train_loader yielded no batches")
            if val_loader is not None and eval_every is None:
                validate()
            epoch += 1
            batch_in_epoch = 0

        if pending_rng is not None:  # resumed from a finished run: nothing left to train
            _set_rng_state(pending_rng)
        if val_loader is not None:
            validate()
        if checkpoint_path is not None:
            checkpoint()
    finally:
        bar.close()
    return history
