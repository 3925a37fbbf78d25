"""The practice pages' recurrent text models: an LSTM text classifier and a character-level LSTM
language model, both built on ``lessons_pkg.lstm.LSTM``.

Chapter: Practice › Text classifier (``LSTMClassifier``), Practice › Language model
(``LSTMLanguageModel``).
Shapes: B batch, T time steps, E embedding width, H hidden size, L layers, V vocabulary size.

Losses stay outside the models: train them with ``torch.nn.functional.cross_entropy`` (or the
course's own cross-entropy) on the logits they return.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lessons_pkg import decoding
from lessons_pkg._checks import (
    check_int,
    check_positive_int,
    check_tensor,
    check_token_batch,
    check_token_ids,
)
from lessons_pkg.lstm import LSTM, State


def _check_sizes(vocab_size: int, embed_dim: int, n_classes: int | None = None,
                 pad_id: int | None = None) -> None:
    """The embedding's sizes; a classifier's ``n_classes`` and ``pad_id`` when given."""
    check_positive_int("vocab_size", vocab_size)
    check_positive_int("embed_dim", embed_dim)
    check_positive_int("n_classes", n_classes, optional=True)
    if pad_id is not None:
        check_int("pad_id", pad_id)
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id must be in [0, vocab_size) = [0, {vocab_size}), got {pad_id}")


class LSTMClassifier(nn.Module):
    """Embedding -> LSTM -> linear head on the state after each sequence's last real token.

    Args:
        vocab_size: V, number of token ids.
        embed_dim: E, width of the word vectors.
        hidden_size: H.
        n_classes: number of output logits.
        num_layers: stacked LSTM layers.
        pad_id: the padding id; its embedding is fixed at zero.
        dropout: dropout between LSTM layers and before the head (training only).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        n_classes: int,
        num_layers: int = 1,
        pad_id: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_dim, n_classes, pad_id)
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor | Sequence[int] | None = None
    ) -> torch.Tensor:
        """``ids`` (B, T) right-padded token ids, ``lengths`` (B,) (all T when omitted).

        Returns logits (B, n_classes).
        """
        check_token_batch("ids", ids, self.embed.num_embeddings)
        x = self.embed(ids)  # (B, T, E)
        _, (h_n, _) = self.lstm(x, lengths=lengths)  # h_n (L, B, H)
        return self.head(self.drop(h_n[-1]))  # (B, n_classes)


class LSTMLanguageModel(nn.Module):
    """Next-token model: embedding -> LSTM -> linear head over the vocabulary.

    It models p(w_1 … w_T) = ∏_t p(w_t | w_<t): the logits at step t score token t + 1, and the
    recurrent state summarises everything read so far, so generation carries the state forward
    instead of re-reading the prefix.

    Args:
        vocab_size: V.
        embed_dim: E.
        hidden_size: H.
        num_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and before the head (training only).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_dim)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """``ids`` (B, T), optional ``state`` (h, c) each (L, B, H).

        Returns ``logits`` (B, T, V) and the state after the last token.
        """
        check_token_batch("ids", ids, self.vocab_size)
        x = self.embed(ids)  # (B, T, E)
        out, state = self.lstm(x, state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)

    @torch.no_grad()
    def sample(
        self,
        prompt_ids: torch.Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Extend ``prompt_ids`` (T,) or (B, T) by ``max_new_tokens`` tokens drawn by
        ``lessons_pkg.decoding.sample`` (temperature 0 = greedy), as ``GPT.generate`` does.

        The prompt is read once; each new token then costs one step that carries (h, c). The
        model is put in eval mode while sampling and restored after.

        Returns the prompt followed by the new tokens, (T + n,) or (B, T + n).
        """
        ids = self._check_prompt(prompt_ids)  # (B, T)
        state = None

        def next_logits(tokens: torch.Tensor) -> torch.Tensor:  # (B, L) -> (B, V)
            nonlocal state
            new = tokens if state is None else tokens[:, -1:]  # the prompt, then one token
            logits, state = self(new, state)  # (B, T or 1, V), the state carried
            return logits[:, -1]

        was_training = self.training
        self.eval()
        try:
            out = decoding.sample(next_logits, ids, max_new_tokens, temperature=temperature,
                                  top_k=top_k, top_p=top_p, generator=generator)
        finally:
            self.train(was_training)
        return out.squeeze(0) if prompt_ids.dim() == 1 else out

    def _check_prompt(self, prompt_ids: torch.Tensor) -> torch.Tensor:
        """The checks of ``sample``; returns the prompt as (B, T)."""
        check_tensor("prompt_ids", prompt_ids, ndim=(1, 2), floating=False)
        if prompt_ids.shape[-1] == 0:
            raise ValueError("prompt_ids must hold at least one token, got length 0")
        check_token_ids("prompt_ids", prompt_ids, self.vocab_size)
        return prompt_ids.unsqueeze(0) if prompt_ids.dim() == 1 else prompt_ids
