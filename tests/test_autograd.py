"""The scalar engine against torch.autograd in float64, plus depth, memory and error tests."""

import gc
import math
import random
import sys
import weakref

import pytest
import torch
from torch.testing import assert_close

from lessons_pkg.autograd import MLP, Layer, Neuron, Value, dot, graph, vsum

TOL = dict(atol=1e-12, rtol=1e-12)

# Each case is written once and run on Values and on float64 tensors: both types have the same
# operators and the methods exp/log/tanh/sigmoid/relu.
CASES = {
    "add": lambda a, b: a + b,
    "add_number": lambda a, b: a + 2.5,
    "radd": lambda a, b: 2.5 + a,
    "sub": lambda a, b: a - b,
    "sub_number": lambda a, b: a - 2.5,
    "rsub": lambda a, b: 2.5 - a,
    "mul": lambda a, b: a * b,
    "mul_number": lambda a, b: a * -3.0,
    "rmul": lambda a, b: -3 * a,
    "neg": lambda a, b: -a,
    "div": lambda a, b: a / b,
    "div_number": lambda a, b: a / 4.0,
    "rdiv": lambda a, b: 4.0 / a,
    "pow_int": lambda a, b: a**3,
    "pow_negative": lambda a, b: a**-2,
    "pow_fraction": lambda a, b: a**0.5,
    "pow_zero": lambda a, b: b**0,
    "pow_value": lambda a, b: a**b,
    "rpow": lambda a, b: 2.0**b,
    "exp": lambda a, b: b.exp(),
    "log": lambda a, b: a.log(),
    "tanh": lambda a, b: (a * b).tanh(),
    "sigmoid": lambda a, b: b.sigmoid(),
    "sigmoid_far_negative": lambda a, b: (b * 700).sigmoid(),
    "relu_on": lambda a, b: a.relu(),
    "relu_off": lambda a, b: (a * b).relu(),
    "composite": lambda a, b: ((a * b + b**2).tanh() * a - (a / b).exp() + (a + 1).log()) ** 2,
}


def _torch_pair(a: float, b: float, device):
    return [torch.tensor(v, dtype=torch.float64, device=device, requires_grad=True) for v in (a, b)]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("a, b", [(0.7, -1.3), (1.9, 0.4)])
def test_every_op_matches_torch(name, a, b, device):
    fn = CASES[name]
    va, vb = Value(a), Value(b)
    out = fn(va, vb)
    out.backward()

    ta, tb = _torch_pair(a, b, device)
    ref = fn(ta, tb)
    ref.backward()

    assert_close(torch.tensor(out.data, dtype=torch.float64), ref.detach().cpu(), **TOL)
    for v, t in ((va, ta), (vb, tb)):
        expected = t.grad.cpu() if t.grad is not None else torch.tensor(0.0, dtype=torch.float64)
        assert_close(torch.tensor(v.grad, dtype=torch.float64), expected, **TOL)


def test_a_reused_node_accumulates_gradient():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()

    ta, tb = _torch_pair(-4.0, 2.0, "cpu")
    tc = ta + tb
    td = ta * tb + tb**3
    tc = tc + tc + 1
    tc = tc + 1 + tc + (-ta)
    td = td + td * 2 + (tb + ta).relu()
    td = td + 3 * td + (tb - ta).relu()
    tf = (tc - td) ** 2
    tg = tf / 2.0 + 10.0 / tf
    tg.backward()
    assert_close(torch.tensor(g.data, dtype=torch.float64), tg.detach(), **TOL)
    got = torch.tensor([a.grad, b.grad], dtype=torch.float64)
    assert_close(got, torch.stack([ta.grad, tb.grad]), **TOL)


