"""Image classifiers for the 8×8 digits: a multilayer perceptron and a small convolutional network.

Chapter: Practice › Image classifier. Papers: LeCun et al. (1998), "Gradient-based learning
applied to document recognition" (convolution → pooling → dense layers, trained end to end);
the CNN follows the layer plan of the Keras example in the course's source documents.
Shapes: B batch, C channels, H = W = 8 pixels, K classes.

Models return logits; the softmax lives in the loss (:func:`classification_loss` uses
``F.cross_entropy``, which applies log-softmax itself and is stable for large logits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lessons_pkg.device import model_device, to_device

IMAGE_SIDE = 8  # the digits are 8×8


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_dropout(dropout: Any) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


def _check_float_input(x: Any) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")


class MLPClassifier(nn.Module):
    """Flatten → [Linear → ReLU → Dropout] per hidden width → Linear to ``n_classes`` logits.

    Args:
        in_features: inputs per example after flattening (64 for an 8×8 image).
        hidden: widths of the hidden layers; ``()`` gives multinomial logistic regression.
        n_classes: number of classes K.
        dropout: dropout probability after each hidden activation.
    """

    def __init__(
        self,
        in_features: int = 64,
        hidden: Sequence[int] = (128,),
        n_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_positive_int("in_features", in_features)
        _check_positive_int("n_classes", n_classes)
        _check_dropout(dropout)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be a sequence of ints, got {type(hidden).__name__}")
        for width in hidden:
            _check_positive_int("each hidden width", width)
        self.in_features = in_features
        layers: list[nn.Module] = []
        width_in = in_features
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(dropout)]
            width_in = width
        layers.append(nn.Linear(width_in, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, ...) with ``in_features`` values per example → logits (B, K)."""
        _check_float_input(x)
        if x.ndim < 2 or x[0].numel() != self.in_features:
            raise ValueError(
                f"x must have shape (B, ...) with {self.in_features} values per example, "
                f"got {tuple(x.shape)}"
            )
        x = x.flatten(1)  # (B, in_features)
        return self.net(x)  # (B, K)


class DigitsCNN(nn.Module):
    """A small CNN for 1×8×8 digits, with the layer plan of the source documents' Keras model.

    That model (written for 28×28 MNIST) is: Conv 32 (3×3, ReLU) → MaxPool 2×2 → Conv 64 (3×3,
    ReLU) → MaxPool 2×2 → Conv 64 (3×3, ReLU) → Flatten → Dense 64 (ReLU) → Dense 10 (softmax).
    Adapted to 8×8 inputs: the 3×3 convolutions use padding 1 ("same"), because unpadded ones
    would shrink 8 pixels to 6, 3 after pooling, 1 after the second convolution, leaving nothing
    for the third. With padding the map goes 8×8 → pool → 4×4 → pool → 2×2, so Flatten gives
    ``4 * channels[2]`` features. The final softmax is left to the loss: ``forward`` returns
    logits.

    Args:
        channels: output channels of the three convolutions (Keras: 32, 64, 64).
        hidden: width of the dense hidden layer (Keras: 64).
        n_classes: number of classes K.
        dropout: dropout probability before each dense layer (0 as in the Keras model).
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 64),
        hidden: int = 64,
        n_classes: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence):
            raise TypeError(f"channels must be a sequence of 3 ints, got {type(channels).__name__}")
        if len(channels) != 3:
            raise ValueError(f"channels must hold 3 ints (one per conv), got {len(channels)}")
        for width in channels:
            _check_positive_int("each entry of channels", width)
        _check_positive_int("hidden", hidden)
        _check_positive_int("n_classes", n_classes)
        _check_dropout(dropout)
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout)
        side = IMAGE_SIDE // 4  # two 2×2 poolings
        self.fc1 = nn.Linear(c3 * side * side, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 8, 8) pixel intensities → logits (B, K)."""
        _check_float_input(x)
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"x must have shape (B, 1, 8, 8), got {tuple(x.shape)}")
        x = self.pool(F.relu(self.conv1(x)))  # (B, c1, 4, 4)
        x = self.pool(F.relu(self.conv2(x)))  # (B, c2, 2, 2)
        x = F.relu(self.conv3(x))  # (B, c3, 2, 2)
        x = x.flatten(1)  # (B, 4 * c3)
        x = F.relu(self.fc1(self.dropout(x)))  # (B, hidden)
        return self.fc2(self.dropout(x))  # (B, K)


def classification_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy of ``model(x)`` against integer ``targets``; a ``loss_fn`` for ``fit``.

    Args:
        batch: ``(x, targets)`` with targets int64 (B,) in 0..K−1.
    """
    x, targets = batch
    logits = model(x)  # (B, K)
    return F.cross_entropy(logits, targets)


@torch.no_grad()
def predict(
    model: nn.Module, loader: Any, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and true targets over ``loader`` (on the CPU), in ``eval()`` mode.

    Returns:
        ``(predictions, targets)``, both int64 (N,).
    """
    device = model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    predictions, targets = [], []
    try:
        for x, y in loader:
            logits = model(to_device(x, device))  # (B, K)
            predictions.append(logits.argmax(dim=1).cpu())
            targets.append(y.cpu())
    finally:
        model.train(was_training)
    if not predictions:
        raise ValueError("loader yielded no batches")
    return torch.cat(predictions), torch.cat(targets)


def accuracy(model: nn.Module, loader: Any, device: torch.device | str | None = None) -> float:
    """Share of examples in ``loader`` whose arg-max logit is the target."""
    predictions, targets = predict(model, loader, device)
    return (predictions == targets).double().mean().item()
