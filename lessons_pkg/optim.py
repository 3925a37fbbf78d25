"""SGD (momentum, Nesterov), Adam and AdamW written from their update rules.

Chapter: Algorithms › Backpropagation (gradient descent, momentum, Adam).
Papers: Sutskever et al. (2013), "On the importance of initialization and momentum in deep
learning"; Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization"; Loshchilov & Hutter
(2019), "Decoupled Weight Decay Regularization" (AdamW).

Each class is a ``torch.optim.Optimizer``, so it works with ``fit``, schedulers and checkpoints,
and follows the same conventions as ``torch.optim`` (tested to match it step for step). With
g_t = ∇θ L(θ_{t-1}) and learning rate α:

SGD with weight decay λ, momentum μ, dampening τ::

    g ← g + λθ
    b_1 = g,   b_t = μ b_{t-1} + (1 − τ) g                  (only when μ > 0)
    d = g + μ b_t (Nesterov)  or  d = b_t                   (d = g when μ = 0)
    θ ← θ − α d

Adam (λ is an L2 penalty added to the gradient), with bias-corrected moments::

    g ← g + λθ
    m_t = β₁ m_{t-1} + (1 − β₁) g        v_t = β₂ v_{t-1} + (1 − β₂) g²
    m̂ = m_t / (1 − β₁ᵗ)                  v̂ = v_t / (1 − β₂ᵗ)
    θ ← θ − α m̂ / (√v̂ + ε)

AdamW decouples the decay from the gradient: first θ ← θ(1 − αλ), then the Adam step with λ = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from lessons_pkg._checks import check_number

__all__ = ["SGD", "Adam", "AdamW"]


def _materialise(params: Iterable[Any]) -> list[Any]:
    if isinstance(params, torch.Tensor):
        raise TypeError("params must be an iterable of tensors or dicts, got a single Tensor")
    params = list(params)
    if not params:
        raise ValueError("params is empty: the optimizer was given no parameters to update")
    return params


def _check_adam_group(group: dict) -> None:
    check_number("lr", group["lr"], low=0.0, low_open=True)
    check_number("eps", group["eps"], low=0.0)
    check_number("weight_decay", group["weight_decay"], low=0.0)
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {type(betas).__name__}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(f"betas[{i}]", beta, low=0.0, high=1.0, high_open=True)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Args:
        params: tensors to optimise, or dicts of parameter groups.
        lr: learning rate α > 0.
        momentum: μ ≥ 0; 0 gives plain gradient descent.
        nesterov: use the Nesterov look-ahead (needs μ > 0 and dampening 0).
        weight_decay: L2 coefficient λ ≥ 0, added to the gradient.
        dampening: τ ≥ 0, scales new gradients into the momentum buffer by 1 − τ.

    Raises:
        ValueError: no parameters; lr ≤ 0; a negative coefficient; Nesterov without momentum or
            with dampening.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            dampening=dampening,
        )
        super().__init__(_materialise(params), defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]  # now filled in with the defaults
        check_number("lr", group["lr"], low=0.0, low_open=True)
        for name in ("momentum", "weight_decay", "dampening"):
            check_number(name, group[name], low=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                f"{group['momentum']} and dampening={group['dampening']}"
            )

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"] != 0:
                    g = g + group["weight_decay"] * p
                if mu != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.clone()  # b_1 = g, undampened
                    else:
                        buf.mul_(mu).add_(g, alpha=1 - tau)
                    g = g + mu * buf if group["nesterov"] else buf
                p.add_(g, alpha=-lr)
        return loss


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is an L2 penalty added to the gradient.

    Args:
        params: tensors to optimise, or dicts of parameter groups.
        lr: step size α > 0.
        betas: decay rates (β₁, β₂) of the first and second moment estimates, each in [0, 1).
        eps: ε ≥ 0 added to √v̂ for numerical safety.
        weight_decay: λ ≥ 0.

    Raises:
        ValueError: no parameters, lr ≤ 0, betas outside [0, 1), eps or weight_decay negative.
    """

    decoupled = False  # AdamW sets True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(_materialise(params), defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        _check_adam_group(self.param_groups[-1])

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        """One Adam update of every parameter that has a gradient; returns ``closure()``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = (group[k] for k in ("lr", "betas", "eps", "weight_decay"))
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v
                state["step"] += 1
                t = state["step"]
                if wd != 0:
                    if self.decoupled:
                        p.mul_(1 - lr * wd)  # AdamW: shrink θ directly
                    else:
                        g = g + wd * p  # Adam: L2 term in the gradient
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ(1 − αλ) before each Adam step.

    Same arguments as ``Adam``; ``weight_decay`` defaults to 0.01 as in ``torch.optim.AdamW``.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
