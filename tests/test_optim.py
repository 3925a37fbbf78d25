"""The optimizers against torch.optim on identical gradients, in float64, for 20 steps."""

import pytest
import torch
from torch.testing import assert_close

from lessons_pkg.optim import SGD, Adam, AdamW

F64 = torch.float64


def _params(device):
    gen = torch.Generator().manual_seed(0)
    return [
        torch.randn(3, 4, dtype=F64, generator=gen).to(device).requires_grad_(),
        torch.randn(5, dtype=F64, generator=gen).to(device).requires_grad_(),
    ]


def _set_grads(params, step):
    """A gradient that depends on the parameters (as a real loss's would) and on the step."""
    for i, p in enumerate(params):
        wiggle = torch.sin(torch.arange(p.numel(), dtype=F64, device=p.device) + step + i)
        p.grad = (p.detach() ** 3 - 0.5 * p.detach() + wiggle.reshape(p.shape)).clone()


def _run(opt_cls, kwargs, device, steps=20):
    params = _params(device)
    opt = opt_cls(params, **kwargs)
    for t in range(steps):
        _set_grads(params, t)
        opt.step()
    return params


CASES = [
    (SGD, torch.optim.SGD, dict(lr=0.05)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1)),
    (SGD, torch.optim.SGD, dict(lr=0.05, weight_decay=0.2)),
    (Adam, torch.optim.Adam, dict()),
    (Adam, torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    (Adam, torch.optim.Adam, dict(lr=0.02, weight_decay=0.1)),
    (AdamW, torch.optim.AdamW, dict()),
    (AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.3, betas=(0.5, 0.9))),
]


@pytest.mark.parametrize(
    "ours, theirs, kwargs", CASES, ids=[f"{c[0].__name__}-{c[2]}" for c in CASES]
)
def test_matches_torch_optim(ours, theirs, kwargs, device):
    got = _run(ours, kwargs, device)
    want = _run(theirs, kwargs, device)
    start = _params(device)
    for g, w, s in zip(got, want, start, strict=True):
        assert_close(g, w)
        assert not torch.allclose(g, s)  # the parameters did move


def test_param_groups_and_missing_grads(device):
    a, b = _params(device)
    frozen = torch.zeros(2, dtype=F64, device=device, requires_grad=True)
    opt = Adam([{"params": [a], "lr": 0.1}, {"params": [b, frozen]}], lr=0.01)
    ref_a, ref_b = (p.detach().clone().requires_grad_() for p in (a, b))
    ref = torch.optim.Adam([{"params": [ref_a], "lr": 0.1}, {"params": [ref_b]}], lr=0.01)
    for t in range(5):
        _set_grads([a, b], t)
        _set_grads([ref_a, ref_b], t)
        opt.step()
        ref.step()
    assert_close(a, ref_a)
    assert_close(b, ref_b)
    assert torch.equal(frozen, torch.zeros_like(frozen))  # no grad: untouched, no state
    assert frozen not in opt.state


def test_closure_and_zero_grad():
    p = torch.tensor([3.0, -2.0], dtype=F64, requires_grad=True)
    opt = SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(13.0)
    assert_close(p.detach(), torch.tensor([1.5, -1.0], dtype=F64))  # θ − α·2θ


@pytest.mark.parametrize("opt_cls, kwargs", [(SGD, dict(lr=0.1, momentum=0.9)), (AdamW, {})])
def test_state_dict_resume_gives_the_same_weights(opt_cls, kwargs):
    straight = _run(opt_cls, kwargs, "cpu", steps=20)
    params = _params("cpu")
    opt = opt_cls(params, **kwargs)
    for t in range(10):
        _set_grads(params, t)
        opt.step()
    state = opt.state_dict()
    resumed = [p.detach().clone().requires_grad_() for p in params]
    opt2 = opt_cls(resumed, **kwargs)
    opt2.load_state_dict(state)
    for t in range(10, 20):
        _set_grads(resumed, t)
        opt2.step()
    for r, s in zip(resumed, straight, strict=True):
        assert_close(r, s, atol=0.0, rtol=0.0)


def test_errors():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        Adam(iter([]))
    with pytest.raises(TypeError, match="got a single Tensor"):
        SGD(p[0], lr=0.1)
    for bad in (0, 0.0, -1e-3):
        with pytest.raises(ValueError, match=f"lr must be a number > 0, got {bad}"):
            SGD(p, lr=bad)
        with pytest.raises(ValueError, match=f"lr must be a number > 0, got {bad}"):
            AdamW(p, lr=bad)
    with pytest.raises(ValueError, match="lr must be a number > 0, got nan"):
        Adam(p, lr=float("nan"))
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        SGD(p, lr="0.1")
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening = 0"):
        SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum must be a number >= 0, got -0.5"):
        SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0, got -1"):
        SGD(p, lr=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match=r"betas\[0\] must be a number in \[0, 1\), got 1.0"):
        Adam(p, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match=r"betas\[1\] must be a number in \[0, 1\), got -0.1"):
        AdamW(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match=r"betas must be a pair"):
        Adam(p, betas=(0.9,))
    with pytest.raises(TypeError, match=r"betas must be a pair \(beta1, beta2\), got float"):
        Adam(p, betas=0.9)
    with pytest.raises(TypeError, match=r"betas\[0\] must be a number, got str"):
        Adam(p, betas=("0.9", 0.999))
    with pytest.raises(ValueError, match="eps must be a number >= 0, got -1e-08"):
        Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0"):
        AdamW(p, weight_decay=-0.01)
    with pytest.raises(ValueError, match="lr must be a number > 0, got -0.1"):  # a group's own lr
        Adam([{"params": p, "lr": -0.1}])
