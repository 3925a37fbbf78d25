"""A generated sentiment data set in which word order decides the label.

Chapter: Practice › Text classifier (bag-of-words baseline against an LSTM).

Short movie reviews are built from templates in three groups:

- ``plain``: "the plot was really clever" — the adjective decides.
- ``negation``: "the film was not at all boring", "i did not find the music charming",
  "the script was dull , not clever" — a negator flips the adjective it governs.
- ``contrast``: "the acting was good but the story was slow" — the clause after "but" (or the main
  clause beside "although") decides.

Every example is generated together with a mirror of opposite label. In the negation templates
with two adjectives and in every contrast template the mirror uses exactly the same words in
another order ("the film was good , not bad" against "the film was bad , not good"), so no
bag-of-words model can separate the pair; with one negated adjective a linear bag-of-words model
faces an XOR ("good" +, "not good" −, "bad" −, "not bad" +) and fails too. A sequence model can
learn both. Labels are exactly balanced.

Train and test are split by construction: each noun is paired with four held-out adjectives (two
positive, two negative) that appear with it only in the test set, so no test review occurs in
training while every word does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lessons_pkg._checks import check_choice, check_positive_int, check_seed

GROUPS = ("plain", "negation", "contrast")
PAD = "<pad>"

NOUNS = (
    "film",
    "movie",
    "plot",
    "acting",
    "music",
    "ending",
    "cast",
    "script",
    "story",
    "dialogue",
)
POSITIVE = (
    "good", "great", "excellent", "wonderful", "brilliant",
    "charming", "enjoyable", "moving", "clever", "superb",
)  # fmt: skip
NEGATIVE = (
    "bad", "awful", "boring", "dull", "terrible",
    "weak", "slow", "clumsy", "bland", "tedious",
)  # fmt: skip
INTENSIFIERS = ("very", "really", "truly", "quite", "so", "extremely")
VERBS = ("was", "is", "felt", "seemed")
NEGATORS = ("not", "never", "not at all")

# Templates per group. Fields: {n} {n2} nouns, {v} {v2} verbs ({vb} only "was"/"is"), {i} {i2}
# optional intensifiers (with a trailing space), {a} {a2} adjectives, {neg} a negator. ``decides``
# names the adjective whose polarity gives the label; ``flip`` says a negator reverses it.
_TEMPLATES = {
    "plain": [
        ("the {n} {v} {i}{a}", "a", False),
        ("a {i}{a} {n}", "a", False),
        ("i found the {n} {i}{a}", "a", False),
        ("the {n} {v} {i}{a} and {a2}", "a", False),  # a and a2 share a polarity
    ],
    "negation": [
        ("the {n} {vb} {neg} {a}", "a", True),
        ("the {n} did not seem {a}", "a", True),
        ("i did not find the {n} {a}", "a", True),
        ("i never found the {n} {a}", "a", True),
        ("the {n} {v} {i}{a} , not {a2}", "a", False),  # a and a2 opposite
    ],
    "contrast": [
        ("the {n} {v} {i}{a} but the {n2} {v2} {i2}{a2}", "a2", False),
        ("the {n} {v} {a} but {a2}", "a2", False),
        ("although the {n} {v} {i}{a} , the {n2} {v2} {i2}{a2}", "a2", False),
        ("the {n} {v} {i}{a} , although the {n2} {v2} {i2}{a2}", "a", False),
    ],
}


def held_out_pairs() -> frozenset[tuple[str, str]]:
    """The (noun, adjective) pairs kept for the test split: four per noun, each adjective once."""
    pairs = set()
    for k, noun in enumerate(NOUNS):
        for j in (2 * k, 2 * k + 1):
            pairs.add((noun, POSITIVE[j % len(POSITIVE)]))
            pairs.add((noun, NEGATIVE[(j + 5) % len(NEGATIVE)]))
    return frozenset(pairs)


class WordVocab:
    """Word-level tokenizer: whitespace-separated words <-> ids, with ``<pad>`` at id 0.

    Args:
        words: the vocabulary, without ``<pad>`` (it is added first).
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if PAD in words:
            raise ValueError(f"words must not contain {PAD!r}; it is added as id 0")
        if len(set(words)) != len(words):
            raise ValueError("words must not contain duplicates")
        self.itos = [PAD, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @property
    def pad_id(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Split ``text`` on whitespace and map each word to its id."""
        words = text.split()
        unknown = sorted({w for w in words if w not in self.stoi})
        if unknown:
            raise ValueError(f"text contains words outside the vocabulary: {unknown}")
        return [self.stoi[w] for w in words]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Join the words of ``ids``, skipping padding."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= i < len(self.itos)]
        if bad:
            raise ValueError(f"ids must be in [0, {len(self.itos)}), got {bad}")
        return " ".join(self.itos[i] for i in ids if i != self.pad_id)


def sentiment_vocab() -> WordVocab:
    """The fixed vocabulary of every word the templates can produce (sorted, after ``<pad>``)."""
    words = {*NOUNS, *POSITIVE, *NEGATIVE, *INTENSIFIERS, *VERBS}
    for group in _TEMPLATES.values():
        for template, _, _ in group:
            words.update(w for w in template.split() if "{" not in w)
    for negator in NEGATORS:
        words.update(negator.split())
    words.update(("did", "seem"))
    return WordVocab(sorted(words))


class SentimentDataset(Dataset):
    """Reviews as padded ids with true lengths, labels (1 = positive) and phenomenon groups.

    Attributes:
        ids: (N, T_max) int64, right-padded with 0.
        lengths: (N,) int64, true lengths.
        labels: (N,) int64, 1 positive, 0 negative.
        groups: (N,) int64 index into ``GROUPS`` ("plain", "negation", "contrast").
        texts: the N reviews as strings.

    An item is ``(ids_i, label_i)`` with ``ids_i`` unpadded (length ``lengths[i]``); batch them
    with ``collate_sentiment``.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        labels: torch.Tensor,
        groups: torch.Tensor,
        texts: list[str],
    ) -> None:
        self.ids, self.lengths, self.labels, self.groups, self.texts = (
            ids, lengths, labels, groups, texts,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i, : self.lengths[i]], self.labels[i]

    def group_mask(self, name: str) -> torch.Tensor:
        """(N,) bool, True for the examples of group ``name``."""
        check_choice("name", name, GROUPS)
        return self.groups == GROUPS.index(name)


@dataclass(frozen=True)
class SentimentData:
    """The two splits and the vocabulary that encodes them."""

    train: SentimentDataset
    test: SentimentDataset
    vocab: WordVocab


def _adjectives(split: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per noun, the (positive, negative) adjectives it may appear with in ``split``."""
    held = held_out_pairs()
    keep = (lambda p: p in held) if split == "test" else (lambda p: p not in held)
    return {
        n: ([a for a in POSITIVE if keep((n, a))], [a for a in NEGATIVE if keep((n, a))])
        for n in NOUNS
    }


def _pair(rng: random.Random, group: str, allowed: dict) -> list[tuple[str, int]]:
    """One review of ``group`` and its mirror of opposite label, as (text, label) pairs."""
    template, decides, flip = rng.choice(_TEMPLATES[group])
    n, n2 = rng.sample(NOUNS, 2)
    fields = {
        "n": n, "n2": n2, "v": rng.choice(VERBS), "v2": rng.choice(VERBS),
        "vb": rng.choice(VERBS[:2]),
        "neg": rng.choice(NEGATORS),
        "i": rng.choice(("", *(w + " " for w in INTENSIFIERS))),
        "i2": rng.choice(("", *(w + " " for w in INTENSIFIERS))),
    }  # fmt: skip
    polarity = rng.randrange(2)  # 1: "a" is positive
    pos, neg = allowed[n]
    pos2, neg2 = allowed[n2 if "{n2}" in template else n]
    if "{a2}" not in template:
        # Mirror: the same sentence with an adjective of the other polarity.
        a, a_mirror = rng.choice(pos), rng.choice(neg)
        if not polarity:
            a, a_mirror = a_mirror, a
        first, second = dict(fields, a=a), dict(fields, a=a_mirror)
    elif group == "plain":
        # "x and y" with one polarity; the mirror swaps both for the other polarity.
        same = (pos, neg) if polarity else (neg, pos)
        first = dict(fields, **dict(zip(("a", "a2"), rng.sample(same[0], 2), strict=True)))
        second = dict(fields, **dict(zip(("a", "a2"), rng.sample(same[1], 2), strict=True)))
    else:
        # Opposite polarities; the mirror swaps the two clauses (or adjectives): same words.
        a = rng.choice(pos if polarity else neg)
        a2 = rng.choice(neg2 if polarity else pos2)
        first = dict(fields, a=a, a2=a2)
        if "{n2}" in template:
            second = dict(fields, n=n2, n2=n, v=fields["v2"], v2=fields["v"], a=a2, a2=a)
            second.update(i=fields["i2"], i2=fields["i"])
        else:
            second = dict(fields, a=a2, a2=a)
    out = []
    for f in (first, second):
        word = f[decides]
        label = int(word in POSITIVE) ^ int(flip)
        out.append((template.format(**f), label))
    assert out[0][1] != out[1][1]
    return out


def _generate(rng: random.Random, n: int, split: str, vocab: WordVocab) -> SentimentDataset:
    allowed = _adjectives(split)
    n_pairs = (n + 1) // 2
    # Equal numbers of pairs per group, in random order.
    groups = [GROUPS[k % len(GROUPS)] for k in range(n_pairs)]
    rng.shuffle(groups)
    rows = []
    for group in groups:
        rows.extend(
            (text, label, GROUPS.index(group)) for text, label in _pair(rng, group, allowed)
        )
    rng.shuffle(rows)
    rows = rows[:n]
    encoded = [vocab.encode(text) for text, _, _ in rows]
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    ids = torch.full((n, int(lengths.max())), vocab.pad_id, dtype=torch.long)
    for k, e in enumerate(encoded):
        ids[k, : len(e)] = torch.tensor(e)
    labels = torch.tensor([r[1] for r in rows], dtype=torch.long)
    group_ids = torch.tensor([r[2] for r in rows], dtype=torch.long)
    return SentimentDataset(ids, lengths, labels, group_ids, [r[0] for r in rows])


def make_sentiment_data(n_train: int = 3000, n_test: int = 1000, seed: int = 0) -> SentimentData:
    """Generate the train and test reviews.

    Args:
        n_train: number of training reviews (>= 1).
        n_test: number of test reviews (>= 1).
        seed: the same seed gives the same data; the train/test split itself does not depend on it.

    Returns:
        ``SentimentData(train, test, vocab)``. Each group is a third of the reviews and, for even
        sizes, labels are exactly half positive.
    """
    check_positive_int("n_train", n_train)
    check_positive_int("n_test", n_test)
    check_seed("seed", seed)
    rng = random.Random(seed)
    vocab = sentiment_vocab()
    train = _generate(rng, n_train, "train", vocab)
    test = _generate(rng, n_test, "test", vocab)
    return SentimentData(train, test, vocab)


def collate_sentiment(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a list of ``(ids, label)`` items to the longest in the batch.

    Returns ``ids`` (B, T_batch) int64 padded with ``pad_id``, ``lengths`` (B,), ``labels`` (B,).
    """
    if len(batch) == 0:
        raise ValueError("batch must hold at least one (ids, label) item, got none")
    lengths = torch.tensor([len(ids) for ids, _ in batch], dtype=torch.long)
    if int(lengths.min()) == 0:
        raise ValueError("batch items must have at least one token, got an empty sequence")
    ids = torch.full((len(batch), int(lengths.max())), pad_id, dtype=torch.long)
    for k, (seq, _) in enumerate(batch):
        ids[k, : len(seq)] = seq
    labels = torch.stack([torch.as_tensor(label, dtype=torch.long) for _, label in batch])
    return ids, lengths, labels


def sentiment_loaders(
    batch_size: int = 64, n_train: int = 3000, n_test: int = 1000, seed: int = 0
) -> tuple[DataLoader, DataLoader, WordVocab]:
    """``(train_loader, test_loader, vocab)``; batches are ``(ids, lengths, labels)``.

    The training loader shuffles with a generator seeded by ``seed``.
    """
    check_positive_int("batch_size", batch_size)
    data = make_sentiment_data(n_train, n_test, seed)
    shuffle_gen = torch.Generator().manual_seed(seed)
    train = DataLoader(
        data.train, batch_size, shuffle=True, collate_fn=collate_sentiment, generator=shuffle_gen
    )
    test = DataLoader(data.test, batch_size, shuffle=False, collate_fn=collate_sentiment)
    return train, test, data.vocab


def bag_of_words(dataset: SentimentDataset, vocab_size: int) -> np.ndarray:
    """Word counts per review, (N, vocab_size) float64, padding not counted (column 0 stays 0)."""
    check_positive_int("vocab_size", vocab_size)
    counts = np.zeros((len(dataset), vocab_size))
    for k in range(len(dataset)):
        row = dataset.ids[k, : dataset.lengths[k]].numpy()
        counts[k] = np.bincount(row, minlength=vocab_size)[:vocab_size]
    counts[:, 0] = 0.0
    return counts
