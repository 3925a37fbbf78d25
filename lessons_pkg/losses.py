"""Loss functions written from their formulas: MSE, softmax cross-entropy, binary cross-entropy.

Chapter: Algorithms › Backpropagation (losses, and why softmax + cross-entropy gives ŷ − y).
Reference: Goodfellow, Bengio & Courville (2016), *Deep Learning*, §6.2.2 and §4.1 (softmax and
log-sum-exp stability).
Shapes: N any batch shape (one or more dimensions), C classes.

Each function returns the per-element losses (``reduction="none"``), their mean (default) or their
sum, and is differentiable by autograd; the gradients equal torch's to float64 rounding.
"""

from __future__ import annotations

import torch

from lessons_pkg._checks import check_choice, check_same_shape, check_tensor

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "mse_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_elementwise_args(names: tuple[str, str], a: object, b: object, reduction: str) -> None:
    """Two floating tensors of one shape and one dtype (no silent broadcasting or casting), and
    a known reduction."""
    name_a, name_b = names
    check_tensor(name_a, a, floating=True)
    check_tensor(name_b, b, floating=True)
    check_choice("reduction", reduction, _REDUCTIONS)
    check_same_shape(name_a, a, name_b, b)
    if a.dtype != b.dtype:
        raise TypeError(f"{name_b} dtype ({b.dtype}) must equal {name_a} dtype ({a.dtype})")


def _check_cross_entropy_args(logits: object, targets: object, reduction: str,
                              ignore_index: int | None) -> None:
    """Floating logits (*N, C), integer targets (*N,) in [0, C) where not ignored, a reduction."""
    check_tensor("logits", logits, floating=True)
    check_tensor("targets", targets, floating=False)
    check_choice("reduction", reduction, _REDUCTIONS)
    if logits.dim() < 1 or logits.shape[-1] == 0 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits must have shape (*N, C) and targets (*N,), got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    C = logits.shape[-1]
    bad = (targets < 0) | (targets >= C)
    if ignore_index is not None:
        bad &= targets != ignore_index
    if bad.any():
        raise ValueError(f"targets must lie in [0, {C}), got {targets[bad][0].item()}")


def mse_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error, L = (1/n) Σᵢ (ŷᵢ − yᵢ)², over every element.

    Its gradient is ∂L/∂ŷᵢ = (2/n)(ŷᵢ − yᵢ): gradient descent moves ŷ towards y.

    Args:
        pred: predictions ŷ, any shape, floating.
        target: targets y, the same shape and dtype.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-element squared errors).

    Raises:
        TypeError: an argument is not a floating tensor, or the dtypes differ.
        ValueError: the shapes differ (no silent broadcasting), or ``reduction`` is unknown.
    """
    _check_elementwise_args(("pred", "target"), pred, target, reduction)
    return _reduce((pred - target) ** 2, reduction)


def cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    reduction: str = "mean",
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Softmax cross-entropy from logits and integer class targets.

    For one example with logits z and class y:  ℓ = −log softmax(z)_y = logsumexp(z) − z_y,
    computed stably as  logsumexp(z) = m + log Σ_c exp(z_c − m)  with m = max_c z_c, so every
    exponent is ≤ 0 and logits of ±1e4 give finite losses. The gradient is softmax(z) − onehot(y).

    Unlike ``torch.nn.functional.cross_entropy`` the class dimension is the *last* one, which
    suits language models: logits (B, T, C) with targets (B, T).

    Args:
        logits: (*N, C) floating scores.
        targets: (*N,) integer class indices in [0, C).
        reduction: ``"mean"`` (over the targets not ignored), ``"sum"`` or ``"none"``.
        ignore_index: a target value that contributes no loss (e.g. padding); ``None`` for none.

    Raises:
        TypeError: logits are not floating, or targets are not an integer tensor.
        ValueError: shapes disagree, a target is out of range, or ``reduction`` is unknown.
    """
    _check_cross_entropy_args(logits, targets, reduction, ignore_index)
    if ignore_index is None:
        keep = torch.ones_like(targets, dtype=torch.bool)
    else:
        keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets)).long()

    m = logits.amax(dim=-1, keepdim=True).detach()  # (*N, 1); the loss does not depend on m
    lse = m.squeeze(-1) + torch.log(torch.exp(logits - m).sum(dim=-1))  # (*N,)
    picked = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (*N,) z_y
    loss = torch.where(keep, lse - picked, torch.zeros_like(lse))  # (*N,)
    if reduction == "mean":
        return loss.sum() / keep.sum()  # nan when every target is ignored, as in torch
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Binary cross-entropy on logits z with targets y in [0, 1].

    ℓ = −[y log σ(z) + (1 − y) log(1 − σ(z))] simplifies to  ℓ = softplus(z) − y·z  with
    softplus(z) = log(1 + eᶻ) computed as log(e⁰ + eᶻ) by ``torch.logaddexp`` (no overflow for
    large z, no log(0) for very negative z). The gradient is σ(z) − y.

    Args:
        logits: any shape, floating.
        targets: the same shape and dtype, probabilities in [0, 1] (usually 0 or 1).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Raises:
        TypeError: an argument is not a floating tensor, or the dtypes differ.
        ValueError: the shapes differ, or ``reduction`` is unknown.
    """
    _check_elementwise_args(("logits", "targets"), logits, targets, reduction)
    softplus = torch.logaddexp(torch.zeros_like(logits), logits)
    return _reduce(softplus - targets * logits, reduction)
