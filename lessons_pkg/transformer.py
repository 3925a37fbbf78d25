"""The encoder–decoder Transformer, batch-first, built on ``lessons_pkg.attention``.

Chapters: Algorithms › The Transformer, Practice › Sequence to sequence, and Practice ›
Pre-training and fine-tuning (the encoder-only ``EncoderOnlyTransformer``). Paper: Vaswani et
al. (2017), "Attention Is All You Need", §3.1 (encoder and decoder stacks), §3.3 (position-wise
feed-forward network), §3.4 (embeddings scaled by √d_model), §3.5 (positional encoding).

Each sublayer (self-attention, cross-attention, feed-forward) is applied *in sequence*, each
wrapped in a residual connection and a layer normalisation:
  post-LN (the paper):   x = LayerNorm(x + Sublayer(x))
  pre-LN  (GPT-2 style): x = x + Sublayer(LayerNorm(x))
Like ``nn.Transformer``, each stack ends with a final LayerNorm (required for pre-LN; for post-LN
it follows the last layer's own normalisation), so weights copy one-to-one from
``nn.Transformer`` (``Seq2SeqTransformer.copy_from_torch``).

Shapes: B batch, S source length, T target length, D = d_model, H heads, V vocabulary size.
Masks: True = may attend; key masks are (B, length) and True at real (non-padding) tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons_pkg._checks import (
    check_choice,
    check_int,
    check_number,
    check_positive_int,
    check_token_batch,
)
from lessons_pkg.attention import (
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
)
from lessons_pkg.gpt import lm_loss

__all__ = [
    "Decoder",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "EncoderOnlyTransformer",
    "PositionwiseFFN",
    "Seq2SeqTransformer",
    "TransformerConfig",
    "seq2seq_loss",
    "seq2seq_param_count",
]

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


@dataclass(frozen=True)
class TransformerConfig:
    """Settings of ``Seq2SeqTransformer``. Defaults train on a laptop CPU in minutes.

    Attributes:
        src_vocab_size, tgt_vocab_size: vocabulary sizes of source and target.
        d_model: model width D (even, divisible by ``n_heads``).
        n_heads: attention heads H.
        n_encoder_layers, n_decoder_layers: depth of each stack.
        d_ff: hidden width of the position-wise feed-forward network.
        dropout: dropout after embeddings, on attention weights, inside the FFN and on each
            sublayer's output.
        norm_first: pre-LN (True) or post-LN as in the paper (False).
        context_length: longest source or target sequence (size of the positional table).
        pad_id: padding token id in both vocabularies (masked out of attention and ignored by
            ``seq2seq_loss``), or None when sequences are never padded.
        activation: "relu" (the paper) or "gelu".
        layer_norm_eps: epsilon of every LayerNorm.
        tie_embeddings: share the target embedding with the output projection.
        use_sdpa: use ``F.scaled_dot_product_attention`` in attention (fast path; attention maps
            are still available from ``attention_maps``).
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 128
    n_heads: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    d_ff: int = 512
    dropout: float = 0.1
    norm_first: bool = False
    context_length: int = 256
    pad_id: int | None = 0
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    tie_embeddings: bool = False
    use_sdpa: bool = False

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_encoder_layers",
                     "n_decoder_layers", "d_ff", "context_length"):
            check_positive_int(name, getattr(self, name))
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.d_model % 2:
            raise ValueError(f"d_model must be even for sinusoidal positions, got {self.d_model}")
        check_number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        if self.pad_id is not None:
            check_int("pad_id", self.pad_id)
            if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
                raise ValueError(
                    f"pad_id ({self.pad_id}) must be a valid id in both vocabularies "
                    f"(sizes {self.src_vocab_size}, {self.tgt_vocab_size}) or None"
                )
        check_choice("activation", self.activation, _ACTIVATIONS)
        check_number("layer_norm_eps", self.layer_norm_eps, low=0.0, low_open=True)


