"""Tests for the character tokenizer, LM windows and the stream split."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lessons_pkg.data.text import CharTokenizer, LMWindows, lm_windows, train_val_split

SPECIALS = ("<pad>", "<bos>", "<eos>", "<mask>")


def test_from_text_round_trip_and_order():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == tuple(sorted(set("hello world")))
    assert tok.vocab_size == len(tok) == 8
    ids = tok.encode("world hello")
    assert ids == [tok.stoi[c] for c in "world hello"]
    assert tok.decode(ids) == "world hello"
    assert tok.decode(torch.tensor(ids)) == "world hello"
    assert tok.decode(np.array(ids)) == "world hello"


def test_specials_come_first_and_are_addressable():
    tok = CharTokenizer("abc", SPECIALS)
    assert tok.itos == ("<pad>", "<bos>", "<eos>", "<mask>", "a", "b", "c")
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.mask_id) == (0, 1, 2, 3)
    assert tok.special_ids == (0, 1, 2, 3)
    assert tok.token_id("b") == 5
    ids = tok.encode("cab", add_bos=True, add_eos=True)
    assert ids == [1, 6, 4, 5, 2]
    assert tok.decode(ids) == "<bos>cab<eos>"
    assert tok.decode(ids, skip_specials=True) == "cab"


def test_encode_tensor_dtype_device(device):
    tok = CharTokenizer("ab")
    t = tok.encode_tensor("abba", device=device)
    assert t.dtype == torch.long and t.device.type == device.type
    assert t.tolist() == [0, 1, 1, 0]
    assert tok.decode(t) == "abba"


def test_unknown_characters_are_named_sorted_once():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) not in the vocabulary: \['x', 'z'\]"):
        tok.encode("zaxzx")


def test_unk_special_absorbs_unknown_characters():
    tok = CharTokenizer("ab", ("<unk>",))
    assert tok.encode("axb") == [1, 0, 2]


def test_missing_special_is_a_clear_error():
    tok = CharTokenizer("ab", ("<pad>",))
    with pytest.raises(ValueError, match="no '<bos>' special token"):
        tok.encode("ab", add_bos=True)
    with pytest.raises(ValueError, match="no '<mask>'"):
        _ = tok.mask_id


def test_to_dict_round_trip():
    tok = CharTokenizer("xyz", ("<pad>", "<eos>"))
    again = CharTokenizer.from_dict(tok.to_dict())
    assert again == tok and again.itos == tok.itos
    with pytest.raises(ValueError, match="keys 'chars' and 'specials'"):
        CharTokenizer.from_dict({"chars": "ab"})
    with pytest.raises(TypeError, match="keys 'chars' and 'specials', got list"):
        CharTokenizer.from_dict(["ab"])


@pytest.mark.parametrize(
    ("chars", "specials", "exc", "match"),
    [
        (["ab"], (), ValueError, "single characters"),
        ([5], (), TypeError, "chars must be single characters, got int"),
        ("ab", (5,), TypeError, "specials must be non-empty strings, got int"),
        ("aba", (), ValueError, r"must not repeat, got repeats \['a'\]"),
        ("ab", ("<pad>", "<pad>"), ValueError, "specials must not repeat"),
        ("ab", ("",), ValueError, "non-empty strings"),
        ("ab", ("a",), ValueError, "also in chars"),
        ("ab", "<pad>", TypeError, "sequence of strings"),
        ("", (), ValueError, "vocabulary is empty"),
    ],
)
def test_bad_vocabulary(chars, specials, exc, match):
    with pytest.raises(exc, match=match):
        CharTokenizer(chars, specials)


def test_bad_encode_decode_arguments():
    tok = CharTokenizer("ab")
    with pytest.raises(TypeError, match="text must be a str"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match=r"ids must be in \[0, 2\), got \[2, 7\]"):
        tok.decode([0, 7, 2])
    with pytest.raises(TypeError, match="ids must be ints"):
        tok.decode([0, 1.0])
    with pytest.raises(ValueError, match="ids must be 1-D"):
        tok.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="dtype"):
        tok.decode(torch.zeros(2))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.token_id("q")
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer.from_text(None)
    with pytest.raises(ValueError, match="text is empty"):
        CharTokenizer.from_text("")


def test_lm_windows_shift_by_one(device):
    ids = torch.arange(10, device=device)
    ds = lm_windows(ids, context_length=4)
    assert isinstance(ds, LMWindows)
    assert len(ds) == 6  # starts 0..5, the last window's target ends at token 9
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == y.shape == (4,)
        assert x.device.type == device.type
        torch.testing.assert_close(x, ids[i : i + 4])
        torch.testing.assert_close(y, ids[i + 1 : i + 5])
    torch.testing.assert_close(ds[-1][1], ids[6:10])
    with pytest.raises(IndexError, match="out of range"):
        ds[6]


def test_lm_windows_stride_covers_stream_once():
    ds = LMWindows(list(range(13)), context_length=4, stride=4)
    assert len(ds) == 3
    targets = torch.cat([ds[i][1] for i in range(len(ds))])
    assert targets.tolist() == list(range(1, 13))  # every token after the first predicted once


def test_lm_windows_in_a_dataloader():
    ds = LMWindows(torch.arange(50), context_length=8)
    x, y = next(iter(DataLoader(ds, batch_size=5, shuffle=False)))
    assert x.shape == y.shape == (5, 8)
    torch.testing.assert_close(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize(
    ("ids", "kwargs", "exc", "match"),
    [
        ([1, 2, 3], {"context_length": 3}, ValueError, "too few for one window"),
        ([1, 2, 3], {"context_length": 0}, ValueError, "context_length must be a positive int"),
        ([1, 2, 3], {"context_length": 1.5}, TypeError, "context_length must be an int"),
        ([1, 2, 3], {"context_length": 1, "stride": 0}, ValueError, "stride must be a positive"),
        ([1, 2, 3], {"context_length": 1, "stride": 1.0}, TypeError, "stride must be an int"),
        (torch.zeros(2, 3, dtype=torch.long), {"context_length": 1}, ValueError, "1-D"),
        (torch.zeros(5), {"context_length": 1}, TypeError, "integers"),
        ("abc", {"context_length": 1}, TypeError, "encode it"),
    ],
)
def test_lm_windows_bad_arguments(ids, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        LMWindows(ids, **kwargs)


def test_train_val_split_is_contiguous_for_each_type():
    train, val = train_val_split("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")
    t_train, t_val = train_val_split(torch.arange(10), 0.3)
    assert t_train.tolist() == list(range(7)) and t_val.tolist() == [7, 8, 9]
    l_train, l_val = train_val_split(list(range(4)), 0.25)
    assert (l_train, l_val) == ([0, 1, 2], [3])


@pytest.mark.parametrize(
    ("data", "frac", "exc", "match"),
    [
        ("abcd", 0.0, ValueError, r"in \(0, 1\)"),
        ("abcd", 1.0, ValueError, r"in \(0, 1\)"),
        ("abcd", 0.01, ValueError, "empty part"),
        ("abcd", "0.5", TypeError, "val_fraction must be a number, got str"),
        (torch.zeros(2, 2), 0.5, ValueError, "1-D"),
        (5, 0.5, TypeError, "str, list or 1-D tensor"),
    ],
)
def test_train_val_split_bad_arguments(data, frac, exc, match):
    with pytest.raises(exc, match=match):
        train_val_split(data, frac)
