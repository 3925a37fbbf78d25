"""lessons_pkg.metrics against the libraries practitioners use, on the same inputs: scikit-learn
(precision, recall, F1, confusion matrix), seqeval (entity F1), sacreBLEU (BLEU, chrF); SQuAD and
ECE against hand-worked examples and an independent NumPy computation."""

import math
import random

import numpy as np
import pytest
import sacrebleu
import seqeval.metrics
import sklearn.metrics
import torch
import torch.nn.functional as F
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from lessons_pkg.metrics import (
    bio_entities,
    chrf,
    confusion_matrix,
    corpus_bleu,
    entity_scores,
    expected_calibration_error,
    normalize_answer,
    perplexity,
    precision_recall_f1,
    qa_exact_match,
    qa_token_f1,
    reliability_bins,
    tokenize_13a,
)

# ---------------------------------------------------------------------------------------------
# Classification against scikit-learn


def _random_labels(seed, n=200, k=4):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, k, n)
    # a classifier that is right about 60 % of the time, with class-dependent mistakes
    predictions = np.where(rng.random(n) < 0.6, targets, rng.integers(0, k, n))
    return targets, predictions


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("average", ["micro", "macro"])
def test_averaged_scores_match_sklearn(seed, average):
    targets, predictions = _random_labels(seed)
    ours = precision_recall_f1(targets, predictions, average=average)
    p, r, f, _ = sklearn.metrics.precision_recall_fscore_support(
        targets, predictions, average=average, zero_division=0)
    assert ours[:3] == pytest.approx((p, r, f), abs=1e-12)
    assert ours.support == len(targets)


def test_per_class_scores_match_sklearn_with_a_class_never_predicted():
    targets = ["pos", "neg", "neu", "neu", "pos", "neg", "neg", "neu"]
    predictions = ["pos", "neg", "neg", "pos", "pos", "neg", "pos", "neg"]  # "neu" never predicted
    labels = ["neg", "neu", "pos"]
    ours = precision_recall_f1(targets, predictions, labels=labels, average=None)
    p, r, f, s = sklearn.metrics.precision_recall_fscore_support(
        targets, predictions, labels=labels, average=None, zero_division=0)
    for i, c in enumerate(labels):
        assert ours[c][:3] == pytest.approx((p[i], r[i], f[i]), abs=1e-12)
        assert ours[c].support == s[i]
    assert ours["neu"].precision == 0.0  # 0 / 0 counts as 0


def test_micro_f1_of_single_label_data_is_accuracy():
    targets, predictions = _random_labels(5)
    micro = precision_recall_f1(torch.tensor(targets), torch.tensor(predictions), average="micro")
    assert micro.f1 == pytest.approx(np.mean(targets == predictions), abs=1e-12)


def test_confusion_matrix_matches_sklearn():
    targets, predictions = _random_labels(3, k=5)
    labels = [4, 2, 0, 1, 3]  # the row order follows labels
    np.testing.assert_array_equal(
        confusion_matrix(targets, predictions, labels=labels),
        sklearn.metrics.confusion_matrix(targets, predictions, labels=labels))


# ---------------------------------------------------------------------------------------------
# Entities against seqeval


def test_bio_entities_hand_worked():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "I-PER"]
    assert bio_entities(tags) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("ORG", 6, 7),
                                  ("PER", 8, 9)]  # a stray I- starts an entity, as in CoNLL
    assert bio_entities(["O", "O"]) == []


def _random_tag_sequences(seed, n=60):
    """Gold BIO sentences and noisy predictions with wrong types, cut and stray tags."""
    rng = random.Random(seed)
    gold, pred = [], []
    for _ in range(n):
        length = rng.randint(1, 9)
        g, i = [], 0
        while i < length:
            if rng.random() < 0.4:
                kind, span = rng.choice(["PER", "LOC", "ORG"]), rng.randint(1, 3)
                g += [f"B-{kind}"] + [f"I-{kind}"] * (span - 1)
                i += span
            else:
                g.append("O")
                i += 1
        g = g[:length]
        p = [t if rng.random() < 0.75 else rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-ORG"])
             for t in g]
        gold.append(g)
        pred.append(p)
    return gold, pred


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_entity_scores_match_seqeval(seed):
    gold, pred = _random_tag_sequences(seed)
    for average in ("micro", "macro"):
        ours = entity_scores(gold, pred, average=average)
        want = (seqeval.metrics.precision_score(gold, pred, average=average),
                seqeval.metrics.recall_score(gold, pred, average=average),
                seqeval.metrics.f1_score(gold, pred, average=average))
        assert ours[:3] == pytest.approx(want, abs=1e-12)
    per_type = entity_scores(gold, pred, average=None)
    report = seqeval.metrics.classification_report(gold, pred, output_dict=True)
    for kind, scores in per_type.items():
        assert scores[:3] == pytest.approx(
            (report[kind]["precision"], report[kind]["recall"], report[kind]["f1-score"]),
            abs=1e-12)
        assert scores.support == report[kind]["support"]


