"""Where text goes: results on stdout, messages on stderr, and never a secret on either."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, BinaryIO, TextIO

from migrations_cli.core.url_secrets import MASK as REDACTED

# The ANSI codes Click's `style` writes: a command's colours look the same as Click's own.
_ANSI_COLOURS = {"red": 31, "green": 32, "yellow": 33, "blue": 34}
_BOLD, _NOT_BOLD, _RESET = "\x1b[1m", "\x1b[22m", "\x1b[0m"


def echo(text: str, *, err: bool = False, newline: bool = True) -> None:
    """Write a line to today's stdout (or stderr) and flush it, as `click.echo` does for
    text; written here so that printing an answer does not import Typer and Click."""
    stream = sys.stderr if err else sys.stdout
    line = f"{text}\n" if newline else text
    redactor: Redactor | None = getattr(stream, "redactor", None)
    with redactor.own_words() if redactor else nullcontext():  # (see Redactor)
        try:
            stream.write(line)
        except UnicodeEncodeError:
            # A stream set to ASCII (LANG=C, PYTHONIOENCODING=ascii) cannot hold a message in
            # another language: its bytes go out as UTF-8, as Click does for a misconfigured
            # locale.
            stream.flush()
            stream.buffer.write(line.encode("utf-8", "replace"))
    stream.flush()


def mask_outside(text: str) -> str:
    """`text` that came from outside migrate (a driver's error, a plugin's exception), masked
    as outside text is, before it is quoted in one of migrate's own messages."""
    redactor: Redactor | None = getattr(sys.stderr, "redactor", None)
    return redactor.outside(text) if redactor else text


def result(text: str) -> None:
    """A command's answer, for people and pipes alike (stdout).

    Results are built from revision files (paths, ids, messages), never from settings, so
    they bypass the masking: a password that is also a common word (``app``) must not turn
    a printed path into one that does not exist.
    """
    redactor: Redactor | None = getattr(sys.stdout, "redactor", None)
    with redactor.paused() if redactor else nullcontext():
        echo(text)


