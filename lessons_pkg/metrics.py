"""Evaluation metrics written from their formulas: classification, entities, QA, language models,
translation and calibration.

Chapters: Applications › Language understanding (P/R/F1, entities, QA, calibration) and Applications
› Language generation (perplexity, BLEU, chrF). Papers: the CoNLL-2003 shared task (Tjong Kim Sang &
De Meulder, 2003) for entity-level F1; SQuAD (Rajpurkar et al., 2016) for exact match and token F1;
BLEU (Papineni et al., 2002) with the mteval-v13a tokenisation and the corpus statistics of
sacreBLEU (Post, 2018); chrF (Popović, 2015); expected calibration error (Naeini et al., 2015; Guo
et al., 2017).

Scales: precision, recall, F1, exact match and ECE are fractions in [0, 1]; BLEU and chrF are
reported on 0–100, as papers and sacreBLEU report them. A ratio whose denominator is zero (the
precision of a class never predicted) counts as 0, as scikit-learn's ``zero_division=0``.

Inputs are sequences (lists, tuples, NumPy arrays or 1-D tensors). Bad input raises
``ValueError`` naming the argument: lengths that differ, an empty input, a label outside the
class set, an unknown averaging mode.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from lessons_pkg._checks import check_choice, check_int, check_tensor

__all__ = [
    "BleuScore",
    "Scores",
    "bio_entities",
    "chrf",
    "confusion_matrix",
    "corpus_bleu",
    "entity_scores",
    "expected_calibration_error",
    "normalize_answer",
    "perplexity",
    "precision_recall_f1",
    "qa_exact_match",
    "qa_token_f1",
    "reliability_bins",
    "tokenize_13a",
]

AVERAGES = ("micro", "macro", None)


class Scores(NamedTuple):
    """Precision, recall and F1 of one class (or an average), with the support: the number of
    true instances it covers."""

    precision: float
    recall: float
    f1: float
    support: int


# ---------------------------------------------------------------------------------------------
# Input checks


def _as_list(name: str, values: Any) -> list:
    """A non-empty sequence (not a string) as a list; a 1-D tensor or array becomes its items."""
    if isinstance(values, (torch.Tensor, np.ndarray)):
        if values.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {tuple(values.shape)}")
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence, got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{name} is empty: the metric of nothing is undefined")
    return list(values)


def _paired(names: tuple[str, str], a: Any, b: Any) -> tuple[list, list]:
    """Two non-empty sequences of one length, as lists."""
    a, b = _as_list(names[0], a), _as_list(names[1], b)
    if len(a) != len(b):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {len(a)} "
                         f"and {len(b)}")
    return a, b


def _check_labels(name: str, values: list, labels: list) -> None:
    outside = sorted({v for v in values if v not in labels}, key=repr)
    if outside:
        raise ValueError(f"{name} holds labels outside labels {labels}: {outside}")


def _class_set(targets: list, predictions: list, labels: Sequence[Hashable] | None) -> list:
    """The classes: ``labels`` as given (checked), else the sorted union of what occurs."""
    if labels is None:
        return sorted(set(targets) | set(predictions))
    labels = _as_list("labels", labels)
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must not repeat a label, got {labels}")
    _check_labels("targets", targets, labels)
    _check_labels("predictions", predictions, labels)
    return labels


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _scores(tp: float, n_pred: float, n_true: float) -> Scores:
    """P = TP / predicted, R = TP / true, F1 = 2PR / (P + R)."""
    p, r = _ratio(tp, n_pred), _ratio(tp, n_true)
    return Scores(p, r, _ratio(2 * p * r, p + r), int(n_true))


def _average(counts: dict[Any, tuple[int, int, int]], average: str | None):
    """Per-class (TP, predicted, true) counts -> the scores ``average`` asks for.

    micro: pool the counts of every class, then compute P, R, F1 once. macro: the unweighted
    mean of the per-class P, R and F1 (sklearn's definition: F1 is averaged, not recomputed).
    None: a dict class -> Scores.
    """
    per_class = {c: _scores(*n) for c, n in counts.items()}
    if average is None:
        return per_class
    if average == "micro":
        tp, n_pred, n_true = (sum(n[i] for n in counts.values()) for i in range(3))
        return _scores(tp, n_pred, n_true)
    k = len(per_class)
    means = [sum(s[i] for s in per_class.values()) / k for i in range(3)]
    return Scores(*means, sum(s.support for s in per_class.values()))


# ---------------------------------------------------------------------------------------------
# Classification


def _confusion(targets: Any, predictions: Any,
               labels: Sequence[Hashable] | None) -> tuple[np.ndarray, list]:
    """The checked confusion matrix and the class set of its rows."""
    targets, predictions = _paired(("targets", "predictions"), targets, predictions)
    labels = _class_set(targets, predictions, labels)
    index = {c: i for i, c in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(targets, predictions, strict=True):
        matrix[index[t], index[p]] += 1
    return matrix, labels


def confusion_matrix(targets: Sequence, predictions: Sequence,
                     labels: Sequence[Hashable] | None = None) -> np.ndarray:
    """Counts C[i, j] of examples of true class ``labels[i]`` predicted as ``labels[j]``
    (K, K) int64; rows are true classes, as in scikit-learn.

    Args:
        targets, predictions: one label per example (any hashable: ints or strings).
        labels: the class set, in the order of the rows; default: the sorted labels that occur.
    """
    return _confusion(targets, predictions, labels)[0]


def precision_recall_f1(targets: Sequence, predictions: Sequence, *,
                        labels: Sequence[Hashable] | None = None,
                        average: str | None = "macro") -> Scores | dict[Any, Scores]:
    """Precision, recall and F1 of a classifier, per class or averaged.

    For class c: P_c = TP_c / (TP_c + FP_c), R_c = TP_c / (TP_c + FN_c),
    F1_c = 2 P_c R_c / (P_c + R_c). ``average="micro"`` pools TP, FP, FN over the classes
    (for single-label data micro P = R = F1 = accuracy); ``"macro"`` takes the unweighted mean of
    the per-class values; ``None`` returns ``{class: Scores}``.

    Args:
        targets, predictions: one label per example.
        labels: the class set (every label must belong to it); default: the labels that occur.
        average: "micro", "macro" or None.
    """
    check_choice("average", average, AVERAGES)
    matrix, labels = _confusion(targets, predictions, labels)
    tp = np.diag(matrix)
    counts = {c: (int(tp[i]), int(matrix[:, i].sum()), int(matrix[i].sum()))
              for i, c in enumerate(labels)}
    return _average(counts, average)


# ---------------------------------------------------------------------------------------------
# Entities in BIO tags


def bio_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tagged sentence as ``(type, start, end)`` spans, end exclusive.

    Tags are "O", "B-TYPE" (begins an entity) or "I-TYPE" (continues it). As in the CoNLL
    evaluation script (and seqeval's default mode), an "I-" tag that does not continue an entity
    of its type starts a new one.
    """
    tags = list(tags)
    spans, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):  # a final "O" closes an open entity
        if not isinstance(tag, str) or not (tag == "O" or tag[:2] in ("B-", "I-") and tag[2:]):
            raise ValueError(f"tags[{i}] must be 'O', 'B-TYPE' or 'I-TYPE', got {tag!r}")
        prefix, this = tag[:1], tag[2:]
        if start is not None and (prefix != "I" or this != kind):
            spans.append((kind, start, i))
            start = None
        if prefix in ("B", "I") and start is None:
            start, kind = i, this
    return spans


