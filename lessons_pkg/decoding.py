"""Decoding strategies: greedy search, beam search, and sampling with temperature, top-k, top-p.

Chapter: Algorithms › The Transformer (decoding strategies). Papers: beam search as used in
Sutskever et al. (2014), "Sequence to Sequence Learning with Neural Networks"; top-k sampling from
Fan et al. (2018), "Hierarchical Neural Story Generation"; nucleus (top-p) sampling from Holtzman
et al. (2020), "The Curious Case of Neural Text Degeneration".

Every decoder takes a *logits function* ``logits_fn(prefix) -> logits``: a prefix of token ids
(N, L) in, the logits (N, V) of the next token out. ``Seq2SeqTransformer.logits_fn(src)`` and
``GPT.logits_fn()`` make one, so the same decoders serve both models.

There is one sampling path: ``sample_next`` draws every token that the package generates, and
``sample`` is the one loop around it (``greedy_decode`` is ``sample`` at temperature 0;
``GPT.generate`` and ``LSTMLanguageModel.sample`` call ``sample`` with a logits function that
keeps the model's cache or recurrent state). All of them take the same keywords:
``max_new_tokens``, ``temperature`` (0 = greedy), ``top_k``, ``top_p`` and ``generator``.

Shapes: B batch, L prefix length, V vocabulary size, K beam size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from lessons_pkg._checks import (
    check_generator,
    check_int,
    check_number,
    check_positive_int,
    check_probability,
    check_tensor,
)

__all__ = [
    "Hypothesis",
    "LogitsFn",
    "beam_search",
    "greedy_decode",
    "sample",
    "sample_next",
    "top_k_filter",
    "top_p_filter",
]

LogitsFn = Callable[[Tensor], Tensor]


# ----------------------------------------------------------------------------------------------
# Filters and one sampling step
# ----------------------------------------------------------------------------------------------


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of each row (..., V) and set the rest to -inf.

    Tokens tied with the k-th largest logit are all kept. k >= V keeps everything.

    Raises:
        TypeError: k is not an int. ValueError: k < 1.
    """
    check_positive_int("k", k)
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filter: keep the smallest set of most probable tokens whose total probability is
    at least p, and set the other logits to -inf. The most probable token is always kept.

    Raises:
        TypeError: p is not a number. ValueError: p outside (0, 1].
    """
    check_probability("p", p, open_low=True)
    if p == 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # (..., V) probability of the tokens ranked higher
    # A token is needed while the tokens ranked above it still hold less than p.
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def _check_sampling(logits: Tensor | None, *, temperature: float, top_k: int | None,
                    top_p: float | None, generator: torch.Generator | None) -> None:
    """The checks of ``sample_next`` (of its settings alone when ``logits`` is None)."""
    if logits is not None:
        check_tensor("logits", logits, ndim=2, floating=True)
    check_number("temperature", temperature, low=0.0)
    check_positive_int("top_k", top_k, optional=True)
    if top_p is not None:
        check_probability("top_p", top_p, open_low=True)
    check_generator("generator", generator)


def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row of logits (N, V) -> (N,) int64.

    The logits are divided by ``temperature``, then filtered by top-k, then by top-p, and one
    token per row is drawn from their softmax with ``generator`` (on the logits' device; None:
    torch's global generator). ``temperature=0`` means greedy: the argmax, no random draw.

    Raises:
        TypeError: an argument of the wrong type (logits must be a floating tensor).
        ValueError: logits not (N, V), temperature < 0, top_k < 1, or top_p outside (0, 1].
    """
    _check_sampling(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
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
# Sampling and greedy search
# ----------------------------------------------------------------------------------------------


def _check_prefix(prefix: Tensor) -> None:
    check_tensor("prefix", prefix, ndim=2, floating=False)
    if prefix.shape[1] < 1:
        raise ValueError(f"prefix must be (B, L) token ids with L >= 1, got shape "
                         f"{tuple(prefix.shape)}")


def _check_decoding(prefix: Tensor, max_new_tokens: int, eos_id: int | None,
                    min_new_tokens: int = 0) -> None:
    _check_prefix(prefix)
    check_int("max_new_tokens", max_new_tokens, minimum=min_new_tokens)
    if eos_id is not None:
        check_int("eos_id", eos_id, minimum=0)


def _next_logits(logits_fn: LogitsFn, tokens: Tensor) -> Tensor:
    """``logits_fn(tokens)``, checked to be (N, V) for the N rows of ``tokens``."""
    logits = logits_fn(tokens)
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits_fn must return a torch.Tensor, got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[0] != len(tokens):
        raise ValueError(f"logits_fn must return (N, V) = ({len(tokens)}, V) logits, got "
                         f"{tuple(logits.shape)}")
    return logits


def sample(
    logits_fn: LogitsFn,
    prefix: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
) -> Tensor:
    """Extend ``prefix`` one token at a time, each drawn by ``sample_next`` from the logits that
    ``logits_fn`` gives for the tokens so far. The same ``generator`` state gives the same tokens.

    Args:
        logits_fn: tokens (B, L) -> next-token logits (B, V). It is called first with the prefix,
            then each time with one more token (the one just drawn) appended, so a function
            that keeps a model's cache or state may process only the last token.
        prefix: (B, L) integer token ids, L >= 1, e.g. a begin token per row.
        max_new_tokens: at most this many tokens are added.
        temperature, top_k, top_p, generator: as in ``sample_next`` (temperature 0 = greedy).
        eos_id: once a row emits it, the row is finished (and padded with it); decoding stops
            early when every row is finished.

    Returns:
        (B, L + n) token ids, n <= max_new_tokens.
    """
    _check_decoding(prefix, max_new_tokens, eos_id)
    _check_sampling(None, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
    tokens = prefix
    done = torch.zeros(prefix.shape[0], dtype=torch.bool, device=prefix.device)  # (B,)
    for _ in range(max_new_tokens):
        logits = _next_logits(logits_fn, tokens)  # (B, V)
        nxt = sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                          generator=generator)  # (B,)
        if eos_id is not None:
            nxt = nxt.masked_fill(done, eos_id)  # finished rows keep emitting eos
            done = done | (nxt == eos_id)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)  # (B, L + 1)
        if eos_id is not None and bool(done.all()):
            break
    return tokens


