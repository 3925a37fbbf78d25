"""Character tokenizer and next-token windows for character language models.

Chapter: Algorithms › LSTM (the factorisation p(w_1..w_T) = prod_t p(w_t | w_<t)) and
Practice › Language model. Paper: Bengio et al. (2003), "A Neural Probabilistic Language Model".
Shapes: N length of a token stream, T context length.

A language model is trained to predict token t+1 from tokens 0..t. :class:`LMWindows` cuts a
token stream into (x, y) pairs where ``y`` is ``x`` shifted left by one, so one window gives T
predictions at once (the causal mask or the recurrence keeps each prediction honest).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from lessons_pkg._checks import check_number, check_positive_int

__all__ = ["CharTokenizer", "LMWindows", "lm_windows", "train_val_split"]

UNK_TOKEN = "<unk>"


class CharTokenizer:
    """Maps single characters (and optional special tokens) to integer ids and back.

    Special tokens take the first ids in the order given, so with
    ``specials=("<pad>", "<bos>", "<eos>")`` padding is id 0. Characters follow in the order of
    ``chars``. Encoding reads text one character at a time, so a special token can never arise
    from text: ask for it with ``token_id("<bos>")`` or ``encode(..., add_bos=True)``.

    Unknown characters are an error that names them, unless ``"<unk>"`` is one of the specials,
    in which case they map to it.

    Args:
        chars: the characters of the vocabulary, each a string of length 1, no repeats.
        specials: special tokens such as ``"<pad>"``, ``"<bos>"``, ``"<eos>"``, ``"<mask>"``;
            none by default.
    """

    def __init__(self, chars: Iterable[str], specials: Sequence[str] = ()) -> None:
        if isinstance(specials, str):
            raise TypeError(f"specials must be a sequence of strings, got the string {specials!r}")
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str):
                raise TypeError(f"chars must be single characters, got {type(c).__name__}")
            if len(c) != 1:
                raise ValueError(f"chars must be single characters, got {c!r}")
        repeated = sorted({c for c in chars if chars.count(c) > 1})
        if repeated:
            raise ValueError(f"chars must not repeat, got repeats {repeated}")
        specials = list(specials)
        for s in specials:
            if not isinstance(s, str):
                raise TypeError(f"specials must be non-empty strings, got {type(s).__name__}")
            if not s:
                raise ValueError(f"specials must be non-empty strings, got {s!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must not repeat, got {specials}")
        clash = sorted(set(specials) & set(chars))
        if clash:
            raise ValueError(f"specials {clash} are also in chars; a special must not be a char")
        if not chars and not specials:
            raise ValueError("the vocabulary is empty: give chars or specials")
        self.specials: tuple[str, ...] = tuple(specials)
        self.chars: tuple[str, ...] = tuple(chars)
        self.itos: tuple[str, ...] = self.specials + self.chars
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, specials: Sequence[str] = ()) -> CharTokenizer:
        """A tokenizer whose characters are those of ``text``, sorted by code point."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty: cannot build a vocabulary from it")
        return cls(sorted(set(text)), specials)

    @property
    def vocab_size(self) -> int:
        """Number of ids: specials plus characters."""
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, specials={list(self.specials)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.itos == other.itos

    def __hash__(self) -> int:
        return hash(self.itos)

    def token_id(self, token: str) -> int:
        """The id of a character or special token."""
        if token not in self.stoi:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self.stoi[token]

    @property
    def pad_id(self) -> int:
        """Id of ``"<pad>"`` (ValueError when the tokenizer has none)."""
        return self._special_id("<pad>")

    @property
    def bos_id(self) -> int:
        """Id of ``"<bos>"`` (ValueError when the tokenizer has none)."""
        return self._special_id("<bos>")

    @property
    def eos_id(self) -> int:
        """Id of ``"<eos>"`` (ValueError when the tokenizer has none)."""
        return self._special_id("<eos>")

    @property
    def mask_id(self) -> int:
        """Id of ``"<mask>"`` (ValueError when the tokenizer has none)."""
        return self._special_id("<mask>")

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids of every special token, e.g. to keep them out of masking."""
        return tuple(range(len(self.specials)))

    def _special_id(self, token: str) -> int:
        if token not in self.specials:
            raise ValueError(
                f"this tokenizer has no {token!r} special token; its specials are "
                f"{list(self.specials)} (pass specials=(..., {token!r}) when building it)"
            )
        return self.stoi[token]

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of the characters of ``text``, optionally framed by ``<bos>``/``<eos>``.

        Raises:
            ValueError: ``text`` holds characters outside the vocabulary (all of them are named,
                sorted and without repeats) and there is no ``"<unk>"`` special.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        stoi = self.stoi
        unknown = {c for c in set(text) if c not in stoi or c in self.specials}
        if unknown:
            if UNK_TOKEN not in self.specials:
                raise ValueError(
                    f"text contains {len(unknown)} character(s) not in the vocabulary: "
                    f"{sorted(unknown)}"
                )
            unk = stoi[UNK_TOKEN]
            ids = [unk if c in unknown else stoi[c] for c in text]
        else:
            ids = [stoi[c] for c in text]
        if add_bos:
            ids.insert(0, self.bos_id)
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def encode_tensor(
        self,
        text: str,
        *,
        add_bos: bool = False,
        add_eos: bool = False,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Like :meth:`encode`, as a 1-D int64 tensor of shape (N,)."""
        ids = self.encode(text, add_bos=add_bos, add_eos=add_eos)
        return torch.tensor(ids, dtype=torch.long, device=device)

    def decode(self, ids: Iterable[int] | torch.Tensor, *, skip_specials: bool = False) -> str:
        """The text for ``ids`` (a list of ints or a 0-D/1-D integer tensor).

        Special tokens are written as their names (``"<eos>"``) unless ``skip_specials``.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() > 1:
                raise ValueError(f"ids must be 1-D, got a tensor of shape {tuple(ids.shape)}")
            if ids.is_floating_point() or ids.is_complex():
                raise TypeError(f"ids must hold integers, got dtype {ids.dtype}")
            ids = ids.reshape(-1).tolist()
        ids = list(ids)
        n = self.vocab_size
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
        if bad:
            raise TypeError(f"ids must be ints, got {bad[:5]}")
        ids = [int(i) for i in ids]  # NumPy integers too
        out_of_range = sorted({i for i in ids if not 0 <= i < n})
        if out_of_range:
            raise ValueError(f"ids must be in [0, {n}), got {out_of_range[:10]}")
        n_special = len(self.specials)
        itos = self.itos
        if skip_specials:
            return "".join(itos[i] for i in ids if i >= n_special)
        return "".join(itos[i] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description, for checkpoints; inverse of :meth:`from_dict`."""
        return {"chars": "".join(self.chars), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharTokenizer:
        """Rebuild a tokenizer saved with :meth:`to_dict`."""
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict with keys 'chars' and 'specials', got "
                            f"{type(d).__name__}")
        if "chars" not in d or "specials" not in d:
            raise ValueError(f"d must be a dict with keys 'chars' and 'specials', got {d!r}")
        return cls(list(d["chars"]), d["specials"])


def _as_long_1d(ids: Sequence[int] | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"{name} must be 1-D, got shape {tuple(ids.shape)}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers, got dtype {ids.dtype}")
        return ids.long()
    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str (encode it with a tokenizer first)")
    return torch.as_tensor(list(ids), dtype=torch.long)


class LMWindows(Dataset):
    """Next-token windows of a token stream: item i is (x, y) with y = x shifted by one.

    ``x = ids[s : s + T]`` and ``y = ids[s + 1 : s + T + 1]`` with ``s = i * stride``. With
    ``stride=1`` (for training) windows overlap; ``stride=context_length`` gives disjoint windows
    that cover the stream once (for evaluation).

    Args:
        ids: a token stream, a list of ints or a 1-D integer tensor of length N.
        context_length: T, the window length (at least 1, at most N - 1).
        stride: distance between the starts of consecutive windows (at least 1).
    """

    def __init__(
        self, ids: Sequence[int] | torch.Tensor, context_length: int, stride: int = 1
    ) -> None:
        self.ids = _as_long_1d(ids, "ids")  # (N,)
        check_positive_int("context_length", context_length)
        check_positive_int("stride", stride)
        n = self.ids.numel()
        if n < context_length + 1:
            raise ValueError(
                f"ids has {n} tokens, too few for one window: context_length ({context_length}) "
                "needs at least context_length + 1 tokens"
            )
        self.context_length = context_length
        self.stride = stride
        self._len = (n - context_length - 1) // stride + 1

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"window index {i} out of range for {self._len} windows")
        s = i * self.stride
        T = self.context_length
        return self.ids[s : s + T], self.ids[s + 1 : s + T + 1]  # (T,), (T,)


