"""Read a request body within the limits and split it into raw events.

Limits are enforced while reading, before the whole body is in memory: the wire size
(Content-Length is checked first, then the stream is counted), and for gzip bodies the
decompressed size, so a small gzip bomb cannot expand without bound.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
from starlette.requests import Request

from marquee.events import Time


class BodyError(Exception):
    """A body refused as a whole: HTTP status, stable error code and a detail for the client."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


JSON_TYPES = {"application/json", "text/plain", ""}
"""text/plain is what navigator.sendBeacon sends for a string body."""
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonlines"}


class _Envelope(msgspec.Struct):
    events: list[msgspec.Raw]
    sent_at: Time | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class ParsedBody:
    events: list[bytes]
    sent_at: Time | None


async def read_limited(
    stream: AsyncIterator[bytes], content_length: str | None, max_bytes: int
) -> bytes:
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BodyError(400, "malformed_body", "Content-Length is not a number") from None
        if declared > max_bytes:
            raise BodyError(413, "body_too_large", f"body over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, "body_too_large", f"body over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, max_bytes: int, max_decompressed_bytes: int) -> bytes:
    """A request's body within the wire-size and decompressed-size limits."""
    wire = await read_limited(request.stream(), request.headers.get("content-length"), max_bytes)
    return decompress(wire, request.headers.get("content-encoding", ""), max_decompressed_bytes)


def decompress(body: bytes, content_encoding: str, max_bytes: int) -> bytes:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise BodyError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise BodyError(400, "malformed_body", "body is not valid gzip") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise BodyError(413, "decompressed_too_large", f"body over {max_bytes} bytes inflated")
    return out


def split_events(body: bytes, content_type: str) -> ParsedBody:
    """The raw JSON of each event, and the batch's sent_at when it has one."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in NDJSON_TYPES:
        lines = [line for line in body.splitlines() if line.strip()]
        return ParsedBody(events=lines, sent_at=None)
    if media_type not in JSON_TYPES:
        raise BodyError(415, "unsupported_media_type", f"Content-Type {media_type!r}")
    stripped = body.lstrip()
    try:
        if stripped.startswith(b"["):
            return ParsedBody(
                events=[bytes(raw) for raw in _array_decoder.decode(body)], sent_at=None
            )
        envelope = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BodyError(400, "malformed_body", str(exc)) from None
    return ParsedBody(events=[bytes(raw) for raw in envelope.events], sent_at=envelope.sent_at)
