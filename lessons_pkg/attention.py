"""Scaled dot-product attention, masks, multi-head attention and positional encodings.

Chapter: Algorithms › Attention. Paper: Vaswani et al. (2017), "Attention Is All You Need",
§3.2 (attention) and §3.5 (sinusoidal positions); rotary positions from Su et al. (2021),
"RoFormer", §3.4.

Shapes: B batch, H heads, T query length, S key length, D model width, Dh = D // H per-head width.
Boolean masks mean True = may attend (the convention of ``F.scaled_dot_product_attention``;
``nn.MultiheadAttention`` uses the opposite one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons_pkg._checks import check_int, check_number, check_positive_int, check_tensor

__all__ = [
    "KVCache",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "SinusoidalPositionalEncoding",
    "apply_rotary",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]


# ----------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------


def causal_mask(
    T: int, device: torch.device | str | None = None, *, key_length: int | None = None
) -> Tensor:
    """Boolean (T, S) mask where query i may attend to keys at its own position or earlier.

    With ``key_length`` S > T the T queries are taken to be the *last* T positions of the S keys
    (what a KV cache needs), so query i sits at absolute position S - T + i.

    Raises:
        TypeError: ``T`` or ``key_length`` is not an int.
        ValueError: ``T`` < 1 or ``key_length`` < ``T``.
    """
    S = T if key_length is None else key_length
    _check_causal_lengths(T, S)
    q_pos = torch.arange(S - T, S, device=device)  # (T,) absolute positions of the queries
    k_pos = torch.arange(S, device=device)  # (S,)
    return k_pos[None, :] <= q_pos[:, None]  # (T, S)


def _check_causal_lengths(T: int, S: int) -> None:
    check_positive_int("T", T)
    check_int("key_length", S, minimum=T)


def padding_mask(lengths_or_pad: Tensor, max_len: int | None = None) -> Tensor:
    """Boolean (B, S) key mask, True at real tokens and False at padding.

    Args:
        lengths_or_pad: either a 1-D integer tensor of sequence lengths (B,), or a (B, S) boolean
            tensor that is True at *padding* positions (PyTorch's ``key_padding_mask``
            convention, e.g. ``tokens == pad_id``), which is inverted.
        max_len: S when lengths are given (default: the largest length). Ignored otherwise.

    To mask keys inside attention scores of shape (B, H, T, S), index the result as
    ``mask[:, None, None, :]`` (``MultiHeadAttention`` does this for its ``key_mask``).

    Raises:
        TypeError: the argument is not a tensor, or neither boolean nor integer.
        ValueError: wrong number of dimensions, negative lengths, or lengths above ``max_len``.
    """
    check_tensor("lengths_or_pad", lengths_or_pad)
    if lengths_or_pad.dtype == torch.bool:
        if lengths_or_pad.dim() != 2:
            raise ValueError(
                f"a boolean lengths_or_pad must be (B, S), got shape {tuple(lengths_or_pad.shape)}"
            )
        return ~lengths_or_pad
    if lengths_or_pad.dtype.is_floating_point or lengths_or_pad.dtype.is_complex:
        raise TypeError(
            "lengths_or_pad must be an integer tensor of lengths or a boolean padding tensor, "
            f"got dtype {lengths_or_pad.dtype}"
        )
    lengths = lengths_or_pad
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    longest = int(lengths.max()) if lengths.numel() else 0
    S = longest if max_len is None else max_len
    if longest > S:
        raise ValueError(f"max_len ({S}) is shorter than the longest length ({longest})")
    return torch.arange(S, device=lengths.device)[None, :] < lengths[:, None]  # (B, S)


def _check_rows(mask: Tensor, scores_shape: torch.Size) -> None:
    """Raise if some query row of the (broadcast) mask allows no key at all."""
    empty = ~mask.any(dim=-1)  # (..., T) True where a query has nothing to attend to
    if bool(empty.any()):
        rows = torch.broadcast_to(empty, scores_shape[:-1]).nonzero().tolist()
        shown = ", ".join(str(tuple(r)) for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise ValueError(
            f"mask leaves {len(rows)} query row(s) with no key to attend to, at index "
            f"(..., query) {shown}{more}; softmax over an empty row is undefined (NaN). "
            "Every query needs at least one True in its mask row (True = may attend)."
        )


def _check_bool(name: str, mask: object, meaning: str) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"{name} must be a boolean tensor ({meaning}), got {got}")


def _check_mask(mask: Tensor | None, scores_shape: torch.Size) -> None:
    """A boolean mask (None: no mask) that broadcasts to the scores and leaves no row empty."""
    if mask is None:
        return
    _check_bool("mask", mask, "True = may attend")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape != scores_shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(scores_shape)} (..., T, S)"
        )
    _check_rows(mask, scores_shape)


def _check_attention_args(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None,
                          dropout_p: float) -> None:
    """The arguments of ``scaled_dot_product_attention``; the mask against the scores' shape."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t)
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k, v must have at least 2 dims (..., length, width), got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share their last size d_k, got {q.shape[-1]} and "
                         f"{k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length S, got {k.shape[-2]} and "
                         f"{v.shape[-2]}")
    check_number("dropout_p", dropout_p, low=0.0, high=1.0, high_open=True)
    if mask is not None:  # the scores Q Kᵀ are (..., T, S), the batch dimensions broadcast
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        _check_mask(mask, torch.Size((*batch, q.shape[-2], k.shape[-2])))


