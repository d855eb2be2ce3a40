"""Split a JSON body into its raw events without recursion, for bodies msgspec cannot split.

msgspec splits a body into raw events (`list[msgspec.Raw]`) in C, but it descends into
each event to skip it, so one event nested past the interpreter's recursion limit makes the
whole body fail with RecursionError, and its valid neighbours with it. This splitter only
tracks the depth: C regular expressions find strings, runs of brackets, commas and colons,
and the children of the outermost array (or of the envelope's `events` array, and its
`sent_at`) are cut where the depth is one. Each event is then decoded on its own, so the
deep one is rejected (`malformed_event`) and the others are accepted.

It is a fallback, not a validator: it trusts bracket kinds and leaves each part's syntax to
the event decoder, but refuses (`Unsplittable`) a body whose top level is not one closed
array or object followed by nothing, or an envelope without an `events` array.
"""

from __future__ import annotations

import json
import re

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKENS = re.compile(_STRING + rb"|[\[{]+|[\]}]+|,", re.S)
_KEY_AND_COLON = re.compile(rb"\s*(" + _STRING + rb")\s*:", re.S)
_WHITESPACE = b" \t\r\n"


class Unsplittable(ValueError):
    """The body is not an array or envelope whose parts can be told apart."""


def split_deep(body: bytes) -> tuple[list[bytes], bytes | None]:
    """The raw events of a JSON array or envelope body, and the envelope's raw `sent_at`."""
    start = len(body) - len(body.lstrip(_WHITESPACE))
    opening = body[start : start + 1]
    if opening not in (b"[", b"{"):
        raise Unsplittable("not a JSON array or object")
    parts, end = _children(body, start)
    if body[end:].strip(_WHITESPACE):
        raise Unsplittable("text after the JSON value")
    if opening == b"[":
        return parts, None
    events: list[bytes] | None = None
    sent_at: bytes | None = None
    for member in parts:
        key, value = _member(member)
        if key == "events":
            if not value.startswith(b"["):
                raise Unsplittable("events is not an array")
            events, _ = _children(value, 0)
        elif key == "sent_at":
            sent_at = value
    if events is None:
        raise Unsplittable("no events array")
    return events, sent_at


def _children(text: bytes, start: int) -> tuple[list[bytes], int]:
    """The comma-separated children of the array or object opening at `text[start]`, each
    stripped, and the index just past its closing bracket."""
    depth = 0
    bounds = [start + 1]
    for match in _TOKENS.finditer(text, start):
        token = match.group()
        if token[:1] in b"[{":
            depth += len(token)
        elif token[:1] in b"]}":
            depth -= len(token)
            if depth <= 0:
                end = match.end() + depth  # a run may close more than this container
                rights = [left - 1 for left in bounds[1:]] + [end - 1]  # at a comma, a bracket
                parts = [
                    text[left:right].strip(_WHITESPACE)
                    for left, right in zip(bounds, rights, strict=True)
                ]
                if parts == [b""]:
                    return [], end
                if b"" in parts:
                    raise Unsplittable("an empty element")
                return parts, end
        elif token == b"," and depth == 1:
            bounds.append(match.end())
    raise Unsplittable("an array or object is not closed")


def _member(member: bytes) -> tuple[str, bytes]:
    """The key (escapes undone) and the raw value of one `"key": value` object member."""
    match = _KEY_AND_COLON.match(member)
    if match is None:
        raise Unsplittable("an object member without a key")
    try:
        key = json.loads(match.group(1))
    except ValueError:
        raise Unsplittable("an object key that is not a JSON string") from None
    return key, member[match.end() :].strip(_WHITESPACE)
