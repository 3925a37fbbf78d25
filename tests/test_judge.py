"""Tests for lessons_pkg.judge: scoring generated digits with a classifier."""

import pytest
import torch
from torch import nn

from lessons_pkg.cnn import DigitsCNN
from lessons_pkg.judge import judge_samples, train_digits_judge


class _TableJudge(nn.Module):
    """Returns fixed logits: row i of ``table`` for the i-th image, whatever the pixels."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", table)
        self.seen_training = None

    def forward(self, x):
        self.seen_training = self.training
        return self.table[: x.shape[0]]


def _table():
    # 6 confident rows (probability ≈ 0.999 on classes 0, 0, 0, 1, 2, 3) and 4 uniform rows,
    # whose arg-max is class 0 (torch takes the first of equal values).
    confident = torch.full((6, 10), -5.0)
    for row, cls in enumerate([0, 0, 0, 1, 2, 3]):
        confident[row, cls] = 5.0
    uniform = torch.zeros(4, 10)
    uniform[:, 7] = 0.1  # a slight preference, far from confident
    return torch.cat([confident, uniform])


def test_scores_of_a_stub_judge_by_hand(device):
    judge = _TableJudge(_table()).to(device).train()
    scores = judge_samples(judge, torch.rand(10, 1, 8, 8), confidence=0.9)
    assert scores["confident_fraction"] == pytest.approx(0.6)
    assert scores["class_histogram"] == [3, 1, 1, 1, 0, 0, 0, 4, 0, 0]
    assert scores["max_class_share"] == pytest.approx(0.4)
    assert scores["classes_present"] == 5
    assert judge.seen_training is False and judge.training  # judged in eval, mode restored
    # softmax(5 vs nine -5) = 1 / (1 + 9e-10) ≈ 0.9996: still confident at 0.999, not at 0.9999.
    assert judge_samples(judge, torch.rand(10, 1, 8, 8), 0.999)["confident_fraction"] == 0.6
    assert judge_samples(judge, torch.rand(10, 1, 8, 8), 0.9999)["confident_fraction"] == 0.0


def test_a_trained_judge_recognises_real_digits():
    from lessons_pkg.data.digits import load_digits_split

    judge = train_digits_judge(seed=0, epochs=4)
    assert isinstance(judge, DigitsCNN) and not judge.training
    images, labels = load_digits_split().test.tensors
    scores = judge_samples(judge, images, confidence=0.5)
    # The real test set is balanced (27 per class) and mostly classified correctly.
    assert scores["classes_present"] == 10
    assert scores["max_class_share"] < 0.2
    accuracy = (judge(images).argmax(1) == labels).double().mean().item()
    assert accuracy > 0.8
    # A blank image carries no digit: the judge must not give ten classes to 50 copies of it.
    assert judge_samples(judge, torch.zeros(50, 1, 8, 8))["classes_present"] == 1


def test_bad_input_raises():
    judge = _TableJudge(_table())
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, 8, 8\), got \(10, 64\)"):
        judge_samples(judge, torch.rand(10, 64))
    with pytest.raises(ValueError, match=r"got \(0, 1, 8, 8\)"):
        judge_samples(judge, torch.rand(0, 1, 8, 8))
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        judge_samples(judge, torch.rand(10, 1, 8, 8) * 2 - 1)
    with pytest.raises(ValueError, match=r"confidence must be a number in \(0, 1\), got 1.5"):
        judge_samples(judge, torch.rand(10, 1, 8, 8), confidence=1.5)
    with pytest.raises(TypeError, match="confidence must be a number, got str"):
        judge_samples(judge, torch.rand(10, 1, 8, 8), confidence="0.9")
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        judge_samples(judge, torch.ones(10, 1, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="images must be a torch.Tensor, got list"):
        judge_samples(judge, [[0.0]])
    with pytest.raises(ValueError, match=r"judge must return logits \(N, K\) with N = 10"):
        judge_samples(_TableJudge(torch.zeros(10)), torch.rand(10, 1, 8, 8))
