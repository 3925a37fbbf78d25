"""Generated passages with questions whose answers are spans of the passage: an extractive
question-answering set in the form of SQuAD.

Chapter: Applications › Language understanding (question answering). Paper: Rajpurkar et al. (2016),
SQuAD; Devlin et al. (2019), §4.2, for the input "question <sep> passage" and the span it predicts.

A passage states three facts about three people, with the names, places and organisations of
``lessons_pkg.data.ner`` and the nouns and adjectives of ``lessons_pkg.data.lexicon``::

    anna chen lives in buenos aires . tom works for city bank . mei has a small red box .

A question asks for one fact, in either direction ("where does anna chen live ?" ->
"buenos aires", "who works for city bank ?" -> "tom"); in a passage the people, places and
organisations differ, so every question has exactly one answer, and that answer is a span of one to
four words of the passage. Train and test are split by construction: distinct passages are dealt
into the two parts, so no test passage occurs in training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from lessons_pkg.data.lexicon import ADJECTIVES_COLOUR, ADJECTIVES_FIRST, NOUNS
from lessons_pkg.data.ner import ORGANISATIONS, PERSONS, PLACES, split_distinct
from lessons_pkg.data.sentiment import WordVocab

__all__ = ["SEP", "QAData", "QADataset", "make_qa_data", "qa_vocab"]

SEP = "<sep>"
FACTS_PER_PASSAGE = 3

_FOODS = tuple(n.plural for n in NOUNS if n.category == "food")
_THINGS = tuple(n for n in NOUNS if n.category in ("thing", "animal"))

# A relation: the sentence that states it and its questions, each with the slot it asks for.
# {P} is the person; {X} the other argument; {A} "a" or "an" before it.
_RELATIONS = {
    "lives": ("{P} lives in {X} .", (("where does {P} live ?", "X"), ("who lives in {X} ?", "P"))),
    "works": ("{P} works for {X} .",
              (("who does {P} work for ?", "X"), ("who works for {X} ?", "P"))),
    "has": ("{P} has {A} {X} .", (("what does {P} have ?", "X"),)),
    "likes": ("{P} likes {X} .", (("what does {P} like ?", "X"),)),
}


def _object(relation: str, rng: random.Random) -> str:
    """The second argument of a fact."""
    if relation == "lives":
        return rng.choice(PLACES)
    if relation == "works":
        return rng.choice(ORGANISATIONS)
    if relation == "likes":
        return rng.choice(_FOODS)
    noun = rng.choice(_THINGS)  # "has": a thing or an animal, with one or two adjectives
    first = rng.choice([a.word for a in ADJECTIVES_FIRST if noun.category in a.categories])
    colour = rng.choice(("", *(c.word + " " for c in ADJECTIVES_COLOUR)))
    return f"{first} {colour}{noun.singular}"


def _example(rng: random.Random, part: str) -> tuple[str, str, str, str]:
    """(passage, question, answer, the fact's sentence) of one generated example; both parts
    draw from all the names (``part`` only names the split)."""
    people = rng.sample([p for p in PERSONS if " " not in p], FACTS_PER_PASSAGE)
    people = [p if rng.random() < 0.5 else rng.choice([q for q in PERSONS
                                                      if q.startswith(p + " ")] or [p])
              for p in people]  # some people get a surname, first names stay distinct
    facts, used = [], set()
    for person in people:
        relation = rng.choice(tuple(_RELATIONS))
        x = _object(relation, rng)
        while x in used:  # one answer per question: no place or organisation twice
            x = _object(relation, rng)
        used.add(x)
        facts.append((relation, person, x))
    relation, person, x = rng.choice(facts)
    question, slot = rng.choice(_RELATIONS[relation][1])
    sentences = [_RELATIONS[r][0].format(P=p, X=o, A="an" if o[0] in "aeiou" else "a")
                 for r, p, o in facts]
    answer = person if slot == "P" else x
    return " ".join(sentences), question.format(P=person, X=x), answer, \
        sentences[facts.index((relation, person, x))]


def qa_vocab() -> WordVocab:
    """Every word of the passages and questions, sorted, after ``<pad>``."""
    words = {SEP, "a", "an"}
    for sentence, questions in _RELATIONS.values():
        for text in (sentence, *(q for q, _ in questions)):
            words.update(w for w in text.split() if "{" not in w)
    for pool in (PERSONS, PLACES, ORGANISATIONS, _FOODS):
        words.update(w for entry in pool for w in entry.split())
    words.update(n.singular for n in _THINGS)
    words.update(a.word for a in (*ADJECTIVES_FIRST, *ADJECTIVES_COLOUR))
    return WordVocab(sorted(words))


class QADataset(Dataset):
    """Questions and passages encoded as ``question <sep> passage``, with the answer span.

    Attributes:
        passages, questions, answers: the strings.
        ids: (N, T_max) int64, right-padded with 0.
        starts, ends: (N,) int64 positions in ``ids`` of the answer's first and last word
            (inclusive).
        context: (N, T_max) bool, True at the passage's words: where an answer may lie.

    An item is ``(ids_i, start_i, end_i)``; the default collate batches them.
    """

    def __init__(self, rows: list[tuple[str, str, str, str]], vocab: WordVocab) -> None:
        self.passages = [r[0] for r in rows]
        self.questions = [r[1] for r in rows]
        self.answers = [r[2] for r in rows]
        encoded, spans, offsets = [], [], []
        for passage, question, answer, fact in rows:
            q, p = question.split(), passage.split()
            # The answer is in its own fact's sentence: find it there, then shift to the input.
            sentence_at = _find(p, fact.split())
            start = len(q) + 1 + sentence_at + _find(fact.split(), answer.split())
            encoded.append(vocab.encode(f"{question} {SEP} {passage}"))
            spans.append((start, start + len(answer.split()) - 1))
            offsets.append(len(q) + 1)
        T = max(len(e) for e in encoded)
        self.ids = torch.zeros((len(rows), T), dtype=torch.long)
        self.context = torch.zeros((len(rows), T), dtype=torch.bool)
        for k, (e, offset) in enumerate(zip(encoded, offsets, strict=True)):
            self.ids[k, : len(e)] = torch.tensor(e)
            self.context[k, offset : len(e)] = True
        self.starts = torch.tensor([s for s, _ in spans])
        self.ends = torch.tensor([e for _, e in spans])

    def __len__(self) -> int:
        return len(self.answers)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.ids[i], self.starts[i], self.ends[i]

    def span_text(self, i: int, start: int, end: int) -> str:
        """The words at input positions ``start..end`` (inclusive) of example ``i``."""
        words = f"{self.questions[i]} {SEP} {self.passages[i]}".split()
        return " ".join(words[start : end + 1])


def _find(words: list[str], part: list[str]) -> int:
    """Index of the first occurrence of ``part`` in ``words``."""
    for i in range(len(words) - len(part) + 1):
        if words[i : i + len(part)] == part:
            return i
    raise AssertionError(f"{part} not in {words}")


@dataclass(frozen=True)
class QAData:
    """The two splits and the vocabulary that encodes them."""

    train: QADataset
    test: QADataset
    vocab: WordVocab


def make_qa_data(n_train: int = 3000, n_test: int = 500, seed: int = 0) -> QAData:
    """Generate the train and test questions.

    Args:
        n_train, n_test: number of (passage, question) examples in each part (>= 1).
        seed: the same seed gives the same data.

    Returns:
        ``QAData(train, test, vocab)``; no passage is in both parts.
    """
    train, test = split_distinct(_example, n_train, n_test, seed, key=lambda row: row[0],
                                 what="passages")
    vocab = qa_vocab()
    return QAData(QADataset(train, vocab), QADataset(test, vocab), vocab)
