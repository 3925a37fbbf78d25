"""One training loop for every model in the course: ``fit``, ``evaluate`` and ``History``.

Chapter: Algorithms › Backpropagation (the loop itself) and every Practice page that trains.
Papers: Rumelhart, Hinton & Williams (1986) for learning by back-propagated gradients;
Pascanu, Mikolov & Bengio (2013), "On the difficulty of training RNNs", for gradient-norm clipping.

The loop knows no model. It runs in one of two modes:

* ``loss_fn(model, batch) -> scalar tensor`` with an ``optimizer``: ``fit`` does ``zero_grad``,
  ``backward``, optional clipping, ``optimizer.step()`` and ``scheduler.step()`` (once per step).
* ``train_step(model, batch) -> dict[str, float]``: the function does its own updates (a GAN's
  two optimizers). Pass those optimizers as ``optimizer={"g": opt_g, "d": opt_d}`` so
  checkpoints hold them.

Steps are counted from 1: "step s" is the state after s updates. With ``accumulation_steps=k``
one update consumes k batches (micro-batches, 微批次): their gradients add up, each loss divided
by the number of micro-batches, so the update is that of one k-times-larger batch.

``precision="bf16"`` or ``"fp16"`` runs the forward pass and the loss under ``torch.autocast``
(Micikevicius et al. (2018), "Mixed precision training"): matrix products in 16 bits, weights,
gradients and the optimizer in float32. ``"fp16"`` adds a ``torch.amp.GradScaler``: the loss is
multiplied by a scale before ``backward`` so small gradients do not underflow to zero in float16;
a step whose gradients overflow to inf/NaN is skipped and the scale halved.

Under ``torch.distributed`` (a model wrapped in ``DistributedDataParallel``, see
:mod:`lessons_pkg.distributed`) every process runs ``fit`` on its share of the data; gradients
are averaged by DDP, only rank 0 shows a progress bar and writes checkpoints, and every rank
resumes from the same checkpoint file.

With a ``checkpoint_path``, ``fit`` writes checkpoints and resumes from them exactly: a run
resumed after step k ends with the weights of an uninterrupted run on the CPU
(:mod:`lessons_pkg.checkpoint` says how, and what the data loader must do for it). Evaluation
runs with the random states saved and restored around it, so validating (or not) never changes
the training trajectory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lessons_pkg._fit_helpers import (
    FitLog,
    MixedPrecision,
    check_fit_arguments,
    check_progress,
    make_bar,
    micro_batch_groups,
    progress_bar,
)
from lessons_pkg.checkpoint import RunPosition, plain_config, resume_run, rng_preserved, save_run
from lessons_pkg.device import get_device, model_device, to_device
from lessons_pkg.distributed import gradient_sync, is_main_process, set_sampler_epoch, unwrap

# ---------------------------------------------------------------------------------------------
# History


@dataclass
class History:
    """What ``fit`` recorded.

    Attributes:
        steps: the step numbers at which train values were logged (every ``log_every`` steps).
        train: name -> values; each value is the mean over the ``log_every`` steps that end at the
            matching entry of ``steps``. ``"loss"`` in ``loss_fn`` mode (plus ``"grad_norm"``,
            the norm before clipping, when ``clip_grad_norm`` is set); the keys of ``train_step``'s
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
# The loop


