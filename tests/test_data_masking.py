"""Tests for BERT's 80/10/10 masked-LM corruption."""

import math

import pytest
import torch
import torch.nn.functional as F

from lessons_pkg.data.masking import IGNORE_INDEX, mask_tokens

PAD, MASK, BOS = 0, 1, 2
V = 50


def _batch(device, rows=400, cols=500):
    g = torch.Generator().manual_seed(123)
    ids = torch.randint(3, V, (rows, cols), generator=g)
    ids[:, 0] = BOS
    ids[::2, -50:] = PAD  # padding at the end of every other row
    return ids.to(device)


def _within(observed: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(observed - p) < sigmas * math.sqrt(p * (1 - p) / n)


def test_proportions_follow_the_80_10_10_recipe(device):
    ids = _batch(device)
    g = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(ids, MASK, V, 0.15, special_ids=(PAD, BOS), generator=g)
    selectable = (ids != PAD) & (ids != BOS)
    selected = labels != IGNORE_INDEX
    n_ok, n_sel = int(selectable.sum()), int(selected.sum())
    assert _within(n_sel / n_ok, 0.15, n_ok)
    masked = (inputs == MASK) & selected
    kept = (inputs == ids) & selected
    swapped = selected & ~masked & ~kept
    # A random draw equals the original token with chance 1/47 (47 ordinary ids).
    n_ordinary = V - 3
    assert _within(int(masked.sum()) / n_sel, 0.8, n_sel)
    assert _within(int(swapped.sum()) / n_sel, 0.1 * (1 - 1 / n_ordinary), n_sel)
    assert _within(int(kept.sum()) / n_sel, 0.1 + 0.1 / n_ordinary, n_sel)


def test_invariants(device):
    ids = _batch(device, 64, 128)
    inputs, labels = mask_tokens(ids, MASK, V, special_ids=(PAD, BOS))
    assert inputs.shape == labels.shape == ids.shape
    assert inputs.dtype == labels.dtype == torch.long
    assert inputs.device.type == labels.device.type == device.type
    selected = labels != IGNORE_INDEX
    torch.testing.assert_close(labels[selected], ids[selected])  # labels are the originals
    torch.testing.assert_close(inputs[~selected], ids[~selected])  # the rest is untouched
    special = (ids == PAD) | (ids == BOS)
    assert not (selected & special).any()  # padding and specials are never selected
    replaced = inputs[selected & (inputs != MASK)]
    assert ((replaced >= 3) & (replaced < V)).all()  # random draws avoid special ids
    assert not (inputs[~selected] == MASK).any()
    # The labels plug straight into the cross-entropy: only selected positions count.
    logits = torch.randn(*ids.shape, V, device=device, dtype=torch.float64)
    loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
    manual = F.cross_entropy(logits[selected], ids[selected])
    torch.testing.assert_close(loss, manual)


def test_random_replacements_cover_every_ordinary_id():
    ids = _batch("cpu")
    g = torch.Generator().manual_seed(1)
    inputs, labels = mask_tokens(
        ids, MASK, V, 0.5, (PAD, BOS), g, mask_replace_prob=0.0, random_replace_prob=1.0
    )
    drawn = inputs[labels != IGNORE_INDEX]
    counts = torch.bincount(drawn, minlength=V)
    assert counts[[PAD, MASK, BOS]].sum() == 0
    expected = drawn.numel() / (V - 3)
    assert (counts[3:] - expected).abs().max() < 6 * math.sqrt(expected)


def test_generator_makes_it_reproducible_across_devices(device):
    ids = _batch("cpu", 32, 64)
    out_cpu = mask_tokens(ids, MASK, V, generator=torch.Generator().manual_seed(7))
    out_dev = mask_tokens(ids.to(device), MASK, V, generator=torch.Generator().manual_seed(7))
    for a, b in zip(out_cpu, out_dev, strict=True):
        torch.testing.assert_close(a, b.cpu())
    other = mask_tokens(ids, MASK, V, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(out_cpu[1], other[1])


def test_extreme_settings():
    ids = torch.randint(3, V, (4, 20))
    ids[0, :5] = PAD
    inputs, labels = mask_tokens(ids, MASK, V, mask_prob=1.0, special_ids=[PAD])
    assert ((labels == IGNORE_INDEX) == (ids == PAD)).all()
    inputs, labels = mask_tokens(
        ids, MASK, V, 1.0, torch.tensor([PAD]), mask_replace_prob=1.0, random_replace_prob=0.0
    )
    assert (inputs[ids != PAD] == MASK).all()
    inputs, labels = mask_tokens(
        ids, MASK, V, 1.0, (PAD,), mask_replace_prob=0.0, random_replace_prob=0.0
    )
    torch.testing.assert_close(inputs, ids)
    assert (labels[ids != PAD] == ids[ids != PAD]).all()
    original = ids.clone()
    mask_tokens(ids, MASK, V)
    torch.testing.assert_close(ids, original)  # the input is not modified in place
    empty_in, empty_lab = mask_tokens(torch.zeros(0, 5, dtype=torch.long), MASK, V)
    assert empty_in.shape == empty_lab.shape == (0, 5)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"ids": [[3, 4]]}, TypeError, "ids must be a torch.Tensor"),
        ({"ids": torch.ones(2, 3)}, TypeError, "ids must be an integer tensor"),
        ({"ids": torch.tensor([[3, V]])}, ValueError, r"ids must hold token ids in \[0, 50\)"),
        ({"ids": torch.tensor([[-1, 3]])}, ValueError, r"got values in \[-1, 3\]"),
        ({"vocab_size": 1}, ValueError, "vocab_size must be an int >= 2"),
        ({"vocab_size": 10.0}, TypeError, "vocab_size must be an int"),
        ({"mask_token_id": V}, ValueError, r"mask_token_id must be in \[0, vocab_size=50\)"),
        ({"mask_prob": 0.0}, ValueError, r"mask_prob must be a number in \(0, 1\], got 0.0"),
        ({"mask_prob": 1.5}, ValueError, r"mask_prob must be a number in \(0, 1\]"),
        ({"mask_prob": "0.15"}, TypeError, "mask_prob must be a number, got str"),
        ({"special_ids": (PAD, 99)}, ValueError, r"special_ids must be in .*got \[99\]"),
        ({"special_ids": (0.5,)}, TypeError, r"special_ids\[0\] must be an int"),
        ({"mask_replace_prob": 0.95}, ValueError, r"must be <= 1, got 0.95 \+ 0.1"),
        ({"random_replace_prob": -0.1}, ValueError, r"random_replace_prob must be a number in \[0"),
        ({"generator": 0}, TypeError, "generator must be a torch.Generator"),
        ({"vocab_size": 3, "special_ids": (0, 2)}, ValueError, "every id is special"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    args = {"ids": torch.tensor([[2, 2], [2, 0]]), "mask_token_id": MASK, "vocab_size": V}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        mask_tokens(**args)
