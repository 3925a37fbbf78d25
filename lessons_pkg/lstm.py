"""LSTM and GRU written from their gate equations.

Chapter: Algorithms › LSTM. The practice pages' models built on this LSTM (a text classifier and
a character language model) are in ``lessons_pkg.text_models``.
Papers: Hochreiter & Schmidhuber (1997), the LSTM; Gers, Schmidhuber & Cummins (2000), the forget
gate; Cho et al. (2014), the GRU.
Shapes: B batch, T time steps, I input size, H hidden size, L layers.

Parameter names, shapes and gate order follow ``torch.nn.LSTMCell`` / ``torch.nn.LSTM`` /
``torch.nn.GRUCell``, so ``load_state_dict`` copies weights one-to-one in either direction:

    gates = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          # (B, 4H), rows stacked i, f, g, o
    i = σ(gates_i)   f = σ(gates_f)   g = tanh(gates_g)   o = σ(gates_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Losses stay outside the models: train them with ``torch.nn.functional.cross_entropy`` (or the
course's own cross-entropy) on the logits they return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lessons_pkg._checks import (
    check_number,
    check_positive_int,
    check_tensor,
)

State = tuple[torch.Tensor, torch.Tensor]


def _check_features(x: torch.Tensor, input_size: int, expected: str) -> None:
    check_tensor("x", x)
    if x.dim() == 0 or x.shape[-1] != input_size:
        raise ValueError(
            f"x must have shape {expected} with input_size={input_size} features in its last "
            f"dimension, got shape {tuple(x.shape)}"
        )


def _check_state_tensor(name: str, t: object, shape: tuple[int, ...]) -> torch.Tensor:
    check_tensor(name, t)
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    return t


def _check_state_pair(state: object, names: str) -> tuple[object, object]:
    """The two entries of a state ``names`` (e.g. ``"(h, c)"``): a tuple or list of two tensors."""
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"state must be a tuple {names} of two tensors, got {type(state).__name__}")
    if state[0] is None or state[1] is None:
        raise TypeError(f"state must be a tuple {names} of two tensors, got None inside")
    return state[0], state[1]


def _lstm_update(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the LSTM gate nonlinearities to pre-activations ``gates`` (B, 4H) and cell ``c``."""
    i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H), torch's order
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)
    c_next = f * c + i * g  # keep part of the old memory, write part of the candidate
    h_next = o * torch.tanh(c_next)  # expose a gated view of the memory
    return h_next, c_next


def lstm_cell(
    x: torch.Tensor,
    state: State,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> State:
    """One LSTM step as a function: ``x`` (B, I), ``state = (h, c)`` each (B, H) -> ``(h', c')``."""
    h, c = state
    gates = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)  # (B, 4H)
    return _lstm_update(gates, c)


def gru_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    """One GRU step as a function: ``x`` (B, I), ``h`` (B, H) -> ``h'`` (B, H).

    Gate order r, z, n as in ``torch.nn.GRUCell``; the reset gate multiplies the *whole* hidden
    term of the candidate, bias included: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
    """
    x_r, x_z, x_n = F.linear(x, weight_ih, bias_ih).chunk(3, dim=-1)  # each (B, H)
    h_r, h_z, h_n = F.linear(h, weight_hh, bias_hh).chunk(3, dim=-1)  # each (B, H)
    r = torch.sigmoid(x_r + h_r)  # reset: how much of the past feeds the candidate
    z = torch.sigmoid(x_z + h_z)  # update: how much of the past is kept as is
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


class _RecurrentCell(nn.Module):
    """Shared parameters and checks of the LSTM and GRU cells (``n_gates`` blocks of H rows)."""

    n_gates: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows))
            self.bias_hh = nn.Parameter(torch.empty(rows))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Same rule as torch: every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)].
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """Check ``x`` and give it a batch dimension if it has none (as torch's cells allow)."""
        _check_features(x, self.input_size, "(B, input_size) or (input_size,)")
        if x.dim() not in (1, 2):
            raise ValueError(
                f"x must be 2-D (B, input_size) or 1-D (input_size,), got shape {tuple(x.shape)}"
            )
        unbatched = x.dim() == 1
        return (x.unsqueeze(0) if unbatched else x), unbatched

    def _state_tensor(
        self, name: str, t: torch.Tensor | None, x: torch.Tensor, unbatched: bool
    ) -> torch.Tensor:
        B, H = x.shape[0], self.hidden_size
        if t is None:
            return x.new_zeros(B, H)
        t = _check_state_tensor(name, t, (H,) if unbatched else (B, H))
        return t.unsqueeze(0) if unbatched else t


