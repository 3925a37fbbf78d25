"""Masked-language-model inputs: BERT's 80/10/10 corruption recipe.

Chapter: Practice › Pre-training and fine-tuning. Paper: Devlin et al. (2019), "BERT", §3.1
(Task #1: Masked LM) and Appendix A.1.
Shapes: any shape of token ids, typically (B, T).

Each ordinary token is selected for prediction with probability ``mask_prob`` (15 %). Of the
selected tokens, 80 % are replaced by the mask token, 10 % by a random token and 10 % are left
unchanged; the model must predict the original token at every selected position. The random and
unchanged cases matter: without them the model would only learn to predict at positions that
show the mask token, which never appears at fine-tuning time. Labels hold the original token at
selected positions and ``IGNORE_INDEX`` (-100, the default ``ignore_index`` of
``F.cross_entropy``) elsewhere, so the loss counts selected positions only.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from lessons_pkg._checks import (
    check_generator,
    check_int,
    check_probability,
    check_tensor,
    check_token_ids,
)

__all__ = ["IGNORE_INDEX", "mask_tokens"]

IGNORE_INDEX = -100


def _check_masking_args(
    ids, mask_token_id, vocab_size, mask_prob, special_ids, generator, mask_replace_prob,
    random_replace_prob,
) -> list[int]:
    """Validate the arguments of ``mask_tokens``; return the sorted special ids, the mask id
    included."""
    check_tensor("ids", ids, floating=False)
    check_int("vocab_size", vocab_size, minimum=2)
    check_int("mask_token_id", mask_token_id)
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(
            f"mask_token_id must be in [0, vocab_size={vocab_size}), got {mask_token_id}"
        )
    check_probability("mask_prob", mask_prob, open_low=True)  # 0 would select nothing
    check_probability("mask_replace_prob", mask_replace_prob)
    check_probability("random_replace_prob", random_replace_prob)
    if mask_replace_prob + random_replace_prob > 1.0 + 1e-12:
        raise ValueError(
            f"mask_replace_prob + random_replace_prob must be <= 1, got "
            f"{mask_replace_prob} + {random_replace_prob}"
        )
    if isinstance(special_ids, torch.Tensor):
        special_ids = special_ids.reshape(-1).tolist()
    special_ids = list(special_ids)
    for i, s in enumerate(special_ids):
        check_int(f"special_ids[{i}]", s)
    special = sorted({*special_ids, mask_token_id})
    bad = [s for s in special if not 0 <= s < vocab_size]
    if bad:
        raise ValueError(f"special_ids must be in [0, vocab_size={vocab_size}), got {bad}")
    check_token_ids("ids", ids, vocab_size)
    check_generator("generator", generator)
    if len(special) == vocab_size and random_replace_prob > 0:
        raise ValueError("every id is special: there is no ordinary token to draw at random")
    return special


def mask_tokens(
    ids: torch.Tensor, mask_token_id: int, vocab_size: int, mask_prob: float = 0.15,
    special_ids: Iterable[int] = (), generator: torch.Generator | None = None, *,
    mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt ``ids`` for masked-language-model training.

    Args:
        ids: integer token ids of any shape, e.g. (B, T); not modified.
        mask_token_id: id of the mask token (never selected itself, never a random draw).
        vocab_size: number of token ids; every id is in [0, vocab_size).
        mask_prob: chance that a non-special token is selected for prediction (BERT: 0.15).
        special_ids: ids that are never selected nor drawn as random replacements: padding,
            <bos>, <eos>, <cls>, <sep> ...
        generator: optional ``torch.Generator`` for reproducible draws; the draws are made on
            its device and moved to ``ids.device``.
        mask_replace_prob: share of selected tokens replaced by the mask token (BERT: 0.8).
        random_replace_prob: share of selected tokens replaced by a random ordinary token
            (BERT: 0.1). The rest, ``1 - mask_replace_prob - random_replace_prob``, stay as
            they were.

    Returns:
        ``(inputs, labels)``, both shaped like ``ids`` and of dtype int64: ``inputs`` is the
        corrupted sequence, ``labels`` the original token where selected and ``IGNORE_INDEX``
        elsewhere.

    With few tokens a batch can end up with no selected position; a mean cross-entropy over
    zero positions is NaN, so use batches of more than a handful of tokens.
    """
    special = _check_masking_args(ids, mask_token_id, vocab_size, mask_prob, special_ids,
                                  generator, mask_replace_prob, random_replace_prob)

    device = ids.device
    draw_device = generator.device if generator is not None else device
    ids = ids.long()
    special_t = torch.tensor(special, dtype=torch.long, device=device)
    ordinary = torch.ones(vocab_size, dtype=torch.bool, device=device)
    ordinary[special_t] = False
    candidates = ordinary.nonzero().squeeze(1)  # ids a random replacement may take

    def uniform() -> torch.Tensor:
        return torch.rand(ids.shape, generator=generator, device=draw_device).to(device)

    # Step 1: select ~mask_prob of the ordinary positions for prediction.
    selectable = ~torch.isin(ids, special_t)
    selected = (uniform() < mask_prob) & selectable
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))

    # Step 2: split the selected positions 80 / 10 / 10 with one more uniform draw.
    u = uniform()
    to_mask = selected & (u < mask_replace_prob)
    to_random = selected & (u >= mask_replace_prob) & (u < mask_replace_prob + random_replace_prob)
    inputs = ids.clone()
    inputs[to_mask] = mask_token_id
    n_random = int(to_random.sum())
    if n_random:
        pick = torch.randint(candidates.numel(), (n_random,), generator=generator,
                             device=draw_device).to(device)
        inputs[to_random] = candidates[pick]
    return inputs, labels