def entity_scores(targets: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]], *,
                  average: str | None = "micro") -> Scores | dict[str, Scores]:
    """Entity-level precision, recall and F1 over tagged sentences (CoNLL-2003).

    An entity counts as found only when the predicted span has the same type and exactly the same
    first and last token as a true one; a half-found entity is a false positive and a false
    negative at once. TP, FP, FN are counted per type over all sentences, then averaged as in
    :func:`precision_recall_f1` (micro is the CoNLL score).

    Args:
        targets, predictions: per sentence a sequence of BIO tags; each sentence's two tag
            sequences must have one length.
        average: "micro", "macro" or None (a dict type -> Scores).
    """
    check_choice("average", average, AVERAGES)
    targets, predictions = _paired(("targets", "predictions"), targets, predictions)
    true_spans, pred_spans = set(), set()
    for k, (t, p) in enumerate(zip(targets, predictions, strict=True)):
        t, p = list(t), list(p)
        if len(t) != len(p):
            raise ValueError(f"targets[{k}] and predictions[{k}] must have the same length, got "
                             f"{len(t)} and {len(p)} tags")
        true_spans |= {(k, *span) for span in bio_entities(t)}
        pred_spans |= {(k, *span) for span in bio_entities(p)}
    types = sorted({s[1] for s in true_spans | pred_spans})
    counts = {c: (sum(s[1] == c for s in true_spans & pred_spans),
                  sum(s[1] == c for s in pred_spans), sum(s[1] == c for s in true_spans))
              for c in types}
    if not counts:
        return {} if average is None else Scores(0.0, 0.0, 0.0, 0)
    return _average(counts, average)