# ----------------------------------------------------------------------------------------------
# Scaled dot-product attention
# ----------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    dropout_p: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor]:
    """softmax(Q Kᵀ / √d_k) V, written out step by step.

    Args:
        q: queries (..., T, Dk). d_k is this last size: the per-head key width.
        k: keys (..., S, Dk).
        v: values (..., S, Dv).
        mask: boolean, broadcastable to (..., T, S); True = may attend.
        dropout_p: dropout on the attention weights, applied only when ``training``.
        training: whether dropout is active.

    Returns:
        ``(out, weights)``: out (..., T, Dv) and the attention weights (..., T, S) *before*
        dropout, so each row is a probability distribution that sums to 1 and masked entries
        are exactly 0.

    Raises:
        ValueError: mismatched shapes, a mask that does not broadcast, a query row that may
            attend to nothing (the message lists which rows), or ``dropout_p`` outside [0, 1).
        TypeError: a non-boolean mask.
    """
    _check_attention_args(q, k, v, mask, dropout_p)
    d_k = q.shape[-1]
    # Step 1: similarity of every query with every key, scaled so that the scores keep unit
    # variance when q and k have unit-variance entries (otherwise softmax saturates).
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
    # Step 2: forbid masked pairs; exp(-inf) = 0 makes their weights exactly zero.
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    # Step 3: each query's weights over the keys form a probability distribution.
    weights = torch.softmax(scores, dim=-1)  # (..., T, S)
    dropped = F.dropout(weights, p=dropout_p, training=training) if dropout_p > 0 else weights
    # Step 4: the output is the weighted average of the values.
    out = dropped @ v  # (..., T, Dv)
    return out, weights


# ----------------------------------------------------------------------------------------------
# Rotary positions
# ----------------------------------------------------------------------------------------------


