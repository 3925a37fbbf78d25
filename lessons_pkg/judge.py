"""A digits judge: a classifier trained on real digits that scores images from generative models.

Chapter: Practice › Generative models (GAN and VAE samples on the digits).
Paper: the idea of scoring samples with a pretrained classifier is that of the Inception Score
(Salimans et al., 2016): good samples are classified confidently, and a model that covers the
data spreads its samples over all classes. Here the two parts are reported separately and plainly.
Shapes: N images ``(N, 1, 8, 8)`` with intensities in [0, 1], K = 10 classes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lessons_pkg.cnn import DigitsCNN, classification_loss
from lessons_pkg.data.digits import digits_loaders
from lessons_pkg.device import model_device, set_seed
from lessons_pkg.training import fit

__all__ = ["judge_samples", "train_digits_judge"]

IMAGE_SHAPE = (1, 8, 8)


def train_digits_judge(
    seed: int = 0,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool | str = False,
) -> DigitsCNN:
    """Train a :class:`~lessons_pkg.cnn.DigitsCNN` on the real training digits with ``fit``.

    Args:
        seed: seeds the initialisation and the batch order (the split is always the course's).
        epochs: passes over the 1,257 training images.
        lr: Adam learning rate.
        batch_size: images per step.
        device: where to train (default: the CPU, where the model is created).
        progress: passed to ``fit`` (``False`` keeps notebooks quiet).

    Returns:
        The trained model, in ``eval()`` mode.
    """
    set_seed(seed)
    train_loader, _, _ = digits_loaders(batch_size=batch_size, seed=seed)
    judge = DigitsCNN()
    optimizer = torch.optim.Adam(judge.parameters(), lr=lr)
    fit(judge, train_loader, loss_fn=classification_loss, optimizer=optimizer, epochs=epochs,
        device=device, progress=progress)
    return judge.eval()


@torch.no_grad()
def judge_samples(judge: nn.Module, images: Tensor, confidence: float = 0.9) -> dict:
    """Score generated digits with a trained classifier.

    Args:
        judge: a classifier mapping ``(N, 1, 8, 8)`` to logits ``(N, K)``.
        images: ``(N, 1, 8, 8)`` in [0, 1], the scale the judge was trained on.
        confidence: a sample counts as confidently classified when its largest softmax
            probability is at least this, in (0, 1).

    Returns:
        dict with ``confident_fraction`` (share of samples classified with at least
        ``confidence``), ``class_histogram`` (K ints: how many samples were assigned to each
        class by arg-max, confident or not), ``max_class_share`` (the largest of those counts
        over N; 1/K is perfectly even), ``classes_present`` (classes with at least one sample).
    """
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a tensor, got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE or images.shape[0] < 1:
        raise ValueError(f"images must have shape (N, 1, 8, 8) with N >= 1, got "
                         f"{tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"images must be floating point, got {images.dtype}")
    low, high = images.min().item(), images.max().item()
    if low < 0 or high > 1:
        raise ValueError(
            f"images must lie in [0, 1] (the scale the judge was trained on), got values in "
            f"[{low:.3g}, {high:.3g}]"
        )
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not (
        0 < confidence < 1 and math.isfinite(confidence)
    ):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")

    was_training = judge.training
    judge.eval()
    try:
        params = next(judge.parameters(), None)
        x = images if params is None else images.to(device=model_device(judge), dtype=params.dtype)
        logits = judge(x)  # (N, K)
    finally:
        judge.train(was_training)
    if logits.dim() != 2 or logits.shape[0] != images.shape[0]:
        raise ValueError(f"judge must return logits (N, K) with N = {images.shape[0]}, got "
                         f"{tuple(logits.shape)}")
    n, k = logits.shape
    top_prob, predicted = logits.float().softmax(dim=1).max(dim=1)  # (N,), (N,)
    histogram = torch.bincount(predicted, minlength=k)  # (K,)
    return {
        "confident_fraction": (top_prob >= confidence).double().mean().item(),
        "class_histogram": histogram.tolist(),
        "max_class_share": histogram.max().item() / n,
        "classes_present": int((histogram > 0).sum().item()),
    }