def json_result(document: object) -> None:
    """A command's answer for scripts (``--json``): one JSON document on stdout, nothing else.

    Unlike `result`, it is masked: documents such as doctor's carry text from the settings.
    Each string is masked before encoding, since JSON writes a password's quote, backslash
    or accented letter as an escape that the masking of the stream would not recognise; the
    stream's own masking is then paused, as it would turn a password such as `false` or
    `1` into *** where JSON has a literal, breaking the document.
    """
    redactor: Redactor | None = getattr(sys.stdout, "redactor", None)
    if redactor is None:
        echo(json.dumps(document, indent=2, default=str))
        return
    with redactor.own_words():
        masked = redactor.document(json.loads(json.dumps(document, default=str)))
    with redactor.paused():
        echo(json.dumps(masked, indent=2, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns under a header, for people to read at a glance."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def use_colour(err: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stderr if err else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def styled(text: str, colour: str, *, bold: bool = False, err: bool = False) -> str:
    """`text` in `colour` when the stream it goes to shows colour, else unchanged."""
    if not use_colour(err):
        return text
    return f"\x1b[{_ANSI_COLOURS[colour]}m{_BOLD if bold else _NOT_BOLD}{text}{_RESET}"


def info(text: str) -> None:
    """Progress and advice that must not pollute a result piped elsewhere (stderr)."""
    echo(text, err=True)


def warn(text: str) -> None:
    echo(f"{styled('warning:', 'yellow', err=True)} {text}", err=True)


@contextmanager
def model_warnings() -> Iterator[None]:
    """Warnings raised while the models are compared with a database (SQLAlchemy's
    SAWarning, Alembic's "autogenerate skipping ..."), shown as what they are: remarks on
    the user's models, each once, rather than as a line of whichever module of Alembic or
    migrations_cli happened to call SQLAlchemy. The warning filters in force still apply
    (an "error" filter still raises)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        try:
            yield
        finally:
            for text in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
                warn(f"comparing the models with the database: {text}")


def error(text: str) -> None:
    echo(f"{styled('error:', 'red', bold=True, err=True)} {text}", err=True)


class Redactor:
    """Replaces secrets with ***, wherever they stand as a whole word.

    A secret inside a longer word is left alone: a short or common password (``a``,
    ``postgres``) must not mangle file names and URLs such as ``postgresql://``.

    Two kinds of text reach the streams, masked differently:
    - text from outside migrate (a plugin's print, Alembic's log, a traceback, and a driver's
      error or a plugin's exception as errors.describe quotes it): every secret is masked;
    - migrate's own words (written through this module: messages, check names, JSON keys
      and values): every secret too, except one that is itself one of migrate's words
      (``database``, ``heads``, ``a``, a number). Masking that would rewrite our messages
      and break scripts reading our JSON, and show the reader which word the password is.
      Such a password is masked in our text only where nothing but a password stands: in
      a URL's credentials (``:database@``) or after ``password=``. The outside text our
      messages quote was masked as outside text before it was quoted (`mask_outside`).
    Which words are migrate's is read from its own source, only for a password made of
    letters alone (a number always counts as ours): most passwords cost nothing.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
        ours = _our_words(forms)
        everywhere = _alternatives(forms)
        strong = _alternatives([form for form in forms if form not in ours])
        weak = _alternatives([form for form in forms if form in ours])
        whole = rf"(?<!\w)(?:{everywhere})(?!\w)"
        own = "|".join(
            [
                *([rf"(?<!\w)(?:{strong})(?!\w)"] if strong else []),
                *(
                    [
                        rf"(?<=:)(?:{weak})(?=@)",
                        rf"(?i:(?<=password=)|(?<=passwd=))(?:{weak})(?!\w)",
                    ]
                    if weak
                    else []
                ),
            ]
        )
        self._outside = re.compile(whole)
        self._own = re.compile(own or r"(?!)")
        self._bytes = re.compile(whole.encode())
        self._paused = False
        self._own_words = False

    def text(self, text: str) -> str:
        if self._paused:
            return text
        return (self._own if self._own_words else self._outside).sub(REDACTED, text)

    def outside(self, text: str) -> str:
        """Text from outside migrate, whoever writes it."""
        return self._outside.sub(REDACTED, text)

    def bytes(self, data: bytes) -> bytes:
        return data if self._paused else self._bytes.sub(REDACTED.encode(), data)

    def document(self, value: object) -> object:
        """A decoded JSON document with every string in it masked, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(key): self.document(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.document(item) for item in value]
        return value

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Let text known to hold no secret through unchanged."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    @contextmanager
    def own_words(self) -> Iterator[None]:
        """Mask what is written inside the block as migrate's own words."""
        previous, self._own_words = self._own_words, True
        try:
            yield
        finally:
            self._own_words = previous


def _alternatives(forms: Iterable[str]) -> str:
    return "|".join(re.escape(form) for form in forms)


def _our_words(forms: Sequence[str]) -> frozenset[str]:
    """The forms that are words migrate itself writes: numbers, and words of letters that
    stand as a whole word somewhere in its source (messages, names, keys)."""
    numbers = {form for form in forms if form.isdecimal()}
    words = [form for form in forms if re.fullmatch(r"[^\W\d_]+", form)]
    if not words:
        return frozenset(numbers)
    from pathlib import Path

    import migrations_cli

    package = Path(migrations_cli.__file__).parent
    pattern = re.compile(rf"(?<!\w)(?:{_alternatives(words)})(?!\w)")
    found: set[str] = set()
    for source in (*package.glob("*.py"), *_plugin_sources()):
        found.update(pattern.findall(source.read_text(encoding="utf-8")))
    return frozenset(numbers | found)


def _plugin_sources() -> list[Any]:
    """The built-in command plugins' modules (installed as migrations_cli.plugins)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("migrations_cli.plugins")
    locations = spec.submodule_search_locations if spec is not None else None
    return [path for folder in locations or () for path in Path(folder).glob("*.py")]


class RedactingStream:
    """A text stream that masks secrets before they reach the stream it wraps.

    Wrapping stdout and stderr catches every writer at once (our messages, Alembic's logging,
    tracebacks under --verbose, a plugin's print) instead of trusting each to mask. Bytes
    written to ``.buffer`` are masked too; everything else is the wrapped stream's.
    """

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as a text stream does: Click probes with b""
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._stream.write(self._redactor.text(text))
        return len(text)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    @property
    def buffer(self) -> _RedactingBinaryStream:
        return _RedactingBinaryStream(self._stream.buffer, self._redactor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RedactingBinaryStream:
    def __init__(self, stream: BinaryIO, redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, data: bytes) -> int:
        self._stream.write(self._redactor.bytes(bytes(data)))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_output(secrets: frozenset[str]) -> Iterator[None]:
    """Mask `secrets` in everything written to stdout and stderr inside the block."""
    if not secrets:
        yield
        return
    redactor = Redactor(secrets)
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(stdout, redactor)
    sys.stderr = RedactingStream(stderr, redactor)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
