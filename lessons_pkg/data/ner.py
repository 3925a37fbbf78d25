"""Generated sentences with named entities, tagged in BIO: a named-entity recognition set whose
labels are exact by construction.

Chapter: Applications › Language understanding (named-entity recognition). Tag scheme: IOB2 as in
CoNLL-2003 (Tjong Kim Sang & De Meulder, 2003): "B-TYPE" on the first word of an entity, "I-TYPE" on
the words after it, "O" outside entities; three types, PER (people), LOC (places) and ORG
(organisations).

Sentences come from templates such as ``"{PER} works for {ORG} in {LOC}"``; the other slots are
filled with the words of the language-model corpus (``lessons_pkg.data.lexicon``: its nouns,
adjectives and verbs, with the verbs' agreement rules). Entities have one to three words
("anna", "anna chen", "buenos aires", "north star bank"), and two names are both a person and a
place ("jordan", "georgia"), so that only the context tells the type.

Train and test are split by construction, as a real system meets them: every third name of each
kind (:func:`held_out_names`) occurs only in the test sentences, so the test measures whether a
tagger recognises a name it has never seen from its context. The two ambiguous names occur in both
parts. Sentences are drawn distinct, so no test sentence occurs in training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from lessons_pkg._checks import check_positive_int, check_seed
from lessons_pkg.data.lexicon import ADJECTIVES_FIRST, NOUNS, VERBS
from lessons_pkg.data.masking import IGNORE_INDEX
from lessons_pkg.data.sentiment import WordVocab

__all__ = [
    "ENTITY_TYPES",
    "NERData",
    "NERDataset",
    "ORGANISATIONS",
    "PERSONS",
    "PLACES",
    "TAGS",
    "held_out_names",
    "make_ner_data",
    "split_distinct",
    "tag_entities",
]

ENTITY_TYPES = ("PER", "LOC", "ORG")
TAGS = ("O", *(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")))

FIRST_NAMES = ("anna", "tom", "maria", "omar", "sara", "james", "mei", "paul", "nina", "david",
               "yuki", "leila", "jordan", "georgia")
SURNAMES = ("smith", "chen", "garcia", "khan", "brown", "wang", "silva", "novak")
PERSONS = FIRST_NAMES + tuple(f"{f} {s}" for f in FIRST_NAMES[:8] for s in SURNAMES[:4])
PLACES = ("paris", "london", "tokyo", "berlin", "cairo", "lima", "rome", "oslo", "jordan",
          "georgia", "new york", "hong kong", "buenos aires", "cape town", "rio de janeiro")
ORGANISATIONS = ("acme", "globex", "initech", "city bank", "river museum", "north star bank",
                 "blue sky airlines", "green leaf foods", "united press", "the daily star")

_PERSON_VERBS = tuple(v for v in VERBS if "person" in v.subjects and v.objects)
_THINGS = tuple(n for n in NOUNS if n.category != "place")
_PLACE_NOUNS = tuple(n.singular for n in NOUNS if n.category == "place")
_ADJECTIVES = tuple(a.word for a in ADJECTIVES_FIRST)

# {PER} {LOC} {ORG}: an entity; {VP}: a verb with its object ("reads an old book"); {PLACE}: a
# common place noun ("garden").
_TEMPLATES = (
    "{PER} lives in {LOC}",
    "{PER} works for {ORG}",
    "{PER} works for {ORG} in {LOC}",
    "{PER} {VP}",
    "{PER} {VP} in {LOC}",
    "{ORG} opened a new {PLACE} in {LOC}",
    "{PER} and {PER} visited {LOC}",
    "yesterday {PER} met {PER} near the {PLACE}",
    "{PER} flew from {LOC} to {LOC}",
    "{ORG} hired {PER}",
    "in {LOC} , {PER} {VP}",
    "the {PLACE} near {ORG} is old",
    "{PER} says that {ORG} {VP}",
)


def tag_entities(words: list[str], kind: str) -> list[str]:
    """BIO tags of one entity: ``["B-kind", "I-kind", ...]``, one per word."""
    return [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)


def _verb_phrase(rng: random.Random) -> list[str]:
    """A present-tense verb with a person subject and an object it accepts, with an adjective
    that suits the object ("reads an old book", never "eats a young pear")."""
    verb = rng.choice(_PERSON_VERBS)
    noun = rng.choice([n for n in _THINGS if n.category in verb.objects])
    adjective = rng.choice([a.word for a in ADJECTIVES_FIRST if noun.category in a.categories])
    article = "an" if adjective[0] in "aeiou" else "a"
    return [verb.singular, rng.choice((article, "the")), adjective, noun.singular]


AMBIGUOUS = frozenset(PERSONS) & frozenset(PLACES)  # "jordan", "georgia"


def held_out_names(kind: str) -> tuple[str, ...]:
    """The names of entity type ``kind`` that occur only in the test part: every third one
    (the ambiguous names excepted)."""
    pool = {"PER": PERSONS, "LOC": PLACES, "ORG": ORGANISATIONS}[kind]
    return tuple(x for i, x in enumerate(pool) if i % 3 == 2 and x not in AMBIGUOUS)


def _pools(part: str) -> dict[str, tuple[str, ...]]:
    """Per entity type, the names the sentences of ``part`` ("train" or "test") draw from."""
    pools = {"PER": PERSONS, "LOC": PLACES, "ORG": ORGANISATIONS}
    return {kind: tuple(x for x in pool if (x in held_out_names(kind)) == (part == "test")
                        or x in AMBIGUOUS)
            for kind, pool in pools.items()}


def _sentence(rng: random.Random, part: str) -> tuple[list[str], list[str]]:
    """One sentence of ``part`` as (words, BIO tags)."""
    words, tags = [], []
    pools = _pools(part)
    for slot in rng.choice(_TEMPLATES).split():
        if slot.startswith("{") and slot[1:-1] in pools:
            kind = slot[1:-1]
            entity = rng.choice(pools[kind]).split()
            words += entity
            tags += tag_entities(entity, kind)
            continue
        filled = {"{VP}": lambda: _verb_phrase(rng), "{PLACE}": lambda: [rng.choice(_PLACE_NOUNS)]}
        new = filled[slot]() if slot in filled else [slot]
        words += new
        tags += ["O"] * len(new)
    return words, tags


def ner_vocab() -> WordVocab:
    """Every word the templates can produce, sorted, after ``<pad>``."""
    words = {w for t in _TEMPLATES for w in t.split() if "{" not in w}
    for pool in (PERSONS, PLACES, ORGANISATIONS, _PLACE_NOUNS, _ADJECTIVES):
        words.update(w for entry in pool for w in entry.split())
    words.update(v.singular for v in _PERSON_VERBS)
    words.update(n.singular for n in _THINGS)
    words.update(("a", "an", "the"))
    return WordVocab(sorted(words))


class NERDataset(Dataset):
    """Tagged sentences as padded tensors.

    Attributes:
        words, tags: per sentence its words and BIO tags (strings).
        ids: (N, T_max) int64 word ids, right-padded with 0.
        tag_ids: (N, T_max) int64 indices into ``TAGS``; padding is ``IGNORE_INDEX`` (-100), so
            a cross-entropy skips it.
        lengths: (N,) int64.

    An item is ``(ids_i, tag_ids_i)``, both padded to T_max, so the default collate batches them.
    """

    def __init__(self, words: list[list[str]], tags: list[list[str]], vocab: WordVocab) -> None:
        self.words, self.tags = words, tags
        self.lengths = torch.tensor([len(w) for w in words], dtype=torch.long)
        T = int(self.lengths.max())
        self.ids = torch.zeros((len(words), T), dtype=torch.long)
        self.tag_ids = torch.full((len(words), T), IGNORE_INDEX, dtype=torch.long)
        for k, (w, t) in enumerate(zip(words, tags, strict=True)):
            self.ids[k, : len(w)] = torch.tensor(vocab.encode(" ".join(w)))
            self.tag_ids[k, : len(t)] = torch.tensor([TAGS.index(x) for x in t])

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i], self.tag_ids[i]


@dataclass(frozen=True)
class NERData:
    """The two splits and the vocabulary that encodes them."""

    train: NERDataset
    test: NERDataset
    vocab: WordVocab


def split_distinct(draw, n_train: int, n_test: int, seed: int, *, key,
                   what: str) -> tuple[list, list]:
    """A train/test split by construction: ``n_train`` items from ``draw(rng, "train")``, then
    ``n_test`` from ``draw(rng, "test")``, all with different ``key``, so no item of the test
    part is in the training part.

    Raises:
        ValueError: a size is not a positive int, a bad seed, or fewer distinct items than asked
            came out of 20 draws per item.
    """
    check_positive_int("n_train", n_train)
    check_positive_int("n_test", n_test)
    check_seed("seed", seed)
    rng, seen, parts = random.Random(seed), set(), []
    for part, n in (("train", n_train), ("test", n_test)):
        out = []
        for _ in range(20 * n):
            item = draw(rng, part)
            if key(item) not in seen:
                seen.add(key(item))
                out.append(item)
                if len(out) == n:
                    break
        else:
            raise ValueError(f"could not draw {n} distinct {what} for the {part} part; ask for "
                             "fewer")
        parts.append(out)
    return parts[0], parts[1]


def make_ner_data(n_train: int = 2000, n_test: int = 500, seed: int = 0) -> NERData:
    """Generate the tagged train and test sentences.

    Args:
        n_train, n_test: number of sentences in each part (>= 1).
        seed: the same seed gives the same data.

    Returns:
        ``NERData(train, test, vocab)``; no sentence is in both parts.
    """
    train, test = split_distinct(_sentence, n_train, n_test, seed,
                                 key=lambda row: " ".join(row[0]), what="sentences")
    vocab = ner_vocab()

    def part(rows: list) -> NERDataset:
        return NERDataset([w for w, _ in rows], [t for _, t in rows], vocab)

    return NERData(part(train), part(test), vocab)
