"""Task heads on the BERT-style encoder: a tag for every token, and an answer span.

Chapter: Applications › Language understanding (named-entity recognition and question answering).
Paper: Devlin et al. (2019), "BERT", §4.2 (SQuAD: a start vector S and an end vector E score every
token; the span i..j with the largest S·h_i + E·h_j, j >= i, is the answer) and §4.3 (named-entity
recognition: a classifier on every token's vector).

Each head wraps an ``EncoderOnlyTransformer`` (freshly initialised or pre-trained as in Practice ›
Pre-training and fine-tuning) and adds one linear layer on its token vectors. Losses are
functions beside the heads. Shapes: B batch, T tokens, D = d_model, K tags.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons_pkg._checks import check_int, check_positive_int, check_same_shape, check_tensor
from lessons_pkg.data.masking import IGNORE_INDEX
from lessons_pkg.gpt import lm_loss
from lessons_pkg.transformer import EncoderOnlyTransformer

__all__ = ["SpanExtractor", "TokenClassifier", "best_spans", "span_loss", "tagging_loss"]


def _check_encoder(encoder: object) -> EncoderOnlyTransformer:
    if not isinstance(encoder, EncoderOnlyTransformer):
        raise TypeError(f"encoder must be an EncoderOnlyTransformer, got {type(encoder).__name__}")
    return encoder


class TokenClassifier(nn.Module):
    """Encoder -> dropout -> linear layer on every token: (B, T) ids -> (B, T, K) tag logits.

    Args:
        encoder: the encoder whose token vectors are tagged (its own heads are not used).
        n_tags: K, the number of tags (e.g. the 7 BIO tags of three entity types).
    """

    def __init__(self, encoder: EncoderOnlyTransformer, n_tags: int) -> None:
        super().__init__()
        self.encoder = _check_encoder(encoder)
        check_int("n_tags", n_tags, minimum=2)
        self.dropout = nn.Dropout(encoder.config.dropout)
        self.head = nn.Linear(encoder.config.d_model, n_tags)

    def forward(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> tag logits (B, T, K); padding positions get logits too (ignore them)."""
        h, _ = self.encoder.hidden(ids)  # (B, T, D)
        return self.head(self.dropout(h))  # (B, T, K)


class SpanExtractor(nn.Module):
    """Encoder -> two scores per token, for "the answer starts here" and "ends here".

    ``forward(ids)`` gives ``(start_logits, end_logits)``, each (B, T); padding positions get
    -inf, so a softmax over the positions never chooses them.

    Args:
        encoder: the encoder; its input is "question <sep> passage".
    """

    def __init__(self, encoder: EncoderOnlyTransformer) -> None:
        super().__init__()
        self.encoder = _check_encoder(encoder)
        self.dropout = nn.Dropout(encoder.config.dropout)
        self.head = nn.Linear(encoder.config.d_model, 2)  # the rows are BERT's S and E

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """ids (B, T) -> (start_logits (B, T), end_logits (B, T))."""
        h, real = self.encoder.hidden(ids)  # (B, T, D), (B, T)
        logits = self.head(self.dropout(h)).masked_fill(~real[..., None], float("-inf"))
        return logits[..., 0], logits[..., 1]  # (B, T) each


def tagging_loss(logits: Tensor, tags: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Mean cross-entropy of tag logits (B, T, K) against tags (B, T), skipping ``ignore_index``
    (padding): ``lessons_pkg.gpt.lm_loss`` with the tags as targets."""
    return lm_loss(logits, tags, ignore_index=ignore_index)


def span_loss(start_logits: Tensor, end_logits: Tensor, starts: Tensor, ends: Tensor) -> Tensor:
    """BERT's span loss: the mean of the cross-entropies of the true start and the true end,
    each a softmax over the T positions. Logits (B, T); starts, ends (B,) positions."""
    check_tensor("start_logits", start_logits, ndim=2, floating=True)
    check_same_shape("start_logits", start_logits, "end_logits", end_logits)
    check_tensor("starts", starts, ndim=1, floating=False)
    check_same_shape("starts", starts, "ends", ends)
    return (F.cross_entropy(start_logits, starts) + F.cross_entropy(end_logits, ends)) / 2


@torch.no_grad()
def best_spans(start_logits: Tensor, end_logits: Tensor, allowed: Tensor | None = None,
               max_length: int = 30) -> tuple[Tensor, Tensor]:
    """The best answer span per row: argmax over i <= j < i + max_length of s_i + e_j, with
    i and j both at ``allowed`` positions (the passage, not the question).

    Args:
        start_logits, end_logits: (B, T).
        allowed: (B, T) bool, True where an answer may start or end; default everywhere.
        max_length: the longest span, in tokens.

    Returns:
        ``(starts, ends)``, each (B,) int64, ends inclusive.
    """
    check_tensor("start_logits", start_logits, ndim=2, floating=True)
    check_same_shape("start_logits", start_logits, "end_logits", end_logits)
    check_positive_int("max_length", max_length)
    B, T = start_logits.shape
    if allowed is None:
        allowed = torch.ones_like(start_logits, dtype=torch.bool)
    check_same_shape("start_logits", start_logits, "allowed", allowed)
    scores = start_logits[:, :, None] + end_logits[:, None, :]  # (B, T, T): [b, i, j] = s_i + e_j
    i = torch.arange(T, device=scores.device)
    band = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_length)  # (T, T) j >= i
    ok = band & allowed[:, :, None] & allowed[:, None, :]  # (B, T, T)
    best = scores.masked_fill(~ok, float("-inf")).flatten(1).argmax(dim=1)  # (B,)
    return best // T, best % T
