"""Bookkeeping for ``lessons_pkg.training.fit``: its log, its progress bar, mixed precision,
micro-batch groups and its argument checks.

Chapter: Algorithms › Backpropagation (the training loop); kept apart so that ``training.py``
shows the loop and not the bookkeeping around it.

:class:`FitLog` keeps the :class:`~lessons_pkg.training.History`, the train values summed since
its last entry (the window, which checkpoints keep so a resumed run logs the same means) and the
tqdm bar. The checks follow the package's policy (``lessons_pkg._checks``): ``TypeError`` for a
wrong type, ``ValueError`` for a wrong value, the argument named.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lessons_pkg._checks import check_choice, check_number, check_positive_int

if TYPE_CHECKING:
    from lessons_pkg.training import History

_PROGRESS_CHOICES = ("auto", True, False)
_PRECISIONS = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}


class FitLog:
    """What ``fit`` records: the history, the window of train values not yet logged, the bar."""

    def __init__(self, history: History, every: int, bar: Any, window: Mapping | None) -> None:
        self.history, self.every, self.bar = history, every, bar
        self.sums: dict[str, float] = dict(window["sums"]) if window else {}
        self.count: int = window["count"] if window else 0
        self.keys: set[str] | None = None  # the keys of the first step's values

    def train(self, step: int, values: Mapping[str, float]) -> None:
        if self.keys is None:
            self.keys = set(values)
        elif set(values) != self.keys:
            raise ValueError(
                f"train_step returned keys {sorted(values)} at step {step} but "
                f"{sorted(self.keys)} before; return the same keys every step"
            )
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1
        if step % self.every == 0:
            self.history.steps.append(step)
            for key, total in self.sums.items():
                self.history.train.setdefault(key, []).append(total / self.count)
            postfix = {k: f"{v / self.count:.4g}" for k, v in self.sums.items()}
            self.bar.set_postfix(postfix, refresh=False)
            self.sums, self.count = {}, 0
        self.bar.update(1)

    def evaluated_at(self, step: int) -> bool:
        return bool(self.history.val_steps) and self.history.val_steps[-1] == step

    def val(self, step: int, value: float) -> None:
        self.history.val_steps.append(step)
        self.history.val.setdefault("loss", []).append(value)
        self.bar.set_postfix_str(f"val_loss={value:.4g}", refresh=False)

    def window(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}


class MixedPrecision:
    """Autocast and, for float16, the gradient scaler; with ``precision=None`` every method is
    the plain float32 operation, so the loop has one code path."""

    def __init__(self, precision: str | None, device: torch.device) -> None:
        self.dtype = _PRECISIONS[precision]
        self.device_type = device.type
        # float16 has 5 exponent bits: gradients below ~6e-8 flush to zero, so scale the loss.
        # bfloat16 keeps float32's 8 exponent bits and needs no scaler.
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """The update; the scaler skips it when a gradient is inf/NaN and then halves its
        scale. Returns ``{"loss_scale": scale after the step}`` with a scaler, else ``{}``."""
        if self.scaler is None:
            optimizer.step()
            return {}
        self.scaler.step(optimizer)
        self.scaler.update()
        return {"loss_scale": float(self.scaler.get_scale())}


def micro_batch_groups(batches: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` batches; the last list holds what is left."""
    group: list[Any] = []
    for batch in batches:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def progress_bar(progress, loader, epochs, max_steps, initial: int, accumulation: int) -> Any:
    if max_steps is not None:
        total = max_steps
    else:
        try:
            total = epochs * math.ceil(len(loader) / accumulation)
        except TypeError:  # an iterable without a length
            total = None
    return make_bar(progress, total=total, initial=initial, unit="step")


def check_progress(progress: Any) -> None:
    if not isinstance(progress, (bool, str)):
        raise TypeError(f"progress must be a bool or 'auto', got {type(progress).__name__}")
    check_choice("progress", progress, _PROGRESS_CHOICES)


def make_bar(progress: bool | str, **kwargs: Any) -> Any:
    """A tqdm bar, shown when ``progress`` is True, or "auto" and ``TQDM_DISABLE`` is unset.

    The variable is checked here because tqdm's notebook bar ignores it (it passes its own
    ``disable``): under TQDM_DISABLE=1 no widget may reach a stored notebook.
    """
    show = progress is True or (progress == "auto" and not _env_disables_tqdm())
    if show:
        # Imported here, not at module level: tqdm.auto warns on import in a notebook without
        # ipywidgets, and a page that turns the bar off should not see that warning.
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(disable=not show, dynamic_ncols=True, **kwargs)


def _env_disables_tqdm() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


# ---------------------------------------------------------------------------------------------
# Argument checks


def check_fit_arguments(
    model, loss_fn, optimizer, train_step, epochs, max_steps, val_loader, eval_every,
    clip_grad_norm, progress, checkpoint_path, checkpoint_every, resume, log_every,
    precision, accumulation_steps,
) -> None:  # fmt: skip
    """Every check of ``fit``'s arguments, in the package's policy (see ``lessons_pkg._checks``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if (loss_fn is None) == (train_step is None):
        raise ValueError("pass exactly one of loss_fn or train_step (got both or neither)")
    _check_optimizer(optimizer, loss_fn is not None)
    if (epochs is None) == (max_steps is None):
        raise ValueError(
            f"pass exactly one of epochs or max_steps, got epochs={epochs!r}, "
            f"max_steps={max_steps!r}"
        )
    for name, value in (("epochs", epochs), ("max_steps", max_steps), ("eval_every", eval_every),
                        ("checkpoint_every", checkpoint_every)):  # fmt: skip
        check_positive_int(name, value, optional=True)
    check_positive_int("log_every", log_every)
    if eval_every is not None and val_loader is None:
        raise ValueError("eval_every needs a val_loader to evaluate on, got val_loader=None")
    if train_step is not None and val_loader is not None:
        raise ValueError(
            "val_loader works with loss_fn only (fit evaluates loss_fn on it); with train_step, "
            "call evaluate yourself"
        )
    if clip_grad_norm is not None:
        if train_step is not None:
            raise ValueError("clip_grad_norm works with loss_fn only; train_step clips for itself")
        check_number("clip_grad_norm", clip_grad_norm, low=0.0, low_open=True)
    check_progress(progress)
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("checkpoint_every needs a checkpoint_path, got checkpoint_path=None")
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be a bool, got {type(resume).__name__}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path to resume from")
    if precision is not None and not isinstance(precision, str):
        raise TypeError(f"precision must be None or a str, got {type(precision).__name__}")
    check_choice("precision", precision, tuple(_PRECISIONS))
    check_positive_int("accumulation_steps", accumulation_steps)
    if train_step is not None and (precision is not None or accumulation_steps != 1):
        raise ValueError(
            "precision and accumulation_steps work with loss_fn only; train_step does its own "
            f"updates (got precision={precision!r}, accumulation_steps={accumulation_steps})"
        )


def _check_optimizer(optimizer: Any, loss_mode: bool) -> None:
    if loss_mode:
        if optimizer is None:
            raise ValueError("optimizer is required with loss_fn (fit does the optimizer step)")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer with loss_fn (a dict of optimizers "
                f"goes with train_step), got {type(optimizer).__name__}"
            )
    elif optimizer is not None:
        optimizers = optimizer.values() if isinstance(optimizer, Mapping) else [optimizer]
        for opt in optimizers:
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(
                    "optimizer must be None, a torch.optim.Optimizer or a dict of them, got "
                    f"{type(opt).__name__}"
                )
