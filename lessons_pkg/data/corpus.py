"""A generated English-like corpus whose generating process is known exactly.

Chapter: Practice › Language model (and Algorithms › LSTM for the factorisation
p(w_1..w_T) = prod_t p(w_t | w_<t)). Paper: Shannon (1951), "Prediction and Entropy of Printed
English" (the entropy rate as the floor of any predictor's loss).

Why generate text: with a real corpus nobody knows how low a language model's loss could go.
Here the text comes from a small probabilistic grammar, so the probability the source itself
gives to a held-out text is computable, and ``best_loss(text)`` (nats per character) is the
floor that a perfect character model would reach. A page can then say "our model is 0.08 nats
above the best possible" instead of quoting a bare number.

The grammar (``lessons_pkg.data.grammar``) is a probabilistic automaton over the words of
``lessons_pkg.data.lexicon``: each state offers a few words with known probabilities and each
word leads to one next state. Sentences look like::

    The small cat near the old trees sees a red ball. They sleep in the garden today.

and carry structure a model must learn: spelling, word order, "a" versus "an" before a vowel,
adjective order, which nouns go with which verbs ("eats" takes food, "reads" needs a person),
and subject-verb agreement across an intervening phrase ("the dog near the cats *runs*").

Why the exact loss is computable: words are written lowercase, separated by single spaces, the
first word of a sentence capitalised and the sentence closed by "."; sentences are separated by
one space. Within one state no two words are spelled alike, so the characters determine the
words (and the states) uniquely. Then p(text) = prod_t p(word_t | state_t), and a character
model's best cross-entropy on ``text`` is -log p(text) / len(text). ``char_losses`` computes the
same number character by character, as the ideal character-level predictor would, which is an
independent check of that argument.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from lessons_pkg._checks import check_number, check_positive_int, check_seed
from lessons_pkg.data.grammar import SENTENCE_START, TEXT_START, State, options, render

__all__ = ["CorpusConfig", "CorpusSource", "make_corpus"]


def make_corpus(
    n_train_chars: int = 200_000,
    n_val_chars: int = 20_000,
    seed: int = 0,
    config: CorpusConfig | None = None,
) -> tuple[str, str]:
    """A training text and an independent validation text from the same source.

    Both are whole sentences (each at least the asked length, a few characters more). The
    validation text does not depend on ``n_train_chars``. Score a model against the floor with
    ``CorpusSource(config).best_loss(val_text)``; tokenize with
    ``CharTokenizer(CorpusSource(config).alphabet)`` so both texts share one vocabulary.
    """
    check_positive_int("n_train_chars", n_train_chars)
    check_positive_int("n_val_chars", n_val_chars)
    check_seed("seed", seed)
    source = CorpusSource(config)
    train = source.generate(n_train_chars, seed=random.Random(f"train-{seed}"))
    val = source.generate(n_val_chars, seed=random.Random(f"val-{seed}"))
    return train, val


class CorpusSource:
    """The generating process: sample text from it, and score text under it.

    Args:
        config: grammar knobs; ``CorpusConfig()`` when omitted.
    """

    def __init__(self, config: CorpusConfig | None = None) -> None:
        if config is None:
            config = CorpusConfig()
        if not isinstance(config, CorpusConfig):
            raise TypeError(f"config must be a CorpusConfig, got {type(config).__name__}")
        self.config = config
        self._cache: dict[State, _Options] = {}

    def __repr__(self) -> str:
        return f"CorpusSource({self.config!r})"

    def generate(
        self,
        n_chars: int | None = None,
        *,
        n_sentences: int | None = None,
        seed: int | random.Random = 0,
    ) -> str:
        """Sample text made of whole sentences.

        Give exactly one of ``n_chars`` (the text is the shortest run of whole sentences with
        at least that many characters) or ``n_sentences``.

        Args:
            n_chars: minimum length in characters (>= 1).
            n_sentences: number of sentences (>= 1).
            seed: an int seed (the same seed gives the same text) or a ``random.Random``.
        """
        if (n_chars is None) == (n_sentences is None):
            raise ValueError(
                f"give exactly one of n_chars and n_sentences, got n_chars={n_chars}, "
                f"n_sentences={n_sentences}"
            )
        check_positive_int("n_chars", n_chars, optional=True)
        check_positive_int("n_sentences", n_sentences, optional=True)
        rng = _make_rng(seed)
        pieces: list[str] = []
        length = count = 0
        state = TEXT_START
        while True:
            opts = self._options(state)
            i = opts.draw(rng)
            pieces.append(opts.renders[i])
            length += len(opts.renders[i])
            state = opts.nexts[i]
            if opts.words[i] == ".":
                count += 1
                if (n_sentences is not None and count >= n_sentences) or (
                    n_chars is not None and length >= n_chars
                ):
                    return "".join(pieces)

    def log_prob(self, text: str) -> float:
        """Natural log of the probability of ``text`` under the source.

        Raises ``ValueError`` for a text the grammar cannot produce: this makes the source a
        perfect judge of grammaticality.
        """
        return math.fsum(self._parse(text))

    def best_loss(self, text: str) -> float:
        """The source's own cross-entropy on ``text``, in nats per character.

        This is the loss of the best possible character model, -log p(text) / len(text): compare
        a trained model's mean loss per predicted character with it. ``text`` must be whole
        sentences as :meth:`generate` writes them (a fresh sample, not a slice of one).
        """
        return -self.log_prob(text) / len(text)

    def char_losses(self, text: str) -> np.ndarray:
        """Loss of the ideal character-level predictor on each character of ``text`` (nats).

        Character t gets -log p(c_t | c_<t), computed by summing over every way the grammar
        could continue the characters seen so far. Works on any prefix of a generated text;
        on whole sentences the mean equals :meth:`best_loss`. Shows where the uncertainty
        is (the first letters of words; never inside a word once it is determined).
        """
        _check_text(text)
        # Hypotheses (weight, rendering, characters matched, state after the word).
        hyps: list[tuple[float, str, int, State]] = []
        self._expand(TEXT_START, 1.0, hyps)
        losses = np.empty(len(text), dtype=np.float64)
        for t, c in enumerate(text):
            ready: list[tuple[float, str, int, State]] = []
            for h in hyps:
                if h[2] == len(h[1]):
                    self._expand(h[3], h[0], ready)  # word finished: the next word begins
                else:
                    ready.append(h)
            total = sum(h[0] for h in ready)
            match = [h for h in ready if h[1][h[2]] == c]
            hit = sum(h[0] for h in match)
            if hit == 0.0:
                raise ValueError(
                    f"text is not from this source: character {t} ({c!r}) is impossible there"
                )
            losses[t] = -math.log(hit / total)
            hyps = [(w / hit, r, k + 1, s) for w, r, k, s in match]  # renormalise
        return losses

    def entropy_rate(self) -> float:
        """Expected loss per character of the source on a long text (nats), computed exactly.

        Sentences are independent, so the rate is E[-log p(sentence)] / E[characters per
        sentence] (including the space before it), both from a recursion over the states.
        """
        h_memo: dict[State, tuple[float, float]] = {}

        def visit(state: State) -> tuple[float, float]:
            if state in h_memo:
                return h_memo[state]
            opts = self._options(state)
            h = length = 0.0
            for p, s, r in zip(opts.probs, opts.nexts, opts.renders, strict=True):
                sub_h, sub_len = (0.0, 0.0) if s.kind == "start" else visit(s)
                h += p * (-math.log(p) + sub_h)
                length += p * (len(r) + sub_len)
            h_memo[state] = (h, length)
            return h, length

        h, length = visit(SENTENCE_START)
        return h / length

    @property
    def words(self) -> tuple[str, ...]:
        """Every word the grammar can produce (including "."), sorted."""
        return tuple(sorted({w for s in self.reachable_states() for w in self._options(s).words}))

    @property
    def alphabet(self) -> str:
        """Every character the text can contain, sorted: build a ``CharTokenizer`` from it."""
        chars = set()
        for s in self.reachable_states():
            for r in self._options(s).renders:
                chars.update(r)
        return "".join(sorted(chars))

    def reachable_states(self) -> list[State]:
        """Every state reachable from the start of a text, in breadth-first order."""
        seen = {TEXT_START}
        order = [TEXT_START]
        i = 0
        while i < len(order):
            for nxt in self._options(order[i]).nexts:
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
            i += 1
        return order

    def sample_sentence_words(self, rng: random.Random) -> list[str]:
        """One sentence as a list of words (the last one is "."), drawn with ``rng``."""
        state = SENTENCE_START
        out = []
        while True:
            opts = self._options(state)
            i = opts.draw(rng)
            out.append(opts.words[i])
            state = opts.nexts[i]
            if opts.words[i] == ".":
                return out

    # -- private machinery --------------------------------------------------------------------

    def _options(self, state: State) -> _Options:
        """The normalised options of ``state``, computed once and cached."""
        entry = self._cache.get(state)
        if entry is None:
            entry = _Options.of(state, options(state, self.config))
            self._cache[state] = entry
        return entry

    def _parse(self, text: str) -> list[float]:
        """Log-probability of each word of ``text`` (whole sentences from the start of a text)."""
        _check_text(text)
        if not text:
            raise ValueError("text is empty")
        state = TEXT_START
        pos = 0
        logps = []
        while pos < len(text):
            opts = self._options(state)
            m = _TOKEN_RE.match(text, pos)
            i = opts.index.get(m.group()) if m else None
            if i is None:
                got = text[pos : pos + 20]
                expected = sorted({r.strip() for r in opts.renders})
                raise ValueError(
                    f"text is not from this source: at character {pos} got {got!r}, expected one "
                    f"of {expected[:12]}{' ...' if len(expected) > 12 else ''} (text must start "
                    "at a sentence start with no leading space, as generate() writes it)"
                )
            logps.append(math.log(opts.probs[i]))
            pos += len(opts.renders[i])
            state = opts.nexts[i]
        if state != SENTENCE_START:
            raise ValueError("text ends in the middle of a sentence: it must end with '.'")
        return logps

    def _expand(self, state: State, weight: float, out: list) -> None:
        opts = self._options(state)
        for p, s, r in zip(opts.probs, opts.nexts, opts.renders, strict=True):
            out.append((weight * p, r, 0, s))


@dataclass(frozen=True)
class CorpusConfig:
    """Knobs of the grammar. The defaults give about 0.54 nats per character.

    Attributes:
        adjective_prob: chance that a noun phrase opens an adjective slot (up to two adjectives).
        attractor_prob: chance that a noun subject is followed by a phrase such as "near the
            cats" before its verb (the long-range agreement a model must carry across).
        pronoun_prob: chance that a subject or object is a pronoun (he, they, them, ...).
        conjunction_prob: chance that a clause is followed by "and"/"but" and a second clause.
    """

    adjective_prob: float = 0.4
    attractor_prob: float = 0.25
    pronoun_prob: float = 0.15
    conjunction_prob: float = 0.15

    def __post_init__(self) -> None:
        for name in ("adjective_prob", "attractor_prob", "pronoun_prob", "conjunction_prob"):
            check_number(name, getattr(self, name), low=0.0, high=1.0, high_open=True)


_TOKEN_RE = re.compile(r" ?[A-Za-z]+|\.")  # one word as the text writes it, or "."


class _Options(NamedTuple):
    """The words allowed in one state, normalised, with what sampling and parsing need."""

    words: tuple[str, ...]
    probs: tuple[float, ...]
    nexts: tuple[State, ...]  # the state each word leads to
    renders: tuple[str, ...]  # each word as the text writes it (" cat", "The", ".")
    cumulative: tuple[float, ...]  # running sums of probs, for sampling
    index: dict[str, int]  # rendering -> position, for parsing

    @classmethod
    def of(cls, state: State, raw: list[tuple[str, float, State]]) -> _Options:
        raw = [(w, x, s) for w, x, s in raw if x > 0]
        total = sum(x for _, x, _ in raw)
        words = tuple(w for w, _, _ in raw)
        probs = tuple(x / total for _, x, _ in raw)
        renders = tuple(render(state, w) for w in words)
        assert len(set(renders)) == len(renders), f"ambiguous words in state {state}"
        return cls(words, probs, tuple(s for _, _, s in raw), renders, tuple(accumulate(probs)),
                   {r: i for i, r in enumerate(renders)})

    def draw(self, rng: random.Random) -> int:
        """The position of a word drawn with ``rng`` (one ``rng.random()`` per word)."""
        return min(bisect_right(self.cumulative, rng.random()), len(self.words) - 1)


def _make_rng(seed: int | random.Random) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a random.Random, got {type(seed).__name__}")
    return random.Random(check_seed("seed", seed))


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
