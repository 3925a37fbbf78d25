"""Tests for checksummed downloads; they never touch the network (file:// URLs, fake urlopen)."""

import hashlib
import re
from urllib.error import HTTPError, URLError

import pytest

from lessons_pkg.data import download as dl
from lessons_pkg.data.download import (
    SHAKESPEARE_SHA256,
    default_cache_dir,
    download,
    download_shakespeare,
    sha256_of,
)

CONTENT = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50


@pytest.fixture
def served(tmp_path):
    """A local file standing in for a server, with its URL and hash."""
    src = tmp_path / "server" / "input.txt"
    src.parent.mkdir()
    src.write_bytes(CONTENT)
    return src.as_uri(), hashlib.sha256(CONTENT).hexdigest()


def _no_network(*args, **kwargs):
    raise URLError("[Errno -3] Temporary failure in name resolution")


def test_good_hash_downloads_then_serves_from_cache(tmp_path, served, monkeypatch):
    url, digest = served
    dest = tmp_path / "cache" / "sub" / "data.txt"
    assert download(url, digest, dest) == dest
    assert dest.read_bytes() == CONTENT and sha256_of(dest) == digest
    monkeypatch.setattr(dl, "urlopen", _no_network)  # a second call must not need the network
    assert download(url, digest.upper(), dest) == dest
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.txt"]


def test_bad_hash_raises_and_leaves_nothing(tmp_path, served):
    url, digest = served
    wrong = "0" * 64
    dest = tmp_path / "cache" / "data.txt"
    with pytest.raises(ValueError, match=f"SHA-256 mismatch .*expected {wrong}, got {digest}"):
        download(url, wrong, dest)
    assert list(dest.parent.iterdir()) == []  # neither the file nor a partial one


def test_corrupted_cache_is_replaced(tmp_path, served):
    url, digest = served
    dest = tmp_path / "data.txt"
    dest.write_bytes(b"truncated")
    download(url, digest, dest)
    assert dest.read_bytes() == CONTENT


@pytest.mark.parametrize(
    "error",
    [
        URLError("[Errno -3] Temporary failure in name resolution"),
        HTTPError("https://example.invalid/x", 404, "Not Found", {}, None),
        TimeoutError("timed out"),
    ],
)
def test_offline_is_a_clear_error(tmp_path, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(dl, "urlopen", fail)
    dest = tmp_path / "data.txt"
    with pytest.raises(ConnectionError, match=r"could not download .*offline.*make_corpus"):
        download("https://example.invalid/x", "a" * 64, dest)
    assert list(tmp_path.iterdir()) == []


def test_missing_local_file_is_a_connection_error(tmp_path):
    url = (tmp_path / "nowhere.txt").as_uri()
    with pytest.raises(ConnectionError, match="could not download"):
        download(url, "a" * 64, tmp_path / "out.txt")


def test_download_shakespeare_uses_the_cache(tmp_path, served, monkeypatch):
    url, digest = served
    monkeypatch.setattr(dl, "SHAKESPEARE_URL", url)
    monkeypatch.setattr(dl, "SHAKESPEARE_SHA256", digest)
    text = download_shakespeare(cache_dir=tmp_path / "c")
    assert text == CONTENT.decode()
    assert (tmp_path / "c" / "tinyshakespeare.txt").is_file()
    monkeypatch.setattr(dl, "urlopen", _no_network)
    assert download_shakespeare(cache_dir=tmp_path / "c") == text


def test_download_shakespeare_offline_message(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "urlopen", _no_network)
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "env_cache"))
    with pytest.raises(ConnectionError, match="offline.*generates an English-like corpus"):
        download_shakespeare()
    assert not (tmp_path / "env_cache" / "tinyshakespeare.txt").exists()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("LESSONS_DATA_DIR")
    assert default_cache_dir().parts[-2:] == (".cache", "lessons_pkg")


def test_shakespeare_constants():
    assert re.fullmatch(r"[0-9a-f]{64}", SHAKESPEARE_SHA256)
    assert dl.SHAKESPEARE_URL.startswith("https://raw.githubusercontent.com/karpathy/char-rnn/")


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (("", "a" * 64), ValueError, "url must be a non-empty str, got ''"),
        ((None, "a" * 64), TypeError, "url must be a non-empty str, got NoneType"),
        (("file:///x", "abc"), ValueError, "sha256 must be 64 hexadecimal digits, got 'abc'"),
        (("file:///x", "g" * 64), ValueError, "64 hexadecimal digits"),
        (("file:///x", None), TypeError, "sha256 must be a str of 64 hexadecimal digits"),
    ],
)
def test_bad_arguments(tmp_path, args, exc, match):
    with pytest.raises(exc, match=match):
        download(*args, tmp_path / "out.txt")


def test_dest_must_not_be_a_folder(tmp_path, served):
    url, digest = served
    with pytest.raises(ValueError, match="dest must be a file path"):
        download(url, digest, tmp_path)
