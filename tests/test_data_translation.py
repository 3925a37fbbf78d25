"""Tests for the date-translation task."""

import datetime as dt
import re

import pytest
import torch
from torch.utils.data import DataLoader

from lessons_pkg.data.text import CharTokenizer
from lessons_pkg.data.translation import (
    DATE_STYLES,
    TranslationDataset,
    date_tokenizers,
    decode_predictions,
    exact_match,
    make_date_split,
    render_date,
)

# An independent reading of each style: a strptime pattern, or a hand-written ordinal table.
_STRPTIME = {
    "month_day_year": "%B %d, %Y",
    "day_month_year": "%d %B %Y",
    "day_mon_year": "%d %b %Y",
    "mon_day_year": "%b %d, %Y",
    "dotted": "%d.%m.%Y",
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty-first": 21, "twenty-second": 22,
    "twenty-third": 23, "twenty-fourth": 24, "twenty-fifth": 25, "twenty-sixth": 26,
    "twenty-seventh": 27, "twenty-eighth": 28, "twenty-ninth": 29, "thirtieth": 30,
    "thirty-first": 31,
}  # fmt: skip
_MONTH_NUMBER = {dt.date(2000, m, 1).strftime("%B").lower(): m for m in range(1, 13)}


def _parse(source: str) -> dt.date:
    """Read a source sentence without using the module under test."""
    for pattern in _STRPTIME.values():
        try:
            return dt.datetime.strptime(source, pattern).date()
        except ValueError:
            pass
    m = re.fullmatch(r"(\d+)(st|nd|rd|th) of ([a-z]+) (\d{4})", source)
    if m:
        day, suffix = int(m[1]), m[2]
        assert suffix == {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(
            day, "th"
        )
        return dt.date(int(m[4]), _MONTH_NUMBER[m[3]], day)
    m = re.fullmatch(r"the ([a-z-]+) of ([a-z]+), (\d{4})", source)
    assert m, source
    return dt.date(int(m[3]), _MONTH_NUMBER[m[2]], _ORDINALS[m[1]])


def test_every_style_of_every_day_reads_back():
    day = dt.date(2001, 1, 1)
    while day.year == 2001:
        for style in DATE_STYLES:
            assert _parse(render_date(day, style)) == day, (day, style)
        day += dt.timedelta(days=1)
    assert render_date(dt.date(1987, 3, 5), "words") == "the fifth of march, 1987"
    assert render_date(dt.date(1987, 3, 22), "suffix_of") == "22nd of march 1987"
    assert render_date(dt.date(1987, 3, 5), "dotted") == "05.03.1987"


def test_split_is_disjoint_correct_and_deterministic():
    split = make_date_split(n_train=3_000, n_val=300, n_test=300, seed=1)
    assert (len(split.train), len(split.val), len(split.test)) == (3_000, 300, 300)
    dates = {}
    for name in ("train", "val", "test"):
        pairs = getattr(split, name)
        for source, target in pairs:
            assert _parse(source).isoformat() == target
            assert 1950 <= int(target[:4]) <= 2049
        dates[name] = {t for _, t in pairs}
        assert len(dates[name]) == len(pairs)  # a date appears once
    assert not dates["train"] & dates["test"]
    assert not dates["train"] & dates["val"] and not dates["val"] & dates["test"]
    used = {s for pairs in (split.train, split.test) for s in [_style_of(p[0]) for p in pairs]}
    assert used == set(DATE_STYLES)
    again = make_date_split(n_train=3_000, n_val=300, n_test=300, seed=1)
    assert again == split
    assert make_date_split(n_train=3_000, n_val=300, n_test=300, seed=2).test != split.test


def _style_of(source: str) -> str:
    return next(s for s in DATE_STYLES if _matches(source, s))


def _matches(source: str, style: str) -> bool:
    return render_date(_parse(source), style) == source


def test_year_range_and_style_subset():
    split = make_date_split(50, 0, 10, seed=0, year_range=(2000, 2000), styles=("dotted",))
    assert split.val == []
    assert all(re.fullmatch(r"\d\d\.\d\d\.2000", s) for s, _ in split.train + split.test)


def test_tokenizers_cover_every_source_and_target():
    src_tok, tgt_tok = date_tokenizers()
    assert (src_tok.pad_id, src_tok.bos_id, src_tok.eos_id) == (0, 1, 2)
    assert tgt_tok.vocab_size == 3 + 11
    split = make_date_split(2_000, 0, 200, seed=3)
    for source, target in split.train + split.test:
        assert src_tok.decode(src_tok.encode(source)) == source
        assert tgt_tok.decode(tgt_tok.encode(target)) == target


def test_dataset_and_collate_shapes_and_teacher_forcing():
    src_tok, tgt_tok = date_tokenizers()
    pairs = [("5 mar 1987", "1987-03-05"), ("the twenty-first of may, 2001", "2001-05-21")]
    ds = TranslationDataset(pairs, src_tok, tgt_tok)
    assert len(ds) == 2
    src, tgt = ds[0]
    assert src.tolist() == src_tok.encode("5 mar 1987")
    assert tgt.tolist() == tgt_tok.encode("1987-03-05", add_bos=True, add_eos=True)
    loader = DataLoader(ds, batch_size=2, collate_fn=ds.collate)
    src, tgt_in, tgt_out = next(iter(loader))
    assert src.shape == (2, len(pairs[1][0])) and src.dtype == torch.long
    assert tgt_in.shape == tgt_out.shape == (2, 11)
    assert (src[0, len(pairs[0][0]) :] == src_tok.pad_id).all()
    assert (src != src_tok.pad_id).sum(1).tolist() == [len(p[0]) for p in pairs]
    assert (tgt_in[:, 0] == tgt_tok.bos_id).all() and (tgt_out[:, -1] == tgt_tok.eos_id).all()
    torch.testing.assert_close(tgt_in[:, 1:], tgt_out[:, :-1])


def test_collate_pads_targets_of_different_lengths():
    src_tok = CharTokenizer("abc", ("<pad>",))
    tgt_tok = CharTokenizer("xy", ("<pad>", "<bos>", "<eos>"))
    ds = TranslationDataset([("a", "x"), ("abc", "xyx")], src_tok, tgt_tok)
    src, tgt_in, tgt_out = ds.collate([ds[0], ds[1]])
    assert src.tolist() == [[1, 0, 0], [1, 2, 3]]
    assert tgt_in.tolist() == [[1, 3, 2, 0], [1, 3, 4, 3]]
    assert tgt_out.tolist() == [[3, 2, 0, 0], [3, 4, 3, 2]]


def test_decode_predictions_stops_at_eos():
    _, tgt_tok = date_tokenizers()
    bos, eos, pad = tgt_tok.bos_id, tgt_tok.eos_id, tgt_tok.pad_id
    rows = [
        [bos, *tgt_tok.encode("1987-03-05"), eos],  # 12 ids
        [bos, *tgt_tok.encode("2001"), eos, *tgt_tok.encode("999999")],  # text after <eos>
        [bos, *tgt_tok.encode("12"), pad, *tgt_tok.encode("3"), *[pad] * 7],
    ]
    ids = torch.tensor(rows)
    assert decode_predictions(ids, tgt_tok) == ["1987-03-05", "2001", "123"]
    with pytest.raises(ValueError, match=r"ids must have 2 dimensions, got shape"):
        decode_predictions(ids[0], tgt_tok)


def test_exact_match():
    assert exact_match(["a", "b", "c", "d"], ["a", "x", "c", "d"]) == 0.75
    assert exact_match(["1987-03-05"], ["1987-03-05"]) == 1.0
    assert exact_match(["1987-03-05 "], ["1987-03-05"]) == 0.0
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        exact_match(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="predictions is empty"):
        exact_match([], [])
    with pytest.raises(TypeError, match="not one string"):
        exact_match("ab", "ab")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_train": 0}, ValueError, "n_train must be a positive int, got 0"),
        ({"n_val": -1}, ValueError, "n_val must be an int >= 0, got -1"),
        ({"n_test": 2.5}, TypeError, "n_test must be an int"),
        ({"seed": None}, TypeError, "seed must be an int"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*32\)"),
        ({"year_range": (1990,)}, ValueError, "year_range must hold 2 ints, got 1"),
        ({"year_range": (1990, 2000.0)}, TypeError, r"year_range\[1\] must be an int, got float"),
        ({"year_range": 1990}, TypeError, "year_range must be a sequence of ints, got int"),
        ({"year_range": (2000, 1990)}, ValueError, "first <= last"),
        ({"year_range": (999, 1000)}, ValueError, "four-digit years"),
        ({"styles": ("dotted", "roman")}, ValueError, "styles must be a non-empty subset"),
        ({"styles": ()}, ValueError, "non-empty subset"),
        ({"year_range": (2000, 2000), "n_train": 400}, ValueError, "exceeds the 366 dates"),
    ],
)
def test_make_date_split_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_date_split(**kwargs)


