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

from lessons_pkg._checks import (
    check_int_sequence,
    check_number,
    check_positive_int,
    check_shape,
    check_tensor,
)
from lessons_pkg.device import model_device, to_device

IMAGE_SIDE = 8  # the digits are 8×8


def _check_head(n_classes: int, dropout: float) -> None:
    check_positive_int("n_classes", n_classes)
    check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)


def _check_cnn_sizes(channels: Sequence[int], hidden: int, n_classes: int, dropout: float) -> None:
    check_int_sequence("channels", channels, length=3)
    check_positive_int("hidden", hidden)
    _check_head(n_classes, dropout)


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
        check_positive_int("in_features", in_features)
        _check_head(n_classes, dropout)
        check_int_sequence("hidden", hidden)
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
        check_tensor("x", x, floating=True)
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
        _check_cnn_sizes(channels, hidden, n_classes, dropout)
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
        check_shape("x", x, ("B", 1, IMAGE_SIDE, IMAGE_SIDE), floating=True)
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
