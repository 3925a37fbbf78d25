"""Checksummed, cached downloads, and the tiny-Shakespeare text for readers who are online.

Chapter: Practice › Language model (an optional real corpus beside the generated one).
Data: Karpathy (2015), char-rnn's "tinyshakespeare" (40,000 lines of Shakespeare's plays).

Nothing here runs on import, and the course never needs the network: every page works with
the generated corpus of ``lessons_pkg.data.corpus``. A download is verified against a
SHA-256 fixed in the code, written to a temporary file beside its destination and renamed into
place only when the hash matches, so a failed or tampered download never leaves a file that a
later call would trust.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

__all__ = [
    "SHAKESPEARE_SHA256",
    "SHAKESPEARE_URL",
    "default_cache_dir",
    "download",
    "download_shakespeare",
    "sha256_of",
]

SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
# SHA-256 of that file (1,115,394 bytes), as also recorded by TensorFlow Datasets.
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 16
_OFFLINE_HINT = (
    "You seem to be offline (or the server is unreachable). Nothing in the course needs the "
    "network: lessons_pkg.data.corpus.make_corpus() generates an English-like corpus offline."
)


def default_cache_dir() -> Path:
    """``$LESSONS_DATA_DIR`` if set, else ``~/.cache/lessons_pkg``."""
    env = os.environ.get("LESSONS_DATA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "lessons_pkg"


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, sha256: str, dest: str | os.PathLike, *, timeout: float = 30.0) -> Path:
    """Fetch ``url`` into the file ``dest`` unless a copy with the right hash is already there.

    Args:
        url: what to fetch (``https://``, ``http://`` or ``file://``).
        sha256: the expected hex SHA-256 of the content (64 hex digits).
        dest: the file to write; its folder is created when missing.
        timeout: seconds to wait for the server.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        TypeError: ``url`` or ``sha256`` is not a str.
        ValueError: ``url`` is empty, ``sha256`` is malformed, or the downloaded content has
            another hash (then nothing is written).
        ConnectionError: the download failed (offline, unreachable, HTTP error).
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a non-empty str, got {type(url).__name__}")
    if not url:
        raise ValueError("url must be a non-empty str, got ''")
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a str of 64 hexadecimal digits, got "
                        f"{type(sha256).__name__}")
    if not _HEX64.fullmatch(sha256.lower()):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    sha256 = sha256.lower()
    dest = Path(dest)
    if dest.is_dir():
        raise ValueError(f"dest must be a file path, got the folder {str(dest)!r}")
    if dest.is_file() and sha256_of(dest) == sha256:
        return dest  # cached copy is intact: no network needed
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (URLError, TimeoutError, ConnectionError) as err:
            raise ConnectionError(f"could not download {url}: {err}. {_OFFLINE_HINT}") from err
        got = digest.hexdigest()
        if got != sha256:
            raise ValueError(
                f"SHA-256 mismatch for {url}: expected {sha256}, got {got}; the file was not "
                "saved (the server's copy changed, or the download was corrupted)"
            )
        os.replace(tmp, dest)  # atomic on one file system
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def download_shakespeare(cache_dir: str | os.PathLike | None = None) -> str:
    """The tiny-Shakespeare text (about 1.1 million characters), downloaded once and cached.

    Args:
        cache_dir: folder for the cached file; :func:`default_cache_dir` when omitted.

    Raises:
        ConnectionError: no cached copy and no network; the message points to the offline
            generated corpus.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = download(SHAKESPEARE_URL, SHAKESPEARE_SHA256, folder / "tinyshakespeare.txt")
    return path.read_text(encoding="utf-8")
