"""A digits judge: a classifier trained on real digits that scores images from generative models.

Chapter: Practice › Generative models (GAN and VAE samples on the digits).
Paper: the idea of scoring samples with a pretrained classifier is that of the Inception Score
(Salimans et al., 2016): good samples are classified confidently, and a model that covers the
data spreads its samples over all classes. Here the two parts are reported separately and plainly.
Shapes: N images ``(N, 1, 8, 8)`` with intensities in [0, 1], K = 10 classes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lessons_pkg._checks import check_number, check_shape
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


def _check_samples(images: Tensor, confidence: float) -> None:
    """(N, 1, 8, 8) floating images in [0, 1], N >= 1, and a confidence in (0, 1)."""
    check_shape("images", images, ("N", *IMAGE_SHAPE), floating=True)
    if images.shape[0] < 1:
        raise ValueError(f"images must have shape (N, 1, 8, 8) with N >= 1, got "
                         f"{tuple(images.shape)}")
    low, high = images.min().item(), images.max().item()
    if low < 0 or high > 1:
        raise ValueError(
            f"images must lie in [0, 1] (the scale the judge was trained on), got values in "
            f"[{low:.3g}, {high:.3g}]"
        )
    check_number("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)


def _check_judge_output(logits: Tensor, n: int) -> None:
    if logits.dim() != 2 or logits.shape[0] != n:
        raise ValueError(f"judge must return logits (N, K) with N = {n}, got "
                         f"{tuple(logits.shape)}")


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
    _check_samples(images, confidence)
    was_training = judge.training
    judge.eval()
    try:
        params = next(judge.parameters(), None)
        x = images if params is None else images.to(device=model_device(judge), dtype=params.dtype)
        logits = judge(x)  # (N, K)
    finally:
        judge.train(was_training)
    _check_judge_output(logits, images.shape[0])
    n, k = logits.shape
    top_prob, predicted = logits.float().softmax(dim=1).max(dim=1)  # (N,), (N,)
    histogram = torch.bincount(predicted, minlength=k)  # (K,)
    return {
        "confident_fraction": (top_prob >= confidence).double().mean().item(),
        "class_histogram": histogram.tolist(),
        "max_class_share": histogram.max().item() / n,
        "classes_present": int((histogram > 0).sum().item()),
    }
