"""The password in a database URL: found, masked and checked without importing SQLAlchemy,
because every run needs it before anything prints."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus, unquote

MASK = "***"

# scheme://user:password@ with the password read as SQLAlchemy's URL parser reads it: all
# up to the first @ (so a raw /, ? or # belongs to the password).
_CREDENTIALS = re.compile(r"^(?P<head>[\w+]+://[^:/@]*:)(?P<password>[^@]*)@(?P<rest>.*)$", re.S)
# The password as the user meant it when it holds a raw @ (which check_credentials refuses, but
# doctor still shows the URL): up to the first @ whose host part has no @ of its own.
_CREDENTIALS_TO_HOST = re.compile(
    r"^(?P<head>[\w+]+://[^:/@]*:)(?P<password>.*?)@(?P<rest>[^@/?#]*(?:[/?#].*)?)$", re.S
)
# A URL too malformed for the patterns above may still hold user:password@host.
_LOOSE_CREDENTIALS = re.compile(r":(?P<password>[^:/@]*)@")
# psycopg and PyMySQL also take the password as a query parameter.
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:password|passwd)=)(?P<password>[^&#]*)", re.I)


def url_passwords(url: str) -> set[str]:
    """Every form of every password in `url`: as written, percent-decoded, and encoded
    again the ways URL libraries do (a plugin may print a URL SQLAlchemy rendered), each
    also as JSON writes it inside a string."""
    found = {match["password"] for match in _QUERY_PASSWORD.finditer(url)}
    credentials = _CREDENTIALS.match(url) or _LOOSE_CREDENTIALS.search(url)
    if credentials:
        found.add(credentials["password"])
    to_host = _CREDENTIALS_TO_HOST.match(url)
    if to_host:
        found.add(to_host["password"])
    return {form for password in found for form in _forms(password) if form}


def _forms(written: str) -> set[str]:
    decoded = unquote(written)
    encoded = {
        written,
        decoded,
        quote(decoded, safe=" +"),  # SQLAlchemy's URL.render_as_string
        quote(decoded),  # urllib's default (keeps /)
        quote(decoded, safe=""),
        quote_plus(decoded),
    }
    escaped = {
        json.dumps(form, ensure_ascii=only_ascii)[1:-1]
        for form in encoded
        for only_ascii in (True, False)
    }
    return encoded | escaped


def mask_url(url: str) -> str:
    """`url` with each password replaced by ***; the rest stays readable."""
    masked = _QUERY_PASSWORD.sub(lambda match: match["key"] + MASK, url)
    return _CREDENTIALS_TO_HOST.sub(lambda match: f"{match['head']}{MASK}@{match['rest']}", masked)


def ambiguous_credentials(url: str) -> bool:
    """Whether a raw @ in the user name or password makes the host ambiguous (SQLAlchemy
    takes the first @, and would show the rest of the password as part of the host name)."""
    credentials = _CREDENTIALS.match(url)
    return bool(credentials and "@" in re.split(r"[/?]", credentials["rest"], maxsplit=1)[0])
