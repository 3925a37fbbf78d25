"""A scalar reverse-mode autograd engine, and a tiny MLP built on it.

Chapter: Algorithms › Backpropagation; Practice › An MLP from scratch.
Paper: Rumelhart, Hinton & Williams (1986), "Learning representations by back-propagating errors".

Every ``Value`` is one node of the computational graph. When an operation creates a node it also
records the *local* derivatives of its output with respect to each input, as plain floats::

    out = f(a, b)      _parents = (a, b)      _local_grads = (∂out/∂a, ∂out/∂b)

``backward()`` then applies the chain rule once per edge, visiting nodes in reverse topological
order so that a node's gradient is complete before it is passed on::

    parent.grad += local_grad * out.grad       (∂L/∂a = Σ over uses of a of ∂L/∂out · ∂out/∂a)

Design choices, each tested:

* the topological sort is iterative (an explicit stack), so a 10,000-node chain works without
  touching Python's recursion limit;
* nodes hold no closures and no reference to themselves, only a tuple of parents and a tuple of
  floats, so a graph is freed by reference counting alone (no cyclic garbage collector needed);
* numbers mixed into an expression are constants: ``x * 3`` makes one node with one parent;
* ``__slots__`` and the fused ``dot`` node (one node for ``b + Σ wᵢ·xᵢ``) keep the two-moons
  demo well under five seconds in pure Python.

``Value`` compares by identity (no ``__eq__``), so nodes can live in sets and dicts.
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Iterable, Sequence
from numbers import Real

from lessons_pkg._checks import check_int_sequence, check_positive_int

__all__ = ["Layer", "MLP", "Neuron", "Value", "dot", "graph", "vsum"]

# Shared local-gradient tuples: fewer allocations per node (and less work for the collector).
_ONE, _ZERO, _MINUS_ONE = (1.0,), (0.0,), (-1.0,)
_ONES = (1.0, 1.0)
_PLUS_MINUS = (1.0, -1.0)


def _as_float(x: object, name: str = "data") -> float:
    """A plain float from an int/float-like number; TypeError for anything else (bools too)."""
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    return float(x)


class Value:
    """One scalar node of a computational graph.

    Args:
        data: the number this node holds (int or float; stored as float).

    Attributes:
        data: the value computed in the forward pass.
        grad: ∂L/∂(this node), filled in by ``L.backward()``; starts at 0.

    Raises:
        TypeError: ``data`` is not a real number (a string, ``None``, a bool, a tensor...).
    """

    __slots__ = ("data", "grad", "_parents", "_local_grads", "_op", "__weakref__")

    def __init__(
        self,
        data: float,
        _parents: tuple[Value, ...] = (),
        _local_grads: tuple[float, ...] = (),
        _op: str = "",
    ) -> None:
        if type(data) is not float:  # fast path: every internal node already holds a float
            data = _as_float(data)
        self.data = data
        self.grad = 0.0
        self._parents = _parents
        self._local_grads = _local_grads
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    def __float__(self) -> float:
        return self.data

    # ---- arithmetic: numbers on either side are constants (no node, no gradient) ----------
    def __add__(self, other: Value | float) -> Value:
        if type(other) is Value:
            return Value(self.data + other.data, (self, other), _ONES, "+")
        if isinstance(other, Real) and not isinstance(other, bool):
            return Value(self.data + float(other), (self,), _ONE, "+")
        return NotImplemented

    __radd__ = __add__

    def __mul__(self, other: Value | float) -> Value:
        if type(other) is Value:
            return Value(self.data * other.data, (self, other), (other.data, self.data), "*")
        if isinstance(other, Real) and not isinstance(other, bool):
            c = float(other)
            return Value(self.data * c, (self,), (c,), "*")
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self) -> Value:
        return Value(-self.data, (self,), _MINUS_ONE, "neg")

    def __sub__(self, other: Value | float) -> Value:
        if type(other) is Value:
            return Value(self.data - other.data, (self, other), _PLUS_MINUS, "-")
        if isinstance(other, Real) and not isinstance(other, bool):
            return Value(self.data - float(other), (self,), _ONE, "-")
        return NotImplemented

    def __rsub__(self, other: float) -> Value:  # other - self
        if isinstance(other, Real) and not isinstance(other, bool):
            return Value(float(other) - self.data, (self,), _MINUS_ONE, "-")
        return NotImplemented

    def __truediv__(self, other: Value | float) -> Value:
        # a / b: ∂/∂a = 1/b, ∂/∂b = -a/b². Division by zero raises ZeroDivisionError, as floats do.
        if type(other) is Value:
            b = other.data
            out = self.data / b
            return Value(out, (self, other), (1.0 / b, -out / b), "/")
        if isinstance(other, Real) and not isinstance(other, bool):
            b = float(other)
            return Value(self.data / b, (self,), (1.0 / b,), "/")
        return NotImplemented

    def __rtruediv__(self, other: float) -> Value:  # c / self: ∂/∂self = -c/self²
        if isinstance(other, Real) and not isinstance(other, bool):
            out = float(other) / self.data
            return Value(out, (self,), (-out / self.data,), "/")
        return NotImplemented

    def __pow__(self, other: Value | float) -> Value:
        a = self.data
        if type(other) is Value:
            # a^b with both variable: ∂/∂a = b·a^(b-1), ∂/∂b = a^b·ln a (needs a > 0)
            if a <= 0:
                raise ValueError(
                    f"base of a ** with a Value exponent must be positive (ln a), got {a}"
                )
            out = a**other.data
            return Value(out, (self, other), (other.data * out / a, out * math.log(a)), "**")
        if not isinstance(other, Real) or isinstance(other, bool):
            return NotImplemented
        n = float(other)
        if a < 0 and not n.is_integer():
            raise ValueError(f"negative base ({a}) to a non-integer power ({n}) is not real")
        out = a**n  # ZeroDivisionError for 0 ** negative, as for floats
        if n == 0.0:
            local = 0.0
        elif a == 0.0 and n < 1.0:
            local = math.inf  # e.g. d√a/da at a = 0
        else:
            local = n * a ** (n - 1.0)
        return Value(out, (self,), (local,), f"**{other}")

    def __rpow__(self, other: float) -> Value:  # c ** self: ∂/∂self = c^self · ln c
        if not isinstance(other, Real) or isinstance(other, bool):
            return NotImplemented
        c = float(other)
        if c <= 0:
            raise ValueError(f"base of c ** Value must be positive (ln c), got {c}")
        out = c**self.data
        return Value(out, (self,), (out * math.log(c),), "rpow")

    # ---- elementary functions ----------------------------------------------------------------
    def exp(self) -> Value:
        """eˣ; its derivative is itself. Overflow (x > ~709) raises OverflowError."""
        out = math.exp(self.data)
        return Value(out, (self,), (out,), "exp")

    def log(self) -> Value:
        """Natural log; d ln x / dx = 1/x.

        Raises:
            ValueError: ``data`` is not positive.
        """
        x = self.data
        if x <= 0:
            raise ValueError(f"log needs a positive value, got {x}")
        return Value(math.log(x), (self,), (1.0 / x,), "log")

    def tanh(self) -> Value:
        """tanh x; d tanh x / dx = 1 − tanh² x."""
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        """σ(x) = 1 / (1 + e⁻ˣ), computed without overflow; σ'(x) = σ(x)(1 − σ(x))."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        """max(0, x); the derivative is 1 for x > 0 and 0 otherwise (0 at x = 0, as in torch)."""
        x = self.data
        if x > 0:
            return Value(x, (self,), _ONE, "relu")
        return Value(0.0, (self,), _ZERO, "relu")

    # ---- reverse mode --------------------------------------------------------------------
    def _topological_order(self) -> list[Value]:
        """Every node this one depends on, each after all of its parents (iterative DFS)."""
        order: list[Value] = []
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)  # post-order: all parents were appended before
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for parent in node._parents:
                if parent not in visited:
                    stack.append((parent, False))
        return order

    def backward(self) -> None:
        """Fill ``.grad`` of every node this one depends on with ∂self/∂node.

        Leaves (nodes made with ``Value(x)``) *accumulate*, like torch's ``.grad``: call
        ``zero_grad()`` between steps. Intermediate nodes are reset first, so calling
        ``backward`` twice adds exactly one more gradient to each leaf.
        """
        order = self._topological_order()
        for node in order:
            if node._parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue  # nothing to pass on (e.g. a switched-off ReLU)
            for parent, local in zip(node._parents, node._local_grads, strict=True):
                parent.grad += local * g


