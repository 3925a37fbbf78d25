"""Hand-derived backprop against torch.autograd in float64 (max abs difference ≤ 1e-10)."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck
from torch.testing import assert_close

from lessons_pkg.backprop import (
    MLP,
    ActivationFunction,
    LinearFunction,
    MSELossFunction,
    SoftmaxCrossEntropyFunction,
)

TOL = dict(atol=1e-10, rtol=0.0)
F64 = torch.float64
TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def _autograd_reference(model: MLP, x, targets):
    """The same network and loss evaluated by torch.autograd on copies of the weights."""
    params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters().items()}
    n_layers = len(model.weights)
    h = x
    for i in range(1, n_layers + 1):
        h = F.linear(h, params[f"W{i}"], params[f"b{i}"])
        if i < n_layers:
            h = TORCH_ACT[model.activation](h)
    if model.loss_name == "cross_entropy":
        loss = F.cross_entropy(h, targets)
    else:
        loss = F.mse_loss(h, targets)
    grads = torch.autograd.grad(loss, list(params.values()))
    return h.detach(), loss.detach(), dict(zip(params, grads, strict=True))


def _data(model: MLP, batch: int, device, gen):
    x = torch.randn(batch, model.sizes[0], dtype=F64, generator=gen).to(device)
    if model.loss_name == "cross_entropy":
        targets = torch.randint(0, model.sizes[-1], (batch,), generator=gen).to(device)
    else:
        targets = torch.randn(batch, model.sizes[-1], dtype=F64, generator=gen).to(device)
    return x, targets


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("sizes", [[4, 3], [5, 8, 3], [3, 7, 6, 5, 2]])
def test_every_gradient_matches_autograd(sizes, activation, loss, device):
    gen = torch.Generator().manual_seed(len(sizes))
    model = MLP(sizes, activation, loss, dtype=F64, device=device, generator=gen)
    x, targets = _data(model, 6, device, gen)
    out = model.forward(x)
    grads = model.backward(targets)
    ref_out, ref_loss, ref_grads = _autograd_reference(model, x, targets)

    assert_close(out, ref_out, **TOL)
    assert_close(model.loss(targets), ref_loss, **TOL)
    assert list(grads) == list(model.named_parameters())  # W1, b1, W2, b2, ...
    for name, g in grads.items():
        assert g.shape == model.named_parameters()[name].shape
        assert_close(g, ref_grads[name], **TOL)


def test_step_is_gradient_descent_and_training_lowers_the_loss():
    gen = torch.Generator().manual_seed(0)
    model = MLP([2, 16, 3], "tanh", dtype=F64, generator=gen)
    x = torch.randn(30, 2, dtype=F64, generator=gen)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # three classes
    model.forward(x)
    first = model.loss(y)
    W1 = model.weights[0].clone()
    grads = model.backward(y)
    model.step(0.5)
    assert_close(model.weights[0], W1 - 0.5 * grads["W1"])
    for _ in range(300):
        model.forward(x)
        model.backward(y)
        model.step(0.5)
    model.forward(x)
    assert model.loss(y) < 0.2 * first


def test_init_is_seeded_and_shaped_like_nn_linear():
    a = MLP([3, 5, 2], generator=torch.Generator().manual_seed(1))
    b = MLP([3, 5, 2], generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert [tuple(p.shape) for p in a.parameters()] == [(5, 3), (5,), (2, 5), (2,)]
    assert a.weights[0].abs().max() <= 3**-0.5 and a.weights[0].dtype == torch.float32
    model = torch.nn.Linear(3, 5)
    model.weight.data.copy_(a.weights[0])  # same layout: copies one-to-one


def test_functions_pass_gradcheck():
    gen = torch.Generator().manual_seed(0)

    def leaf(*shape):
        return torch.randn(*shape, dtype=F64, generator=gen).requires_grad_()

    assert gradcheck(LinearFunction.apply, (leaf(4, 3), leaf(5, 3), leaf(5)))
    assert gradcheck(LinearFunction.apply, (leaf(2, 4, 3), leaf(5, 3), leaf(5)))  # (B, T, n_in)
    for name in ("relu", "tanh", "sigmoid"):
        assert gradcheck(lambda z, n=name: ActivationFunction.apply(z, n), (leaf(4, 3),))
    targets = torch.tensor([2, 0, 1, 2])
    assert gradcheck(lambda z: SoftmaxCrossEntropyFunction.apply(z, targets), (leaf(4, 3),))
    assert gradcheck(MSELossFunction.apply, (leaf(4, 3), leaf(4, 3)))


def test_functions_compose_into_the_mlp(device):
    gen = torch.Generator().manual_seed(2)
    model = MLP([4, 6, 3], "sigmoid", dtype=F64, device=device, generator=gen)
    x, targets = _data(model, 5, device, gen)
    model.forward(x)
    grads = model.backward(targets)
    W1, b1, W2, b2 = (p.clone().requires_grad_() for p in model.parameters())
    h = ActivationFunction.apply(LinearFunction.apply(x, W1, b1), "sigmoid")
    loss = SoftmaxCrossEntropyFunction.apply(LinearFunction.apply(h, W2, b2), targets)
    loss.backward()
    for name, p in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2), strict=True):
        assert_close(p.grad, grads[name], **TOL)


def test_errors():
    model = MLP([3, 4, 2], dtype=F64)
    with pytest.raises(RuntimeError, match=r"call forward\(x\) before"):
        model.backward(torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"call backward\(targets\) before step"):
        model.step(0.1)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\), got \(2, 4\)"):
        model.forward(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\), got \(3,\)"):
        model.forward(torch.zeros(3, dtype=F64))
    with pytest.raises(TypeError, match="x must have the parameters' dtype torch.float64"):
        model.forward(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        model.forward([[0.0, 0.0, 0.0]])
    model.forward(torch.zeros(2, 3, dtype=F64))
    with pytest.raises(TypeError, match="targets must be an integer tensor, got dtype "
                                        "torch.float64"):
        model.backward(torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\), got \(3,\)"):
        model.backward(torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\), got 2"):
        model.backward(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        model.step(0)
    mse = MLP([3, 2], loss="mse", dtype=F64)
    mse.forward(torch.zeros(2, 3, dtype=F64))
    with pytest.raises(TypeError, match="targets must have dtype torch.float64"):
        mse.backward(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 2\), got \(2,\)"):
        mse.backward(torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="sizes must hold at least 2 ints, got 1"):
        MLP([3])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive int, got 0"):
        MLP([3, 0, 2])
    with pytest.raises(TypeError, match=r"sizes\[0\] must be an int, got float"):
        MLP([3.0, 2])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([3, 2], activation="gelu")
    with pytest.raises(ValueError, match="loss must be one of"):
        MLP([3, 2], loss="hinge")
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        MLP([3, 2], dtype=torch.long)
    with pytest.raises(ValueError, match="name must be one of"):
        ActivationFunction.apply(torch.zeros(2), "gelu")
    with pytest.raises(ValueError, match=r"logits must have shape \(B, C\)"):
        SoftmaxCrossEntropyFunction.apply(torch.zeros(2, 3, 4), torch.zeros(2, 3).long())