def greedy_decode(
    logits_fn: LogitsFn, prefix: Tensor, max_new_tokens: int, eos_id: int | None = None
) -> Tensor:
    """Append the most probable token, one at a time: ``sample`` at temperature 0 (see there for
    the arguments). Returns (B, L + n) token ids, n <= max_new_tokens."""
    return sample(logits_fn, prefix, max_new_tokens, temperature=0.0, eos_id=eos_id)


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


def _check_beam_search(prefix: Tensor, beam_size: int, max_new_tokens: int, eos_id: int | None,
                       length_penalty: float) -> Tensor:
    """The checks of ``beam_search``; returns the prefix as (1, L)."""
    check_tensor("prefix", prefix, ndim=(1, 2), floating=False)
    prefix = prefix[None] if prefix.dim() == 1 else prefix
    if prefix.shape[0] != 1:
        raise ValueError(f"beam_search decodes one sequence: prefix must be (L,) or (1, L), got "
                         f"{tuple(prefix.shape)}")
    _check_decoding(prefix, max_new_tokens, eos_id, min_new_tokens=1)
    check_positive_int("beam_size", beam_size)
    check_number("length_penalty", length_penalty, low=0.0)
    return prefix


def _extend_beams(
    live: Tensor, cand: Tensor, beam_size: int, eos_id: int | None
) -> tuple[Tensor, Tensor, list[tuple[Tensor, float]]]:
    """One step of beam search. ``cand`` (N, V) holds the total log-probability of every live
    beam extended by every token. Among the best 2K candidates, those ending in eos and ranked
    within the first K finish; the best K others stay live.

    Returns the live beams (N', L + 1), their log-probabilities (N',) and the finished
    (tokens, log_prob) pairs in rank order.
    """
    V = cand.shape[-1]
    top_lp, top_idx = cand.flatten().topk(min(2 * beam_size, cand.numel()))  # (2K,)
    beams, tokens, log_probs, finished = [], [], [], []
    for rank, (lp, idx) in enumerate(zip(top_lp.tolist(), top_idx.tolist(), strict=True)):
        if lp == float("-inf"):
            break
        beam, token = divmod(idx, V)
        if eos_id is not None and token == eos_id:
            if rank < beam_size:
                finished.append((torch.cat([live[beam], live.new_tensor([token])]), lp))
        elif len(beams) < beam_size:
            beams.append(beam)
            tokens.append(token)
            log_probs.append(lp)
    if not beams:  # every surviving candidate ended in eos
        return live[:0], cand.new_zeros(0), finished
    kept = torch.tensor(beams, device=live.device)
    new_tokens = torch.tensor(tokens, device=live.device)[:, None]
    live_lp = torch.tensor(log_probs, dtype=torch.float64, device=live.device)
    return torch.cat([live[kept], new_tokens], dim=1), live_lp, finished