def test_bad_dataset_and_render_arguments():
    src_tok, tgt_tok = date_tokenizers()
    with pytest.raises(ValueError, match="no '<pad>' special token"):
        TranslationDataset([("a", "1")], CharTokenizer("a"), tgt_tok)
    with pytest.raises(ValueError, match="no '<bos>'"):
        TranslationDataset([("a", "1")], src_tok, CharTokenizer("1", ("<pad>",)))
    with pytest.raises(TypeError, match="CharTokenizer instances"):
        TranslationDataset([("a", "1")], src_tok, None)
    with pytest.raises(ValueError, match="pairs is empty"):
        TranslationDataset([], src_tok, tgt_tok)
    with pytest.raises(ValueError, match=r"pairs\[1\] must be a \(source, target\) pair"):
        TranslationDataset([("5 mar 1987", "1987-03-05"), ("x",)], src_tok, tgt_tok)
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(source, target\) pair, got str"):
        TranslationDataset(["5 mar 1987"], src_tok, tgt_tok)
    with pytest.raises(ValueError, match=r"pairs\[0\] has an empty source"):
        TranslationDataset([("", "1987-03-05")], src_tok, tgt_tok)
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['Z'\]"):
        TranslationDataset([("Z", "1987-03-05")], src_tok, tgt_tok)
    with pytest.raises(ValueError, match="style must be one of"):
        render_date(dt.date(2000, 1, 1), "iso")
    with pytest.raises(TypeError, match="date must be a datetime.date"):
        render_date("2000-01-01", "dotted")
