"""A toy translation task: dates written many ways -> one canonical form.

Chapter: Practice › Seq2seq (the encoder-decoder Transformer). Paper: Sutskever et al. (2014),
"Sequence to Sequence Learning with Neural Networks"; Vaswani et al. (2017) for the model.
Shapes: B batch, S source length, T target length (with one of <bos>/<eos>).

Source sentences such as ``"march 5, 1987"``, ``"05.03.1987"`` or ``"the fifth of march, 1987"``
all translate to ``"1987-03-05"``. The task needs what real translation needs (reordering, word
-> number mapping, copying digits) yet trains in a minute on a CPU, and its answer is checkable
exactly. The split is by construction: every calendar date belongs to exactly one of train, val
and test, in all its surface forms, so test accuracy measures generalisation to unseen dates
rather than memory.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from lessons_pkg._checks import (
    check_choice,
    check_int,
    check_int_sequence,
    check_seed,
    check_tensor,
)
from lessons_pkg.data.text import CharTokenizer

__all__ = [
    "DATE_STYLES",
    "DateSplit",
    "TranslationDataset",
    "date_tokenizers",
    "decode_predictions",
    "exact_match",
    "make_date_split",
    "render_date",
]

SPECIALS = ("<pad>", "<bos>", "<eos>")

_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_UNITS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
)  # fmt: skip
_TEENS = (
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip


def _ordinal_word(day: int) -> str:
    """1 -> "first", 21 -> "twenty-first", 30 -> "thirtieth" (days 1..31)."""
    if day < 10:
        return _UNITS[day - 1]
    if day < 20:
        return _TEENS[day - 10]
    tens, unit = divmod(day, 10)
    stem = {2: "twent", 3: "thirt"}[tens]
    return f"{stem}ieth" if unit == 0 else f"{stem}y-{_UNITS[unit - 1]}"


def _ordinal_suffix(day: int) -> str:
    """1 -> "1st", 12 -> "12th", 22 -> "22nd"."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}" + {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _styles() -> dict[str, object]:
    def mon(m: int) -> str:
        return _MONTHS[m - 1]

    return {
        "month_day_year": lambda y, m, d: f"{mon(m)} {d}, {y}",  # march 5, 1987
        "day_month_year": lambda y, m, d: f"{d} {mon(m)} {y}",  # 5 march 1987
        "day_mon_year": lambda y, m, d: f"{d} {mon(m)[:3]} {y}",  # 5 mar 1987
        "mon_day_year": lambda y, m, d: f"{mon(m)[:3]} {d}, {y}",  # mar 5, 1987
        "dotted": lambda y, m, d: f"{d:02d}.{m:02d}.{y}",  # 05.03.1987
        "suffix_of": lambda y, m, d: f"{_ordinal_suffix(d)} of {mon(m)} {y}",  # 5th of march 1987
        "words": lambda y, m, d: f"the {_ordinal_word(d)} of {mon(m)}, {y}",  # the fifth of ...
    }


_STYLE_FUNCS = _styles()
DATE_STYLES: tuple[str, ...] = tuple(_STYLE_FUNCS)


def render_date(date: _dt.date, style: str) -> str:
    """Write ``date`` in one of the :data:`DATE_STYLES`, e.g. ``"the fifth of march, 1987"``."""
    if not isinstance(date, _dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    check_choice("style", style, DATE_STYLES)
    return _STYLE_FUNCS[style](date.year, date.month, date.day)


def date_tokenizers() -> tuple[CharTokenizer, CharTokenizer]:
    """(source, target) character tokenizers, both with specials ``<pad>`` (id 0), ``<bos>``,
    ``<eos>``. The source alphabet covers every style; the target one is digits and "-"."""
    chars: set[str] = set("0123456789")
    day = _dt.date(2000, 1, 1)
    while day.year == 2000:  # every month name and every day number, in every style
        for style in DATE_STYLES:
            chars.update(render_date(day, style))
        day += _dt.timedelta(days=1)
    source = CharTokenizer(sorted(chars), SPECIALS)
    target = CharTokenizer("-0123456789", SPECIALS)
    return source, target


@dataclass(frozen=True)
class DateSplit:
    """Pairs ``(source, target)`` for each part; no calendar date is in two parts."""

    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    test: list[tuple[str, str]]


def _check_split_args(n_train: int, n_val: int, n_test: int, seed: int,
                      year_range: tuple[int, int], styles: Sequence[str]) -> None:
    """The arguments of ``make_date_split``, and enough dates in the years for all the pairs."""
    for name, value, low in (("n_train", n_train, 1), ("n_val", n_val, 0), ("n_test", n_test, 1)):
        check_int(name, value, minimum=low)
    check_seed("seed", seed)
    first, last = check_int_sequence("year_range", year_range, length=2, minimum=None)
    if not 1000 <= first <= last <= 9999:
        raise ValueError(
            f"year_range must satisfy 1000 <= first <= last <= 9999 (four-digit years), "
            f"got {year_range}"
        )
    styles = tuple(styles)
    unknown = sorted(set(styles) - set(DATE_STYLES))
    if unknown or not styles:
        raise ValueError(f"styles must be a non-empty subset of {DATE_STYLES}, got {styles}")
    n_days = (_dt.date(last, 12, 31) - _dt.date(first, 1, 1)).days + 1
    needed = n_train + n_val + n_test
    if needed > n_days:
        raise ValueError(
            f"n_train + n_val + n_test ({needed}) exceeds the {n_days} dates in years "
            f"{first}..{last}: ask for fewer pairs or widen year_range"
        )


def make_date_split(
    n_train: int = 10_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    seed: int = 0,
    year_range: tuple[int, int] = (1950, 2049),
    styles: Sequence[str] = DATE_STYLES,
) -> DateSplit:
    """Sample distinct dates, deal them into train/val/test, and write each in a random style.

    Args:
        n_train, n_val, n_test: number of pairs in each part (``n_val`` may be 0).
        seed: the same seed gives the same split and the same surface forms.
        year_range: first and last year, inclusive.
        styles: the styles to draw from (a subset of :data:`DATE_STYLES`).
    """
    _check_split_args(n_train, n_val, n_test, seed, year_range, styles)
    first, last = year_range
    styles = tuple(styles)
    start, stop = _dt.date(first, 1, 1), _dt.date(last, 12, 31)
    n_days = (stop - start).days + 1
    needed = n_train + n_val + n_test
    rng = random.Random(seed)
    offsets = rng.sample(range(n_days), needed)  # distinct dates, so the parts cannot overlap

    def pairs(chunk: list[int]) -> list[tuple[str, str]]:
        out = []
        for k in chunk:
            day = start + _dt.timedelta(days=k)
            out.append((render_date(day, rng.choice(styles)), day.isoformat()))
        return out

    return DateSplit(
        train=pairs(offsets[:n_train]),
        val=pairs(offsets[n_train : n_train + n_val]),
        test=pairs(offsets[n_train + n_val :]),
    )


class TranslationDataset(Dataset):
    """Encodes (source, target) string pairs; use :meth:`collate` as the DataLoader's collate_fn.

    Item i is ``(src, tgt)``: ``src`` the source ids (S_i,), ``tgt`` the target framed as
    ``<bos> target <eos>`` (T_i + 2,). Both tokenizers need ``<pad>``, the target one also
    ``<bos>`` and ``<eos>``.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]],
        src_tokenizer: CharTokenizer,
        tgt_tokenizer: CharTokenizer,
    ) -> None:
        if not isinstance(src_tokenizer, CharTokenizer) or not isinstance(
            tgt_tokenizer, CharTokenizer
        ):
            raise TypeError("src_tokenizer and tgt_tokenizer must be CharTokenizer instances")
        self.src_pad_id = src_tokenizer.pad_id  # ValueError when there is no <pad>
        self.tgt_pad_id = tgt_tokenizer.pad_id
        self.tgt_bos_id = tgt_tokenizer.bos_id
        self.tgt_eos_id = tgt_tokenizer.eos_id
        if len(pairs) == 0:
            raise ValueError("pairs is empty")
        self.src: list[torch.Tensor] = []
        self.tgt: list[torch.Tensor] = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)):
                raise TypeError(f"pairs[{i}] must be a (source, target) pair, got "
                                f"{type(pair).__name__}")
            if len(pair) != 2:
                raise ValueError(f"pairs[{i}] must be a (source, target) pair, got {pair!r}")
            source, target = pair
            if not source:
                raise ValueError(f"pairs[{i}] has an empty source")
            self.src.append(src_tokenizer.encode_tensor(source))
            self.tgt.append(tgt_tokenizer.encode_tensor(target, add_bos=True, add_eos=True))

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.src[i], self.tgt[i]

    def collate(
        self, batch: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pad a list of items into ``(src, tgt_in, tgt_out)``.

        ``src`` (B, S) is padded with the source ``<pad>``; ``tgt_in`` (B, T) is
        ``<bos> target`` and ``tgt_out`` (B, T) is ``target <eos>`` (teacher forcing: position
        t of ``tgt_in`` predicts position t of ``tgt_out``), both padded with the target
        ``<pad>``: pass ``ignore_index=tgt_pad_id`` to the cross-entropy. The padding mask of
        the source is ``src != src_pad_id`` (True = a real token that may be attended to).
        """
        src = pad_sequence([s for s, _ in batch], batch_first=True, padding_value=self.src_pad_id)
        tgt = pad_sequence([t for _, t in batch], batch_first=True, padding_value=self.tgt_pad_id)
        # In a shorter row, the position of tgt_in that holds <eos> has <pad> as its output,
        # so the loss ignores it.
        return src, tgt[:, :-1], tgt[:, 1:]  # (B, S), (B, T), (B, T)


def decode_predictions(ids: torch.Tensor, tokenizer: CharTokenizer) -> list[str]:
    """Generated target ids (B, L) as strings: drop ``<bos>``/``<pad>``, stop at ``<eos>``."""
    check_tensor("ids", ids, ndim=2)
    eos = tokenizer.eos_id
    out = []
    for row in ids.tolist():
        if eos in row:
            row = row[: row.index(eos)]
        out.append(tokenizer.decode(row, skip_specials=True))
    return out


def exact_match(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Fraction of predictions that equal their target exactly (a number in [0, 1])."""
    if isinstance(predictions, str) or isinstance(targets, str):
        raise TypeError("predictions and targets must be sequences of strings, not one string")
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions and targets must have the same length, got {len(predictions)} "
            f"and {len(targets)}"
        )
    if len(predictions) == 0:
        raise ValueError("predictions is empty: exact match of nothing is undefined")
    return sum(p == t for p, t in zip(predictions, targets, strict=True)) / len(predictions)