def test_entity_scores_hand_worked_partial_match_counts_twice():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]  # "PER" cut short: one false positive, one miss
    scores = entity_scores(gold, pred)
    assert scores[:3] == pytest.approx((1 / 2, 1 / 2, 1 / 2))
    assert scores.support == 2


# ---------------------------------------------------------------------------------------------
# Question answering: the SQuAD definitions, hand-worked


def test_normalize_answer_like_squad():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words


def test_qa_exact_match_and_token_f1_hand_worked():
    predictions = ["the red ball", "in Paris", "green box", ""]
    references = ["a red ball", "Paris", "the big red box", ["x", ""]]
    assert qa_exact_match(predictions, references) == pytest.approx((1 + 0 + 0 + 1) / 4)
    # 1; "in paris" vs "paris": P 1/2, R 1 -> 2/3; "green box" vs "big red box": P 1/2, R 1/3
    # -> 2/5; the empty answer is an accepted answer -> 1
    assert qa_token_f1(predictions, references) == pytest.approx((1 + 2 / 3 + 2 / 5 + 1) / 4)


# ---------------------------------------------------------------------------------------------
# Perplexity


def test_perplexity_is_exp_cross_entropy_and_uniform_gives_v():
    logits = torch.randn(3, 7, 11, dtype=torch.float64)
    targets = torch.randint(0, 11, (3, 7))
    targets[0, :2] = -100
    want = math.exp(F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)).item())
    assert perplexity(logits, targets) == pytest.approx(want, rel=1e-12)
    assert perplexity(torch.zeros(5, 11), torch.arange(5)) == pytest.approx(11.0, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# BLEU and chrF against sacreBLEU

SENTENCES = [
    ("the cat sat on the mat.", "the cat is on the mat."),
    ("there is a cat on the mat", "a cat is on the mat"),
    ("the twenty-third of june, 1987", "the twenty-third of june, 1987"),
    ("the third of june , 1978", "the twenty-third of june, 1987"),
    ("1987-03-05 (\"quoted\") & more...", "1987-03-05 (quoted) and more"),
    ("It costs $3.50, i.e. 1,000 cents!", "it costs 3.50 dollars, that is 1,000 cents."),
]


def test_tokenize_13a_matches_sacrebleu():
    tok = Tokenizer13a()
    for hyp, ref in SENTENCES:
        for text in (hyp, ref, hyp + " &amp; <skipped> x-\ny  "):
            assert tokenize_13a(text) == tok(text.rstrip()).split(), text


def _random_corpus(seed, n=40):
    rng = random.Random(seed)
    words = "the a cat dog sat on mat is , . 1987 - of june twenty-third big".split()
    refs = [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(n)]
    hyps = []
    for ref in refs:
        toks = ref.split()
        toks = [w if rng.random() < 0.7 else rng.choice(words) for w in toks]
        hyps.append(" ".join(toks[: rng.randint(1, len(toks))]))  # some are too short
    return hyps, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corpus_bleu_matches_sacrebleu(seed):
    hyps, refs = _random_corpus(seed)
    for h, r in ((hyps, refs), ([h for h, _ in SENTENCES], [r for _, r in SENTENCES])):
        ours = corpus_bleu(h, r)
        want = sacrebleu.corpus_bleu(h, [r])
        assert ours.score == pytest.approx(want.score, abs=1e-9)
        assert ours.precisions == pytest.approx(want.precisions, abs=1e-9)
        assert ours.brevity_penalty == pytest.approx(want.bp, abs=1e-12)
        assert (ours.hyp_len, ours.ref_len) == (want.sys_len, want.ref_len)


def test_corpus_bleu_smoothing_brevity_and_no_match_match_sacrebleu():
    cases = [(["a b c d e"], ["a b x d e f g"]),  # no 3- or 4-gram match: smoothed; BP < 1
             (["a b"], ["a b c d"]),  # no 3-grams at all in the hypothesis
             (["x y z"], ["a b c"]),  # nothing matches: 0
             (["a b c d"], ["a b c d"])]  # perfect: 100
    for hyps, refs in cases:
        assert corpus_bleu(hyps, refs).score == pytest.approx(
            sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert corpus_bleu(["a b c d"], ["a b c d"]).score == pytest.approx(100.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chrf_matches_sacrebleu(seed):
    hyps, refs = _random_corpus(seed)
    for h, r in ((hyps, refs), ([h for h, _ in SENTENCES], [r for _, r in SENTENCES]),
                 (["ab", "abcdefgh"], ["a", "abcxefgh"])):  # orders missing on one side
        assert chrf(h, r) == pytest.approx(sacrebleu.corpus_chrf(h, [r]).score, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Expected calibration error


def test_ece_hand_worked():
    # Two bins (M = 2). Bin (0, 0.5]: confidences 0.5 (wrong); bin (0.5, 1]: 0.9 (right),
    # 0.9 (right), 0.6 (wrong): accuracy 2/3, mean confidence 0.8.
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    targets = [1, 0, 1, 1]  # argmax of the first row is class 0 (first of the tie): wrong
    conf, acc, count = reliability_bins(probs, targets, n_bins=2)
    np.testing.assert_allclose(conf, [0.5, 0.8])
    np.testing.assert_allclose(acc, [0.0, 2 / 3])
    np.testing.assert_array_equal(count, [1, 3])
    want = 1 / 4 * abs(0.0 - 0.5) + 3 / 4 * abs(2 / 3 - 0.8)
    assert expected_calibration_error(probs, targets, n_bins=2) == pytest.approx(want)


def _ece_numpy(probs, targets, n_bins):
    """ECE by an explicit loop over the bins (an independent computation)."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = (conf > edges[b]) & (conf <= edges[b + 1])
        if in_bin.any():
            ece += in_bin.mean() * abs((pred[in_bin] == targets[in_bin]).mean()
                                       - conf[in_bin].mean())
    return ece


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_matches_a_numpy_loop(n_bins):
    rng = np.random.default_rng(n_bins)
    logits = rng.normal(size=(500, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    targets = rng.integers(0, 3, 500)
    assert expected_calibration_error(torch.tensor(probs), torch.tensor(targets), n_bins) == \
        pytest.approx(_ece_numpy(probs, targets, n_bins), abs=1e-12)


def test_a_perfectly_calibrated_predictor_has_ece_near_zero():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 100_000)
    targets = (rng.random(100_000) >= p).astype(int)  # class 0 is right with probability p
    assert expected_calibration_error(np.stack([p, 1 - p], axis=1), targets) < 0.01


# ---------------------------------------------------------------------------------------------
# Bad input: each error names the argument


@pytest.mark.parametrize("call, match", [
    (lambda: precision_recall_f1([0, 1], [0]), "targets and predictions must have the same"),
    (lambda: precision_recall_f1([], []), "targets is empty"),
    (lambda: precision_recall_f1([0, 1], [0, 2], labels=[0, 1]),
     r"predictions holds labels outside labels \[0, 1\]: \[2\]"),
    (lambda: precision_recall_f1([0, 3], [0, 1], labels=[0, 1]), "targets holds labels outside"),
    (lambda: precision_recall_f1([0, 1], [0, 1], average="weighted"), "average must be one of"),
    (lambda: precision_recall_f1([0, 1], [0, 1], labels=[0, 0, 1]), "labels must not repeat"),
    (lambda: confusion_matrix([0], [0, 1]), "targets and predictions must have the same"),
    (lambda: entity_scores([["O"]], [["O"], ["O"]]), "targets and predictions must have"),
    (lambda: entity_scores([["O", "B-PER"]], [["O"]]), r"targets\[0\] and predictions\[0\]"),
    (lambda: entity_scores([], []), "targets is empty"),
    (lambda: entity_scores([["O"]], [["O"]], average="samples"), "average must be one of"),
    (lambda: bio_entities(["O", "X-PER"]), r"tags\[1\] must be 'O', 'B-TYPE' or 'I-TYPE'"),
    (lambda: bio_entities(["B-"]), r"tags\[0\]"),
    (lambda: qa_exact_match(["a"], ["a", "b"]), "predictions and references must have"),
    (lambda: qa_token_f1([], []), "predictions is empty"),
    (lambda: qa_token_f1(["a"], [[]]), r"references\[0\] holds no answer"),
    (lambda: corpus_bleu(["a"], ["a", "b"]), "hypotheses and references must have"),
    (lambda: corpus_bleu([], []), "hypotheses is empty"),
    (lambda: corpus_bleu(["a"], ["a"], max_order=0), "max_order must be a positive int"),
    (lambda: chrf(["a", "b"], ["a"]), "hypotheses and references must have"),
    (lambda: chrf([], []), "hypotheses is empty"),
    (lambda: perplexity(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long)),
     r"logits must have shape \(\*N, V\) and targets \(\*N,\)"),
    (lambda: perplexity(torch.zeros(2, 3), torch.full((2,), -100)), "targets is empty"),
    (lambda: perplexity(torch.zeros(2, 3), torch.tensor([0, 3])), r"targets must hold token ids"),
    (lambda: expected_calibration_error(np.full((2, 2), 0.5), [0]),
     "probabilities and targets must have the same length"),
    (lambda: expected_calibration_error(np.zeros((0, 2)), []), "probabilities must have shape"),
    (lambda: expected_calibration_error(np.full((2, 2), 0.5), [0, 2]),
     r"targets must hold class indices in \[0, 2\)"),
    (lambda: expected_calibration_error(np.array([[0.7, 0.7]]), [0]), "rows of probabilities"),
    (lambda: expected_calibration_error(np.full((1, 2), 0.5), [0], n_bins=0), "n_bins must be"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="targets must be a sequence"):
        precision_recall_f1("abc", "abd")
    with pytest.raises(TypeError, match="text must be a str"):
        normalize_answer(3)
    with pytest.raises(TypeError, match="logits must be a torch.Tensor"):
        perplexity([[0.0]], torch.tensor([0]))
