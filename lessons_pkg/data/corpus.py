"""A generated English-like corpus whose generating process is known exactly.

Chapter: Practice › Language model (and Algorithms › LSTM for the factorisation
p(w_1..w_T) = prod_t p(w_t | w_<t)). Paper: Shannon (1951), "Prediction and Entropy of Printed
English" (the entropy rate as the floor of any predictor's loss).

Why generate text: with a real corpus nobody knows how low a language model's loss could go.
Here the text comes from a small probabilistic grammar, so the probability the source itself
gives to a held-out text is computable, and ``best_loss(text)`` (nats per character) is the
floor that a perfect character model would reach. A page can then say "our model is 0.08 nats
above the best possible" instead of quoting a bare number.

The grammar is a probabilistic automaton over words: each state offers a few words with known
probabilities and each word leads to one next state. Sentences look like::

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

import numpy as np

__all__ = ["CorpusConfig", "CorpusSource", "make_corpus"]

# ---------------------------------------------------------------------------------------------
# Lexicon. Classes of nouns: person, animal, food, thing, text (something to read), place.
# ---------------------------------------------------------------------------------------------

_NOUNS: tuple[tuple[str, str, str], ...] = (  # (singular, plural, class)
    ("girl", "girls", "person"),
    ("boy", "boys", "person"),
    ("teacher", "teachers", "person"),
    ("child", "children", "person"),
    ("woman", "women", "person"),
    ("man", "men", "person"),
    ("uncle", "uncles", "person"),
    ("artist", "artists", "person"),
    ("cat", "cats", "animal"),
    ("dog", "dogs", "animal"),
    ("bird", "birds", "animal"),
    ("mouse", "mice", "animal"),
    ("owl", "owls", "animal"),
    ("elephant", "elephants", "animal"),
    ("apple", "apples", "food"),
    ("cake", "cakes", "food"),
    ("egg", "eggs", "food"),
    ("orange", "oranges", "food"),
    ("pear", "pears", "food"),
    ("ball", "balls", "thing"),
    ("box", "boxes", "thing"),
    ("hat", "hats", "thing"),
    ("key", "keys", "thing"),
    ("umbrella", "umbrellas", "thing"),
    ("book", "books", "text"),
    ("letter", "letters", "text"),
    ("map", "maps", "text"),
    ("story", "stories", "text"),
    ("house", "houses", "place"),
    ("garden", "gardens", "place"),
    ("park", "parks", "place"),
    ("river", "rivers", "place"),
    ("tree", "trees", "place"),
)

_ALL = frozenset({"person", "animal", "food", "thing", "text", "place"})
_ANIMATE = frozenset({"person", "animal"})
_COLOURABLE = frozenset({"animal", "food", "thing", "text", "place"})

# Adjectives come in two slots, in English order: size/age/mood first, then colour.
_ADJ_FIRST: tuple[tuple[str, frozenset[str]], ...] = (
    ("big", _ALL),
    ("small", _ALL),
    ("old", _ALL),
    ("new", frozenset({"thing", "text", "place"})),
    ("young", _ANIMATE),
    ("happy", _ANIMATE),
    ("angry", _ANIMATE),
    ("hungry", _ANIMATE),
)
_ADJ_COLOUR: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (c, _COLOURABLE) for c in ("red", "blue", "green", "white", "black", "brown", "yellow")
)

_DETERMINERS: tuple[tuple[str, str, float], ...] = (  # (word, number, weight)
    ("the", "any", 0.30),
    ("my", "any", 0.05),
    ("a", "sg", 0.16),
    ("an", "sg", 0.05),
    ("this", "sg", 0.05),
    ("that", "sg", 0.04),
    ("every", "sg", 0.03),
    ("some", "pl", 0.06),
    ("these", "pl", 0.04),
    ("those", "pl", 0.04),
    ("two", "pl", 0.04),
    ("three", "pl", 0.03),
    ("many", "pl", 0.03),
)

_SUBJECT_PRONOUNS: tuple[tuple[str, str, frozenset[str]], ...] = (  # (word, number, classes)
    ("he", "sg", frozenset({"person"})),
    ("she", "sg", frozenset({"person"})),
    ("they", "pl", _ANIMATE),
    ("it", "sg", frozenset({"animal", "food", "thing", "text"})),
)
_OBJECT_PRONOUNS = ("him", "her", "them", "it")

# Verbs: (singular, plural, subject classes, object classes or None if intransitive, weight).
_OBJ_ANY = frozenset({"person", "animal", "food", "thing", "text"})
_INANIMATE = frozenset({"food", "thing", "text"})
_VERBS: tuple[tuple[str, str, frozenset[str], frozenset[str] | None, float], ...] = (
    ("sees", "see", _ANIMATE, _OBJ_ANY, 1.0),
    ("likes", "like", _ANIMATE, _OBJ_ANY, 1.0),
    ("finds", "find", _ANIMATE, _OBJ_ANY, 1.0),
    ("wants", "want", _ANIMATE, _OBJ_ANY, 1.0),
    ("watches", "watch", _ANIMATE, _OBJ_ANY, 1.0),
    ("has", "have", _ANIMATE, _OBJ_ANY, 1.0),
    ("eats", "eat", _ANIMATE, frozenset({"food"}), 1.5),
    ("reads", "read", frozenset({"person"}), frozenset({"text"}), 1.0),
    ("writes", "write", frozenset({"person"}), frozenset({"text"}), 1.0),
    ("sleeps", "sleep", _ANIMATE, None, 1.0),
    ("runs", "run", _ANIMATE, None, 1.0),
    ("sings", "sing", _ANIMATE, None, 1.0),
    ("jumps", "jump", _ANIMATE, None, 1.0),
    ("plays", "play", _ANIMATE, None, 1.0),
    ("laughs", "laugh", frozenset({"person"}), None, 1.0),
    ("falls", "fall", _INANIMATE, None, 1.0),
    ("rolls", "roll", frozenset({"food", "thing"}), None, 1.0),
    ("breaks", "break", frozenset({"thing"}), None, 1.0),
)

_ATTRACTOR_PREPS = ("near", "behind", "beside")  # "the dog near the cats runs"
_ATTRACTOR_CLASSES = frozenset({"person", "animal", "thing", "place"})
_LOCATION_PREPS = ("in", "on", "under", "near")  # "sleeps under the old tree"
_ADVERBS = ("quickly", "slowly", "again", "today")
_CONJUNCTIONS = ("and", "but")

# How likely each class is as a subject or an object (spread evenly over its nouns).
_SUBJECT_CLASS_WEIGHTS = {"person": 0.35, "animal": 0.35, "food": 0.1, "thing": 0.12, "text": 0.08}
_OTHER_CLASS_WEIGHTS = {c: 1.0 for c in _ALL}
_ADVERB_PROB = 0.2  # after a verb phrase
_LOCATION_PROB = 0.3  # after an intransitive verb

_VOWELS = frozenset("aeiou")
_TOKEN_RE = re.compile(r" ?[A-Za-z]+|\.")


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a float, got {type(value).__name__}")
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")


# A state is a tuple. ctx = (conjunction_used, subject_number, subject_classes); the subject
# fields are filled once the subject is known and cleared once the verb has agreed with them.
_State = tuple


def _initial_ok(word: str, initial: str | None) -> bool:
    if initial is None:
        return True
    return (word[0] in _VOWELS) == (initial == "vowel")


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
        # state -> (words, probs, next states, renderings, cumulative probs, rendering -> index)
        self._cache: dict[_State, tuple] = {}

    def __repr__(self) -> str:
        return f"CorpusSource({self.config!r})"

    # -- the automaton ------------------------------------------------------------------------

    def _raw_options(self, state: _State) -> list[tuple[str, float, _State]]:
        """(word, unnormalised weight, next state) for every word allowed in ``state``."""
        cfg = self.config
        kind = state[0]
        if kind == "start":
            ctx = (False, None, None)
            return self._np_options(("np", "det", "subj", "any", None, None, ctx))
        if kind == "np":
            return self._np_options(state)
        if kind == "after_subject":  # optional attractor phrase, else the verb
            ctx = state[1]
            opts = [
                (p, cfg.attractor_prob / len(_ATTRACTOR_PREPS), ("attr_prep", ctx))
                for p in _ATTRACTOR_PREPS
            ]
            verbs = self._verb_options(ctx)
            total = sum(x for _, x, _ in verbs)
            opts += [(w, x / total * (1 - cfg.attractor_prob), s) for w, x, s in verbs]
            return opts
        if kind == "attr_prep":
            return self._np_options(("np", "det", "attr", "any", None, None, state[1]))
        if kind == "verb":
            return self._verb_options(state[1])
        if kind == "object":  # after a transitive verb
            _, obj_classes, ctx = state
            return self._np_options(("np", "det", "obj", "any", obj_classes, None, ctx))
        if kind == "intransitive":  # adverb, location phrase, or end of clause
            ctx = state[1]
            opts = [(a, _ADVERB_PROB / len(_ADVERBS), ("clause_end", ctx)) for a in _ADVERBS]
            opts += [
                (p, _LOCATION_PROB / len(_LOCATION_PREPS), ("loc_prep", ctx))
                for p in _LOCATION_PREPS
            ]
            rest = 1 - _ADVERB_PROB - _LOCATION_PROB
            opts += [(w, x * rest, s) for w, x, s in self._clause_end_options(ctx)]
            return opts
        if kind == "loc_prep":
            return self._np_options(
                ("np", "det", "loc", "any", frozenset({"place"}), None, state[1])
            )
        if kind == "phrase_done":  # after an object or a location: adverb or end of clause
            ctx = state[1]
            opts = [(a, _ADVERB_PROB / len(_ADVERBS), ("clause_end", ctx)) for a in _ADVERBS]
            opts += [(w, x * (1 - _ADVERB_PROB), s) for w, x, s in self._clause_end_options(ctx)]
            return opts
        if kind == "clause_end":
            return self._clause_end_options(state[1])
        if kind == "conj":
            ctx = (True, None, None)
            return self._np_options(("np", "det", "subj", "any", None, None, ctx))
        raise AssertionError(f"unknown state {state!r}")

    def _clause_end_options(self, ctx: tuple) -> list[tuple[str, float, _State]]:
        conj_used = ctx[0]
        if conj_used:
            return [(".", 1.0, ("start", False))]
        p = self.config.conjunction_prob
        opts = [(c, p / len(_CONJUNCTIONS), ("conj",)) for c in _CONJUNCTIONS]
        return opts + [(".", 1.0 - p, ("start", False))]

    def _verb_options(self, ctx: tuple) -> list[tuple[str, float, _State]]:
        conj_used, number, subj_classes = ctx
        after = (conj_used, None, None)  # agreement is done once the verb is written
        opts = []
        for sg, pl, subj_ok, obj_classes, weight in _VERBS:
            if not subj_ok & subj_classes:
                continue
            word = sg if number == "sg" else pl
            nxt = ("intransitive", after) if obj_classes is None else ("object", obj_classes, after)
            opts.append((word, weight, nxt))
        return opts

    def _np_options(self, state: _State) -> list[tuple[str, float, _State]]:
        """Noun phrases: [pronoun] or determiner, up to two adjectives, noun."""
        _, stage, role, number, classes, initial, ctx = state
        cfg = self.config
        if classes is None:  # subjects exclude places
            classes = _ALL - {"place"} if role == "subj" else _ATTRACTOR_CLASSES
        opts: list[tuple[str, float, _State]] = []
        if stage == "det":
            pron_w = cfg.pronoun_prob
            if role == "subj":
                for word, num, pclasses in _SUBJECT_PRONOUNS:
                    nctx = (ctx[0], num, pclasses)
                    opts.append((word, pron_w / len(_SUBJECT_PRONOUNS), ("verb", nctx)))
            elif role == "obj" and classes == _OBJ_ANY:
                for word in _OBJECT_PRONOUNS:
                    opts.append((word, pron_w / len(_OBJECT_PRONOUNS), ("phrase_done", ctx)))
            else:
                pron_w = 0.0
            total_det = sum(w for _, _, w in _DETERMINERS)
            for word, num, w in _DETERMINERS:
                need = None
                if word == "a":
                    need = "consonant"
                elif word == "an":
                    need = "vowel"
                nxt = ("np", "adj1", role, num, classes, need, ctx)
                if self._np_options(nxt):  # drop a determiner that nothing could follow
                    opts.append((word, (1 - pron_w) * w / total_det, nxt))
            return opts

        a = cfg.adjective_prob
        if stage == "adj1":
            slots = (("first", a / 2), ("colour", a / 2), ("noun", 1 - a))
        elif stage == "adj2":
            slots = (("colour", a / 2), ("noun", 1 - a / 2))
        else:  # "noun"
            slots = (("noun", 1.0),)
        for slot, slot_w in slots:
            if slot_w <= 0:
                continue
            if slot == "noun":
                weights = _SUBJECT_CLASS_WEIGHTS if role == "subj" else _OTHER_CLASS_WEIGHTS
                nouns = []
                for sg, pl, cls in _NOUNS:
                    if cls not in classes:
                        continue
                    forms = [f for f, n in ((sg, "sg"), (pl, "pl")) if number in ("any", n)]
                    for form in forms:
                        if _initial_ok(form, initial):
                            form_number = "sg" if form == sg else "pl"
                            nouns.append((form, weights[cls], form_number, cls))
                total = sum(w for _, w, _, _ in nouns)
                for form, w, form_number, cls in nouns:
                    nxt = self._after_noun(role, form_number, cls, ctx)
                    opts.append((form, slot_w * w / total, nxt))
            else:
                table = _ADJ_FIRST if slot == "first" else _ADJ_COLOUR
                next_stage = "adj2" if slot == "first" else "noun"
                adjs = [
                    (word, classes & ok)
                    for word, ok in table
                    if classes & ok and _initial_ok(word, initial)
                ]
                for word, narrowed in adjs:
                    nxt = ("np", next_stage, role, number, narrowed, None, ctx)
                    opts.append((word, slot_w / len(adjs), nxt))
        return opts

    def _after_noun(self, role: str, number: str, cls: str, ctx: tuple) -> _State:
        if role == "subj":
            return ("after_subject", (ctx[0], number, frozenset({cls})))
        if role == "attr":
            return ("verb", ctx)
        return ("phrase_done", ctx)  # object or location

    def _options(self, state: _State) -> tuple:
        """Normalised options of ``state``, cached: words, probs, next states, renderings, ..."""
        entry = self._cache.get(state)
        if entry is None:
            raw = [(w, x, s) for w, x, s in self._raw_options(state) if x > 0]
            total = sum(x for _, x, _ in raw)
            words = tuple(w for w, _, _ in raw)
            probs = tuple(x / total for _, x, _ in raw)
            nexts = tuple(s for _, _, s in raw)
            renders = tuple(self._render(state, w) for w in words)
            assert len(set(renders)) == len(renders), f"ambiguous words in state {state}"
            cum = tuple(accumulate(probs))
            index = {r: i for i, r in enumerate(renders)}
            entry = (words, probs, nexts, renders, cum, index)
            self._cache[state] = entry
        return entry

    @staticmethod
    def _render(state: _State, word: str) -> str:
        if state[0] == "start":
            text = word[0].upper() + word[1:]
            return text if state[1] else " " + text  # no space before the very first sentence
        return word if word == "." else " " + word

    # -- public API ---------------------------------------------------------------------------

    @property
    def words(self) -> tuple[str, ...]:
        """Every word the grammar can produce (including "."), sorted."""
        return tuple(sorted({w for s in self.reachable_states() for w in self._options(s)[0]}))

    @property
    def alphabet(self) -> str:
        """Every character the text can contain, sorted: build a ``CharTokenizer`` from it."""
        chars = set()
        for s in self.reachable_states():
            for r in self._options(s)[3]:
                chars.update(r)
        return "".join(sorted(chars))

    def reachable_states(self) -> list[_State]:
        """Every state reachable from the start of a text, in breadth-first order."""
        start = ("start", True)
        seen = {start}
        order = [start]
        i = 0
        while i < len(order):
            for nxt in self._options(order[i])[2]:
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
            i += 1
        return order

    def sample_sentence_words(self, rng: random.Random) -> list[str]:
        """One sentence as a list of words (the last one is "."), drawn with ``rng``."""
        state: _State = ("start", False)
        out = []
        while True:
            words, _, nexts, _, cum, _ = self._options(state)
            i = min(bisect_right(cum, rng.random()), len(words) - 1)
            out.append(words[i])
            state = nexts[i]
            if words[i] == ".":
                return out

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
        for name, value in (("n_chars", n_chars), ("n_sentences", n_sentences)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        rng = _make_rng(seed)
        pieces: list[str] = []
        length = 0
        state: _State = ("start", True)
        count = 0
        while True:
            words, _, nexts, renders, cum, _ = self._options(state)
            i = min(bisect_right(cum, rng.random()), len(words) - 1)
            pieces.append(renders[i])
            length += len(renders[i])
            state = nexts[i]
            if words[i] == ".":
                count += 1
                if (n_sentences is not None and count >= n_sentences) or (
                    n_chars is not None and length >= n_chars
                ):
                    return "".join(pieces)

    def _parse(self, text: str) -> list[float]:
        """Log-probability of each word of ``text`` (whole sentences from the start of a text)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty")
        state: _State = ("start", True)
        pos = 0
        logps = []
        while pos < len(text):
            _, probs, nexts, renders, _, index = self._options(state)
            m = _TOKEN_RE.match(text, pos)
            i = index.get(m.group()) if m else None
            if i is None:
                got = text[pos : pos + 20]
                expected = sorted({r.strip() for r in renders})
                raise ValueError(
                    f"text is not from this source: at character {pos} got {got!r}, expected one "
                    f"of {expected[:12]}{' ...' if len(expected) > 12 else ''} (text must start "
                    "at a sentence start with no leading space, as generate() writes it)"
                )
            logps.append(math.log(probs[i]))
            pos += len(renders[i])
            state = nexts[i]
        if state != ("start", False):
            raise ValueError("text ends in the middle of a sentence: it must end with '.'")
        return logps

    def log_prob(self, text: str) -> float:
        """Natural log of the probability of ``text`` under the source."""
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
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        # Hypotheses (weight, rendering, characters matched, state after the word).
        hyps: list[tuple[float, str, int, _State]] = []
        self._expand(("start", True), 1.0, hyps)
        losses = np.empty(len(text), dtype=np.float64)
        for t, c in enumerate(text):
            ready: list[tuple[float, str, int, _State]] = []
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

    def _expand(self, state: _State, weight: float, out: list) -> None:
        _, probs, nexts, renders, _, _ = self._options(state)
        for p, s, r in zip(probs, nexts, renders, strict=True):
            out.append((weight * p, r, 0, s))

    def entropy_rate(self) -> float:
        """Expected loss per character of the source on a long text (nats), computed exactly.

        Sentences are independent, so the rate is E[-log p(sentence)] / E[characters per
        sentence] (including the space before it), both from a recursion over the states.
        """
        h_memo: dict[_State, tuple[float, float]] = {}

        def visit(state: _State) -> tuple[float, float]:
            if state in h_memo:
                return h_memo[state]
            _, probs, nexts, renders, _, _ = self._options(state)
            h = length = 0.0
            for p, s, r in zip(probs, nexts, renders, strict=True):
                sub_h, sub_len = (0.0, 0.0) if s[0] == "start" else visit(s)
                h += p * (-math.log(p) + sub_h)
                length += p * (len(r) + sub_len)
            h_memo[state] = (h, length)
            return h, length

        h, length = visit(("start", False))
        return h / length


def _make_rng(seed: int | random.Random) -> random.Random:
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or random.Random, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return random.Random(seed)


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
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    source = CorpusSource(config)
    train = source.generate(n_train_chars, seed=random.Random(f"train-{seed}"))
    val = source.generate(n_val_chars, seed=random.Random(f"val-{seed}"))
    return train, val
