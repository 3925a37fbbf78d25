"""Tests for lessons_pkg.data.sentiment: determinism, balance, the split, and why order matters."""

from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch.utils.data import DataLoader

from lessons_pkg.data.sentiment import (
    GROUPS,
    NEGATIVE,
    NOUNS,
    POSITIVE,
    WordVocab,
    bag_of_words,
    collate_sentiment,
    held_out_pairs,
    make_sentiment_data,
    sentiment_loaders,
    sentiment_vocab,
)


@pytest.fixture(scope="module")
def data():
    return make_sentiment_data(n_train=600, n_test=300, seed=3)


def _oracle_label(text: str) -> int:
    """The label by the rules a reader applies, written independently of the generator."""
    words = text.split()
    adjectives = [w for w in words if w in POSITIVE or w in NEGATIVE]
    polarity = [int(a in POSITIVE) for a in adjectives]
    if "although" in words:  # the main clause decides, wherever it stands
        return polarity[-1] if words[0] == "although" else polarity[0]
    if "but" in words:  # the clause after "but" decides
        return polarity[-1]
    if ", not" in text:  # "x , not y": x is asserted, y denied
        return polarity[0]
    if "not" in words or "never" in words:
        return 1 - polarity[0]
    return polarity[0]


def test_labels_follow_the_reading_rules(data):
    for split in (data.train, data.test):
        for text, label in zip(split.texts, split.labels.tolist(), strict=True):
            assert label == _oracle_label(text), text


def test_same_seed_same_data_and_other_seed_differs():
    a, b = make_sentiment_data(60, 30, seed=5), make_sentiment_data(60, 30, seed=5)
    c = make_sentiment_data(60, 30, seed=6)
    for name in ("ids", "lengths", "labels", "groups"):
        assert torch.equal(getattr(a.train, name), getattr(b.train, name))
        assert torch.equal(getattr(a.test, name), getattr(b.test, name))
    assert a.train.texts == b.train.texts
    assert a.train.texts != c.train.texts


def test_labels_and_groups_are_balanced(data):
    for split, n in ((data.train, 600), (data.test, 300)):
        assert len(split) == n
        assert int(split.labels.sum()) == n // 2
        counts = Counter(split.groups.tolist())
        assert sorted(counts) == [0, 1, 2]
        assert max(counts.values()) - min(counts.values()) <= 2  # one mirror pair at most
        for g in GROUPS:  # each group is label-balanced on its own
            assert split.labels[split.group_mask(g)].float().mean() == 0.5


def test_odd_sizes_work():
    d = make_sentiment_data(7, 1, seed=0)
    assert len(d.train) == 7 and len(d.test) == 1
    assert int(d.train.labels.sum()) in (3, 4)


def test_ids_lengths_and_texts_agree(data):
    vocab = data.vocab
    for k in range(len(data.test)):
        n = int(data.test.lengths[k])
        assert vocab.decode(data.test.ids[k, :n]) == data.test.texts[k]
        assert (data.test.ids[k, n:] == vocab.pad_id).all()
        assert (data.test.ids[k, :n] != vocab.pad_id).all()


def test_split_by_construction(data):
    assert not set(data.train.texts) & set(data.test.texts)
    held = held_out_pairs()
    assert len(held) == 4 * len(NOUNS)
    words_train = {w for t in data.train.texts for w in t.split()}
    words_test = {w for t in data.test.texts for w in t.split()}
    assert set(POSITIVE) | set(NEGATIVE) <= words_train
    assert set(POSITIVE) | set(NEGATIVE) <= words_test
    # Each adjective describes the nearest noun before it ("a good film": the one after it);
    # every such (noun, adjective) pair is held out exactly when the review is in test.
    for split, in_test in ((data.train, False), (data.test, True)):
        for text in split.texts:
            words = text.split()
            for k, adj in enumerate(words):
                if adj not in POSITIVE and adj not in NEGATIVE:
                    continue
                before = [w for w in words[:k] if w in NOUNS]
                noun = before[-1] if before else next(w for w in words[k:] if w in NOUNS)
                assert ((noun, adj) in held) == in_test, text