def _torch_params(model: MLP, device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pairs = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        pairs.append((W.to(device).requires_grad_(), b.to(device).requires_grad_()))
    return pairs


def test_mlp_gradients_match_torch(device):
    generator = random.Random(3)
    X = [[generator.uniform(-2, 2) for _ in range(3)] for _ in range(6)]
    y = [generator.choice([-1.0, 1.0]) for _ in range(6)]
    model = MLP(3, [5, 4, 1], seed=7)
    margins = [(1 - yi * model(x)).relu() for x, yi in zip(X, y, strict=True)]
    loss = vsum(margins) / len(X) + 1e-3 * vsum(p * p for p in model.parameters())
    loss.backward()

    params = _torch_params(model, device)
    h = torch.tensor(X, dtype=torch.float64, device=device)
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i < len(params) - 1:
            h = torch.relu(h)
    yt = torch.tensor(y, dtype=torch.float64, device=device)
    flat = [t for pair in params for t in pair]
    ref = torch.relu(1 - yt * h[:, 0]).mean() + 1e-3 * sum((p * p).sum() for p in flat)
    ref.backward()

    assert_close(torch.tensor(loss.data, dtype=torch.float64), ref.detach().cpu(), **TOL)
    for layer, (W, b) in zip(model.layers, params, strict=True):
        got_W = torch.tensor([[w.grad for w in n.w] for n in layer.neurons], dtype=torch.float64)
        got_b = torch.tensor([n.b.grad for n in layer.neurons], dtype=torch.float64)
        assert_close(got_W, W.grad.cpu(), **TOL)
        assert_close(got_b, b.grad.cpu(), **TOL)


def test_multi_output_mlp_and_tanh_sigmoid_heads_match_torch():
    model = MLP(2, [3, 2], seed=1)
    x = [Value(0.3), Value(-1.2)]  # Value inputs: their gradients are checked too
    out = model(x)
    assert isinstance(out, list) and len(out) == 2
    loss = out[0].tanh() * out[1].sigmoid()
    loss.backward()

    (W1, b1), (W2, b2) = _torch_params(model, "cpu")
    xt = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    o = torch.relu(xt @ W1.T + b1) @ W2.T + b2
    ref = o[0].tanh() * o[1].sigmoid()
    ref.backward()
    assert_close(torch.tensor([v.grad for v in x], dtype=torch.float64), xt.grad, **TOL)
    got = torch.tensor(model.layers[0].neurons[1].w[0].grad, dtype=torch.float64)
    assert_close(got, W1.grad[1, 0], **TOL)


def test_dot_equals_the_composed_sum():
    w = [Value(0.5), Value(-1.5), Value(2.0)]
    x = [Value(1.0), 3.0, Value(-0.25)]  # a constant in the middle
    b = Value(0.1)
    fused = dot(w, x, b).tanh()
    fused.backward()
    fused_grads = [v.grad for v in (*w, x[0], x[2], b)]
    for v in (*w, x[0], x[2], b):
        v.grad = 0.0
    composed = (b + w[0] * x[0] + w[1] * 3.0 + w[2] * x[2]).tanh()
    composed.backward()
    assert fused.data == pytest.approx(composed.data, abs=1e-15)
    assert fused_grads == pytest.approx([v.grad for v in (*w, x[0], x[2], b)], abs=1e-15)
    assert dot(w, [1.0, 1.0, 1.0]).data == pytest.approx(1.0)  # no bias


def test_a_10000_node_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive topological sort would fail far below 10,000
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-9)


def test_a_5000_term_python_sum():
    xs = [Value(float(i)) for i in range(5_000)]
    total = sum(x * x for x in xs)  # builtin sum: a 5,000-deep chain of additions
    total.backward()
    assert total.data == pytest.approx(sum(i * i for i in range(5_000)))
    assert all(x.grad == 2 * x.data for x in xs)
    flat = vsum(xs)  # the same sum as one node
    flat.backward()
    assert xs[7].grad == 2 * 7.0 + 1.0


