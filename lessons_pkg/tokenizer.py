"""Byte-level byte-pair encoding (BPE), the subword tokenizer of GPT-2 and its successors.

Chapter: Practice › Tokenization. Papers: Sennrich et al. (2016), "Neural Machine Translation of
Rare Words with Subword Units" (BPE for text); Radford et al. (2019), GPT-2 §2.2 (BPE on bytes,
with a pre-tokenisation regex so that merges never cross a word, number or punctuation boundary).

The algorithm, in the order of the code:

1. **Bytes.** Text is UTF-8 bytes, so the 256 byte values are the first 256 token ids and no
   text is ever out of vocabulary (a Chinese character is three bytes, an emoji four).
2. **Pre-tokenisation.** ``GPT2_PATTERN`` cuts text into pieces (a word with its leading space,
   a run of digits, a run of punctuation, whitespace); merges happen inside pieces only.
3. **Training.** Count every adjacent pair of ids over the pieces (each piece weighted by how
   often it occurs), merge the most frequent pair into a new id 256 + k, repeat. Ties are broken
   by the rule ``TIE_RULE``: the lexicographically smallest pair of ids, so training is
   deterministic and does not depend on dict or set order.
4. **Encoding.** Start from a piece's bytes and apply the learned merges in the order they were
   learned: repeatedly merge the adjacent pair that was learned earliest, until no learned pair
   is left.
5. **Decoding.** Concatenate the tokens' bytes and decode them as UTF-8. A slice of a token
   stream may cut a character in half; ``errors="replace"`` then writes U+FFFD.

Special tokens (``"<|endoftext|>"``) get the ids after the merged tokens; they are recognised in
text only when ``encode`` is told to allow them, as in tiktoken. A tokenizer is saved as JSON
(pattern, merges, special tokens) and written atomically.

``mergeable_ranks()`` gives the same vocabulary in tiktoken's form (token bytes -> rank), so
``tiktoken.Encoding`` built from it must encode every text to the same ids: the tests check it.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import regex

from lessons_pkg._checks import check_choice, check_int
from lessons_pkg.checkpoint import atomic_write

__all__ = ["GPT2_PATTERN", "TIE_RULE", "BPETokenizer", "byte_pair_merge"]

# GPT-2's pre-tokenisation pattern (openai/gpt-2, src/encoder.py): English contractions, a word
# of letters with an optional leading space, a run of digits, a run of other symbols, then
# whitespace. ``\s+(?!\S)`` leaves the last space of a run to start the next word.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
TIE_RULE = "most frequent pair; ties go to the lexicographically smallest pair of ids (a, b)"
N_BYTES = 256
_FORMAT = 1  # version of the JSON layout written by save


def byte_pair_merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, left to right, replaced by
    ``new_id``: one merge step of BPE, for training and encoding alike."""
    out: list[int] = []
    i, n = 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """A byte-level BPE tokenizer: 256 byte tokens, then one token per merge, then specials.

    Build one with :meth:`train`, or from saved merges with :meth:`load`.

    Args:
        merges: the learned pairs in order; merge k joins the pair ``(a, b)`` of existing ids
            into the new id 256 + k.
        special_tokens: names such as ``"<|endoftext|>"``, given the ids after the merges in
            this order.
        pattern: the pre-tokenisation regex (``regex`` module syntax, as tiktoken's ``pat_str``).
    """

    def __init__(self, merges: Iterable[tuple[int, int]] = (), special_tokens: Sequence[str] = (),
                 pattern: str = GPT2_PATTERN) -> None:
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"pattern must be a non-empty str, got {pattern!r}")
        self.pattern = pattern
        self._regex = regex.compile(pattern)
        self.merges: list[tuple[int, int]] = []
        self.vocab: list[bytes] = [bytes([b]) for b in range(N_BYTES)]  # id -> token bytes
        for k, pair in enumerate(merges):
            if not (isinstance(pair, Sequence) and len(pair) == 2):
                raise TypeError(f"merges[{k}] must be a pair of ids, got {pair!r}")
            a = check_int(f"merges[{k}][0]", pair[0], minimum=0, maximum=N_BYTES + k - 1)
            b = check_int(f"merges[{k}][1]", pair[1], minimum=0, maximum=N_BYTES + k - 1)
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._ranks = {pair: N_BYTES + k for k, pair in enumerate(self.merges)}  # pair -> id
        if isinstance(special_tokens, str):
            raise TypeError(f"special_tokens must be a sequence of str, got the str "
                            f"{special_tokens!r}")
        for name in special_tokens:
            if not isinstance(name, str) or not name:
                raise ValueError(f"special_tokens must be non-empty strings, got {name!r}")
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"special_tokens must not repeat, got {list(special_tokens)}")
        self.special_tokens: dict[str, int] = {
            name: len(self.vocab) + i for i, name in enumerate(special_tokens)
        }
        self._cache: dict[str, list[int]] = {}  # piece -> ids; encoding is a pure function

    # -- training ------------------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, *, special_tokens: Sequence[str] = (),
              pattern: str = GPT2_PATTERN) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text`` (fewer if the pieces run out of pairs).

        Pair counts are kept up to date incrementally: a merge only touches the pieces that hold
        the pair, and a heap of (-count, a, b) gives the next pair by :data:`TIE_RULE`.

        Args:
            text: the training text (non-empty).
            vocab_size: byte tokens plus merged tokens, at least 256; special tokens come on top.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must be a non-empty str to train on, got ''")
        check_int("vocab_size", vocab_size, minimum=N_BYTES)
        counts = Counter(regex.findall(pattern, text))
        words = [list(piece.encode("utf-8")) for piece in counts]
        freqs = list(counts.values())
        pair_counts: Counter[tuple[int, int]] = Counter()
        where: dict[tuple[int, int], set[int]] = {}  # pair -> the pieces that hold it
        for w, ids in enumerate(words):
            for pair in zip(ids, ids[1:], strict=False):
                pair_counts[pair] += freqs[w]
                where.setdefault(pair, set()).add(w)
        heap = [(-c, a, b) for (a, b), c in pair_counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        while len(merges) < vocab_size - N_BYTES and heap:
            neg, a, b = heapq.heappop(heap)
            if pair_counts.get((a, b), 0) != -neg:
                continue  # a stale entry: the count has changed since it was pushed
            pair, new_id = (a, b), N_BYTES + len(merges)
            merges.append(pair)
            changed = set()
            for w in sorted(where.pop(pair)):
                old = words[w]
                new = byte_pair_merge(old, pair, new_id)
                for p in zip(old, old[1:], strict=False):
                    pair_counts[p] -= freqs[w]
                    changed.add(p)
                for p in zip(new, new[1:], strict=False):
                    pair_counts[p] += freqs[w]
                    where.setdefault(p, set()).add(w)
                    changed.add(p)
                words[w] = new
            for p in changed:
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], *p))
                else:
                    del pair_counts[p]
                    where.pop(p, None)
        return cls(merges, special_tokens, pattern)

    # -- encoding and decoding -----------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Rows an embedding needs: 256 bytes + merges + special tokens."""
        return len(self.vocab) + len(self.special_tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (f"BPETokenizer(merges={len(self.merges)}, special_tokens="
                f"{list(self.special_tokens)}, vocab_size={self.vocab_size})")

    def pieces(self, text: str) -> list[str]:
        """The pre-tokenisation of ``text``: the pieces that merges never cross."""
        return self._regex.findall(text)

    def encode_piece(self, piece: bytes) -> list[int]:
        """BPE on one piece: apply the learned merges, earliest learned first."""
        ids = list(piece)
        ranks = self._ranks
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:], strict=False),
                       key=lambda p: ranks.get(p, float("inf")))
            if pair not in ranks:
                break  # no learned pair is left
            ids = byte_pair_merge(ids, pair, ranks[pair])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of ``text``; special-token names in it are ordinary text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids: list[int] = []
        cache = self._cache
        for piece in self._regex.findall(text):
            piece_ids = cache.get(piece)
            if piece_ids is None:
                try:
                    data = piece.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"text is not valid Unicode: a lone surrogate in {piece!r} "
                                     "has no UTF-8 bytes") from None
                piece_ids = cache[piece] = self.encode_piece(data)
            ids.extend(piece_ids)
        return ids

    def encode(self, text: str, *, allowed_special: Iterable[str] | str = ()) -> list[int]:
        """Token ids of ``text``. The special tokens named in ``allowed_special`` (or all of them
        with ``"all"``) are read as their ids where they occur; everything else is ordinary
        text.

        Raises:
            ValueError: ``allowed_special`` names a token this tokenizer does not have.
        """
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        else:
            if isinstance(allowed_special, str):
                raise TypeError(f"allowed_special must be 'all' or a collection of str, got the "
                                f"str {allowed_special!r}")
            allowed = set(allowed_special)
            unknown = sorted(allowed - set(self.special_tokens))
            if unknown:
                raise ValueError(f"allowed_special names unknown special tokens {unknown}; this "
                                 f"tokenizer has {list(self.special_tokens)}")
        if not allowed:
            return self.encode_ordinary(text)
        names = sorted(allowed, key=lambda s: (-len(s), s))  # the longest name wins at a tie
        ids: list[int] = []
        for i, chunk in enumerate(regex.split(f"({'|'.join(map(regex.escape, names))})", text)):
            ids.extend(self.encode_ordinary(chunk) if i % 2 == 0 else
                       [self.special_tokens[chunk]])
        return ids

    def special_id(self, name: str) -> int:
        """The id of a special token."""
        if name not in self.special_tokens:
            raise ValueError(f"unknown special token {name!r}; this tokenizer has "
                             f"{list(self.special_tokens)}")
        return self.special_tokens[name]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token (a special token's name in UTF-8)."""
        check_int("token_id", token_id, minimum=0, maximum=self.vocab_size - 1)
        if token_id < len(self.vocab):
            return self.vocab[token_id]
        return next(n for n, i in self.special_tokens.items() if i == token_id).encode("utf-8")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes that ``ids`` stand for."""
        if hasattr(ids, "tolist"):  # a tensor or an array
            ids = ids.tolist()
        vocab, n = self.vocab, len(self.vocab)
        out = []
        for i in ids:
            out.append(vocab[i] if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n
                       else self.token_bytes(i))
        return b"".join(out)

    def decode(self, ids: Iterable[int], *, errors: str = "strict") -> str:
        """The text for ``ids``.

        Args:
            errors: ``"strict"`` raises on bytes that are not valid UTF-8 (a character cut in
                half by slicing a token stream); ``"replace"`` writes U+FFFD for them.

        Raises:
            ValueError: an id is outside the vocabulary, or (``"strict"``) the bytes are not
                valid UTF-8; the message says where.
        """
        check_choice("errors", errors, ("strict", "replace"))
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors=errors)
        except UnicodeDecodeError as err:
            raise ValueError(
                f"ids decode to bytes that are not valid UTF-8 ({err.reason} at byte {err.start}: "
                f"{data[err.start:err.end]!r}); a multi-byte character was probably cut in half. "
                "Pass errors='replace' to write U+FFFD instead"
            ) from None

    # -- tiktoken's view, save and load --------------------------------------------------------

    def mergeable_ranks(self) -> dict[bytes, int]:
        """Token bytes -> id, the ``mergeable_ranks`` of a ``tiktoken.Encoding``."""
        ranks = {token: i for i, token in enumerate(self.vocab)}
        if len(ranks) != len(self.vocab):
            raise ValueError("two tokens have the same bytes: tiktoken cannot represent this")
        return ranks

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description; inverse of :meth:`from_dict`."""
        return {"format": _FORMAT, "pattern": self.pattern,
                "merges": [list(p) for p in self.merges],
                "special_tokens": list(self.special_tokens)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BPETokenizer:
        """Rebuild a tokenizer from :meth:`to_dict`."""
        keys = {"format", "pattern", "merges", "special_tokens"}
        if not isinstance(d, Mapping) or set(d) != keys:
            raise ValueError(f"d must be a dict with keys {sorted(keys)}, got "
                             f"{sorted(d) if isinstance(d, Mapping) else type(d).__name__}")
        if d["format"] != _FORMAT:
            raise ValueError(f"unknown tokenizer format {d['format']!r}, expected {_FORMAT}")
        return cls([tuple(p) for p in d["merges"]], d["special_tokens"], d["pattern"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokenizer as JSON to ``path``, atomically."""
        data = json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8")
        return atomic_write(path, lambda handle: handle.write(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