def dot(
    weights: Sequence[Value], inputs: Sequence[Value | float], bias: Value | None = None
) -> Value:
    """``bias + Σᵢ weights[i] · inputs[i]`` as a single node (a neuron's pre-activation).

    Equal to building the sum from ``*`` and ``+`` but with one node instead of 2n: the local
    derivatives are ∂/∂wᵢ = xᵢ, ∂/∂xᵢ = wᵢ, ∂/∂b = 1. Inputs may be plain numbers (constants).

    Raises:
        ValueError: ``weights`` and ``inputs`` differ in length.
        TypeError: an input is neither a ``Value`` nor a number.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"weights and inputs must have the same length, got {len(weights)} and {len(inputs)}"
        )
    return _dot(weights, bias, *_split_inputs(inputs))


def _split_inputs(
    inputs: Sequence[Value | float],
) -> tuple[list[float], tuple[Value, ...], list[int] | None]:
    """Inputs as floats, the inputs that are Values, and their positions (None: all of them)."""
    x_data: list[float] = []
    values: list[Value] = []
    where: list[int] = []
    for i, x in enumerate(inputs):
        if type(x) is Value:
            x_data.append(x.data)
            values.append(x)
            where.append(i)
        else:
            x_data.append(_as_float(x, "inputs"))
    return x_data, tuple(values), (None if len(values) == len(x_data) else where)


def _dot(
    weights: Sequence[Value],
    bias: Value | None,
    x_data: list[float],
    x_values: tuple[Value, ...],
    where: list[int] | None,
) -> Value:
    """The ``dot`` node from inputs already split by ``_split_inputs`` (a layer splits once)."""
    w_data = [w.data for w in weights]
    total = sum(map(operator.mul, w_data, x_data))
    w_for_x = w_data if where is None else [w_data[i] for i in where]  # ∂/∂xᵢ = wᵢ
    if bias is None:
        return Value(total, (*weights, *x_values), (*x_data, *w_for_x), "dot")
    return Value(total + bias.data, (*weights, bias, *x_values), (*x_data, 1.0, *w_for_x), "dot")


def vsum(terms: Iterable[Value | float]) -> Value:
    """Σ terms as one node (every local derivative is 1); numbers are added as constants."""
    parents: list[Value] = []
    total = 0.0
    for t in terms:
        if type(t) is Value:
            parents.append(t)
            total += t.data
        else:
            total += _as_float(t, "terms")
    return Value(total, tuple(parents), (1.0,) * len(parents), "sum")


def graph(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """Nodes (parents before children) and edges (parent, child) of ``root``'s graph, to draw it."""
    nodes = root._topological_order()
    edges = [(parent, node) for node in nodes for parent in node._parents]
    return nodes, edges