# ---------------------------------------------------------------------------------------------
# Extractive question answering (SQuAD)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, drop punctuation, drop the articles a/an/the, and
    collapse whitespace."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _answer_f1(prediction: str, truth: str) -> float:
    """Token F1 between two answers: the bag-of-tokens overlap of their normalised forms."""
    pred, true = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not true:  # an empty answer agrees only with an empty one
        return float(pred == true)
    common = sum((Counter(pred) & Counter(true)).values())
    return _scores(common, len(pred), len(true)).f1


def _qa_metric(predictions: Sequence[str], references: Sequence, score) -> float:
    """The mean over questions of the best score against any of the question's answers."""
    predictions, references = _paired(("predictions", "references"), predictions, references)
    total = 0.0
    for k, (pred, ref) in enumerate(zip(predictions, references, strict=True)):
        answers = [ref] if isinstance(ref, str) else list(ref)
        if not answers:
            raise ValueError(f"references[{k}] holds no answer")
        total += max(score(pred, a) for a in answers)
    return total / len(predictions)


def qa_exact_match(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Fraction of predicted answers equal to a true answer after :func:`normalize_answer`.

    Args:
        predictions: one answer string per question.
        references: per question the true answer, or a sequence of acceptable answers (the best
            match counts, as in SQuAD).
    """
    return _qa_metric(predictions, references,
                      lambda p, t: float(normalize_answer(p) == normalize_answer(t)))


def qa_token_f1(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Mean token F1 between predicted and true answers (SQuAD): per question
    P = common / predicted tokens, R = common / true tokens, F1 = 2PR / (P + R), on the
    normalised answers; arguments as in :func:`qa_exact_match`."""
    return _qa_metric(predictions, references, _answer_f1)


# ---------------------------------------------------------------------------------------------
# Language models


def perplexity(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> float:
    """exp of the mean negative log-likelihood per token: exp(-(1/N) Σ_t log p(w_t | w_<t)).

    A model that spreads its probability uniformly over V tokens has perplexity V, so perplexity
    reads as "the number of tokens the model hesitates between".

    Args:
        logits: (*N, V) unnormalised scores, one row per predicted token.
        targets: (*N,) the true token ids; positions equal to ``ignore_index`` are skipped.
    """
    check_tensor("logits", logits, floating=True)
    check_tensor("targets", targets, floating=False)
    if logits.dim() < 1 or logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits must have shape (*N, V) and targets (*N,), got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    keep = targets != ignore_index
    if not bool(keep.any()):
        raise ValueError("targets is empty (or all ignore_index): perplexity is undefined")
    V = logits.shape[-1]
    kept = targets[keep]
    if bool(((kept < 0) | (kept >= V)).any()):
        raise ValueError(f"targets must hold token ids in [0, {V}), got values in "
                         f"[{int(kept.min())}, {int(kept.max())}]")
    log_probs = torch.log_softmax(logits[keep].double(), dim=-1)  # (N, V)
    nll = -log_probs.gather(-1, kept[:, None]).mean()
    return math.exp(float(nll))


# ---------------------------------------------------------------------------------------------
# Translation: BLEU and chrF

# mteval-v13a's tokenisation (as in sacreBLEU): symbols become tokens; "." and "," too, unless
# they stand between digits (3.5, 1,000); "-" only after a digit (1987-03-05, not twenty-third).
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)


def tokenize_13a(text: str) -> list[str]:
    """Split a sentence into tokens as mteval-v13a (WMT's BLEU script) and sacreBLEU's default do.

    The four rules of ``_13A_RULES``, then a split on whitespace. Case is kept.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for old, new in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        text = text.replace(old, new)
    text = f" {text} "
    for rule, replacement in _13A_RULES:
        text = rule.sub(replacement, text)
    return text.split()


def _ngrams(items: Sequence, n: int) -> Counter:
    return Counter(tuple(items[i : i + n]) for i in range(len(items) - n + 1))


class BleuScore(NamedTuple):
    """Corpus BLEU on 0–100 with its parts: the n-gram ``precisions`` (each on 0–100, smoothed
    where nothing matched), the ``brevity_penalty`` and the total hypothesis and reference
    lengths in tokens."""

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    hyp_len: int
    ref_len: int


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str],
                max_order: int = 4) -> BleuScore:
    """Corpus-level BLEU (Papineni et al., 2002) with one reference per sentence.

    Both sides are tokenised by :func:`tokenize_13a`. Over the whole corpus, p_n is the number of
    hypothesis n-grams found in the reference (each clipped to its count there) divided by the
    number of hypothesis n-grams. With c and r the total hypothesis and reference lengths,
    BP = 1 if c > r else exp(1 - r/c), and BLEU = 100 · BP · exp((1/N) Σ_n log p_n), N =
    ``max_order``. An order with no match gets sacreBLEU's default "exp" smoothing (mteval's):
    the k-th such order counts as p_n = 1 / (2^k · total_n). No match at all gives 0.
    """
    check_int("max_order", max_order, minimum=1)
    hypotheses, references = _paired(("hypotheses", "references"), hypotheses, references)
    matches, totals, hyp_len, ref_len = [0] * max_order, [0] * max_order, 0, 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        hyp, ref = tokenize_13a(hyp), tokenize_13a(ref)
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, max_order + 1):
            hyp_ngrams, ref_ngrams = _ngrams(hyp, n), _ngrams(ref, n)
            totals[n - 1] += sum(hyp_ngrams.values())
            matches[n - 1] += sum((hyp_ngrams & ref_ngrams).values())  # clipped counts
    if hyp_len >= ref_len:
        bp = 1.0
    else:
        bp = math.exp(1 - ref_len / hyp_len) if hyp_len else 0.0
    if not any(matches):
        return BleuScore(0.0, (0.0,) * max_order, bp, hyp_len, ref_len)
    precisions, halvings = [], 0
    for match, total in zip(matches, totals, strict=True):
        if total == 0:  # no n-gram this long in the hypotheses
            precisions.append(0.0)
        elif match == 0:
            halvings += 1
            precisions.append(100.0 / (2**halvings * total))
        else:
            precisions.append(100.0 * match / total)
    log_mean = sum(math.log(p) if p > 0 else -9999999999 for p in precisions) / max_order
    return BleuScore(bp * math.exp(log_mean), tuple(precisions), bp, hyp_len, ref_len)


def chrf(hypotheses: Sequence[str], references: Sequence[str], char_order: int = 6,
         beta: float = 2.0) -> float:
    """Corpus chrF (Popović, 2015) on 0–100, as sacreBLEU's default ``CHRF()``.

    Spaces are removed; for n = 1..``char_order`` the character n-grams of all hypotheses and of
    all references are counted, with matches clipped per sentence. CHRP and CHRR are the
    precision and recall averaged over the orders that occur on both sides, and
    chrF = 100 (1 + β²) CHRP · CHRR / (β² CHRP + CHRR): β = 2 weighs recall twice as much.
    """
    check_int("char_order", char_order, minimum=1)
    hypotheses, references = _paired(("hypotheses", "references"), hypotheses, references)
    n_hyp, n_ref, n_match = ([0] * char_order for _ in range(3))
    for hyp, ref in zip(hypotheses, references, strict=True):
        hyp, ref = "".join(hyp.split()), "".join(ref.split())
        for n in range(1, char_order + 1):
            hyp_ngrams, ref_ngrams = _ngrams(hyp, n), _ngrams(ref, n)
            if ref_ngrams:  # sacreBLEU counts no hypothesis n-grams where the reference has none
                n_hyp[n - 1] += sum(hyp_ngrams.values())
            n_ref[n - 1] += sum(ref_ngrams.values())
            n_match[n - 1] += sum((hyp_ngrams & ref_ngrams).values())
    orders = [i for i in range(char_order) if n_hyp[i] and n_ref[i]]
    if not orders:
        return 0.0
    chrp = sum(n_match[i] / n_hyp[i] for i in orders) / len(orders)
    chrr = sum(n_match[i] / n_ref[i] for i in orders) / len(orders)
    b2 = beta**2
    return 100 * _ratio((1 + b2) * chrp * chrr, b2 * chrp + chrr)


# ---------------------------------------------------------------------------------------------
# Calibration


def _confidences(probabilities: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) class probabilities and (N,) true classes -> (confidence, correct) per example."""
    probs = np.asarray(probabilities.detach().cpu() if isinstance(probabilities, torch.Tensor)
                       else probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (N, K) with N >= 1 and K >= 2, got "
                         f"{probs.shape}")
    if not np.all((probs >= 0) & (probs <= 1)) or not np.allclose(probs.sum(axis=1), 1.0):
        raise ValueError("probabilities must hold rows of probabilities in [0, 1] that sum to 1")
    targets = np.asarray(_as_list("targets", targets))
    if len(targets) != len(probs):
        raise ValueError(f"probabilities and targets must have the same length, got "
                         f"{len(probs)} and {len(targets)}")
    if not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0 \
            or targets.max() >= probs.shape[1]:
        raise ValueError(f"targets must hold class indices in [0, {probs.shape[1]})")
    return probs.max(axis=1), (probs.argmax(axis=1) == targets).astype(np.float64)


