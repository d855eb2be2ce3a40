"""Replace every viewer id in raw request text by its pseudonym, whatever the text's shape.

The quarantine keeps refused bodies and rejected events as sent, so they can be replayed
after a fix; the raw viewer id must never be among what it keeps. The text may be anything
a client sent: valid JSON, JSON with invalid UTF-8, nested past any parser's limit, cut
short, NDJSON, or not JSON at all. So it is not parsed: a C regular expression finds each
object key that reads `viewer_id` once its escapes are undone (`"viewer\\u005fid"` too),
and the value that follows is replaced, whatever it is:

- a string: by the pseudonym of its decoded text, the same pseudonym the enricher gives
  that viewer, so erasure finds the quarantined rows of a pseudonym as well;
- an array or object (nested to any depth; brackets inside strings do not count): by the
  pseudonym of its text, up to its closing bracket or the end of the text;
- anything else (a number, a bare word): up to the next `,`, `}`, `]` or line end.

No recursion anywhere, so depth costs nothing; the rest of the text is kept byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"?'
"""A JSON string token; an unterminated one runs to the end of the text."""
_STRING_TOKEN = re.compile(_STRING, re.S)
_STRING_OR_BRACKETS = re.compile(_STRING + rb"|[\[{]+|[\]}]+", re.S)
_CANDIDATE_KEY = re.compile(rb'"((?:[deirvw_]|\\u[0-9a-fA-F]{4}|\\.){9})"\s*:\s*', re.S)
"""A string followed by a colon that may read `viewer_id`: nine characters, each one of its
letters or an escape. Searched in the raw text, not token by token: a match can start
inside a string, but never one that swallows the opening quote of a real key, so no key is
missed and at worst a value is replaced that was none."""
_BARE_VALUE = re.compile(rb"[^,\]}\r\n]*")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(.)", re.S)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

VIEWER_ID_KEY = "viewer_id"


def scrub_viewer_ids(raw: bytes, app_id: str, pseudonymise: Callable[[str, str], str]) -> bytes:
    """`raw` with the value of every `viewer_id` key replaced by its pseudonym (a string)."""
    out: list[bytes] = []
    kept_from = 0
    position = 0
    while (key := _CANDIDATE_KEY.search(raw, position)) is not None:
        position = key.end()
        if key.group(1) != b"viewer_id" and _text(b'"' + key.group(1) + b'"') != VIEWER_ID_KEY:
            continue
        end = _value_end(raw, position)
        value = raw[position:end]
        pseudonym = pseudonymise(app_id, _text(value) if value[:1] == b'"' else _lenient(value))
        out += [raw[kept_from:position], b'"', pseudonym.encode(), b'"']
        kept_from = position = end
    out.append(raw[kept_from:])
    return b"".join(out)


def _value_end(raw: bytes, start: int) -> int:
    """Where the JSON value starting at `start` ends (the end of the text if it never does)."""
    first = raw[start : start + 1]
    if first == b'"':
        token = _STRING_TOKEN.match(raw, start)
        assert token is not None
        return token.end()
    if first in (b"[", b"{"):
        depth = 0
        for match in _STRING_OR_BRACKETS.finditer(raw, start):
            symbols = match.group()
            if symbols[0] in b"[{":
                depth += len(symbols)
            elif symbols[0] in b"]}":
                depth -= len(symbols)
                if depth <= 0:
                    return match.end() + depth
        return len(raw)
    bare = _BARE_VALUE.match(raw, start)
    assert bare is not None
    return bare.end()


def _lenient(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _text(token: bytes) -> str:
    """The text of a string token as a JSON decoder reads it; escapes undone leniently when
    the token is not valid JSON (cut short, invalid UTF-8, a bad escape)."""
    if b"\\" not in token and token.endswith(b'"') and len(token) > 1:
        return _lenient(token[1:-1])
    text = _lenient(token)
    try:
        decoded = json.loads(text)
    except ValueError:
        inner = text[1:-1] if len(text) > 1 and text.endswith('"') else text[1:]
        unescaped = _ESCAPE.sub(_unescape, inner)
        return unescaped.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if not isinstance(decoded, str):
        return text
    # A lone surrogate escape (`\ud800`) decodes but cannot be encoded for the keyed hash.
    return decoded.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _unescape(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return chr(int(match.group(1), 16))
    return _SIMPLE_ESCAPES.get(match.group(2), match.group(2))