class PositionwiseFFN(nn.Module):
    """FFN(x) = W_2 act(W_1 x + b_1) + b_2, applied to every position alone (§3.3)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        check_choice("activation", activation, _ACTIVATIONS)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, T, D)


class EncoderLayer(nn.Module):
    """Self-attention, then FFN; each in a residual connection with LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = config
        self.norm_first = c.norm_first
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads, c.dropout, use_sdpa=c.use_sdpa)
        self.ffn = PositionwiseFFN(c.d_model, c.d_ff, c.dropout, c.activation)
        self.norm1 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.norm2 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.dropout1 = nn.Dropout(c.dropout)
        self.dropout2 = nn.Dropout(c.dropout)

    def forward(
        self, x: Tensor, key_mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """x (B, S, D), key_mask (B, S) -> (x (B, S, D), self-attention weights or None)."""

        def attend(h: Tensor) -> tuple[Tensor, Tensor | None]:
            out, w = self.self_attn(h, key_mask=key_mask, need_weights=need_weights or None)
            return self.dropout1(out), w

        if self.norm_first:
            out, weights = attend(self.norm1(x))
            x = x + out
            x = x + self.dropout2(self.ffn(self.norm2(x)))
        else:
            out, weights = attend(x)
            x = self.norm1(x + out)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention, then cross-attention to the encoder output, then FFN."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = config
        self.norm_first = c.norm_first
        self.self_attn = MultiHeadAttention(c.d_model, c.n_heads, c.dropout, use_sdpa=c.use_sdpa)
        self.cross_attn = MultiHeadAttention(c.d_model, c.n_heads, c.dropout, use_sdpa=c.use_sdpa)
        self.ffn = PositionwiseFFN(c.d_model, c.d_ff, c.dropout, c.activation)
        self.norm1 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.norm2 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.norm3 = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.dropout1 = nn.Dropout(c.dropout)
        self.dropout2 = nn.Dropout(c.dropout)
        self.dropout3 = nn.Dropout(c.dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        tgt_key_mask: Tensor | None = None,
        memory_key_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """x (B, T, D), memory (B, S, D) -> (x (B, T, D), self weights, cross weights)."""
        nw = need_weights or None

        def self_block(h: Tensor) -> tuple[Tensor, Tensor | None]:
            out, w = self.self_attn(h, key_mask=tgt_key_mask, is_causal=True, need_weights=nw)
            return self.dropout1(out), w

        def cross_block(h: Tensor) -> tuple[Tensor, Tensor | None]:
            out, w = self.cross_attn(h, memory, memory, key_mask=memory_key_mask, need_weights=nw)
            return self.dropout2(out), w

        if self.norm_first:
            out, w_self = self_block(self.norm1(x))
            x = x + out
            out, w_cross = cross_block(self.norm2(x))
            x = x + out
            x = x + self.dropout3(self.ffn(self.norm3(x)))
        else:
            out, w_self = self_block(x)
            x = self.norm1(x + out)
            out, w_cross = cross_block(x)
            x = self.norm2(x + out)
            x = self.norm3(x + self.dropout3(self.ffn(x)))
        return x, w_self, w_cross


class Encoder(nn.Module):
    """A stack of ``EncoderLayer`` followed by a final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_encoder_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)

    def forward(
        self, x: Tensor, key_mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """x (B, S, D) -> (memory (B, S, D), per-layer self-attention weights (B, H, S, S)
        when ``need_weights``, else an empty list)."""
        weights = []
        for layer in self.layers:
            x, w = layer(x, key_mask, need_weights)
            if need_weights:
                weights.append(w)
        return self.norm(x), weights


@torch.no_grad()
def _copy_encoder_from_torch(encoder: Encoder, other: nn.TransformerEncoder) -> None:
    """Copy an ``nn.TransformerEncoder`` (with its final ``norm``) into ``encoder``."""
    if other.norm is None:
        raise ValueError("other must have a final norm (nn.TransformerEncoder(..., norm=...))")
    if len(other.layers) != len(encoder.layers):
        raise ValueError(
            f"other has {len(other.layers)} encoder layers; expected {len(encoder.layers)}"
        )
    for mine, theirs in zip(encoder.layers, other.layers, strict=True):
        _copy_layer_from_torch(mine, theirs, ("norm1", "norm2"))
    encoder.norm.load_state_dict(other.norm.state_dict())


def _copy_layer_from_torch(mine: nn.Module, theirs: nn.Module, norms: tuple[str, ...]) -> None:
    """Copy self-attention, feed-forward and the named LayerNorms of one torch layer."""
    mine.self_attn.copy_from_torch(theirs.self_attn)
    for name in norms:
        getattr(mine, name).load_state_dict(getattr(theirs, name).state_dict())
    mine.ffn.linear1.load_state_dict(theirs.linear1.state_dict())
    mine.ffn.linear2.load_state_dict(theirs.linear2.state_dict())


class Decoder(nn.Module):
    """A stack of ``DecoderLayer`` followed by a final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_decoder_layers))
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        tgt_key_mask: Tensor | None = None,
        memory_key_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """x (B, T, D), memory (B, S, D) -> (hidden (B, T, D), self weights (B, H, T, T) per
        layer, cross weights (B, H, T, S) per layer); the lists are empty unless
        ``need_weights``."""
        w_self, w_cross = [], []
        for layer in self.layers:
            x, ws, wc = layer(x, memory, tgt_key_mask, memory_key_mask, need_weights)
            if need_weights:
                w_self.append(ws)
                w_cross.append(wc)
        return self.norm(x), w_self, w_cross


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder Transformer: token ids in, next-token logits out (batch-first).

    ``forward(src, tgt_in)`` is teacher forcing: ``tgt_in`` is the target shifted right (it
    starts with a begin token) and the logits at position t predict target token t. Padding
    masks are derived from ``config.pad_id`` unless given explicitly.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = self.config = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.d_model)
        self.positions = SinusoidalPositionalEncoding(c.d_model, c.context_length)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.generator = nn.Linear(c.d_model, c.tgt_vocab_size)
        if c.tie_embeddings:
            self.generator.weight = self.tgt_embed.weight
        self._init_weights()

    def _init_weights(self) -> None:
        # Xavier-uniform for matrices as in nn.Transformer; embeddings N(0, 1/D) so that after
        # the √D scale they have unit variance like the positional table.
        for name, p in self.named_parameters():
            if p.dim() > 1 and "embed" not in name:
                nn.init.xavier_uniform_(p)
        for emb in (self.src_embed, self.tgt_embed):
            nn.init.normal_(emb.weight, std=self.config.d_model**-0.5)

    def _key_mask(self, tokens: Tensor, given: Tensor | None) -> Tensor | None:
        if given is not None or self.config.pad_id is None:
            return given
        return tokens != self.config.pad_id  # (B, length): True at real tokens

    def _embed(self, embedding: nn.Embedding, tokens: Tensor, name: str) -> Tensor:
        check_token_batch(name, tokens, embedding.num_embeddings,
                          context_length=self.config.context_length)
        x = embedding(tokens) * math.sqrt(self.config.d_model)  # (B, L, D)
        return self.dropout(self.positions(x))  # (B, L, D)

    def embed_src(self, src: Tensor) -> Tensor:
        """Source ids (B, S) -> scaled embeddings plus positions (B, S, D)."""
        return self._embed(self.src_embed, src, "src")

    def embed_tgt(self, tgt_in: Tensor) -> Tensor:
        """Target ids (B, T) -> scaled embeddings plus positions (B, T, D)."""
        return self._embed(self.tgt_embed, tgt_in, "tgt_in")

    def encode(self, src: Tensor, src_key_mask: Tensor | None = None) -> Tensor:
        """src (B, S) -> memory (B, S, D)."""
        memory, _ = self.encoder(self.embed_src(src), self._key_mask(src, src_key_mask))
        return memory

    def decode(
        self,
        tgt_in: Tensor,
        memory: Tensor,
        src_key_mask: Tensor | None = None,
        tgt_key_mask: Tensor | None = None,
    ) -> Tensor:
        """tgt_in (B, T) and memory (B, S, D) -> logits (B, T, V_tgt).

        ``src_key_mask`` (B, S) marks real source tokens; without it and with ``pad_id`` set,
        pass it explicitly (the memory no longer holds the token ids).
        """
        hidden, _, _ = self.decoder(
            self.embed_tgt(tgt_in), memory, self._key_mask(tgt_in, tgt_key_mask), src_key_mask
        )
        return self.generator(hidden)  # (B, T, V)

    def forward(
        self,
        src: Tensor,
        tgt_in: Tensor,
        src_key_mask: Tensor | None = None,
        tgt_key_mask: Tensor | None = None,
    ) -> Tensor:
        """src (B, S), tgt_in (B, T) -> logits (B, T, V_tgt)."""
        src_key_mask = self._key_mask(src, src_key_mask)
        memory = self.encode(src, src_key_mask)
        return self.decode(tgt_in, memory, src_key_mask, tgt_key_mask)

    @torch.no_grad()
    def attention_maps(self, src: Tensor, tgt_in: Tensor) -> dict[str, list[Tensor]]:
        """Per-layer attention weights for heat maps: ``"encoder"`` (B, H, S, S),
        ``"decoder_self"`` (B, H, T, T) and ``"cross"`` (B, H, T, S)."""
        src_mask = self._key_mask(src, None)
        memory, w_enc = self.encoder(self.embed_src(src), src_mask, need_weights=True)
        _, w_self, w_cross = self.decoder(
            self.embed_tgt(tgt_in), memory, self._key_mask(tgt_in, None), src_mask,
            need_weights=True,
        )
        return {"encoder": w_enc, "decoder_self": w_self, "cross": w_cross}

    def logits_fn(self, src: Tensor) -> Callable[[Tensor], Tensor]:
        """A next-token function for ``lessons_pkg.decoding``: encodes ``src`` (B, S) once and
        maps a target prefix (B or B·beams, L) to logits (B or B·beams, V) for position L.

        A source with B = 1 is repeated to the prefix batch (beam search)."""
        src_key_mask = self._key_mask(src, None)
        memory = self.encode(src, src_key_mask)

        def step(prefix: Tensor) -> Tensor:
            n = prefix.shape[0]
            mem, mask = memory, src_key_mask
            if n != mem.shape[0]:
                if mem.shape[0] != 1:
                    raise ValueError(
                        f"prefix batch ({n}) must equal the source batch ({mem.shape[0]}) "
                        "unless the source batch is 1"
                    )
                mem = mem.expand(n, -1, -1)
                mask = None if mask is None else mask.expand(n, -1)
            return self.decode(prefix, mem, mask)[:, -1]  # (n, V)

        return step

    @torch.no_grad()
    def copy_from_torch(self, other: nn.Transformer) -> Seq2SeqTransformer:
        """Copy the encoder and decoder stacks of an ``nn.Transformer`` built with the same
        settings (embeddings and the output projection are not part of ``nn.Transformer``)."""
        enc, dec = other.encoder, other.decoder
        if len(enc.layers) != len(self.encoder.layers) or len(dec.layers) != len(
            self.decoder.layers
        ):
            raise ValueError(
                f"other has {len(enc.layers)} encoder and {len(dec.layers)} decoder layers; "
                f"expected {len(self.encoder.layers)} and {len(self.decoder.layers)}"
            )

        _copy_encoder_from_torch(self.encoder, enc)
        for mine, theirs in zip(self.decoder.layers, dec.layers, strict=True):
            _copy_layer_from_torch(mine, theirs, ("norm1", "norm2", "norm3"))
            mine.cross_attn.copy_from_torch(theirs.multihead_attn)
        self.decoder.norm.load_state_dict(dec.norm.state_dict())
        return self


