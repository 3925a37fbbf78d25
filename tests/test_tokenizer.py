"""Tests for the byte-level BPE tokenizer: token for token against tiktoken, round trips,
deterministic training, special tokens, save/load and every error path."""

import inspect
import json
import random

import pytest
import tiktoken

from lessons_pkg import tokenizer as tokenizer_module
from lessons_pkg.data.book import book_corpus
from lessons_pkg.tokenizer import GPT2_PATTERN, BPETokenizer, byte_pair_merge

EOT = "<|endoftext|>"
CHINESE = ("大模型是在海量文本上预训练的神经网络。分词器先把文本切成子词，再把子词映射为整数编号；"
           "中文每个汉字在 UTF-8 中占三个字节，所以字节级分词器必须从数据中学会把它们合并起来。"
           "例如：“注意力机制”“梯度下降”和“交叉熵损失”都是本课程的核心概念。2024年，参数量达到1750亿。")
EMOJI = "👍🏽 🇨🇳🇫🇷 👩‍👩‍👧‍👦 🙂🙃 ✨🔥💯 ❤️ 🧑🏿‍🚀 ☕ 1️⃣ #️⃣"
OTHER_SCRIPTS = ("Ελληνικά κείμενα, русский текст, עברית, العربية, हिन्दी, 日本語のテキスト, 한국어 "
                 "텍스트, naïve café résumé Å̊ e\u0301 ﬁ Ⅻ ½ ²³ ٣٤٥ ๑๒๓")
WHITESPACE = ("a  b   c\t\td\n\n\ne \r\n f\u00a0g\u3000h\u2003i  \n  \t\n    indented\n\n\n"
              "   trailing   \n\t\t\tx\x0b\x0cy\u2028z \u200b |")
CONTRACTIONS = "I'm sure they'll say it's what we've done, isn't it? DON'T SHOUT, I'D SAY. 'tis"


def varied_text(english: str) -> str:
    """English, code, Chinese, emoji, other scripts, numbers and whitespace runs, mixed."""
    code = inspect.getsource(tokenizer_module)
    parts = [english, code, CHINESE, EMOJI, OTHER_SCRIPTS, WHITESPACE, CONTRACTIONS,
             "3.14159 1,000,000 0x1F600 2**32 -42 +7e-3 123456789012345678901234567890",
             "https://example.com/path?q=1&r=2 user@example.org C:\\Users\\x ~/.cache/*.txt",
             "".join(chr(c) for c in range(32, 127)), "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ", "\x00\x01\x7f"]
    rng = random.Random(1)
    mixed = [rng.choice(parts)[:400] for _ in range(30)]  # the parts again, run together
    return "\n".join(parts) + "".join(mixed)


@pytest.fixture(scope="module")
def corpus():
    return book_corpus()


@pytest.fixture(scope="module")
def trained(corpus):
    """A tokenizer trained on the book's training pages plus code and Chinese."""
    train_text, _ = corpus
    text = train_text + inspect.getsource(json) + CHINESE * 3
    return BPETokenizer.train(text, 1024, special_tokens=[EOT, "<|pad|>"])


def tiktoken_twin(tok: BPETokenizer) -> tiktoken.Encoding:
    """tiktoken's encoder built from this tokenizer's own merges and pattern."""
    return tiktoken.Encoding(name="lessons-bpe-test", pat_str=tok.pattern,
                             mergeable_ranks=tok.mergeable_ranks(),
                             special_tokens=tok.special_tokens)


def first_difference(a: list[int], b: list[int]) -> str:
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    return f"lengths {len(a)} and {len(b)}, first difference at {i}: {a[i:i + 5]} vs {b[i:i + 5]}"


def test_equal_to_tiktoken_on_a_large_varied_text(trained, corpus):
    _, val_text = corpus
    text = varied_text(val_text)
    assert len(text) > 30_000
    ref = tiktoken_twin(trained)
    ours, theirs = trained.encode_ordinary(text), ref.encode_ordinary(text)
    assert ours == theirs, first_difference(ours, theirs)
    assert len(set(ours)) > 500  # the test exercises many merged tokens, not only bytes
    assert trained.decode(ours) == ref.decode(theirs) == text
    assert "".join(trained.pieces(text)) == text  # the pieces cover the text


