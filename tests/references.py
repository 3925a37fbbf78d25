"""Models assembled from ``torch.nn`` layers, the references that the course's own
implementations are tested (and benchmarked) against. Not part of the package: the tests import
this module directly, ``benchmarks/`` adds ``tests/`` to ``sys.path``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lessons_pkg.gpt import GPT, GPTConfig

__all__ = ["ReferenceGPT"]


class ReferenceGPT(nn.Module):
    """The same architecture assembled from ``torch.nn`` layers (``nn.TransformerEncoderLayer``
    with ``norm_first=True``, GELU and a causal mask): the reference for tests and the
    benchmark. ``copy_from(gpt)`` makes it compute the same function as a ``GPT``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        c = self.config = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.context_length, c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                c.d_model, c.n_heads, c.d_ff, c.dropout, activation="gelu",
                layer_norm_eps=c.layer_norm_eps, batch_first=True, norm_first=True, bias=c.bias,
            )
            for _ in range(c.n_layers)
        )
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps, bias=c.bias)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx: Tensor) -> Tensor:
        """Token ids (B, T) -> logits (B, T, V)."""
        T = idx.shape[1]
        x = self.dropout(self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device)))
        # nn layers take True = *not* allowed: the upper triangle above the diagonal.
        blocked = torch.ones(T, T, dtype=torch.bool, device=idx.device).triu(1)
        for layer in self.layers:
            x = layer(x, src_mask=blocked, is_causal=True)  # (B, T, D)
        return self.lm_head(self.ln_f(x))  # (B, T, V)

    @torch.no_grad()
    def copy_from(self, gpt: GPT) -> ReferenceGPT:
        """Copy every weight of ``gpt`` (same config) into this model."""
        if gpt.config != self.config:
            raise ValueError(f"configs differ: {gpt.config} vs {self.config}")
        self.tok_emb.load_state_dict(gpt.tok_emb.state_dict())
        self.pos_emb.load_state_dict(gpt.pos_emb.embedding.state_dict())
        for layer, block in zip(self.layers, gpt.blocks, strict=True):
            layer.self_attn.in_proj_weight.copy_(block.attn.in_proj.weight)
            layer.self_attn.out_proj.weight.copy_(block.attn.out_proj.weight)
            if self.config.bias:
                layer.self_attn.in_proj_bias.copy_(block.attn.in_proj.bias)
                layer.self_attn.out_proj.bias.copy_(block.attn.out_proj.bias)
            layer.norm1.load_state_dict(block.ln1.state_dict())
            layer.norm2.load_state_dict(block.ln2.state_dict())
            layer.linear1.load_state_dict(block.fc.state_dict())
            layer.linear2.load_state_dict(block.proj.state_dict())
        self.ln_f.load_state_dict(gpt.ln_f.state_dict())
        if not self.config.tie_weights:
            self.lm_head.load_state_dict(gpt.lm_head.state_dict())
        return self