def lm_windows(
    ids: Sequence[int] | torch.Tensor, context_length: int, stride: int = 1
) -> LMWindows:
    """The :class:`LMWindows` data set of ``ids`` (see there)."""
    return LMWindows(ids, context_length, stride)


def train_val_split(data: Any, val_fraction: float = 0.1) -> tuple[Any, Any]:
    """Split a text or token stream into a leading training part and a trailing validation part.

    The split is contiguous, not shuffled: shuffled overlapping windows would put the same
    characters in both parts. Works for ``str``, lists and 1-D tensors (returns the same type).

    Args:
        data: the stream.
        val_fraction: share of the stream, in (0, 1), that goes to validation
            (rounded to whole tokens; both parts must be non-empty).
    """
    check_number("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    if isinstance(data, torch.Tensor) and data.dim() != 1:
        raise ValueError(f"data must be 1-D, got a tensor of shape {tuple(data.shape)}")
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise TypeError(f"data must be a str, list or 1-D tensor, got {type(data).__name__}")
    n = len(data)
    n_val = round(n * val_fraction)
    if n_val < 1 or n_val > n - 1:
        raise ValueError(
            f"val_fraction {val_fraction} of {n} tokens leaves an empty part "
            f"({n - n_val} train, {n_val} val)"
        )
    return data[: n - n_val], data[n - n_val :]
