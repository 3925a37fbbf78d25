"""Benchmark: encode throughput of the course's byte-level BPE against tiktoken, same merges.

Chapter: Practice › Tokenization.

A tokenizer is trained on the book's training pages (``--vocab-size`` tokens), tiktoken's
``Encoding`` is built from its merges and pattern, and both encode the same text: the book's
pages (training and validation) with Chinese and code mixed in, about ``--megabytes`` MB. The
ids are checked equal. Ours is timed twice: with a cold piece cache (a fresh tokenizer, the
usual first call) and warm (the same text again, every piece already cached). Best of
``--repeats`` rounds, interleaved. tiktoken's core is Rust; ours is plain Python.

Usage: python benchmarks/bench_tokenizer.py [--vocab-size 1024] [--megabytes 2] [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import time

import tiktoken

import lessons_pkg.tokenizer
from lessons_pkg.data.book import book_corpus
from lessons_pkg.tokenizer import BPETokenizer

CHINESE = ("大模型在海量文本上预训练。中文每个汉字在 UTF-8 中占三个字节，"
           "字节级分词器要学会把它们合并起来。")


def bench_text(megabytes: float) -> str:
    train_text, val_text = book_corpus()
    block = "\n".join([val_text, inspect.getsource(lessons_pkg.tokenizer), CHINESE * 20,
                       train_text])
    n_bytes = int(megabytes * 1e6)
    text = block * (n_bytes // len(block.encode("utf-8")) + 1)
    return text[: len(text) * n_bytes // len(text.encode("utf-8"))]


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--megabytes", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script")
    args = parser.parse_args()
    if args.quick:
        args.megabytes, args.repeats, args.vocab_size = 0.05, 1, 300
    train_text, _ = book_corpus()
    start = time.perf_counter()
    ours = BPETokenizer.train(train_text, args.vocab_size)
    train_seconds = time.perf_counter() - start
    ref = tiktoken.Encoding(name="lessons-bpe", pat_str=ours.pattern,
                            mergeable_ranks=ours.mergeable_ranks(), special_tokens={})
    text = bench_text(args.megabytes)
    megabytes = len(text.encode("utf-8")) / 1e6
    ids = ref.encode_ordinary(text)
    if BPETokenizer(ours.merges).encode_ordinary(text) != ids:
        raise SystemExit("the two encoders disagree: the benchmark would compare different work")

    warm = BPETokenizer(ours.merges)
    warm.encode_ordinary(text)  # fill the piece cache
    times = {
        "tiktoken (Rust core, same merges)": best_time(lambda: ref.encode_ordinary(text),
                                                       args.repeats),
        "lessons_pkg BPETokenizer, cold cache": best_time(
            lambda: BPETokenizer(ours.merges).encode_ordinary(text), args.repeats),
        "lessons_pkg BPETokenizer, warm cache": best_time(lambda: warm.encode_ordinary(text),
                                                          args.repeats),
    }
    print(f"# BPE encode throughput, tiktoken {tiktoken.__version__}")
    print(f"\nVocabulary {ours.vocab_size} (trained on {len(train_text):,} characters in "
          f"{train_seconds:.1f} s); text {megabytes:.2f} MB, {len(ids):,} tokens "
          f"({len(text.encode('utf-8')) / len(ids):.2f} bytes per token); ids equal: yes; "
          f"best of {args.repeats}.\n")
    print("| encoder | MB/s | ratio to tiktoken |")
    print("|---|---:|---:|")
    ref_rate = megabytes / times["tiktoken (Rust core, same merges)"]
    for name, seconds in times.items():
        rate = megabytes / seconds
        print(f"| {name} | {rate:.2f} | {rate / ref_rate:.2f}× |")


if __name__ == "__main__":
    main()
