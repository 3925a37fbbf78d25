"""Backpropagation through an MLP derived by hand from the chain rule, with no autograd.

Chapter: Algorithms › Backpropagation; Practice › An MLP from scratch.
Paper: Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating errors".
Shapes: B batch, n_l width of layer l (n_0 inputs), C = n_L outputs.

Forward, for layers l = 1..L (weights stored (n_l, n_{l-1}) like ``nn.Linear``)::

    z_l = a_{l-1} W_lᵀ + b_l          a_0 = x,  a_l = act(z_l) for l < L,  output z_L

Backward, with δ_l = ∂L/∂z_l::

    δ_L = (softmax(z_L) − onehot(y)) / B       softmax cross-entropy (mean over the batch)
    δ_L = 2 (z_L − y) / (B·C)                  mean squared error (mean over all elements)
    ∂L/∂W_l = δ_lᵀ a_{l-1}      ∂L/∂b_l = Σ_batch δ_l
    δ_{l-1} = (δ_l W_l) ⊙ act'(z_{l-1})        relu' = 1[z > 0], tanh' = 1 − a², σ' = a(1 − a)

The same formulas are also packaged as ``torch.autograd.Function`` objects with hand-written
``backward`` methods, so ``torch.autograd.gradcheck`` can test them against finite differences.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lessons_pkg._checks import (
    check_choice,
    check_int_sequence,
    check_number,
    check_shape,
    check_tensor,
)
from lessons_pkg.losses import cross_entropy, mse_loss

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "ActivationFunction",
    "LinearFunction",
    "MLP",
    "MSELossFunction",
    "SoftmaxCrossEntropyFunction",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("cross_entropy", "mse")


def _activate(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return z.clamp(min=0)
    if name == "tanh":
        return torch.tanh(z)
    return torch.sigmoid(z)


def _activation_grad(name: str, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """act'(z), written with the output a = act(z) where that is simpler."""
    if name == "relu":
        return (z > 0).to(z.dtype)  # 0 at z = 0, as torch.relu
    if name == "tanh":
        return 1 - a * a
    return a * (1 - a)


