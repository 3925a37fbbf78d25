"""Decoding strategies: greedy search, beam search, and sampling with temperature, top-k, top-p.

Chapter: Algorithms › The Transformer (decoding strategies). Papers: beam search as used in
Sutskever et al. (2014), "Sequence to Sequence Learning with Neural Networks"; top-k sampling from
Fan et al. (2018), "Hierarchical Neural Story Generation"; nucleus (top-p) sampling from Holtzman
et al. (2020), "The Curious Case of Neural Text Degeneration".

Every decoder takes a *step function* ``step_fn(prefix) -> logits``: a prefix of token ids
(N, L) in, the logits (N, V) of the next token out. ``Seq2SeqTransformer.step_fn(src)`` and
``GPT.step_fn()`` make one, so the same decoders serve both models.

Shapes: B batch, L prefix length, V vocabulary size, K beam size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "Hypothesis",
    "StepFn",
    "beam_search",
    "greedy_decode",
    "sample",
    "sample_next",
    "top_k_filter",
    "top_p_filter",
]

StepFn = Callable[[Tensor], Tensor]


# ----------------------------------------------------------------------------------------------
# Filters and one sampling step
# ----------------------------------------------------------------------------------------------


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row (..., V) and set the rest to -inf.

    Tokens tied with the k-th largest logit are all kept. k >= V keeps everything.

    Raises:
        ValueError: k < 1.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the smallest set of most probable tokens whose total probability is
    at least p, and set the other logits to -inf. The most probable token is always kept.

    Raises:
        ValueError: p outside (0, 1].
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if p == 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # (..., V) probability of the tokens ranked higher
    # A token is needed while the tokens ranked above it still hold less than p.
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row from logits (N, V) -> (N,) int64.

    The logits are divided by ``temperature``, then filtered by top-k, then by top-p.
    ``temperature=0`` means greedy (argmax). A ``generator`` must live on the logits' device.

    Raises:
        ValueError: negative temperature, or invalid ``top_k`` / ``top_p``.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, V), got shape {tuple(logits.shape)}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # softmax and multinomial want at least single precision
    probs = torch.softmax(logits, dim=-1)  # (N, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (N,)


# ----------------------------------------------------------------------------------------------
# Greedy search and sampling
# ----------------------------------------------------------------------------------------------


def _check_prefix(prefix: Tensor) -> None:
    if not isinstance(prefix, Tensor) or prefix.dim() != 2 or prefix.shape[1] < 1:
        shape = tuple(prefix.shape) if isinstance(prefix, Tensor) else type(prefix).__name__
        raise ValueError(f"prefix must be (B, L) token ids with L >= 1, got {shape}")
    if prefix.dtype != torch.int64:
        raise TypeError(f"prefix must be int64 token ids, got {prefix.dtype}")


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _decode_loop(
    step_fn: StepFn,
    prefix: Tensor,
    max_new_tokens: int,
    eos_id: int | None,
    pick: Callable[[Tensor], Tensor],
) -> Tensor:
    _check_prefix(prefix)
    _check_count("max_new_tokens", max_new_tokens, 0)
    tokens = prefix
    done = torch.zeros(prefix.shape[0], dtype=torch.bool, device=prefix.device)  # (B,)
    for _ in range(max_new_tokens):
        logits = step_fn(tokens)  # (B, V)
        if logits.dim() != 2 or logits.shape[0] != tokens.shape[0]:
            raise ValueError(
                f"step_fn must return (B, V) = ({tokens.shape[0]}, V) logits, got "
                f"{tuple(logits.shape)}"
            )
        nxt = pick(logits)  # (B,)
        if eos_id is not None:
            nxt = nxt.masked_fill(done, eos_id)  # finished rows keep emitting eos
            done = done | (nxt == eos_id)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)  # (B, L + 1)
        if eos_id is not None and bool(done.all()):
            break
    return tokens


def greedy_decode(
    step_fn: StepFn, prefix: Tensor, max_new_tokens: int, eos_id: int | None = None
) -> Tensor:
    """Append the most probable token, one at a time.

    Args:
        step_fn: prefix (B, L) -> next-token logits (B, V).
        prefix: (B, L) int64, e.g. a begin token per row.
        max_new_tokens: at most this many tokens are added.
        eos_id: once a row emits it, the row is finished (and padded with it); decoding stops
            early when every row is finished.

    Returns:
        (B, L + n) token ids, n <= max_new_tokens.
    """
    return _decode_loop(step_fn, prefix, max_new_tokens, eos_id, lambda lg: lg.argmax(dim=-1))


def sample(
    step_fn: StepFn,
    prefix: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Like ``greedy_decode`` but each token is drawn by ``sample_next`` (temperature, then
    top-k, then top-p). The same ``generator`` state gives the same tokens."""
    return _decode_loop(
        step_fn, prefix, max_new_tokens, eos_id,
        lambda lg: sample_next(lg, temperature, top_k, top_p, generator),
    )


