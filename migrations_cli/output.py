"""Where text goes: results on stdout, messages on stderr, and never a secret on either."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

import typer

REDACTED = "***"


def result(text: str) -> None:
    """A command's answer, for people and pipes alike (stdout)."""
    typer.echo(text)


def info(text: str) -> None:
    """Progress and advice that must not pollute a result piped elsewhere (stderr)."""
    typer.echo(text, err=True)


def warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


def error(text: str) -> None:
    typer.echo(f"error: {text}", err=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in `text`; longer secrets first so none is left half-masked."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets before they reach the stream it wraps.

    Wrapping stdout and stderr catches every writer at once (our messages, Alembic's logging,
    tracebacks under --verbose, a plugin's print) instead of trusting each to mask.
    """

    def __init__(self, stream: TextIO, secrets: frozenset[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("RedactingStream accepts text only")
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)


@contextmanager
def redacted_output(secrets: frozenset[str]) -> Iterator[None]:
    """Mask `secrets` in everything written to stdout and stderr inside the block."""
    if not secrets:
        yield
        return
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(stdout, secrets)  # type: ignore[assignment]
    sys.stderr = RedactingStream(stderr, secrets)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