def fit(
    model: nn.Module,
    train_loader: Any,
    *,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    optimizer: Any = None,
    train_step: Callable[[nn.Module, Any], Mapping[str, float]] | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: torch.device | str | None = None,
    val_loader: Any = None,
    eval_every: int | None = None,
    clip_grad_norm: float | None = None,
    scheduler: Any = None,
    progress: bool | str = "auto",
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    config: Any = None,
    log_every: int = 1,
    precision: str | None = None,
    accumulation_steps: int = 1,
) -> History:
    """Train ``model`` on ``train_loader`` and return the :class:`History`.

    Args:
        model: any ``nn.Module``; it is put in ``train()`` mode.
        train_loader: an iterable of batches (usually a ``DataLoader``). For an exact resume,
            shuffle with a seeded ``torch.Generator`` (see :mod:`lessons_pkg.checkpoint`).
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; needs ``optimizer``.
        optimizer: a ``torch.optim.Optimizer`` (``loss_fn`` mode), or with ``train_step`` an
            optimizer, a dict name -> optimizer, or ``None``; stored in checkpoints.
        train_step: ``train_step(model, batch) -> dict[str, float]``, doing its own updates; must
            return the same keys every step.
        epochs / max_steps: how long to train; pass exactly one. With ``max_steps`` the loader is
            passed over again as often as needed. Each call starts a new pass over the loader
            (and a new history), so two calls of n steps are not one call of 2n steps; to
            continue a run exactly, save checkpoints and call again with ``resume=True``.
        device: where the model and batches go; default: where the model's parameters are.
        val_loader: ``loss_fn`` is evaluated on it (mean loss, no grad, ``eval()`` mode) every
            ``eval_every`` steps, or at the end of each epoch when ``eval_every`` is ``None``, and
            at the end. ``loss_fn`` mode only.
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
        precision: ``None`` (float32, the default), ``"bf16"`` (autocast to bfloat16) or
            ``"fp16"`` (autocast to float16 with a gradient scaler, whose scale after each step
            is logged as ``"loss_scale"``). ``loss_fn`` mode only; validation runs in float32.
        accumulation_steps: micro-batches per update (``loss_fn`` mode only). An epoch whose
            length is not a multiple ends with an update over the micro-batches left.

    Raises:
        TypeError / ValueError: an argument has the wrong type / value (the message names it).
        FloatingPointError: the loss (or a ``train_step`` value, the gradient norm, or the
            validation loss) is NaN or infinite; the message names the step and the value. This
            is not a ``ValueError`` on purpose: the arguments were fine, the numbers diverged
            (NumPy raises the same error under ``np.seterr(all="raise")``). In ``loss_fn`` mode
            it is raised before the update, so the weights and the last checkpoint are those of
            the step before.
        FileNotFoundError: ``resume=True`` and no checkpoint at ``checkpoint_path``.
    """
    check_fit_arguments(
        model, loss_fn, optimizer, train_step, epochs, max_steps, val_loader, eval_every,
        clip_grad_norm, progress, checkpoint_path, checkpoint_every, resume, log_every,
        precision, accumulation_steps,
    )  # fmt: skip
    if device is None:
        device = model_device(model)
    else:
        device = get_device(device)
        model.to(device)
    config = plain_config(config)
    amp = MixedPrecision(precision, device)
    core = unwrap(model)  # checkpoints hold the bare model's weights, with or without DDP
    main = is_main_process()
    history, position, window = History(), RunPosition(), None
    if resume:
        position, logged, window = resume_run(checkpoint_path, core, optimizer, scheduler, config,
                                              amp.scaler)  # fmt: skip
        history = History.from_dict(logged)
    bar = progress_bar(progress if main else False, train_loader, epochs, max_steps,
                       position.step, accumulation_steps)  # fmt: skip
    log = FitLog(history, log_every, bar, window)

    def validate() -> None:
        if not log.evaluated_at(position.step):
            log.val(position.step, _validation_loss(model, loss_fn, val_loader, device, position))

    def save() -> None:
        if main:
            save_run(checkpoint_path, core, optimizer, scheduler, config, history, position,
                     log.window(), amp.scaler)  # fmt: skip

    model.train()
    with bar:
        while not _finished(position, epochs, max_steps):
            set_sampler_epoch(train_loader, position.epoch)
            batches = position.epoch_batches(train_loader)
            for group in micro_batch_groups(batches, accumulation_steps):
                position.step += 1
                position.batch_in_epoch += len(group)
                if train_step is not None:
                    values = _call_train_step(model, to_device(group[0], device), train_step,
                                              position)  # fmt: skip
                else:
                    values = _loss_fn_step(model, group, device, loss_fn, optimizer,
                                           clip_grad_norm, amp, position)  # fmt: skip
                _step_schedulers(scheduler)
                log.train(position.step, values)
                if eval_every is not None and position.step % eval_every == 0:
                    validate()
                if checkpoint_every is not None and position.step % checkpoint_every == 0:
                    save()
                if max_steps is not None and position.step >= max_steps:
                    break
            else:  # the epoch ran to its end
                position.next_epoch()
                if val_loader is not None and eval_every is None:
                    validate()
        position.settle_rng()  # a resumed run that had nothing left to train sets them here
        if val_loader is not None:
            validate()
        if checkpoint_path is not None:
            save()
    return history