# ----------------------------------------------------------------------------------------------
# Beam search
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hypothesis:
    """A finished beam: ``tokens`` (prefix + generated, 1-D), the sum of the generated tokens'
    log-probabilities ``log_prob``, and the ranking ``score`` (log_prob / n**length_penalty,
    n = number of generated tokens, eos included)."""

    tokens: Tensor
    log_prob: float
    score: float


def beam_search(
    step_fn: StepFn,
    prefix: Tensor,
    beam_size: int,
    max_new_tokens: int,
    eos_id: int | None = None,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Keep the ``beam_size`` most probable partial sequences at every step.

    At each step every live beam is extended by every token; the candidates are ranked by total
    log-probability; among the best ``2 * beam_size``, those ending in ``eos_id`` and ranked
    within the first ``beam_size`` are finished, and the best ``beam_size`` others stay live.
    Beams still live after ``max_new_tokens`` steps are finished as they are.

    Args:
        step_fn: prefix (N, L) -> next-token logits (N, V); N is the number of live beams.
        prefix: one sequence, (L,) or (1, L), int64.
        beam_size: K >= 1 (K = 1 is greedy search).
        max_new_tokens: at most this many tokens are added.
        eos_id: end-of-sequence id, or None to always generate ``max_new_tokens``.
        length_penalty: alpha in score = log_prob / n**alpha; 0 ranks by total log-probability
            (which favours short outputs), 1 by the mean log-probability per token.

    Returns:
        Up to K hypotheses, best score first.
    """
    if prefix.dim() == 1:
        prefix = prefix[None]
    if prefix.dim() != 2 or prefix.shape[0] != 1:
        raise ValueError(
            f"beam_search decodes one sequence: prefix must be (L,) or (1, L), got "
            f"{tuple(prefix.shape)}"
        )
    _check_prefix(prefix)
    _check_count("beam_size", beam_size, 1)
    _check_count("max_new_tokens", max_new_tokens, 1)
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")

    def score(log_prob: float, n: int) -> float:
        return log_prob / n**length_penalty

    L0 = prefix.shape[1]
    live = prefix  # (N, L) live beams
    live_lp = torch.zeros(1, dtype=torch.float64, device=prefix.device)  # (N,) sum of log-probs
    finished: list[Hypothesis] = []
    for step in range(1, max_new_tokens + 1):
        logits = step_fn(live)  # (N, V)
        if logits.dim() != 2 or logits.shape[0] != live.shape[0]:
            raise ValueError(
                f"step_fn must return (N, V) = ({live.shape[0]}, V) logits, got "
                f"{tuple(logits.shape)}"
            )
        V = logits.shape[-1]
        cand = live_lp[:, None] + torch.log_softmax(logits.double(), dim=-1)  # (N, V)
        top_lp, top_idx = cand.flatten().topk(min(2 * beam_size, cand.numel()))  # (2K,)
        keep_beams, keep_tokens, keep_lp = [], [], []
        for rank, (lp, idx) in enumerate(zip(top_lp.tolist(), top_idx.tolist(), strict=True)):
            if lp == float("-inf"):
                break
            beam, token = divmod(idx, V)
            if eos_id is not None and token == eos_id:
                if rank < beam_size:
                    seq = torch.cat([live[beam], live.new_tensor([token])])
                    finished.append(Hypothesis(seq, lp, score(lp, step)))
            elif len(keep_beams) < beam_size:
                keep_beams.append(beam)
                keep_tokens.append(token)
                keep_lp.append(lp)
        if not keep_beams:  # every surviving candidate ended in eos
            live, live_lp = live[:0], live_lp[:0]
            break
        beams = torch.tensor(keep_beams, device=live.device)
        tokens = torch.tensor(keep_tokens, device=live.device)
        live = torch.cat([live[beams], tokens[:, None]], dim=1)  # (N', L + 1)
        live_lp = torch.tensor(keep_lp, dtype=torch.float64, device=live.device)
        # With raw log-probabilities, extending a beam can only lower its score: stop once K
        # finished hypotheses beat every live beam.
        if length_penalty == 0 and len(finished) >= beam_size:
            kth_best = sorted((h.score for h in finished), reverse=True)[beam_size - 1]
            if kth_best >= float(live_lp.max()):
                live, live_lp = live[:0], live_lp[:0]
                break
    n_new = live.shape[1] - L0
    for seq, lp in zip(live, live_lp.tolist(), strict=True):
        finished.append(Hypothesis(seq, lp, score(lp, n_new)))
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:beam_size]
