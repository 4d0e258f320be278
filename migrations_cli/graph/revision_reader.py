"""A revision file's identity (revision, down_revision, branch_labels, depends_on, and the
docstring Alembic shows) read from its text, without importing it.

Importing a revision file compiles it, writes its bytecode and runs it: on a fresh clone
that is most of what `alembic heads` spends, once per file. A file written as Alembic's
template writes it states its identity as literals at the top of the module; reading those
is a fraction of the cost. `plain_identity` reads a file only when it is that plain, and
otherwise returns None, so that the caller has Alembic import the file as usual:
- the file is UTF-8 with no coding declaration, no BOM, no carriage return;
- it compiles (the same `compile` an import runs: a syntax error is Alembic's to report);
- it has no f-string or t-string (whose fields are code the scan below would not see);
- outside strings and comments, `revision`, `down_revision`, `branch_labels` and
  `depends_on` occur only as the targets of one `name = literal` (or `name: type =
  literal`) line each, at the top level (column 0, outside brackets, not continued), the
  literal being None, a string, or a tuple or list of strings; `revision` and
  `down_revision` are both there;
- nothing else could bind those names or the docstring: no `import *`, `globals`, `locals`,
  `vars`, `exec`, `eval`, `setattr`, `delattr`, `__dict__`, `__doc__`, `__getattr__`,
  `__class__` or `_alembic_source_encoding` in the code;
- every statement at the top level is an import, a function, the docstring, or a name bound
  to literals: no other code runs on import (`KEY = os.environ["SECRET_KEY"]`, `raise`),
  which could fail there, and then the file's error is Alembic's to report.
What running such a file does besides (its imports, its functions) cannot change those
values: they are a function of its bytes. (Its imports are not run: a plain file importing a
module that is missing answers `heads` here where Alembic's import would fail; the commands
that run migrations import every file through Alembic.)

Strings and comments are found by one regular expression over the text, which is exact for
a file that compiles and has no f-strings: it is scanned left to right, so a quote inside a
comment or a `#` inside a string is never taken for a token of its own.
"""

from __future__ import annotations

import re
from typing import Any

IDENTITY = ("revision", "down_revision", "branch_labels", "depends_on")

# Comments and string literals (their bodies as Python's tokenize reads them); a string's
# prefix is the word just before it. Starting at a quote or `#` only lets the scan skip
# everything else quickly.
_LEXEMES = re.compile(
    r"#[^\n]*"
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"',
    re.DOTALL,
)
_PREFIX = re.compile(r"\w+\Z")
# Prefixes of strings whose value is text (b: bytes, which the checks below refuse).
_PLAIN_PREFIXES = frozenset(("", "r", "u", "b", "br", "rb"))
# In the code (strings replaced by \0N\0, comments removed): names that could bind a
# guarded one, or the docstring, some other way than the assignments read here.
_DYNAMIC = (
    "globals",
    "locals",
    "vars",
    "exec",
    "eval",
    "setattr",
    "delattr",
    "__dict__",
    "__doc__",
    "__getattr__",
    "__class__",
    "_alembic_source_encoding",
)
_STAR_IMPORT = re.compile(r"\bimport[\s\\]*\*")
_STRING = r"\0\d+\0"
# One of IDENTITY's assignments, at the start of a line of the code.
_ASSIGNMENT = re.compile(
    rf"({'|'.join(IDENTITY)})[ \t]*(?::[^=\n]*)?=[ \t]*"
    rf"(None|{_STRING}|\([^()\[\]\n=]*\)|\[[^()\[\]\n=]*\])[ \t]*(?:\n|\Z)"
)
_ITEMS = re.compile(rf"\s*(?:{_STRING}\s*,\s*)*(?:{_STRING}\s*,?\s*)?")
_STRING_INDEX = re.compile(r"\0(\d+)\0")
_DOCSTRING = re.compile(r"\0(\d+)\0[ \t]*(?:\n|$)")
_OPENERS, _CLOSERS = "([{", ")]}"
# What a line of the module's own level may be in a plain file: an import, a function, one
# of IDENTITY's assignments, the docstring, a name bound to literals. Any other statement
# runs code when the file is imported, and may raise there (`SECRET = os.environ["KEY"]`,
# `raise ...`), as Alembic's import would show: such a file is imported.
_PLAIN_STATEMENT = re.compile(
    rf"(?:import|from|def|async[ \t]+def)\b|(?:{'|'.join(IDENTITY)})[ \t]*[:=]|{_STRING}[ \t]*$"
    rf"|\w+[ \t]*=(?:[ \t]*(?:{_STRING}|None|True|False|\d+|[,()\[\]]))*[ \t]*$"
)

# A value as Alembic reads it from a revision file.
Value = str | tuple[str, ...] | list[str] | None


def plain_identity(source: bytes, path: str) -> dict[str, Any] | None:
    """The identity of a plain revision file (see the module's docstring), by name, with its
    docstring under `__doc__`; None when only importing the file tells."""
    if b"\r" in source or b"\0" in source or source.startswith(b"\xef\xbb\xbf"):
        return None
    if b"coding" in b"\n".join(source.split(b"\n", 2)[:2]):
        return None  # a coding declaration (or its look-alike): leave it to Python
    try:
        text = source.decode()
    except UnicodeDecodeError:
        return None
    scanned = _code_and_strings(text)
    if scanned is None:
        return None
    code, strings = scanned
    for word in _DYNAMIC:
        if word in code and _has_word(code, word):
            return None
    if "*" in code and _STAR_IMPORT.search(code):
        return None
    found = _assignments(code, strings)
    if found is None or not _only_assigned(code, found) or not _only_plain_statements(code):
        return None
    if not isinstance(found.get("revision"), str) or "down_revision" not in found:
        return None
    doc = _docstring(code, strings)
    if doc is _REFUSED:
        return None
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return {**found, "__doc__": doc}


