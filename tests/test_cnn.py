"""Tests for lessons_pkg.cnn: shapes, parameter counts, a reference forward, overfitting, errors."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lessons_pkg.cnn import (
    DigitsCNN,
    MLPClassifier,
    accuracy,
    classification_loss,
    predict,
)
from lessons_pkg.training import fit


def _cnn_params(channels, hidden, n_classes):
    c1, c2, c3 = channels
    conv = (1 * c1 + c1 * c2 + c2 * c3) * 9 + (c1 + c2 + c3)  # 3×3 kernels plus biases
    dense = (4 * c3 * hidden + hidden) + (hidden * n_classes + n_classes)  # flatten is 2×2×c3
    return conv + dense


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("channels", "hidden", "n_classes"), [((32, 64, 64), 64, 10), ((3, 5, 7), 11, 4)]
)
def test_cnn_parameter_count_matches_the_formula(channels, hidden, n_classes):
    model = DigitsCNN(channels=channels, hidden=hidden, n_classes=n_classes)
    assert _n_params(model) == _cnn_params(channels, hidden, n_classes)
    if channels == (32, 64, 64):
        assert _n_params(model) == 72_842


@pytest.mark.parametrize(("hidden", "expected"), [((), 64 * 10 + 10), ((128, 32), 12_778)])
def test_mlp_parameter_count(hidden, expected):
    # (64·128 + 128) + (128·32 + 32) + (32·10 + 10) = 12,778
    assert _n_params(MLPClassifier(hidden=hidden)) == expected


def test_output_shapes(device):
    x = torch.rand(5, 1, 8, 8, device=device)
    assert DigitsCNN().to(device)(x).shape == (5, 10)
    assert DigitsCNN(n_classes=3).to(device)(x).shape == (5, 3)
    assert MLPClassifier().to(device)(x).shape == (5, 10)
    assert MLPClassifier().to(device)(x.flatten(1)).shape == (5, 10)  # (B, 64) works too


def test_cnn_equals_a_functional_reference(device):
    model = DigitsCNN(channels=(4, 6, 8), hidden=12).double().to(device)
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64, device=device)
    h = F.max_pool2d(F.relu(F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, model.conv2.weight, model.conv2.bias, padding=1)), 2)
    h = F.relu(F.conv2d(h, model.conv3.weight, model.conv3.bias, padding=1))  # (3, 8, 2, 2)
    h = F.relu(F.linear(h.reshape(3, -1), model.fc1.weight, model.fc1.bias))
    expected = F.linear(h, model.fc2.weight, model.fc2.bias)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-12)


def test_mlp_equals_a_functional_reference(device):
    model = MLPClassifier(hidden=(7,)).double().to(device)
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64, device=device)
    first, last = model.net[0], model.net[3]
    expected = last(F.relu(first(x.reshape(3, 64))))
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [lambda: DigitsCNN(channels=(8, 16, 16), hidden=32), lambda: MLPClassifier(hidden=(32,))],
    ids=["cnn", "mlp"],
)
def test_a_tiny_batch_can_be_overfit(make):
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    y = torch.arange(16) % 10
    model = make()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    history = fit(
        model, loader, loss_fn=classification_loss, max_steps=60, progress=False,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
    )  # fmt: skip
    assert history.train["loss"][0] > 2.0  # chance level is log 10 ≈ 2.3
    assert history.train["loss"][-1] < 0.05
    assert accuracy(model, loader) == 1.0


def test_dropout_is_active_only_in_training():
    model = DigitsCNN(dropout=0.5)
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_predict_and_accuracy_restore_the_mode():
    model = MLPClassifier(hidden=(8,))
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 4, 5])
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    predictions, targets = predict(model, loader)
    assert torch.equal(predictions, model(x).argmax(1)) and torch.equal(targets, y)
    assert accuracy(model, loader) == pytest.approx((predictions == y).double().mean().item())
    assert model.training
    with pytest.raises(ValueError, match="loader yielded no batches"):
        predict(model, [])


@pytest.mark.parametrize(
    ("shape", "dtype"), [((4, 8, 8), torch.float32), ((4, 3, 8, 8), torch.float32),
                         ((4, 1, 28, 28), torch.float32), ((4, 64), torch.float32)],
)  # fmt: skip
def test_cnn_rejects_wrong_input_shapes(shape, dtype):
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\), got \(4, "):
        DigitsCNN()(torch.zeros(shape, dtype=dtype))


def test_bad_inputs_and_arguments():
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        DigitsCNN()(torch.zeros(2, 1, 8, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        MLPClassifier()([[0.0] * 64])
    with pytest.raises(ValueError, match=r"64 values per example, got \(2, 1, 7, 7\)"):
        MLPClassifier()(torch.zeros(2, 1, 7, 7))
    with pytest.raises(ValueError, match=r"with 64 values per example, got \(64,\)"):
        MLPClassifier()(torch.zeros(64))
    with pytest.raises(ValueError, match="channels must hold 3 ints"):
        DigitsCNN(channels=(8, 8))
    with pytest.raises(TypeError, match="channels must be a sequence of ints, got int"):
        DigitsCNN(channels=8)
    with pytest.raises(ValueError, match=r"channels\[1\] must be a positive int, got 0"):
        DigitsCNN(channels=(8, 0, 8))
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        DigitsCNN(hidden=-1)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1.0"):
        DigitsCNN(dropout=1.0)
    with pytest.raises(ValueError, match="n_classes must be a positive int, got 0"):
        MLPClassifier(n_classes=0)
    with pytest.raises(TypeError, match="in_features must be an int, got float"):
        MLPClassifier(in_features=2.5)
    with pytest.raises(TypeError, match="dropout must be a number, got bool"):
        MLPClassifier(dropout=True)
    with pytest.raises(TypeError, match="hidden must be a sequence of ints, got int"):
        MLPClassifier(hidden=128)
    with pytest.raises(ValueError, match=r"hidden\[1\] must be a positive int, got 0"):
        MLPClassifier(hidden=(16, 0))


def test_classification_loss_is_cross_entropy_of_the_logits():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x, y = torch.rand(5, 1, 8, 8), torch.tensor([1, 2, 3, 4, 5])
    expected = -torch.log_softmax(model(x), dim=1)[torch.arange(5), y].mean()
    torch.testing.assert_close(classification_loss(model, (x, y)), expected)