# ---- a multilayer perceptron on scalars ---------------------------------------------------


class Neuron:
    """``act(b + Σ wᵢ xᵢ)`` with weights drawn from U(−1, 1) and the bias at 0.

    Args:
        in_features: number of inputs.
        nonlin: apply ReLU (True) or stay linear (False, for an output layer).
        generator: the random source for the weights, a ``random.Random`` (this engine is pure
            Python; elsewhere the package takes a ``torch.Generator`` under the same name).
    """

    def __init__(self, in_features: int, nonlin: bool = True,
                 generator: random.Random | None = None) -> None:
        check_positive_int("in_features", in_features)
        generator = generator if generator is not None else random.Random(0)
        self.w = [Value(generator.uniform(-1.0, 1.0)) for _ in range(in_features)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"x must have {len(self.w)} inputs, got {len(x)}")
        return self._activate(dot(self.w, x, self.b))

    def _activate(self, z: Value) -> Value:
        return z.relu() if self.nonlin else z

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer:
    """``out_features`` neurons reading the same ``in_features`` inputs."""

    def __init__(
        self, in_features: int, out_features: int, nonlin: bool = True,
        generator: random.Random | None = None,
    ) -> None:
        check_positive_int("out_features", out_features)
        generator = generator if generator is not None else random.Random(0)
        self.neurons = [Neuron(in_features, nonlin, generator) for _ in range(out_features)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        in_features = len(self.neurons[0].w)
        if len(x) != in_features:
            raise ValueError(f"x must have {in_features} inputs, got {len(x)}")
        split = _split_inputs(x)  # shared by every neuron of the layer
        return [n._activate(_dot(n.w, n.b, *split)) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"Layer[{', '.join(map(repr, self.neurons))}]"


class MLP:
    """ReLU layers of the given sizes, the last one linear: ``MLP(2, [16, 16, 1])``.

    Args:
        in_features: number of inputs.
        layer_sizes: width of each layer, the last being the output size.
        seed: seeds ``random.Random`` for the weights, so two MLPs with one seed are equal.
        generator: use this random source instead of ``seed``.

    Calling the MLP on a list of inputs returns a list of ``layer_sizes[-1]`` Values (one Value when
    the output size is 1).
    """

    def __init__(
        self, in_features: int, layer_sizes: Sequence[int], *, seed: int = 0,
        generator: random.Random | None = None,
    ) -> None:
        check_int_sequence("layer_sizes", layer_sizes, min_length=1)
        generator = generator if generator is not None else random.Random(seed)
        sizes = [in_features, *layer_sizes]
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i < len(layer_sizes) - 1, generator=generator)
            for i in range(len(layer_sizes))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"MLP[{', '.join(map(repr, self.layers))}]"
