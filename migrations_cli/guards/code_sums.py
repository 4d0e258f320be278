"""The two sums kept of a migration file: of its bytes, and of its code.

The code sum is a SHA-256 of the file's Python tokens without comments, blank lines and
indentation widths, so that an edit of comments or layout alone keeps it. Tokenizing costs
some ten times what reading and hashing the file does; since the code sum depends on the
bytes alone, a memo in .migrations-cache/ keeps the code sums taken, by the text sum of the
bytes they were taken from: a file read again is hashed, and tokenized only when its bytes
are new. A missing, damaged or unwritable memo only means tokenizing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import token as tokens
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from migrations_cli.graph import cache_files

# Token types that carry no code: comments, and line breaks inside brackets or blank lines.
_SKIPPED_TOKENS = frozenset({"COMMENT", "NL", "ENCODING", "ENDMARKER"})
# Token types whose text is layout only: the marker is kept, the width or line ending is not.
_LAYOUT_TOKENS = frozenset({"INDENT", "DEDENT", "NEWLINE"})
# f-strings (Python 3.12+) and t-strings (3.14+) arrive as several tokens: kept as their
# source text, so a sum taken under one Python matches the same file's under another.
_STRING_STARTS = frozenset({"FSTRING_START", "TSTRING_START"})
_STRING_ENDS = frozenset({"FSTRING_END", "TSTRING_END"})


@dataclass(frozen=True)
class FileChecksums:
    code: str
    text: str


def file_checksums(path: str | os.PathLike[str], memo: CodeSumMemo | None = None) -> FileChecksums:
    """The sums of a revision file; its code sum from `memo` when the memo holds it."""
    data = read_file(path)
    text = hashlib.sha256(data).hexdigest()
    code = memo.code_sum(data, text) if memo is not None else code_sum_of(data, text)
    return FileChecksums(code=code, text=text)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """A revision file's bytes, read whole without a buffer: once per revision applied,
    and once per applied revision each time the sums are compared."""
    with open(path, "rb", buffering=0) as file:
        return file.readall()


def code_sum_of(data: bytes, text: str) -> str:
    """The code sum; a file that does not tokenize (not Python source, say) has its text
    sum as its code sum."""
    try:
        return _code_checksum(data)
    except (SyntaxError, ValueError, UnicodeDecodeError, IndentationError):
        return text
    except Exception as error:  # tokenize.TokenError lives in tokenize: imported lazily
        if type(error).__name__ != "TokenError":
            raise
        return text


def _code_checksum(data: bytes) -> str:
    import tokenize

    text = data.decode(tokenize.detect_encoding(io.BytesIO(data).readline)[0])
    fast = _code_checksum_c(text) if _C_TOKENIZER is not None else None
    if fast is not None:
        return fast
    lines = text.splitlines(True)
    digest = hashlib.sha256()
    depth = 0
    start: tuple[int, int] = (0, 0)
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        kind = tokenize.tok_name[token.type]
        if kind in _STRING_STARTS:
            depth += 1
            if depth == 1:
                start = token.start
            continue
        if depth:
            if kind in _STRING_ENDS:
                depth -= 1
                if not depth:
                    digest.update(_source_between(lines, start, token.end).encode() + b"\0")
            continue
        if kind in _SKIPPED_TOKENS:
            continue
        part = f"<{kind}>" if kind in _LAYOUT_TOKENS else token.string
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _c_tokenizer() -> Any:
    """Python 3.11's C tokenizer, which its pure-Python `tokenize` does not use yet: the
    same tokens (without comments and blank lines, which the code sum skips anyway) some
    15 times faster. From 3.12 `tokenize` runs on it itself; 3.10 has none."""
    if sys.version_info[:2] != (3, 11):
        return None
    try:
        from _tokenize import TokenizerIter
    except ImportError:
        return None
    return TokenizerIter


_C_TOKENIZER = _c_tokenizer()
_C_LAYOUT = {
    tokens.NEWLINE: "<NEWLINE>",
    tokens.INDENT: "<INDENT>",
    tokens.DEDENT: "<DEDENT>",
}
# Real operators come with their exact type; a bare OP is a stray character.
_C_REFUSED = frozenset({tokens.OP, tokens.ERRORTOKEN})


def _code_checksum_c(text: str) -> str | None:
    """The code sum by the C tokenizer, the same as by `tokenize`'s (tests compare them); None
    when `tokenize` should decide: a character no operator starts (it makes error tokens of
    it and the space before), or a non-ASCII identifier (the two read some apart)."""
    parts: list[str] = []
    append = parts.append
    try:
        for found in _C_TOKENIZER(text):  # (string, type, positions..., line)
            kind = found[1]
            if kind in _C_LAYOUT:
                append(_C_LAYOUT[kind])
            elif kind in _C_REFUSED:
                return None
            elif kind == tokens.NAME:
                if not found[0].isascii():
                    return None
                append(found[0])
            elif kind != tokens.ENDMARKER:
                append(found[0])
    except Exception:
        return None
    parts.append("")  # each part ends in NUL, as `tokenize`'s loop feeds them
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _source_between(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    (first_row, first_col), (last_row, last_col) = start, end
    if first_row == last_row:
        return lines[first_row - 1][first_col:last_col]
    middle = lines[first_row : last_row - 1]
    return "".join([lines[first_row - 1][first_col:], *middle, lines[last_row - 1][:last_col]])


# The memo's file in .migrations-cache/, and the format it is in: a new definition of the
# code sum needs a new format, or the sums remembered would be the old definition's.
MEMO_NAME = "code-sums.json"
MEMO_FORMAT = "migrations-cli code sums 1"
# Text sums beyond this many are forgotten, the longest unused first.
MEMO_LIMIT = 20_000
_SUM = re.compile(r"[0-9a-f]{64}")


class CodeSumMemo:
    """Code sums by text sum, read from and written back to one file. An entry is checked
    when it is used (and when it is written back), not each one as the memo is read: a
    memo holds a sum for every revision file, and checking them all cost more per upgrade
    than looking up the ones the upgrade applies."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._known = _read_memo(path)
        self._used: dict[str, str] = {}
        self._taken = False  # a code sum was computed, not remembered

    def code_sum(self, data: bytes, text: str) -> str:
        """The code sum of `data`, whose text sum is `text`: remembered, or taken now."""
        code = self._known.get(text)
        if not _is_sum(code):
            code = code_sum_of(data, text)
            self._taken = True
        self._used[text] = code
        return code

    def save(self) -> None:
        """Write the memo back when a sum was computed: the sums used last come last, and
        the oldest go first beyond MEMO_LIMIT."""
        if not self._taken:
            return
        older = [
            (text, code)
            for text, code in self._known.items()
            if text not in self._used and _is_sum(text) and _is_sum(code)
        ]
        entries = [*older, *self._used.items()][-MEMO_LIMIT:]
        document = {"format": MEMO_FORMAT, "sums": dict(entries)}
        pending = cache_files.PendingWrite.start(self._path)
        pending.commit([json.dumps(document, separators=(",", ":")).encode()], self._path)
        self._taken = False


def _is_sum(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SUM.fullmatch(value) is not None


def _read_memo(path: Path) -> dict[str, Any]:
    """The memo's entries; none from a file that is missing, unreadable or of another
    format. (Each entry is checked where it is used.)"""
    try:
        document: Any = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != MEMO_FORMAT:
        return {}
    sums = document.get("sums")
    return sums if isinstance(sums, dict) else {}