class EncoderOnlyTransformer(nn.Module):
    """A BERT-style encoder: token embeddings + learned positions -> ``Encoder`` -> two heads.

    ``forward(ids)`` gives masked-language-model logits (B, T, V) at every position (train it
    with ``lessons_pkg.data.masking.mask_tokens``); ``classify(ids)`` gives class logits
    (B, n_classes) from the mean of the vectors of the real (non-padding) tokens. BERT (Devlin et
    al., 2019, §3) classifies from a special first token trained by a second pre-training task;
    without that task, mean pooling is the simpler choice. Only the encoder fields of ``config``
    are used (``src_vocab_size``, ``d_model``, ``n_heads``, ``n_encoder_layers``, ``d_ff``,
    ``dropout``, ``norm_first``, ``context_length``, ``pad_id``, ``activation``, ``layer_norm_eps``,
    ``use_sdpa``). Weights keep PyTorch's default initialisation; embeddings are not scaled by
    √D, as in BERT.
    """

    def __init__(self, config: TransformerConfig, n_classes: int = 2) -> None:
        super().__init__()
        check_int("n_classes", n_classes, minimum=2)
        c = self.config = config
        self.embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.positions = LearnedPositionalEncoding(c.d_model, c.context_length)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = Encoder(c)
        self.mlm_head = nn.Linear(c.d_model, c.src_vocab_size)
        self.cls_head = nn.Linear(c.d_model, n_classes)

    def hidden(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """ids (B, T) -> (vectors (B, T, D), mask of real tokens (B, T))."""
        check_token_batch("ids", ids, self.config.src_vocab_size,
                          context_length=self.config.context_length)
        pad_id = self.config.pad_id
        real = torch.ones_like(ids, dtype=torch.bool) if pad_id is None else ids != pad_id
        x = self.dropout(self.positions(self.embed(ids)))  # (B, T, D)
        h, _ = self.encoder(x, key_mask=real)
        return h, real

    def forward(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> masked-language-model logits (B, T, V)."""
        return self.mlm_head(self.hidden(ids)[0])

    def classify(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> class logits (B, n_classes), from the mean over the real tokens."""
        h, real = self.hidden(ids)
        pooled = (h * real[..., None]).sum(dim=1) / real.sum(dim=1, keepdim=True)  # (B, D)
        return self.cls_head(pooled)

    @torch.no_grad()
    def copy_from_torch(self, other: nn.TransformerEncoder) -> EncoderOnlyTransformer:
        """Copy the stack of an ``nn.TransformerEncoder`` with the same settings and a final
        ``norm`` (embeddings and heads are not part of it)."""
        _copy_encoder_from_torch(self.encoder, other)
        return self


def seq2seq_param_count(config: TransformerConfig) -> int:
    """Number of parameters of ``Seq2SeqTransformer(config)``, from the formula.

    Per attention block 4(D² + D) (W_q, W_k, W_v, W_o and biases); per FFN 2·D·d_ff + d_ff + D;
    per LayerNorm 2D. An encoder layer has 1 attention, 1 FFN, 2 norms; a decoder layer 2, 1, 3;
    each stack adds a final norm.
    """
    D, F_ = config.d_model, config.d_ff
    attn, ffn, norm = 4 * (D * D + D), 2 * D * F_ + F_ + D, 2 * D
    encoder = config.n_encoder_layers * (attn + ffn + 2 * norm) + norm
    decoder = config.n_decoder_layers * (2 * attn + ffn + 3 * norm) + norm
    embeddings = (config.src_vocab_size + config.tgt_vocab_size) * D
    generator = config.tgt_vocab_size * (1 if config.tie_embeddings else D + 1)
    return embeddings + encoder + decoder + generator


def seq2seq_loss(logits: Tensor, targets: Tensor, pad_id: int | None = None) -> Tensor:
    """Mean cross-entropy of logits (B, T, V) against targets (B, T), skipping ``pad_id``:
    ``lessons_pkg.gpt.lm_loss`` with the padding id as its ``ignore_index``."""
    return lm_loss(logits, targets, ignore_index=-100 if pad_id is None else pad_id)