def test_equal_to_tiktoken_with_special_tokens(trained):
    ref = tiktoken_twin(trained)
    text = f"{EOT}First page.{EOT}<|pad|><|pad|>中文{EOT}{EOT} end <|endoftext|"
    for allowed in ({EOT}, {EOT, "<|pad|>"}, set()):
        ours = trained.encode(text, allowed_special=allowed)
        assert ours == ref.encode(text, allowed_special=allowed, disallowed_special=())
    assert trained.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    ids = trained.encode(text, allowed_special="all")
    assert ids[0] == trained.special_id(EOT) == 1024 and trained.special_id("<|pad|>") == 1025
    assert trained.decode(ids) == text
    assert trained.encode_ordinary(text) == trained.encode(text)  # specials read as text


def test_equal_to_tiktoken_on_random_unicode(trained):
    ref = tiktoken_twin(trained)
    rng = random.Random(0)
    for _ in range(300):
        s = random_text(rng)
        assert trained.encode(s) == ref.encode_ordinary(s), repr(s)


def random_text(rng: random.Random) -> str:
    """A random string: ASCII, Latin, CJK, emoji and whitespace, any code point (no surrogates)."""
    ranges = [(32, 127), (9, 14), (0xA0, 0x250), (0x4E00, 0x9FFF), (0x1F300, 0x1FAFF),
              (0x0, 0xD7FF), (0xE000, 0x10FFFF), (0x2000, 0x206F)]
    out = []
    for _ in range(rng.randint(0, 40)):
        low, high = rng.choice(ranges)
        out.append(chr(rng.randint(low, high)))
    return "".join(out)


def test_decode_encode_round_trip_on_random_strings(trained):
    rng = random.Random(1)
    for _ in range(1000):
        s = random_text(rng)
        assert trained.decode(trained.encode(s)) == s, repr(s)
    assert trained.encode("") == [] and trained.decode([]) == ""


def test_training_is_deterministic_and_independent_of_piece_order():
    rng = random.Random(0)
    words = [rng.choice(["the", "cat", "sat", "on", "mat", "a", "hat", "that", "sat", "3"])
             for _ in range(2000)]
    text = "".join(" " + w for w in words)
    shuffled = words[:]
    rng.shuffle(shuffled)
    first = BPETokenizer.train(text, 300)
    assert BPETokenizer.train(text, 300).merges == first.merges
    # The same multiset of pieces in another order: the tie rule fixes the merges.
    assert BPETokenizer.train("".join(" " + w for w in shuffled), 300).merges == first.merges