def _softmax_minus_onehot(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """∂/∂z of the *summed* cross-entropy: softmax(z) − onehot(y).  (B, C)"""
    grad = torch.softmax(logits, dim=-1)  # (B, C)
    grad[torch.arange(len(targets), device=logits.device), targets] -= 1
    return grad


class MLP:
    """A multilayer perceptron on plain tensors whose gradients come from hand-written backprop.

    Args:
        sizes: layer widths ``[n_0, n_1, ..., n_L]``, inputs first, outputs last (≥ 2 entries).
        activation: hidden-layer nonlinearity, one of ``ACTIVATIONS``.
        loss: ``"cross_entropy"`` (the outputs are logits, targets class indices) or ``"mse"``
            (the outputs are predictions, targets the same shape).
        dtype, device: of the parameters.
        generator: optional CPU ``torch.Generator`` for the initial weights, drawn like
            ``nn.Linear``'s from U(−1/√n_in, 1/√n_in).

    Use: ``out = mlp.forward(x)`` (caches what backward needs), ``grads = mlp.backward(targets)``
    (a dict ``{"W1": ..., "b1": ..., ...}`` also kept in ``mlp.grads``), then ``mlp.step(lr)``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        loss: str = "cross_entropy",
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        sizes = check_int_sequence("sizes", list(sizes), min_length=2)  # inputs ... outputs
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("loss", loss, LOSSES)
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        self.sizes, self.activation, self.loss_name = sizes, activation, loss
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = n_in**-0.5
            W = torch.empty(n_out, n_in, dtype=dtype).uniform_(-bound, bound, generator=generator)
            b = torch.empty(n_out, dtype=dtype).uniform_(-bound, bound, generator=generator)
            self.weights.append(W.to(device))
            self.biases.append(b.to(device))
        self.grads: dict[str, torch.Tensor] = {}
        self._inputs: list[torch.Tensor] = []  # a_0 .. a_{L-1}, the input of each layer
        self._pre: list[torch.Tensor] = []  # z_1 .. z_L

    def named_parameters(self) -> dict[str, torch.Tensor]:
        """``{"W1": W_1, "b1": b_1, ...}`` in layer order (the keys of ``backward``'s dict)."""
        out = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True), start=1):
            out[f"W{i}"], out[f"b{i}"] = W, b
        return out

    def parameters(self) -> list[torch.Tensor]:
        return list(self.named_parameters().values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs z_L for inputs ``x`` (B, n_0); caches every a_{l-1} and z_l for ``backward``."""
        W0 = self.weights[0]
        check_tensor("x", x)
        if x.dtype != W0.dtype:
            raise TypeError(f"x must have the parameters' dtype {W0.dtype}, got {x.dtype}")
        check_shape("x", x, ("B", self.sizes[0]))
        if x.device != W0.device:
            raise ValueError(f"x is on {x.device} but the parameters are on {W0.device}")
        self._inputs, self._pre = [], []
        a = x  # (B, n_0)
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            self._inputs.append(a)
            z = a @ W.T + b  # (B, n_l)
            self._pre.append(z)
            a = _activate(self.activation, z) if i < len(self.weights) - 1 else z
        return a  # (B, C)

    __call__ = forward

    def _check_targets(self, targets: torch.Tensor, out: torch.Tensor) -> None:
        """Class indices in [0, C) for cross-entropy, else values shaped and typed like ``out``."""
        if self.loss_name == "cross_entropy":
            check_shape("targets", targets, (out.shape[0],), floating=False)
            bad = (targets < 0) | (targets >= out.shape[1])
            if bad.any():
                raise ValueError(
                    f"targets must lie in [0, {out.shape[1]}), got {targets[bad][0].item()}"
                )
        else:
            check_tensor("targets", targets)
            if targets.dtype != out.dtype:
                raise TypeError(f"targets must have dtype {out.dtype}, got {targets.dtype}")
            check_shape("targets", targets, tuple(out.shape))

    def _output(self) -> torch.Tensor:
        if not self._pre:
            raise RuntimeError("call forward(x) before loss(targets) or backward(targets)")
        return self._pre[-1]

    def loss(self, targets: torch.Tensor) -> torch.Tensor:
        """The loss of the last ``forward`` (mean over the batch, or over all elements for MSE)."""
        out = self._output()
        self._check_targets(targets, out)
        if self.loss_name == "cross_entropy":
            return cross_entropy(out, targets)
        return mse_loss(out, targets)

    def backward(self, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gradients of ``loss(targets)`` for every parameter, by the formulas in the module doc."""
        out = self._output()  # (B, C)
        self._check_targets(targets, out)
        B = out.shape[0]
        if self.loss_name == "cross_entropy":
            delta = _softmax_minus_onehot(out, targets) / B  # (B, C)
        else:
            delta = 2 * (out - targets) / out.numel()  # (B, C)
        grads: dict[str, torch.Tensor] = {}
        for l in range(len(self.weights) - 1, -1, -1):  # 0-based layer index, last layer first
            a_prev = self._inputs[l]  # (B, n_{l})
            grads[f"W{l + 1}"] = delta.T @ a_prev  # (n_{l+1}, n_l)
            grads[f"b{l + 1}"] = delta.sum(dim=0)  # (n_{l+1},)
            if l > 0:
                da = delta @ self.weights[l]  # (B, n_l) = ∂L/∂a_l
                delta = da * _activation_grad(self.activation, self._pre[l - 1], a_prev)
        self.grads = {name: grads[name] for name in self.named_parameters()}
        return self.grads

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """Plain gradient descent with the last gradients: θ ← θ − lr·∂L/∂θ."""
        check_number("lr", lr, low=0.0, low_open=True)
        if not self.grads:
            raise RuntimeError("call backward(targets) before step(lr)")
        for name, p in self.named_parameters().items():
            p -= lr * self.grads[name]


# ---- the same derivatives as autograd operations ------------------------------------------


class LinearFunction(torch.autograd.Function):
    """y = x Wᵀ + b for x (*, n_in), W (n_out, n_in), b (n_out,).

    Backward with g = ∂L/∂y: ∂L/∂x = g W, ∂L/∂W = gᵀ x (summed over the leading dims),
    ∂L/∂b = Σ g over the leading dims. Call as ``LinearFunction.apply(x, weight, bias)``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, weight = ctx.saved_tensors
        g2 = grad_out.reshape(-1, weight.shape[0])  # (N, n_out), leading dims flattened
        x2 = x.reshape(-1, weight.shape[1])  # (N, n_in)
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_w = g2.T @ x2 if ctx.needs_input_grad[1] else None
        grad_b = g2.sum(dim=0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class ActivationFunction(torch.autograd.Function):
    """a = act(z) elementwise, ``ActivationFunction.apply(z, "tanh")``; ∂L/∂z = g ⊙ act'(z)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, name: str) -> torch.Tensor:
        check_choice("name", name, ACTIVATIONS)
        a = _activate(name, z)
        ctx.name = name
        ctx.save_for_backward(z, a)
        return a

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        z, a = ctx.saved_tensors
        return grad_out * _activation_grad(ctx.name, z, a), None


class SoftmaxCrossEntropyFunction(torch.autograd.Function):
    """Mean softmax cross-entropy of logits (B, C) and class targets (B,).

    Backward: ∂L/∂z = g · (softmax(z) − onehot(y)) / B. Call as ``.apply(logits, targets)``.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2:
            raise ValueError(f"logits must have shape (B, C), got {tuple(logits.shape)}")
        loss = cross_entropy(logits, targets)  # validates the targets
        ctx.save_for_backward(logits, targets)
        return loss

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        logits, targets = ctx.saved_tensors
        return grad_out * _softmax_minus_onehot(logits, targets) / len(targets), None


class MSELossFunction(torch.autograd.Function):
    """Mean squared error over all elements; ∂L/∂ŷ = g · 2(ŷ − y)/n and ∂L/∂y = −∂L/∂ŷ."""

    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = mse_loss(pred, target)  # validates shapes and dtypes
        ctx.save_for_backward(pred, target)
        return loss

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        pred, target = ctx.saved_tensors
        grad = grad_out * 2 * (pred - target) / pred.numel()
        return grad, -grad