def reliability_bins(probabilities: Any, targets: Any, n_bins: int = 10
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data of a reliability diagram: per confidence bin, the mean confidence, the accuracy
    and the number of examples.

    The confidence of an example is its largest class probability; bin b (1..M) holds the
    confidences in ((b-1)/M, b/M]. Empty bins have NaN mean confidence and accuracy.

    Returns:
        ``(confidence, accuracy, count)``, each of shape (n_bins,).
    """
    check_int("n_bins", n_bins, minimum=1)
    conf, correct = _confidences(probabilities, targets)
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bins = np.searchsorted(inner_edges, conf, side="left")  # conf in ((b-1)/M, b/M] -> b - 1
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return mean_conf, accuracy, count


def expected_calibration_error(probabilities: Any, targets: Any, n_bins: int = 10) -> float:
    """ECE = Σ_b (|B_b| / N) · |acc(B_b) − conf(B_b)| over M equal-width confidence bins
    (Naeini et al., 2015; Guo et al., 2017): 0 when, in every bin, the model is right as often as
    it is confident.

    Args:
        probabilities: (N, K) class probabilities (rows sum to 1), a tensor or an array.
        targets: (N,) true class indices.
        n_bins: M.
    """
    conf, acc, count = reliability_bins(probabilities, targets, n_bins)
    filled = count > 0
    return float(np.sum(count[filled] / count.sum() * np.abs(acc[filled] - conf[filled])))