def test_tie_rule_and_a_worked_example():
    # Pairs (97, 98), (32, 99), (99, 100) occur once each: the smallest pair wins.
    assert BPETokenizer.train("ab cd", 257).merges == [(32, 99)]
    # Wikipedia's example "aaabdaaabac": aa (4 times, 2 after non-overlapping merging), then ab
    # (tied with (256, 97) at 2: the smaller pair wins), then "aa" + "ab".
    tok = BPETokenizer.train("aaabdaaabac", 259)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.vocab[256:] == [b"aa", b"ab", b"aaab"]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert byte_pair_merge([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]


def test_merges_never_cross_pieces_and_training_stops_when_pairs_run_out():
    tok = BPETokenizer.train("ab ab ab", 1000)
    assert tok.pieces("ab ab ab") == ["ab", " ab", " ab"]
    assert tok.merges == [(97, 98), (32, 256)]  # "ab" (3 times), then " " + "ab": no more pairs
    assert tok.vocab_size == 258
    assert all(b" " not in token[1:] for token in tok.vocab)


def test_matches_tiktoken_pieces_for_gpt2_pattern():
    # The pattern is GPT-2's: tiktoken's own r50k_base pattern splits the same way.
    rng = random.Random(2)
    ref = tiktoken.Encoding(name="bytes-only", pat_str=GPT2_PATTERN,
                            mergeable_ranks={bytes([b]): b for b in range(256)}, special_tokens={})
    tok = BPETokenizer()
    for text in [WHITESPACE, CONTRACTIONS, CHINESE, EMOJI] + [random_text(rng) for _ in range(50)]:
        assert tok.encode(text) == ref.encode_ordinary(text) == list(text.encode("utf-8"))


def test_save_and_load(tmp_path, trained):
    path = trained.save(tmp_path / "sub" / "tok.json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["tok.json"]  # no temporary left
    loaded = BPETokenizer.load(path)
    assert loaded.merges == trained.merges and loaded.special_tokens == trained.special_tokens
    assert loaded.pattern == trained.pattern
    text = varied_text("Some English.")
    assert loaded.encode(text, allowed_special="all") == trained.encode(text,
                                                                        allowed_special="all")
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == 1


def test_decode_invalid_utf8(trained):
    ids = list("中".encode())[:2]  # a character cut in half
    with pytest.raises(ValueError, match=r"not valid UTF-8 .*errors='replace'"):
        trained.decode(ids)
    assert trained.decode(ids, errors="replace") == "\ufffd"
    assert trained.decode([104, 105] + ids, errors="replace") == "hi\ufffd"
    with pytest.raises(ValueError, match=r"errors must be one of \('strict', 'replace'\), got"):
        trained.decode(ids, errors="ignore")


def test_decode_bad_ids(trained):
    with pytest.raises(ValueError, match=r"token_id must be an int <= 1025, got 1026"):
        trained.decode([1026])
    with pytest.raises(ValueError, match=r"token_id must be an int >= 0, got -1"):
        trained.decode([-1])
    with pytest.raises(TypeError, match="token_id must be an int, got float"):
        trained.decode([1.0])


def test_unknown_special_tokens(trained):
    with pytest.raises(ValueError, match=r"allowed_special names unknown special tokens "
                                         r"\['<\|bos\|>'\]; this tokenizer has"):
        trained.encode("x", allowed_special={"<|bos|>", EOT})
    with pytest.raises(ValueError, match=r"unknown special token '<\|bos\|>'"):
        trained.special_id("<|bos|>")
    with pytest.raises(TypeError, match="allowed_special must be 'all' or a collection"):
        trained.encode("x", allowed_special=EOT)
    with pytest.raises(ValueError, match="special_tokens must not repeat"):
        BPETokenizer(special_tokens=[EOT, EOT])
    with pytest.raises(ValueError, match="special_tokens must be non-empty strings"):
        BPETokenizer(special_tokens=[""])


def test_bad_training_input():
    with pytest.raises(ValueError, match="text must be a non-empty str to train on, got ''"):
        BPETokenizer.train("", 300)
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        BPETokenizer.train(b"abc", 300)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 256, got 255"):
        BPETokenizer.train("abc", 255)
    with pytest.raises(TypeError, match="vocab_size must be an int, got float"):
        BPETokenizer.train("abc", 300.0)


def test_bad_merges_and_text():
    with pytest.raises(ValueError, match=r"merges\[1\]\[1\] must be an int <= 256, got 257"):
        BPETokenizer([(97, 98), (256, 257)])
    with pytest.raises(TypeError, match=r"merges\[0\] must be a pair of ids"):
        BPETokenizer([(1, 2, 3)])
    with pytest.raises(ValueError, match="d must be a dict with keys"):
        BPETokenizer.from_dict({"merges": []})
    with pytest.raises(ValueError, match="unknown tokenizer format 2"):
        BPETokenizer.from_dict({"format": 2, "pattern": GPT2_PATTERN, "merges": [],
                                "special_tokens": []})
    with pytest.raises(TypeError, match="text must be a str, got int"):
        BPETokenizer().encode(3)
    with pytest.raises(ValueError, match="text is not valid Unicode: a lone surrogate"):
        BPETokenizer().encode("a\ud800b")