def apply_rotary(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotate consecutive pairs (x[2i], x[2i+1]) of ``x`` by the angle position · base^(-2i/Dh).

    Applied to queries and keys, the dot product of a query at position m with a key at n then
    depends on m and n only through m - n (RoFormer).

    Args:
        x: (..., T, Dh) with Dh even.
        positions: (T,) integer or float positions.
        base: the wavelength base.

    Raises:
        ValueError: Dh is odd or ``positions`` is not (T,).
    """
    T, Dh = x.shape[-2], x.shape[-1]
    if Dh % 2:
        raise ValueError(f"the last size of x must be even for rotary positions, got {Dh}")
    if positions.shape != (T,):
        raise ValueError(f"positions must have shape ({T},), got {tuple(positions.shape)}")
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    inv_freq = base ** (-torch.arange(0, Dh, 2, device=x.device, dtype=work) / Dh)  # (Dh/2,)
    angles = positions.to(work)[:, None] * inv_freq[None, :]  # (T, Dh/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., T, Dh/2) each
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (..., T, Dh/2, 2)
    return rotated.flatten(-2)  # (..., T, Dh)


# ----------------------------------------------------------------------------------------------
# KV cache
# ----------------------------------------------------------------------------------------------


def _check_append(k: Tensor, v: Tensor, length: int, context_length: int,
                  storage: Tensor | None) -> None:
    """k, v (B, H, T, Dh) that fit a cache holding ``length`` of ``context_length`` positions,
    in its ``storage`` (B, H, context_length, Dh) once allocated."""
    check_tensor("k", k, ndim=4)
    check_tensor("v", v, ndim=4)
    if v.shape[:3] != k.shape[:3]:
        raise ValueError(f"k {tuple(k.shape)} and v {tuple(v.shape)} must agree in (B, H, T)")
    if length + k.shape[2] > context_length:
        raise ValueError(
            f"KV cache holds {length} positions and cannot take {k.shape[2]} more: "
            f"context_length is {context_length}"
        )
    stored = None if storage is None else (storage.shape[0], storage.shape[1], storage.shape[3])
    if stored is not None and (k.shape[0], k.shape[1], k.shape[3]) != stored:
        raise ValueError(f"k of shape {tuple(k.shape)} does not fit a cache of (B, H, Dh) = "
                         f"{stored}")


class KVCache:
    """Keys and values of earlier positions for one attention layer, for fast generation.

    Storage for ``context_length`` positions is allocated on the first ``append``; later appends
    write into it, so a generation step costs no copy of the whole past. Meant for inference
    (``torch.no_grad()``): appends write in place.
    """

    def __init__(self, context_length: int) -> None:
        check_positive_int("context_length", context_length)
        self.context_length = context_length
        self.k: Tensor | None = None
        self.v: Tensor | None = None
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def reset(self) -> None:
        self.k = self.v = None
        self.length = 0

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k, v (B, H, T, Dh) after the cached positions; return all keys and values
        (B, H, length, Dh) as views of the storage.

        Raises:
            ValueError: the cache would exceed ``context_length`` or the shapes disagree with it.
        """
        _check_append(k, v, self.length, self.context_length, self.k)
        B, H, T, Dh = k.shape
        if self.k is None or self.v is None:
            self.k = k.new_empty(B, H, self.context_length, Dh)
            self.v = v.new_empty(B, H, self.context_length, v.shape[-1])
        start, self.length = self.length, self.length + T
        self.k[:, :, start : self.length] = k
        self.v[:, :, start : self.length] = v
        return self.k[:, :, : self.length], self.v[:, :, : self.length]


# ----------------------------------------------------------------------------------------------
# Multi-head attention
# ----------------------------------------------------------------------------------------------


def _merge_masks(
    mask: Tensor | None, key_mask: Tensor | None, is_causal: bool, fused: bool, T: int, S: int,
    device: torch.device,
) -> tuple[Tensor | None, bool]:
    """One boolean mask for scores (B, H, T, S): ``mask`` AND ``key_mask`` (B, S) AND, with
    ``is_causal``, a causal mask; None when nothing masks. Also whether the fused kernel's own
    causal flag stands in for the causal mask."""
    if key_mask is not None:
        key_mask = key_mask[:, None, None, :]  # (B, 1, 1, S)
    masks = [m for m in (mask, key_mask) if m is not None]
    # A single new query is the last position and may see every key: no causal mask needed.
    # The fused kernel's own causal flag is used when nothing else masks and T == S.
    causal_flag = fused and is_causal and T > 1 and not masks and T == S
    if is_causal and T > 1 and not causal_flag:
        masks.append(causal_mask(T, device, key_length=S))  # (T, S)
    full_mask = None
    for m in masks:
        full_mask = m if full_mask is None else full_mask & m
    return full_mask, causal_flag


class MultiHeadAttention(nn.Module):
    """Multi-head attention for self- and cross-attention (Vaswani et al., §3.2.2).

    The query, key and value projections W_q, W_k, W_v are stacked in one ``in_proj`` matrix
    (3D, D), the layout of ``nn.MultiheadAttention.in_proj_weight``, so weights copy one-to-one
    (see ``copy_from_torch``); self-attention projects with a single matrix product.

    Args:
        d_model: model width D.
        n_heads: number of heads H; D must be divisible by H.
        dropout: dropout on the attention weights (training only).
        bias: whether the projections have biases.
        use_sdpa: compute attention with ``F.scaled_dot_product_attention`` (fused kernels)
            whenever the weights are not asked for. The explicit formula is used otherwise.
        rotary: rotate queries and keys by their positions (self-attention only).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        use_sdpa: bool = False,
        rotary: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        if rotary and (d_model // n_heads) % 2:
            raise ValueError(f"rotary needs an even head width, got {d_model // n_heads}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout, self.use_sdpa, self.rotary = dropout, use_sdpa, rotary
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # rows: W_q; W_k; W_v
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # W_o

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, ...]:
        D, w, b = self.d_model, self.in_proj.weight, self.in_proj.bias
        if key is query and value is query:  # self-attention: one product for q, k and v
            return self.in_proj(query).split(D, dim=-1)
        b_q, b_kv = (None, None) if b is None else (b[:D], b[D:])
        q = F.linear(query, w[:D], b_q)
        if value is key:  # cross-attention from one memory: one product for k and v
            k, v = F.linear(key, w[D:], b_kv).split(D, dim=-1)
        else:
            b_k, b_v = (None, None) if b is None else (b[D : 2 * D], b[2 * D :])
            k, v = F.linear(key, w[D : 2 * D], b_k), F.linear(value, w[2 * D :], b_v)
        return q, k, v

    def _check_inputs(self, query: Tensor, key: Tensor | None, value: Tensor | None,
                      mask: Tensor | None, key_mask: Tensor | None,
                      kv_cache: KVCache | None) -> None:
        """The arguments of ``forward``, after ``key`` and ``value`` default to ``query``."""
        if key is None or value is None:
            raise ValueError("key and value must be given together (or both omitted)")
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_tensor(name, t)
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(f"query must be (B, T, {self.d_model}), got {tuple(query.shape)}")
        if key.dim() != 3 or key.shape[-1] != self.d_model or value.shape[:2] != key.shape[:2]:
            raise ValueError(
                f"key and value must be (B, S, {self.d_model}) of the same B and S, got "
                f"{tuple(key.shape)} and {tuple(value.shape)}"
            )
        self_attention = key is query and value is query
        if kv_cache is not None and not self_attention:
            raise ValueError("kv_cache is only supported for self-attention")
        if self.rotary and not self_attention:
            raise ValueError("rotary positions are only supported for self-attention")
        if mask is not None:
            _check_bool("mask", mask, "True = may attend")
            if mask.dim() not in (2, 4):
                raise ValueError(
                    f"mask must be (T, S) or (B, 1 or H, T, S), got {mask.dim()} dims "
                    f"{tuple(mask.shape)}; add the head dimension to a (B, T, S) mask with "
                    "mask[:, None]"
                )
        if key_mask is not None:
            _check_bool("key_mask", key_mask, "True = real key")
            B, S = query.shape[0], (len(kv_cache) if kv_cache is not None else 0) + key.shape[1]
            if key_mask.shape != (B, S):
                raise ValueError(f"key_mask must be (B, S) = {(B, S)}, got "
                                 f"{tuple(key_mask.shape)}")

    def forward(
        self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None, *,
        mask: Tensor | None = None, key_mask: Tensor | None = None, is_causal: bool = False,
        kv_cache: KVCache | None = None, need_weights: bool | None = None,
        average_heads: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value`` (both default to ``query``).

        Args:
            query: (B, T, D).
            key, value: (B, S, D); omit both for self-attention.
            mask: boolean (T, S) or (B, 1 or H, T, S); True = may attend.
            key_mask: boolean (B, S), True at real (non-padding) keys; see ``padding_mask``.
            is_causal: add a causal mask; with a cache the T queries are the last T positions.
            kv_cache: keys and values of earlier positions (self-attention only); the new ones
                are appended to it.
            need_weights: return the attention weights. Default: yes, unless ``use_sdpa``.
                Asking for them makes the explicit formula run even when ``use_sdpa`` is set.
            average_heads: average the returned weights over heads.

        Returns:
            ``(out, weights)``: out (B, T, D); weights per head (B, H, T, S), or (B, T, S) when
            ``average_heads``, taken before dropout; ``None`` when not computed.
        """
        if key is None and value is None:
            key = value = query
        self._check_inputs(query, key, value, mask, key_mask, kv_cache)
        B, T, _ = query.shape
        H, Dh = self.n_heads, self.d_head
        past = len(kv_cache) if kv_cache is not None else 0
        S = past + key.shape[1]  # keys seen: cached ones, then the new ones

        q, k, v = self._project(query, key, value)  # (B, T, D), (B, S, D), (B, S, D)
        q = q.view(B, T, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, -1, H, Dh).transpose(1, 2)  # (B, H, S, Dh)
        v = v.view(B, -1, H, Dh).transpose(1, 2)  # (B, H, S, Dh)
        if self.rotary:
            positions = torch.arange(past, past + T, device=query.device)
            q, k = apply_rotary(q, positions), apply_rotary(k, positions)
        if kv_cache is not None:
            k, v = kv_cache.append(k, v)  # (B, H, past + T, Dh)

        want_weights = (not self.use_sdpa) if need_weights is None else need_weights
        fused = self.use_sdpa and not want_weights
        full_mask, causal_flag = _merge_masks(mask, key_mask, is_causal, fused, T, S, query.device)
        p = self.dropout if self.training else 0.0
        if fused:
            _check_mask(full_mask, torch.Size((B, H, T, S)))  # the explicit path checks inside
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=full_mask, dropout_p=p, is_causal=causal_flag
            )  # (B, H, T, Dh)
            weights = None
        else:
            out, weights = scaled_dot_product_attention(q, k, v, full_mask, p, self.training)
            if not want_weights:
                weights = None
            elif average_heads:
                weights = weights.mean(dim=1)  # (B, T, S)
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # (B, T, D): heads side by side
        return self.out_proj(out), weights

    @torch.no_grad()
    def copy_from_torch(self, other: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of an ``nn.MultiheadAttention`` of the same width into this module.

        Raises:
            ValueError: widths, head counts or bias settings differ, or ``other`` has separate
                key/value widths.
        """
        if other.embed_dim != self.d_model or other.num_heads != self.n_heads:
            raise ValueError(
                f"other has embed_dim={other.embed_dim}, num_heads={other.num_heads}; expected "
                f"{self.d_model}, {self.n_heads}"
            )
        if other.in_proj_weight is None:
            raise ValueError("other has separate kdim/vdim projections, which are not supported")
        if (other.in_proj_bias is None) != (self.in_proj.bias is None):
            raise ValueError("other and this module disagree on bias")
        self.in_proj.weight.copy_(other.in_proj_weight)
        self.out_proj.weight.copy_(other.out_proj.weight)
        if self.in_proj.bias is not None:
            self.in_proj.bias.copy_(other.in_proj_bias)
            self.out_proj.bias.copy_(other.out_proj.bias)
        return self


# ----------------------------------------------------------------------------------------------
# Positional encodings
# ----------------------------------------------------------------------------------------------


def _check_table_size(context_length: int, d_model: int, *, even: bool = False) -> None:
    """A positional table of ``context_length`` positions and width ``d_model`` (even for sines)."""
    check_positive_int("context_length", context_length)
    check_positive_int("d_model", d_model)
    if even and d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal positions, got {d_model}")


def _check_positions(T: int, offset: int, context_length: int) -> None:
    if offset < 0 or offset + T > context_length:
        raise ValueError(
            f"positions {offset}..{offset + T - 1} exceed context_length ({context_length}) of the "
            "positional encoding"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Adds PE(pos, 2i) = sin(pos / 10000^(2i/D)), PE(pos, 2i+1) = cos(pos / 10000^(2i/D)).

    The table is computed once in float64 and cast to the input's dtype in ``forward``.
    """

    def __init__(self, d_model: int, context_length: int = 512, base: float = 10000.0) -> None:
        super().__init__()
        _check_table_size(context_length, d_model, even=True)
        self.d_model, self.context_length = d_model, context_length
        pos = torch.arange(context_length, dtype=torch.float64)[:, None]  # (context_length, 1)
        two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (D/2,)
        angles = pos / base ** (two_i / d_model)  # (context_length, D/2)
        pe = torch.empty(context_length, d_model, dtype=torch.float64)
        pe[:, 0::2], pe[:, 1::2] = angles.sin(), angles.cos()
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x (B, T, D) -> x + PE[offset : offset + T]."""
        T = x.shape[-2]
        _check_positions(T, offset, self.context_length)
        return x + self.pe[offset : offset + T].to(x.dtype)  # (B, T, D)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position (as in GPT-2): x + E[pos]."""

    def __init__(self, d_model: int, context_length: int) -> None:
        super().__init__()
        _check_table_size(context_length, d_model)
        self.context_length = context_length
        self.embedding = nn.Embedding(context_length, d_model)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x (B, T, D) -> x + E[offset : offset + T]."""
        T = x.shape[-2]
        _check_positions(T, offset, self.context_length)
        positions = torch.arange(offset, offset + T, device=x.device)  # (T,)
        return x + self.embedding(positions)  # (B, T, D)
