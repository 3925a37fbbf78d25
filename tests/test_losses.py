"""Losses against torch.nn.functional in float64: values and gradients to 1e-12."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lessons_pkg.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss

TOL = dict(atol=1e-12, rtol=1e-12)
F64 = torch.float64


def _leaf(shape, device, scale=1.0):
    return (scale * torch.randn(shape, dtype=F64, device=device)).requires_grad_()


def _check(ours_fn, ref_fn, inputs):
    """Same value and same gradients for every input that requires grad."""
    leaves = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    ours = ours_fn(*inputs)
    got = torch.autograd.grad(ours.sum(), leaves)
    ref = ref_fn(*inputs)
    want = torch.autograd.grad(ref.sum(), leaves)
    assert_close(ours, ref, **TOL)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(reduction, device):
    pred, target = _leaf((4, 3), device), _leaf((4, 3), device)
    _check(
        lambda p, t: mse_loss(p, t, reduction),
        lambda p, t: F.mse_loss(p, t, reduction=reduction),
        (pred, target),
    )


def test_mse_gradient_formula():
    pred = torch.tensor([1.0, 2.0, 4.0], dtype=F64, requires_grad=True)
    target = torch.tensor([1.5, 2.0, 3.0], dtype=F64)
    mse_loss(pred, target).backward()
    assert_close(pred.grad, 2 / 3 * (pred.detach() - target), **TOL)  # (2/n)(ŷ − y)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 7)])
def test_cross_entropy_matches_torch(shape, reduction, device):
    logits = _leaf(shape, device, scale=3.0)
    targets = torch.randint(0, shape[-1], shape[:-1], device=device)
    C = shape[-1]

    def ref(z, t):
        out = F.cross_entropy(z.reshape(-1, C), t.reshape(-1), reduction=reduction)
        return out.reshape(t.shape) if reduction == "none" else out

    _check(lambda z, t: cross_entropy(z, t, reduction), ref, (logits, targets))


def test_cross_entropy_ignore_index_matches_torch(device):
    logits = _leaf((6, 5), device)
    targets = torch.tensor([0, 4, -100, 2, -100, 1], device=device)
    _check(
        lambda z, t: cross_entropy(z, t, ignore_index=-100),
        lambda z, t: F.cross_entropy(z, t, ignore_index=-100),
        (logits, targets),
    )


def test_cross_entropy_is_stable_for_huge_logits(device):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [-1e4, -1e4, -1e4]], dtype=F64)
    logits = logits.to(device).requires_grad_()
    targets = torch.tensor([1, 2, 0], device=device)
    loss = cross_entropy(logits, targets, reduction="none")
    assert torch.isfinite(loss).all()
    _check(
        lambda z, t: cross_entropy(z, t, "none"),
        lambda z, t: F.cross_entropy(z, t, reduction="none"),
        (logits, targets),
    )
    naive = -torch.log(torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True))
    assert not torch.isfinite(naive).all()  # the unstable formula overflows


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = _leaf((3, 4), "cpu")
    targets = torch.tensor([3, 0, 1])
    cross_entropy(logits, targets, reduction="sum").backward()
    expected = torch.softmax(logits.detach(), -1) - F.one_hot(targets, 4).to(F64)
    assert_close(logits.grad, expected, **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(reduction, device):
    logits = _leaf((4, 5), device, scale=4.0)
    logits.data[0, :3] = torch.tensor([0.0, 800.0, -800.0], dtype=F64)  # zero and extremes
    targets = torch.rand((4, 5), dtype=F64, device=device)
    targets[1] = (targets[1] > 0.5).to(F64)
    _check(
        lambda z, t: binary_cross_entropy_with_logits(z, t, reduction),
        lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        (logits, targets),
    )


def test_errors():
    z, t = torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match=r"same shape, got \(3, 4\) and \(4, 3\)"):
        mse_loss(z, torch.zeros(4, 3))
    with pytest.raises(TypeError, match="target must be a floating-point tensor, got dtype "
                                        "torch.int64"):
        mse_loss(z, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="must equal pred dtype"):
        mse_loss(z, torch.zeros(3, 4, dtype=F64))
    with pytest.raises(TypeError, match="pred must be a torch.Tensor, got list"):
        mse_loss([1.0], z)
    with pytest.raises(ValueError, match="reduction must be one of"):
        mse_loss(z, z, reduction="avg")
    with pytest.raises(TypeError, match="targets must be an integer tensor, got dtype "
                                        "torch.float32"):
        cross_entropy(z, torch.zeros(3))
    with pytest.raises(TypeError, match="targets must be an integer tensor, got dtype torch.bool"):
        cross_entropy(z, torch.zeros(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="targets must be a torch.Tensor, got list"):
        cross_entropy(z, [0, 1, 2])
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        cross_entropy(t.reshape(3, 1), t)
    with pytest.raises(ValueError, match=r"logits must have shape \(\*N, C\)"):
        cross_entropy(z, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\), got 4"):
        cross_entropy(z, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\), got -1"):
        cross_entropy(z, torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"same shape, got \(3, 4\) and \(3,\)"):
        binary_cross_entropy_with_logits(z, torch.zeros(3))
    with pytest.raises(TypeError, match="targets must be a floating-point tensor"):
        binary_cross_entropy_with_logits(z, torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="must equal logits dtype"):
        binary_cross_entropy_with_logits(z, torch.zeros(3, 4, dtype=F64))