def _beaten(finished: list[Hypothesis], live_lp: Tensor, beam_size: int) -> bool:
    """Whether K finished hypotheses score at least as high as every live beam."""
    if len(finished) < beam_size:
        return False
    kth_best = sorted((h.score for h in finished), reverse=True)[beam_size - 1]
    return kth_best >= float(live_lp.max())


def beam_search(
    logits_fn: LogitsFn,
    prefix: Tensor,
    beam_size: int,
    max_new_tokens: int,
    eos_id: int | None = None,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Keep the ``beam_size`` most probable partial sequences at every step.

    At each step every live beam is extended by every token and the candidates are ranked by
    total log-probability (see ``_extend_beams``). Beams still live after ``max_new_tokens``
    steps are finished as they are.

    Args:
        logits_fn: prefix (N, L) -> next-token logits (N, V); N is the number of live beams.
        prefix: one sequence, (L,) or (1, L), integer token ids.
        beam_size: K >= 1 (K = 1 is greedy search).
        max_new_tokens: at most this many tokens are added (>= 1).
        eos_id: end-of-sequence id, or None to always generate ``max_new_tokens``.
        length_penalty: alpha in score = log_prob / n**alpha; 0 ranks by total log-probability
            (which favours short outputs), 1 by the mean log-probability per token.

    Returns:
        Up to K hypotheses, best score first.
    """
    live = _check_beam_search(prefix, beam_size, max_new_tokens, eos_id, length_penalty)
    L0 = live.shape[1]
    live_lp = torch.zeros(1, dtype=torch.float64, device=live.device)  # (N,) sum of log-probs
    finished: list[Hypothesis] = []
    for step in range(1, max_new_tokens + 1):
        logits = _next_logits(logits_fn, live)  # (N, V)
        cand = live_lp[:, None] + torch.log_softmax(logits.double(), dim=-1)  # (N, V)
        live, live_lp, ended = _extend_beams(live, cand, beam_size, eos_id)
        finished += [Hypothesis(seq, lp, lp / step**length_penalty) for seq, lp in ended]
        # With raw log-probabilities, extending a beam can only lower its score: stop once K
        # finished hypotheses beat every live beam.
        if not len(live) or (length_penalty == 0 and _beaten(finished, live_lp, beam_size)):
            live, live_lp = live[:0], live_lp[:0]
            break
    n_new = live.shape[1] - L0
    for seq, lp in zip(live, live_lp.tolist(), strict=True):
        finished.append(Hypothesis(seq, lp, lp / n_new**length_penalty))
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:beam_size]
