"""The generated NER and QA sets: exact labels, determinism, and splits by construction."""

import pytest
import torch

from lessons_pkg.data.masking import IGNORE_INDEX
from lessons_pkg.data.ner import (
    AMBIGUOUS,
    ORGANISATIONS,
    PERSONS,
    PLACES,
    TAGS,
    held_out_names,
    make_ner_data,
)
from lessons_pkg.data.qa import SEP, make_qa_data
from lessons_pkg.metrics import bio_entities


@pytest.fixture(scope="module")
def ner():
    return make_ner_data(n_train=800, n_test=300, seed=1)


@pytest.fixture(scope="module")
def qa():
    return make_qa_data(n_train=800, n_test=300, seed=1)


def test_no_test_sentence_or_passage_occurs_in_training(ner, qa):
    assert not {tuple(w) for w in ner.test.words} & {tuple(w) for w in ner.train.words}
    assert len({tuple(w) for w in ner.train.words}) == len(ner.train)
    assert not set(qa.test.passages) & set(qa.train.passages)


def _entity_names(ds):
    return {(kind, " ".join(words[s:e])) for words, tags in zip(ds.words, ds.tags, strict=True)
            for kind, s, e in bio_entities(tags)}


def test_held_out_names_occur_only_in_the_test_part(ner):
    held = {(kind, name) for kind in ("PER", "LOC", "ORG") for name in held_out_names(kind)}
    train, test = _entity_names(ner.train), _entity_names(ner.test)
    assert not train & held
    assert {(k, n) for k, n in test if n not in AMBIGUOUS} <= held
    assert len(test & held) > 0.8 * len(held)  # most held-out names are used
    assert {n for _, n in train} >= AMBIGUOUS and {n for _, n in test} >= AMBIGUOUS


def test_ner_entities_are_exactly_the_names_of_their_type(ner):
    pools = {"PER": PERSONS, "LOC": PLACES, "ORG": ORGANISATIONS}
    n_entities = 0
    for words, tags in zip(ner.train.words + ner.test.words, ner.train.tags + ner.test.tags,
                           strict=True):
        assert len(words) == len(tags)
        for kind, start, end in bio_entities(tags):
            assert " ".join(words[start:end]) in pools[kind]
            n_entities += 1
        outside = [w for w, t in zip(words, tags, strict=True) if t == "O"]
        assert not {"chen", "aires", "bank"} & set(outside)  # entity words are never "O"
    assert n_entities > len(ner.train)  # at least one entity per sentence, more on average


def test_ner_tensors_match_the_strings(ner):
    ds = ner.test
    for k in (0, 7, len(ds) - 1):
        n = int(ds.lengths[k])
        assert ner.vocab.decode(ds.ids[k]) == " ".join(ds.words[k])
        assert [TAGS[i] for i in ds.tag_ids[k, :n].tolist()] == ds.tags[k]
        assert (ds.tag_ids[k, n:] == IGNORE_INDEX).all()
    ids, tag_ids = ds[3]
    assert ids.shape == tag_ids.shape == (ds.ids.shape[1],)


def test_qa_spans_hold_the_answer_inside_the_passage(qa):
    for ds in (qa.train, qa.test):
        for k in range(len(ds)):
            s, e = int(ds.starts[k]), int(ds.ends[k])
            assert ds.span_text(k, s, e) == ds.answers[k]
            assert ds.context[k, s] and ds.context[k, e]
            assert ds.answers[k] in ds.passages[k]
            assert qa.vocab.decode(ds.ids[k]) == f"{ds.questions[k]} {SEP} {ds.passages[k]}"


def test_qa_question_matches_exactly_one_fact(qa):
    """One fact of the passage answers the question, and the answer's span lies in it (a name
    such as "georgia" may be a person and a place of one passage)."""
    patterns = {"where does {} live ?": " {} lives in ", "who lives in {} ?": " lives in {} .",
                "who does {} work for ?": " {} works for ", "who works for {} ?": " works for {} .",
                "what does {} have ?": " {} has ", "what does {} like ?": " {} likes "}
    for k, question in enumerate(qa.test.questions):
        words = question.split()
        form, argument = next((f, " ".join(words[len(f.split("{}")[0].split()):
                                                 len(words) - len(f.split("{}")[1].split())]))
                              for f in patterns if question.startswith(f.split("{}")[0])
                              and question.endswith(f.split("{}")[1]))
        passage = f" {qa.test.passages[k]} "
        pattern = patterns[form].format(argument)
        assert passage.count(pattern) == 1, (question, passage)
        fact = passage[: passage.index(pattern) + len(pattern)].rsplit(" . ", 1)[-1]
        fact += passage[passage.index(pattern) + len(pattern):].split(" .")[0]
        assert f" {qa.test.answers[k]} " in f" {fact} ", (question, fact)


def test_same_seed_same_data():
    a, b, c = (make_ner_data(50, 20, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.train.ids, b.train.ids) and a.test.tags == b.test.tags
    assert a.train.words != c.train.words
    q1, q2 = make_qa_data(50, 20, seed=3), make_qa_data(50, 20, seed=3)
    assert torch.equal(q1.test.ids, q2.test.ids) and torch.equal(q1.test.starts, q2.test.starts)


def test_bad_sizes():
    with pytest.raises(ValueError, match="n_train must be a positive int"):
        make_ner_data(n_train=0)
    with pytest.raises(ValueError, match="n_test must be a positive int"):
        make_qa_data(n_test=0)
    with pytest.raises(ValueError, match="seed must be in"):
        make_ner_data(seed=-1)