class LSTMCell(_RecurrentCell):
    """One LSTM step, parameter-compatible with ``torch.nn.LSTMCell``.

    Args:
        input_size: I, features of each input vector.
        hidden_size: H, size of the hidden state h and the cell state c.
        bias: whether to add ``bias_ih`` and ``bias_hh``.
    """

    n_gates = 4

    def forward(self, x: torch.Tensor, state: State | None = None) -> State:
        """``x`` (B, I) or (I,); ``state = (h, c)`` each (B, H) or (H,), zeros when omitted.

        Returns ``(h', c')`` with the shape of the state.
        """
        x, unbatched = self._prepare(x)  # (B, I)
        h, c = (None, None) if state is None else _check_state_pair(state, "(h, c)")
        h = self._state_tensor("state[0] (h)", h, x, unbatched)  # (B, H)
        c = self._state_tensor("state[1] (c)", c, x, unbatched)  # (B, H)
        h, c = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if unbatched:
            return h.squeeze(0), c.squeeze(0)
        return h, c


class GRUCell(_RecurrentCell):
    """One GRU step, parameter-compatible with ``torch.nn.GRUCell`` (gate order r, z, n)."""

    n_gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, I) or (I,); ``h`` (B, H) or (H,), zeros when omitted -> ``h'``."""
        x, unbatched = self._prepare(x)  # (B, I)
        h = self._state_tensor("h", h, x, unbatched)  # (B, H)
        h = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTM(nn.Module):
    """A stack of LSTM layers unrolled over time, parameter-compatible with ``torch.nn.LSTM``.

    Layer ``k`` owns ``weight_ih_l{k}`` (4H, I or H), ``weight_hh_l{k}`` (4H, H) and, with
    ``bias``, ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,). Layer k + 1 reads the hidden states of
    layer k, with dropout between layers (not after the last) in training mode.

    Args:
        input_size: I, features per time step.
        hidden_size: H.
        num_layers: L, stacked layers.
        bias: whether the layers have biases.
        batch_first: ``x`` and the outputs are (B, T, ·) when True, (T, B, ·) when False. The
            state is always (L, B, H), as in torch.
        dropout: probability of zeroing a unit between layers during training.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("num_layers", num_layers)
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        for k in range(num_layers):
            in_k = input_size if k == 0 else hidden_size
            self.register_parameter(
                f"weight_ih_l{k}", nn.Parameter(torch.empty(4 * hidden_size, in_k))
            )
            self.register_parameter(
                f"weight_hh_l{k}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(4 * hidden_size)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(4 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}"
        )

    def layer_weights(self, k: int) -> tuple[torch.Tensor, ...]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k``; biases None if absent."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self, f"{name}_l{k}", None) for name in names)

    def _check_state(self, state: object, x: torch.Tensor) -> State:
        L, B, H = self.num_layers, x.shape[0], self.hidden_size
        if state is None:
            zeros = x.new_zeros(L, B, H)
            return zeros, zeros
        h0, c0 = _check_state_pair(state, "(h0, c0)")
        h0 = _check_state_tensor("state[0] (h0)", h0, (L, B, H))
        c0 = _check_state_tensor("state[1] (c0)", c0, (L, B, H))
        return h0, c0

    def _check_input(self, x: torch.Tensor) -> None:
        _check_features(x, self.input_size, "(B, T, input_size) or (T, B, input_size)")
        if x.dim() != 3:
            raise ValueError(
                f"x must be 3-D, (B, T, input_size) with batch_first=True or (T, B, input_size) "
                f"otherwise, got shape {tuple(x.shape)}"
            )
        if x.shape[1 if self.batch_first else 0] == 0:
            raise ValueError(f"x must have at least one time step, got shape {tuple(x.shape)}")

    @staticmethod
    def _check_lengths(lengths: object, B: int, T: int, device: torch.device) -> torch.Tensor:
        if isinstance(lengths, torch.Tensor):
            lengths_t = lengths
        elif isinstance(lengths, Sequence):
            lengths_t = torch.as_tensor(lengths)
        else:
            raise TypeError(
                "lengths must be a 1-D int tensor or a sequence of ints, "
                f"got {type(lengths).__name__}"
            )
        if (
            lengths_t.dtype.is_floating_point
            or lengths_t.dtype.is_complex
            or (lengths_t.dtype == torch.bool)
        ):
            raise TypeError(f"lengths must hold integers, got dtype {lengths_t.dtype}")
        if tuple(lengths_t.shape) != (B,):
            raise ValueError(
                f"lengths must have shape (B,) = ({B},), one length per sequence, "
                f"got shape {tuple(lengths_t.shape)}"
            )
        lo, hi = int(lengths_t.min()), int(lengths_t.max())
        if lo < 1 or hi > T:
            raise ValueError(
                f"lengths must be in [1, T] = [1, {T}] (T is the padded sequence length), "
                f"got min {lo} and max {hi}"
            )
        return lengths_t.to(device=device, dtype=torch.long)

    def forward(
        self,
        x: torch.Tensor,
        state: State | None = None,
        lengths: torch.Tensor | Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, State]:
        """Run every layer over every time step.

        Args:
            x: (B, T, I) when ``batch_first`` else (T, B, I).
            state: optional ``(h0, c0)``, each (L, B, H); zeros when omitted.
            lengths: optional (B,) true lengths of right-padded sequences, each in [1, T].
                Steps at or beyond a sequence's length leave its state unchanged and output
                zeros, so the result equals ``nn.LSTM`` on a ``pack_padded_sequence``.

        Returns:
            ``outputs`` (B, T, H) (or (T, B, H)): the last layer's hidden state at every step, and
            ``(h_n, c_n)``, each (L, B, H): every layer's state after each sequence's last real
            token.
        """
        self._check_input(x)
        if not self.batch_first:
            x = x.transpose(0, 1)  # (B, T, I)
        B, T, _ = x.shape
        h0, c0 = self._check_state(state, x)  # each (L, B, H)

        valid = None
        if lengths is not None:
            lengths_t = self._check_lengths(lengths, B, T, x.device)
            steps = torch.arange(T, device=x.device)
            valid = (steps[None, :] < lengths_t[:, None]).unsqueeze(-1)  # (B, T, 1) True = real

        layer_input = x  # (B, T, I) for layer 0, (B, T, H) above
        h_last, c_last = [], []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
            # The input half of the gates does not depend on h, so one matmul serves all steps.
            gates_x = F.linear(layer_input, w_ih, b_ih)  # (B, T, 4H)
            h, c = h0[k], c0[k]  # (B, H)
            outputs = []
            for t in range(T):
                gates = gates_x[:, t] + F.linear(h, w_hh, b_hh)  # (B, 4H)
                h_next, c_next = _lstm_update(gates, c)
                if valid is None:
                    h, c = h_next, c_next
                    outputs.append(h)
                else:
                    # Padded steps keep the old state, so (h, c) stops at the last real token.
                    m = valid[:, t]  # (B, 1)
                    h = torch.where(m, h_next, h)
                    c = torch.where(m, c_next, c)
                    outputs.append(torch.where(m, h_next, 0.0))
            layer_output = torch.stack(outputs, dim=1)  # (B, T, H)
            h_last.append(h)
            c_last.append(c)
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                layer_output = F.dropout(layer_output, p=self.dropout, training=True)
            layer_input = layer_output

        outputs = layer_input if self.batch_first else layer_input.transpose(0, 1)
        return outputs, (torch.stack(h_last), torch.stack(c_last))  # state (L, B, H) each
