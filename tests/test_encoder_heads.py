"""The encoder's task heads: shapes, padding, the losses against torch, span search against a
brute-force search, and a tiny batch that each head can fit."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lessons_pkg.encoder_heads import (
    SpanExtractor,
    TokenClassifier,
    best_spans,
    span_loss,
    tagging_loss,
)
from lessons_pkg.transformer import EncoderOnlyTransformer, TransformerConfig

V = 20


def _encoder(dropout=0.0):
    config = TransformerConfig(src_vocab_size=V, tgt_vocab_size=V, d_model=16, n_heads=2,
                               n_encoder_layers=1, d_ff=32, dropout=dropout, context_length=12,
                               norm_first=True, pad_id=0)
    return EncoderOnlyTransformer(config)


def _batch():
    ids = torch.randint(1, V, (3, 7))
    ids[1, 5:] = 0  # padding
    ids[2, 3:] = 0
    return ids


def test_token_classifier_shapes_and_padding_does_not_change_real_tokens(device):
    model = TokenClassifier(_encoder(), n_tags=5).to(device).eval()
    ids = _batch().to(device)
    logits = model(ids)
    assert logits.shape == (3, 7, 5)
    alone = model(ids[1:2, :5])  # the second sentence without its padding
    assert_close(logits[1:2, :5], alone, rtol=1e-5, atol=1e-6)


def test_span_extractor_masks_padding_and_tagging_loss_is_cross_entropy(device):
    model = SpanExtractor(_encoder()).to(device).eval()
    ids = _batch().to(device)
    start, end = model(ids)
    assert start.shape == end.shape == (3, 7)
    assert torch.isinf(start[2, 3:]).all() and torch.isfinite(start[2, :3]).all()
    logits = torch.randn(3, 7, 5, device=device)
    tags = torch.randint(0, 5, (3, 7), device=device)
    tags[1, 5:] = -100
    want = F.cross_entropy(logits.reshape(-1, 5), tags.reshape(-1), ignore_index=-100)
    assert_close(tagging_loss(logits, tags), want)


def test_span_loss_is_the_mean_of_two_cross_entropies():
    s, e = torch.randn(4, 9, dtype=torch.float64), torch.randn(4, 9, dtype=torch.float64)
    starts, ends = torch.tensor([0, 2, 4, 8]), torch.tensor([1, 2, 6, 8])
    want = 0.5 * (-torch.log_softmax(s, 1)[range(4), starts].mean()
                  - torch.log_softmax(e, 1)[range(4), ends].mean())
    assert_close(span_loss(s, e, starts, ends), want)


@pytest.mark.parametrize("max_length", [1, 3, 30])
def test_best_spans_equals_brute_force(max_length):
    g = torch.Generator().manual_seed(max_length)
    s, e = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    allowed = torch.rand(6, 10, generator=g) < 0.7
    allowed[:, 4] = True
    starts, ends = best_spans(s, e, allowed, max_length=max_length)
    for b in range(6):
        cands = [(float(s[b, i] + e[b, j]), i, j) for i in range(10) for j in range(10)
                 if i <= j < i + max_length and allowed[b, i] and allowed[b, j]]
        _, i, j = max(cands)
        assert (int(starts[b]), int(ends[b])) == (i, j)


def test_each_head_fits_a_tiny_batch():
    torch.manual_seed(0)
    ids = _batch()
    tags = torch.randint(0, 4, (3, 7))
    tagger = TokenClassifier(_encoder(), n_tags=4)
    spans = SpanExtractor(_encoder())
    starts, ends = torch.tensor([1, 2, 0]), torch.tensor([3, 2, 2])
    for model, loss_of in ((tagger, lambda m: tagging_loss(m(ids), tags)),
                           (spans, lambda m: span_loss(*m(ids), starts, ends))):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(150):
            opt.zero_grad()
            loss = loss_of(model)
            loss.backward()
            opt.step()
        assert loss.item() < 0.05
    assert torch.equal(torch.stack(best_spans(*spans(ids))), torch.stack([starts, ends]))


def test_bad_arguments():
    with pytest.raises(TypeError, match="encoder must be an EncoderOnlyTransformer"):
        TokenClassifier(torch.nn.Linear(2, 2), n_tags=3)
    with pytest.raises(ValueError, match="n_tags must be an int >= 2"):
        TokenClassifier(_encoder(), n_tags=1)
    with pytest.raises(ValueError, match="start_logits and end_logits must have the same shape"):
        span_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long),
                  torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), max_length=0)
    with pytest.raises(ValueError, match="start_logits and allowed must have the same shape"):
        best_spans(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 2, dtype=torch.bool))
