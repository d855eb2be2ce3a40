"""Read a request body within the limits and decode it into a batch of events.

Limits are enforced while reading, before the whole body is in memory: the wire size
(Content-Length is checked first, then the stream is counted), and for gzip bodies the
decompressed size, so a small gzip bomb cannot expand without bound.

A JSON body is decoded in one pass straight into event structs whenever it can be: a body
no longer than the per-event limit cannot hold an oversized event, and a longer one is
first split into raw events (a scan that builds no objects) only to check the count and
each event's size. An event that decodes but breaks a cross-field rule is rejected in
place; only a batch holding an event that does not decode takes the slow path, one decode
per raw event, to tell which events fail and why. Splitting every body first and decoding the
events again cost a third more decode time.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from marquee.events import (
    MAX_EPOCH_MS,
    NESTED_TOO_DEEP,
    UNDECODABLE,
    Event,
    EventRejected,
    Time,
    checked_events,
    decode_event_array,
    decode_events,
)
from marquee.intake.json_split import Unsplittable, split_deep


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


SentAt = Time | Annotated[float, msgspec.Meta(ge=0, le=MAX_EPOCH_MS)]
"""A batch's `sent_at`: a time, or epoch milliseconds also as a JSON number with a fraction
or an exponent (`285069.0`, as Python's json writes an integral float): JSON Schema counts
that as an integer, so the API reads it, rounded to the millisecond."""


def _sent_at(value: SentAt | None) -> Time | None:
    return round(value) if isinstance(value, float) else value


class EventBatch(msgspec.Struct):
    """A batch of events; with `sent_at` the server corrects each event's time for the
    client's clock skew. (The OpenAPI document publishes this struct, the one decoded.)"""

    events: list[Event]
    sent_at: SentAt | None = None


class _Envelope(msgspec.Struct):
    events: list[msgspec.Raw]
    sent_at: SentAt | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_batch_decoder = msgspec.json.Decoder(EventBatch)


def media_type_of(content_type: str) -> str:
    """The media type of a Content-Type value, without parameters, lower-cased.

    A value that names no media type (`;;;===`) comes back whole, so it matches no list
    and is refused; only a missing or blank header gives "" (read as JSON).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if "/" not in media_type and content_type.strip():
        return content_type.strip().lower()
    return media_type


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
    return await read_body_from(
        request.stream(),
        request.headers.get("content-length"),
        request.headers.get("content-encoding", ""),
        max_bytes,
        max_decompressed_bytes,
    )


async def read_body_from(
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    content_encoding: str,
    max_bytes: int,
    max_decompressed_bytes: int,
) -> bytes:
    """A body from its chunks and headers, within the wire and decompressed size limits."""
    wire = await read_limited(chunks, content_length, max_bytes)
    return decompress(wire, content_encoding, max_decompressed_bytes)


async def asgi_body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body chunks of a bare ASGI request; ClientDisconnect if the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


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
    media_type = media_type_of(content_type)
    if media_type in NDJSON_TYPES:
        lines = [line for line in body.splitlines() if line.strip()]
        return ParsedBody(events=lines, sent_at=None)
    if media_type not in JSON_TYPES:
        raise BodyError(415, "unsupported_media_type", f"Content-Type {media_type!r}")
    if body.lstrip().startswith(b"["):
        return ParsedBody(events=[bytes(raw) for raw in _split_raw(body)], sent_at=None)
    envelope = _split_envelope(body)
    events = [bytes(raw) for raw in envelope.events]
    return ParsedBody(events=events, sent_at=_sent_at(envelope.sent_at))


@dataclass
class Batch:
    """A request's events, each decoded or the reason it was rejected, and its sent_at."""

    events: list[Event | EventRejected]
    sent_at: Time | None
    raw_event: Callable[[int], bytes]
    """The raw JSON of the event at an index, for the quarantine (split only when asked)."""


def parse_batch(body: bytes, content_type: str, max_events: int, max_event_bytes: int) -> Batch:
    """Decode a body into a batch within the count and per-event size limits.

    Raises BodyError for a body refused as a whole (media type, malformed, a limit).
    """
    media_type = media_type_of(content_type)
    if media_type in JSON_TYPES:
        raw: list[msgspec.Raw] | None = None
        if len(body) > max_event_bytes:
            raw = _split_raw(body)
            _check_limits(raw, max_events, max_event_bytes)
        decoded = _decode_whole(body)
        if decoded is not None:
            events, sent_at = decoded
            if raw is None:
                _check_count(len(events), max_events)
            return Batch(events, sent_at, _lazy_raw_event(body, raw))
    parsed = split_events(body, content_type)
    _check_limits(parsed.events, max_events, max_event_bytes)
    return Batch(decode_events(parsed.events), parsed.sent_at, parsed.events.__getitem__)


def _decode_whole(body: bytes) -> tuple[list[Event | EventRejected], Time | None] | None:
    """The events of a JSON body in one decoder call, or None if any event does not decode.

    An event that decodes but breaks a cross-field rule is rejected here, in place.
    """
    try:
        if body.lstrip().startswith(b"["):
            return decode_event_array(body), None
        batch = _batch_decoder.decode(body)
    except UNDECODABLE:
        return None
    return checked_events(batch.events), _sent_at(batch.sent_at)


def _split_raw(body: bytes) -> list[msgspec.Raw]:
    """The raw events of a JSON body without copying them; BodyError if it is malformed."""
    if body.lstrip().startswith(b"["):
        try:
            return _array_decoder.decode(body)
        except RecursionError:
            return _split_deep(body).events
        except UNDECODABLE as exc:
            raise _body_error(exc) from None
    return _split_envelope(body).events


def _split_envelope(body: bytes) -> _Envelope:
    try:
        return _envelope_decoder.decode(body)
    except RecursionError:
        return _split_deep(body)
    except UNDECODABLE as exc:
        raise _body_error(exc) from None


_sent_at_decoder = msgspec.json.Decoder(SentAt | None)


def _split_deep(body: bytes) -> _Envelope:
    """A body msgspec could not split for its depth, split without recursion (`json_split`):
    each event is then decoded alone, so only those nested too deep are rejected."""
    try:
        events, sent_at = split_deep(body)
        return _Envelope(
            events=[msgspec.Raw(event) for event in events],
            sent_at=None if sent_at is None else _sent_at_decoder.decode(sent_at),
        )
    except Unsplittable as exc:
        raise BodyError(400, "malformed_body", str(exc)) from None
    except UNDECODABLE as exc:
        raise _body_error(exc) from None


def _body_error(exc: Exception) -> BodyError:
    """The 400 of a body that cannot be split into events. Splitting checks no UTF-8 inside
    the events (an event with invalid UTF-8 is rejected alone) and survives any depth."""
    if isinstance(exc, RecursionError):
        return BodyError(400, "malformed_body", NESTED_TOO_DEEP)
    if isinstance(exc, UnicodeDecodeError):
        return BodyError(400, "malformed_body", f"body is not valid UTF-8: {exc.reason}")
    return BodyError(400, "malformed_body", str(exc))


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise BodyError(413, "too_many_events", f"over {max_events} events")


def _check_limits(
    raw_events: Sequence[bytes | msgspec.Raw], max_events: int, max_event_bytes: int
) -> None:
    _check_count(len(raw_events), max_events)
    for index, raw in enumerate(raw_events):
        if len(raw) > max_event_bytes:
            raise BodyError(
                413, "event_too_large", f"event {index} is over {max_event_bytes} bytes"
            )


def _lazy_raw_event(body: bytes, raw: list[msgspec.Raw] | None) -> Callable[[int], bytes]:
    """Raw events are needed only to quarantine an event the enricher rejects (its time)."""
    cache = raw

    def raw_event(index: int) -> bytes:
        nonlocal cache
        if cache is None:
            cache = _split_raw(body)
        return bytes(cache[index])

    return raw_event