def _finished(position: RunPosition, epochs: int | None, max_steps: int | None) -> bool:
    if max_steps is not None:
        return position.step >= max_steps
    return position.epoch >= epochs


def _loss_fn_step(model, group, device, loss_fn, optimizer, clip_grad_norm, amp,
                  position) -> dict[str, float]:
    """One step in ``loss_fn`` mode: zero_grad; for each micro-batch of ``group`` the loss (under
    autocast) and ``backward`` of loss / len(group); optional clipping; the update."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for i, batch in enumerate(group):
        # DDP all-reduces the gradients in the last micro-batch's backward only.
        with gradient_sync(model, i == len(group) - 1):
            with amp.autocast():
                loss = _as_scalar(loss_fn(model, to_device(batch, device)), "loss_fn")
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"loss is {value} {position.where()}; stopped before this update. Try a "
                    "smaller learning rate, clip_grad_norm, or check the data"
                )
            amp.backward(loss / len(group))
        total += value
    values = {"loss": total / len(group)}
    if clip_grad_norm is not None:
        amp.unscale(optimizer)  # clip the true gradients, not the scaled ones
        norm = float(nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm))
        if not math.isfinite(norm) and amp.scaler is None:
            raise FloatingPointError(f"gradient norm is {norm} {position.where()}")
        values["grad_norm"] = norm
    values.update(amp.step(optimizer))
    return values


def _call_train_step(model, batch, train_step, position) -> dict[str, float]:
    """One step in ``train_step`` mode: call it, check its dict and turn the values to floats."""
    out = train_step(model, batch)
    if not isinstance(out, Mapping) or not out:
        raise TypeError(
            f"train_step must return a non-empty dict[str, float], got {type(out).__name__}"
        )
    values = {}
    for key, raw in out.items():
        try:
            value = float(raw.detach() if isinstance(raw, torch.Tensor) else raw)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"train_step must return dict[str, float]; its {key!r} is "
                f"{type(raw).__name__}, not a number"
            ) from err
        if not math.isfinite(value):
            raise FloatingPointError(f"train_step's {key!r} is {value} {position.where()}")
        values[str(key)] = value
    return values


def _step_schedulers(scheduler: Any) -> None:
    for sched in scheduler.values() if isinstance(scheduler, Mapping) else [scheduler]:
        if sched is not None:
            sched.step()


def _validation_loss(model, loss_fn, loader, device, position) -> float:
    with rng_preserved():
        value = evaluate(model, loss_fn, loader, device=device)
    if not math.isfinite(value):
        raise FloatingPointError(f"validation loss is {value} at step {position.step}")
    return value


def progress(iterable: Any, desc: str | None = None, progress: bool | str = "auto") -> Any:
    """``iterable`` with the progress bar ``fit`` shows: for a training loop written by hand.

    Args:
        iterable: what the loop runs over (``range(steps)``, a list of settings).
        desc: a label in front of the bar.
        progress: as in ``fit``: ``"auto"`` shows a bar (tqdm's notebook widget in Jupyter and
            Colab) unless the environment variable ``TQDM_DISABLE`` is set, as it is when the
            book's notebooks are executed; ``True`` always, ``False`` never.

    Raises:
        TypeError: ``progress`` is neither a bool nor a string.
        ValueError: ``progress`` is a string other than ``"auto"``.
    """
    check_progress(progress)
    return make_bar(progress, iterable=iterable, desc=desc)
