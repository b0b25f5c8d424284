"""Read one report file into the text that every offset in the database refers to.

Offsets (``char_start``/``char_end``) index the string returned by :func:`read_report`:
the file decoded as UTF-8 (a leading byte-order mark removed) with universal newlines
(``\\r\\n`` and ``\\r`` become ``\\n``), exactly what ``open(path, encoding="utf-8-sig")``
gives in Python. Files that are not valid UTF-8 are decoded as cp1252 (a superset of
latin-1 for printable text) with a warning, because Swedish municipal exports from
older Windows tools are often in that encoding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
LONG_LINE_CHARS = 100_000  # a longer line is almost certainly a broken export (warned about)


@dataclass
class SourceText:
    path: Path
    text: str
    sha256: str
    encoding: str
    warnings: list[str]


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _longest_line(text: str) -> tuple[int, int]:
    """Length and 1-based number of the longest line (linear time)."""
    best, best_no, pos, no = 0, 1, 0, 1
    while pos <= len(text):
        nxt = text.find("\n", pos)
        end = len(text) if nxt == -1 else nxt
        if end - pos > best:
            best, best_no = end - pos, no
        if nxt == -1:
            break
        pos, no = nxt + 1, no + 1
    return best, best_no


def read_report(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceText:
    """Decode a report file, refusing empty, binary and oversized files with a clear message."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise CorpusError(
            path,
            f"file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB "
            "(raise it with --max-file-mb if the file really is one report)",
        )
    data = path.read_bytes()
    warnings: list[str] = []
    if not data.strip():
        raise CorpusError(path, "file is empty (no text to index)")
    if b"\x00" in data[:65536]:
        raise CorpusError(path, "file looks binary (contains NUL bytes); expected UTF-8 text extracted from the PDF")
    try:
        text = data.decode("utf-8-sig")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise CorpusError(path, f"not valid UTF-8 (byte {exc.start}) nor cp1252", line=line) from None
        encoding = "cp1252"
        warnings.append(f"{path}:{line}: not valid UTF-8; decoded as cp1252 (save the file as UTF-8 to silence this)")
    text = normalise_newlines(text)
    control = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\n\t")
    if control > 0.01 * min(len(text), 65536):
        raise CorpusError(path, "file looks binary (many control characters); expected text")
    if not text.strip():
        raise CorpusError(path, "file is empty (only whitespace)")
    longest, line_no = _longest_line(text)
    if longest > LONG_LINE_CHARS:
        warnings.append(f"{path}:{line_no}: a line of {longest:,} characters; text extracted from a PDF normally has "
                        "line breaks – words in it longer than 60 letters are indexed whole, not split")
    sha = hashlib.sha256(data).hexdigest()
    return SourceText(path=path, text=text, sha256=sha, encoding=encoding, warnings=warnings)