def test_graph_is_freed_without_the_cyclic_collector():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = MLP(2, [4, 1], seed=0)
        loss = (model([0.5, -0.5]) - 1.0) ** 2
        loss.backward()
        hidden = loss._parents[0]._parents[0]  # an intermediate node
        refs = [weakref.ref(loss), weakref.ref(hidden)]
        del loss, hidden
        assert all(r() is None for r in refs)  # freed by reference counting alone
        assert model.parameters()[0].grad != 0.0  # the leaves keep their gradients
    finally:
        if was_enabled:
            gc.enable()


def test_backward_twice_adds_one_more_gradient_to_leaves():
    a, b = Value(1.5), Value(-0.5)
    out = (a * b).tanh() + a
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == pytest.approx((2 * first[0], 2 * first[1]))


def test_seeded_init_and_zero_grad():
    m1, m2, m3 = MLP(2, [3, 1], seed=5), MLP(2, [3, 1], seed=5), MLP(2, [3, 1], seed=6)
    data = [[p.data for p in m.parameters()] for m in (m1, m2, m3)]
    assert data[0] == data[1] and data[0] != data[2]
    assert len(m1.parameters()) == 2 * 3 + 3 + 3 + 1
    assert all(n.b.data == 0.0 for layer in m1.layers for n in layer.neurons)
    m1([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in m1.parameters())
    m1.zero_grad()
    assert all(p.grad == 0.0 for p in m1.parameters())
    layer = Layer(2, 3, generator=random.Random(0))
    neuron = Neuron(2, nonlin=False, generator=random.Random(0))
    assert len(layer([1.0, 1.0])) == 3 and neuron([1.0, 1.0]).data == pytest.approx(
        sum(w.data for w in neuron.w)
    )


def test_a_tiny_batch_can_be_fit():
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    y = [-1.0, 1.0, 1.0, -1.0]  # XOR
    model = MLP(2, [8, 1], seed=0)
    for _ in range(200):
        loss = vsum((1 - yi * model(x)).relu() for x, yi in zip(X, y, strict=True))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
    assert all(yi * model(x).data > 0 for x, yi in zip(X, y, strict=True))


def test_graph_lists_nodes_and_edges():
    a, b = Value(2.0), Value(3.0)
    c = a * b + a
    nodes, edges = graph(c)
    assert len(nodes) == 4 and nodes[-1] is c
    assert len(edges) == 4  # a→*, b→*, *→+, a→+
    assert {node._op for node in nodes} == {"", "*", "+"}


@pytest.mark.parametrize("bad", ["x", None, True, [1.0], 1 + 2j])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="data must be a real number"):
        Value(bad)


def test_errors():
    with pytest.raises(ValueError, match="log needs a positive value, got 0.0"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="log needs a positive value, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="not real"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="base of a \\*\\* with a Value exponent must be positive"):
        Value(-2.0) ** Value(2.0)
    with pytest.raises(ValueError, match="base of c \\*\\* Value must be positive"):
        0.0 ** Value(2.0)
    with pytest.raises(TypeError, match="unsupported operand"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="unsupported operand"):
        None - Value(1.0)  # noqa: B018
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        dot([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="inputs must be a real number"):
        dot([Value(1.0)], ["x"])
    with pytest.raises(ValueError, match="x must have 2 inputs, got 3"):
        MLP(2, [3, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x must have 2 inputs, got 1"):
        Neuron(2)([1.0])
    with pytest.raises(ValueError, match="layer_sizes must hold at least 1 int, got 0"):
        MLP(2, [])
    with pytest.raises(ValueError, match=r"layer_sizes\[1\] must be a positive int, got 0"):
        MLP(2, [3, 0])
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        Neuron(0)
    with pytest.raises(TypeError, match="in_features must be an int, got float"):
        Neuron(2.0)
    with pytest.raises(ValueError, match="out_features must be a positive int, got 0"):
        Layer(2, 0)
    with pytest.raises(TypeError, match="out_features must be an int, got float"):
        Layer(2, 1.0)
    assert math.isinf((Value(0.0) ** 0.5)._local_grads[0])  # d√a/da at 0, as torch gives
