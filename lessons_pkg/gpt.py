"""A decoder-only Transformer language model (GPT) with weight tying and a KV cache.

Chapter: Algorithms › The Transformer (the KV cache) and Practice › Language model. Papers:
Radford et al. (2018, 2019), GPT and GPT-2 (decoder-only, pre-LN blocks, learned positions);
Press & Wolf (2017), "Using the Output Embedding to Improve Language Models" (weight tying);
Chen et al. (2016), "Training Deep Nets with Sublinear Memory Cost" (activation checkpointing).

The model factorises p(w_1 … w_T) = ∏_t p(w_t | w_<t): a causal mask lets position t see only
positions ≤ t, so one forward pass trains all T next-token predictions in parallel.

Shapes: B batch, T sequence length, C context length, D = d_model, V vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from lessons_pkg._checks import check_tensor, check_token_ids
from lessons_pkg.attention import (
    KVCache,
    LearnedPositionalEncoding,
    MultiHeadAttention,
    scaled_dot_product_attention,
)
from lessons_pkg.decoding import sample

__all__ = [
    "GPT",
    "Block",
    "GPTConfig",
    "gpt_param_count",
    "lm_batch_loss",
    "lm_loss",
]


@dataclass(frozen=True)
class GPTConfig:
    """Settings of ``GPT``. Defaults train a character model on a laptop CPU.

    Attributes:
        vocab_size: V.
        context_length: C, the longest sequence the model reads.
        d_model: width D, divisible by ``n_heads``.
        n_heads: attention heads.
        n_layers: Transformer blocks.
        d_ff: hidden width of each block's MLP; None means 4 · d_model.
        dropout: dropout on embeddings, attention weights and residual branches.
        bias: biases in Linear layers and LayerNorms.
        tie_weights: share the token embedding with the output projection.
        use_sdpa: compute attention with ``F.scaled_dot_product_attention`` (fused, faster);
            False runs the explicit formula of ``lessons_pkg.attention``.
        layer_norm_eps: epsilon of every LayerNorm.
    """

    vocab_size: int
    context_length: int = 128
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    use_sdpa: bool = True
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        for name in ("vocab_size", "context_length", "d_model", "n_heads", "n_layers", "d_ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps}")


class Block(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x)); the sublayers run in sequence."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        c = config
        self.ln1 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias)
        self.attn = MultiHeadAttention(
            c.d_model, c.n_heads, c.dropout, bias=c.bias, use_sdpa=c.use_sdpa
        )
        self.ln2 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias)
        self.fc = nn.Linear(c.d_model, c.d_ff, bias=c.bias)
        self.proj = nn.Linear(c.d_ff, c.d_model, bias=c.bias)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        """x (B, T, D) -> (B, T, D)."""
        attended, _ = self.attn(self.ln1(x), is_causal=True, kv_cache=kv_cache,
                                need_weights=False)
        x = x + self.dropout(attended)
        hidden = self.dropout(F.gelu(self.fc(self.ln2(x))))  # (B, T, d_ff)
        return x + self.dropout(self.proj(hidden))  # (B, T, D)

    def step(self, x: Tensor, kv_cache: KVCache) -> Tensor:
        """``forward`` in eval mode for one new position x (B, 1, D) after the cached ones: the
        same operations in the same order, without dropout and without the checks and mask
        logic of ``MultiHeadAttention.forward``, which generation would pay at every token."""
        x = x + _cached_attention(self.attn, self.ln1(x), kv_cache)
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))  # (B, 1, D)


def _cached_attention(attn: MultiHeadAttention, h: Tensor, kv_cache: KVCache) -> Tensor:
    """``attn(h, kv_cache=kv_cache)`` for a single new query h (B, 1, D), in eval mode. The
    last position may see every key, so there is no mask."""
    B, H, Dh = h.shape[0], attn.n_heads, attn.d_head
    q, k, v = (t.view(B, 1, H, Dh).transpose(1, 2)  # (B, H, 1, Dh) each
               for t in attn.in_proj(h).split(attn.d_model, dim=-1))
    k, v = kv_cache.append(k, v)  # (B, H, past + 1, Dh): written in place into the storage
    if attn.use_sdpa:
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, 1, Dh)
    else:
        out, _ = scaled_dot_product_attention(q, k, v)
    return attn.out_proj(out.transpose(1, 2).reshape(B, 1, attn.d_model))  # (B, 1, D)


class GPT(nn.Module):
    """Token + learned position embeddings, ``n_layers`` pre-LN blocks, final LayerNorm, and a
    linear head to next-token logits (tied to the token embedding by default).

    Args:
        config: the architecture.
        activation_checkpointing: in training, keep only each block's input for ``backward``
            and run the block's forward again there (``torch.utils.checkpoint``): the same
            gradients, with dropout's random draws replayed, for one more forward pass and the
            memory of one block's activations instead of all of them. Not part of the config:
            it changes how the model is computed, not what it computes. An attribute, so it
            can be switched on an existing model.
    """

    def __init__(self, config: GPTConfig, *, activation_checkpointing: bool = False) -> None:
        super().__init__()
        if not isinstance(activation_checkpointing, bool):
            raise TypeError("activation_checkpointing must be a bool, got "
                            f"{type(activation_checkpointing).__name__}")
        self.activation_checkpointing = activation_checkpointing
        c = self.config = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = LearnedPositionalEncoding(c.d_model, c.context_length)
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.tok_emb.weight  # one tensor, two uses
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2: N(0, 0.02) everywhere; the projections that write into the residual stream are
        # scaled by 1/√(2·n_layers) so the stream's variance does not grow with depth.
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for proj in (block.attn.out_proj, block.proj):
                nn.init.normal_(proj.weight, std=0.02 / (2 * self.config.n_layers) ** 0.5)

    def new_kv_cache(self) -> list[KVCache]:
        """One empty cache per block, each holding up to ``context_length`` positions."""
        return [KVCache(self.config.context_length) for _ in self.blocks]

    def forward(self, idx: Tensor, kv_cache: list[KVCache] | None = None) -> Tensor:
        """Token ids (B, T) -> next-token logits (B, T, V).

        With ``kv_cache`` (from ``new_kv_cache``) the ids continue the cached positions: their
        keys and values are appended and earlier ones are reused.

        Raises:
            TypeError: ``idx`` is not an int64/int32 tensor, or ``kv_cache`` not KVCaches.
            ValueError: ``idx`` is not (B, T) with T >= 1, holds ids outside the vocabulary,
                the sequence (cached positions included) is longer than ``context_length``,
                or ``kv_cache`` has not one cache per block.
        """
        start = self._check_input(idx, kv_cache)  # the number of cached positions
        x = self.dropout(self.pos_emb(self.tok_emb(idx), offset=start))  # (B, T, D)
        recompute = self.activation_checkpointing and self.training and torch.is_grad_enabled()
        for i, block in enumerate(self.blocks):
            if recompute and kv_cache is None:
                x = checkpoint(block, x, use_reentrant=False)  # (B, T, D), recomputed in backward
            else:
                x = block(x, None if kv_cache is None else kv_cache[i])  # (B, T, D)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    def _check_input(self, idx: Tensor, kv_cache: list[KVCache] | None) -> int:
        """The checks of ``forward``; returns the number of cached positions."""
        check_tensor("idx", idx, ndim=2, floating=False)
        if idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"idx must hold int64 or int32 token ids, got dtype {idx.dtype}")
        if idx.shape[1] < 1:
            raise ValueError(f"idx must be (B, T) with T >= 1, got shape {tuple(idx.shape)}")
        check_token_ids("idx", idx, self.config.vocab_size)
        start = 0
        if kv_cache is not None:
            if not isinstance(kv_cache, list | tuple) or not all(
                isinstance(c, KVCache) for c in kv_cache
            ):
                raise TypeError("kv_cache must be a list of KVCache (see new_kv_cache), got "
                                f"{type(kv_cache).__name__}")
            if len(kv_cache) != len(self.blocks):
                raise ValueError(f"kv_cache must hold one KVCache per block ({len(self.blocks)}), "
                                 f"got {len(kv_cache)}")
            start = len(kv_cache[0])
        C = self.config.context_length
        if start + idx.shape[1] > C:
            where = f" after {start} cached positions" if start else ""
            raise ValueError(
                f"sequence length {start + idx.shape[1]} ({idx.shape[1]} new{where}) exceeds "
                f"context_length ({C}); crop the input to its last {C} tokens"
            )
        return start

    def _step(self, token: Tensor, kv_cache: list[KVCache]) -> Tensor:
        """``forward(token, kv_cache)[:, -1]`` in eval mode for one new position (B, 1) of
        valid ids, without the checks: the per-token step of cached generation. -> (B, V)."""
        x = self.pos_emb(self.tok_emb(token), offset=len(kv_cache[0]))  # (B, 1, D)
        for block, cache in zip(self.blocks, kv_cache, strict=True):
            x = block.step(x, cache)  # (B, 1, D)
        return self.lm_head(self.ln_f(x))[:, -1]  # (B, V)

    def logits_fn(self) -> Callable[[Tensor], Tensor]:
        """A next-token function for ``lessons_pkg.decoding``: prefix (N, L) -> logits (N, V),
        reading at most the last ``context_length`` tokens (no cache)."""
        C = self.config.context_length
        return lambda prefix: self(prefix[:, -C:])[:, -1]

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Continue ``idx`` (B, T) by ``max_new_tokens`` tokens -> (B, T + n).

        The tokens are drawn by ``lessons_pkg.decoding.sample`` (temperature 0 = greedy). The
        model reads at most the last ``context_length`` tokens. With ``use_cache`` the keys and
        values of earlier positions are reused, so each step processes one token; once the
        sequence is longer than ``context_length`` the window slides, every position shifts,
        and the cache is rebuilt from the window at each step. Either way the tokens equal those
        of ``use_cache=False`` for the same ``generator`` state. Runs in eval mode (dropout off)
        and restores the previous mode.
        """
        self._check_prompt(idx, use_cache)
        C = self.config.context_length
        cache: list[KVCache] = []

        def cached(tokens: Tensor) -> Tensor:  # (B, L) -> logits (B, V) of the next token
            nonlocal cache
            if not cache or tokens.shape[1] > C:  # first step, or the window slid: (re)fill
                cache = self.new_kv_cache()
                return self(tokens[:, -C:], kv_cache=cache)[:, -1]
            return self._step(tokens[:, -1:], cache)  # one new position

        was_training = self.training
        self.eval()
        try:
            return sample(cached if use_cache else self.logits_fn(), idx, max_new_tokens,
                          temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        finally:
            self.train(was_training)

    def _check_prompt(self, idx: Tensor, use_cache: bool) -> None:
        """The checks of ``generate`` (the sampling settings are checked by ``sample``)."""
        C = self.config.context_length
        if isinstance(idx, Tensor) and idx.dim() == 2 and idx.shape[1] > C:
            raise ValueError(f"prompt length {idx.shape[1]} exceeds context_length ({C}); crop "
                             f"it to the last {C} tokens")
        self._check_input(idx, None)  # a tensor of ids (B, T), T >= 1
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be a bool, got {type(use_cache).__name__}")


def gpt_param_count(config: GPTConfig) -> int:
    """Number of parameters of ``GPT(config)``, from the formula.

    Embeddings V·D + C·D; per block 2 LayerNorms, attention 4·D² (+ 4·D biases) and MLP
    2·D·d_ff (+ d_ff + D biases); final LayerNorm; the head adds V·D unless tied.
    """
    V, C, D, F_ = config.vocab_size, config.context_length, config.d_model, config.d_ff
    b = 1 if config.bias else 0
    norm = D + b * D
    block = 2 * norm + (4 * D * D + b * 4 * D) + (2 * D * F_ + b * (F_ + D))
    head = 0 if config.tie_weights else V * D
    return V * D + C * D + config.n_layers * block + norm + head


def lm_loss(logits: Tensor, targets: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean next-token cross-entropy of logits (B, T, V) against targets (B, T); targets equal
    to ``ignore_index`` (e.g. padding) are skipped. ``seq2seq_loss`` calls it too.

    This is torch's fused ``F.cross_entropy``; ``lessons_pkg.losses.cross_entropy`` computes the
    same formula step by step and agrees up to rounding."""
    _check_lm_batch(logits, targets, ignore_index)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index)


def _check_lm_batch(logits: Tensor, targets: Tensor, ignore_index: int) -> None:
    check_tensor("logits", logits, ndim=3, floating=True)
    check_tensor("targets", targets, floating=False)
    if targets.shape != logits.shape[:2]:
        raise ValueError(f"logits must be (B, T, V) and targets (B, T); got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    V = logits.shape[-1]
    bad = (targets != ignore_index) & ((targets < 0) | (targets >= V))
    if bool(bad.any()):
        raise ValueError(f"targets must be token ids in [0, {V}) or ignore_index "
                         f"({ignore_index}), got {int(targets[bad][0])}")


def lm_batch_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    """``loss_fn`` for ``lessons_pkg.training.fit``: batch = (inputs (B, T), targets (B, T))."""
    inputs, targets = batch
    return lm_loss(model(inputs), targets)