def test_same_words_opposite_labels_exist(data):
    # Reviews with identical word counts, grouped: some groups hold both labels.
    by_bag = defaultdict(set)
    for text, label, group in zip(
        data.test.texts, data.test.labels.tolist(), data.test.groups.tolist(), strict=True
    ):
        by_bag[tuple(sorted(Counter(text.split()).items()))].add((label, GROUPS[group]))
    clashes = [v for v in by_bag.values() if {lab for lab, _ in v} == {0, 1}]
    assert len(clashes) >= 50
    assert {g for v in clashes for _, g in v} == {"negation", "contrast"}


def test_bag_of_words_baseline_fails_on_negation(data):
    V = len(data.vocab)
    x_train, x_test = bag_of_words(data.train, V), bag_of_words(data.test, V)
    assert x_train.shape == (600, V) and (x_train[:, 0] == 0).all()
    np.testing.assert_array_equal(x_test.sum(1), data.test.lengths.numpy())
    clf = LogisticRegression(max_iter=2000).fit(x_train, data.train.labels.numpy())
    correct = torch.from_numpy(clf.predict(x_test)) == data.test.labels
    acc = {g: correct[data.test.group_mask(g)].float().mean().item() for g in GROUPS}
    assert acc["plain"] > 0.95
    assert acc["negation"] < 0.6
    assert acc["contrast"] < 0.65


def test_collate_pads_and_returns_lengths(data):
    items = [data.train[k] for k in range(5)]
    ids, lengths, labels = collate_sentiment(items)
    assert ids.shape == (5, int(lengths.max())) and ids.dtype == torch.long
    for k, (seq, label) in enumerate(items):
        assert lengths[k] == len(seq)
        assert torch.equal(ids[k, : len(seq)], seq)
        assert (ids[k, len(seq) :] == 0).all()
        assert labels[k] == label
    ids7, _, _ = collate_sentiment(items, pad_id=7)
    assert (ids7[ids == 0] == 7).all()


def test_loaders_yield_padded_batches():
    train, test, vocab = sentiment_loaders(batch_size=16, n_train=40, n_test=20, seed=1)
    ids, lengths, labels = next(iter(train))
    assert ids.shape[0] == 16 and lengths.shape == labels.shape == (16,)
    assert int(lengths.max()) == ids.shape[1]
    assert len(test.dataset) == 20 and len(vocab) == len(sentiment_vocab())
    first = [b[2] for b in sentiment_loaders(16, 40, 20, seed=1)[0]]
    again = [b[2] for b in sentiment_loaders(16, 40, 20, seed=1)[0]]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert isinstance(train, DataLoader)


def test_vocab_round_trip_and_errors():
    vocab = sentiment_vocab()
    assert vocab.itos[0] == "<pad>" and vocab.pad_id == 0
    text = "the film was not at all bad , although the plot was slow"
    assert vocab.decode(vocab.encode(text)) == text
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['zany'\]"):
        vocab.encode("the film was zany")
    with pytest.raises(ValueError, match=r"ids must be in \[0, "):
        vocab.decode([1, len(vocab)])
    with pytest.raises(ValueError, match=r"must not contain '<pad>'"):
        WordVocab(["a", "<pad>"])
    with pytest.raises(ValueError, match=r"duplicates"):
        WordVocab(["a", "a"])


def test_bad_args_raise(data):
    with pytest.raises(ValueError, match=r"n_train must be a positive int, got 0"):
        make_sentiment_data(0, 10)
    with pytest.raises(TypeError, match=r"n_test must be an int, got float"):
        make_sentiment_data(10, 2.5)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\), got -1"):
        make_sentiment_data(10, 10, seed=-1)
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        sentiment_loaders(batch_size=0)
    with pytest.raises(ValueError, match=r"batch must hold at least one"):
        collate_sentiment([])
    with pytest.raises(ValueError, match=r"at least one token"):
        collate_sentiment([(torch.tensor([], dtype=torch.long), torch.tensor(1))])
    with pytest.raises(ValueError, match=r"name must be one of"):
        data.test.group_mask("irony")
    with pytest.raises(ValueError, match=r"vocab_size must be a positive int"):
        bag_of_words(data.test, 0)