def _only_plain_statements(code: str) -> bool:
    """Whether every statement at the module's own level is one _PLAIN_STATEMENT allows
    (lines inside brackets, continued lines and indented bodies are not such statements)."""
    depth, continued = 0, False
    for line in code.split("\n"):
        statement = depth == 0 and not continued and line[:1] not in ("", " ", "\t")
        if statement and not _PLAIN_STATEMENT.match(line):
            return False
        depth += sum(map(line.count, _OPENERS)) - sum(map(line.count, _CLOSERS))
        continued = line.rstrip().endswith("\\")
    return True


def _code_and_strings(text: str) -> tuple[str, list[str]] | None:
    """The text with comments removed and each string literal replaced by \\0N\\0, and the
    literals; None when one is an f-string, t-string or not a plain literal token."""
    parts: list[str] = []
    strings: list[str] = []
    position = 0
    for match in _LEXEMES.finditer(text):
        start, end = match.span()
        parts.append(text[position:start])
        position = end
        if text[start] == "#":
            continue  # a comment; its newline stays
        prefix = ""
        if start and _is_word(text[start - 1]):
            prefix = _PREFIX.search(text, max(0, start - 3), start)[0]  # type: ignore[index]
            if len(prefix) == 3 or prefix.lower() not in _PLAIN_PREFIXES:
                return None  # an f-string, a t-string, or no string at all
            parts[-1] = parts[-1][: -len(prefix)]
        parts.append(f"\0{len(strings)}\0")
        strings.append(prefix + match[0])
    parts.append(text[position:])
    code = "".join(parts)
    if "'" in code or '"' in code:
        return None
    return code, strings


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"


class _Refused:
    """What `_value` and `_docstring` return for what only an import tells."""


_REFUSED = _Refused()


def _docstring(code: str, strings: list[str]) -> str | _Refused | None:
    """The module's docstring: its first statement, when that is a string alone."""
    first = code.lstrip()
    if first.startswith(("(", "\\")):
        return _REFUSED  # a parenthesized or continued first statement may be a string
    if not first.startswith("\0"):
        return None
    match = _DOCSTRING.match(first)
    if match is None:
        return _REFUSED  # a string starting a longer expression
    return _text(strings[int(match[1])])


def _has_word(code: str, word: str) -> bool:
    """Whether `word` is a whole word of `code` (str.find: far quicker than a regex \\b)."""
    at = code.find(word)
    while at >= 0:
        end = at + len(word)
        if not (at and _is_word(code[at - 1])) and not (end < len(code) and _is_word(code[end])):
            return True
        at = code.find(word, at + 1)
    return False


def _only_assigned(code: str, found: dict[str, Value]) -> bool:
    """Whether the identity names occur in `code` only as the targets of the assignments
    found: counted as substrings, so any other name containing one also refuses the file."""
    revisions = ("revision" in found) + ("down_revision" in found)
    return (
        code.count("revision") == revisions
        and code.count("branch_labels") == ("branch_labels" in found)
        and code.count("depends_on") == ("depends_on" in found)
    )


def _assignments(code: str, strings: list[str]) -> dict[str, Value] | None:
    """The top-level `name = literal` lines of the identity names, each once; None when one
    is in brackets, continued from the line above, repeated, or not a literal read here."""
    found: dict[str, Value] = {}
    for name in IDENTITY:
        start = 0 if code.startswith(name) else code.find(f"\n{name}") + 1
        if not start and not code.startswith(name):
            continue
        match = _ASSIGNMENT.match(code, start)
        if match is None or match[1] != name:
            continue  # counted below as a name that is not assigned here
        before = code[:start]
        if before.endswith("\\\n") or _depth(before):
            return None
        value = _value(match[2], strings)
        if isinstance(value, _Refused):
            return None
        found[name] = value
    return found


def _depth(code: str) -> int:
    """How many brackets are open at the end of `code`."""
    return sum(map(code.count, _OPENERS)) - sum(map(code.count, _CLOSERS))


def _value(literal: str, strings: list[str]) -> Value | _Refused:
    """The value of None, a string, or a tuple or list of strings (as placeholders)."""
    if literal == "None":
        return None
    if literal.startswith("\0"):
        return _text(strings[int(literal[1:-1])])
    inner = literal[1:-1]
    if not _ITEMS.fullmatch(inner):
        return _REFUSED
    items: list[str] = []
    for index in _STRING_INDEX.findall(inner):
        item = _text(strings[int(index)])
        if isinstance(item, _Refused):
            return _REFUSED
        items.append(item)
    if literal.startswith("["):
        return items
    if "," not in inner:  # ("a") is a string, () an empty tuple
        return items[0] if items else ()
    return tuple(items)


def _text(token: str) -> str | _Refused:
    """The value of a string literal token, when it is text (not bytes)."""
    quote = token.lstrip("rRuUbB")
    prefix = token[: len(token) - len(quote)].lower()
    if "b" in prefix:
        return _REFUSED
    width = 3 if quote[:3] in ('"""', "'''") else 1
    body = quote[width:-width]
    if "\\" not in body or prefix == "r":
        return body
    import ast

    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return _REFUSED  # an escape Python rejects: the file does not compile either
    return value if isinstance(value, str) else _REFUSED
