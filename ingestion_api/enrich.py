"""Turn a validated event into the record the event log keeps.

Enrichment adds what only the server knows: when it arrived, the event time corrected for
the client's clock, the app, and the country from a trusted CDN header. The viewer id is
replaced by a keyed hash (keyed BLAKE2b) so the raw id is never written; the client IP is
never read at all.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from marquee.events import Event, EventRejected, RejectReason, Time


def to_epoch_ms(value: Time) -> int:
    """RFC 3339 (a naive time counts as UTC) or epoch milliseconds, as epoch milliseconds."""
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


class Pseudonymiser:
    """Keyed hash of (app, viewer id): stable per app, not reversible without the key.

    Keyed BLAKE2b is a MAC in one C call, about twice as fast as HMAC-SHA256 here. A viewer
    sends many events, so recent pseudonyms are kept in a bounded in-memory cache (memory
    only: raw ids are never written anywhere).
    """

    CACHE_SIZE = 100_000

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.blake2b(key, digest_size=32).digest()
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, app_id: str, viewer_id: str) -> str:
        cache_key = (app_id, viewer_id)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        message = f"{app_id}\x00{viewer_id}".encode()
        pseudonym = hashlib.blake2b(message, key=self._key, digest_size=16).hexdigest()
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[cache_key] = pseudonym
        return pseudonym


_encoder = msgspec.json.Encoder()
_VIEWER_ID_IN_TEXT = re.compile(rb'("viewer_id"\s*:\s*)"(?:[^"\\]|\\.)*"')


def scrub_viewer_ids(raw: bytes, app_id: str, pseudonymise: Pseudonymiser) -> bytes:
    """Replace every viewer id in raw JSON text (even malformed) by its pseudonym.

    Whole bodies are quarantined too, so ids are found at any depth (an envelope's events,
    an array), and in text that does not parse, by pattern.
    """
    try:
        parsed = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        parsed = None
    if isinstance(parsed, dict | list):
        return msgspec.json.encode(_pseudonymise_nested(parsed, app_id, pseudonymise))

    def replace(match: re.Match[bytes]) -> bytes:
        original = match.group(0)[len(match.group(1)) :].strip(b'"')
        pseudonym = pseudonymise(app_id, original.decode("utf-8", "replace"))
        return match.group(1) + b'"' + pseudonym.encode() + b'"'

    return _VIEWER_ID_IN_TEXT.sub(replace, raw)


def _pseudonymise_nested(value: Any, app_id: str, pseudonymise: Pseudonymiser) -> Any:
    if isinstance(value, list):
        return [_pseudonymise_nested(item, app_id, pseudonymise) for item in value]
    if isinstance(value, dict):
        return {
            key: pseudonymise(app_id, item)
            if key == "viewer_id" and isinstance(item, str)
            else _pseudonymise_nested(item, app_id, pseudonymise)
            for key, item in value.items()
        }
    return value


class Enricher:
    """Checks the time horizons and builds log records for one request."""

    def __init__(
        self,
        pseudonymise: Pseudonymiser,
        future_horizon_s: int,
        lateness_horizon_s: int,
    ) -> None:
        self.pseudonymise = pseudonymise
        self.future_horizon_ms = future_horizon_s * 1000
        self.lateness_horizon_ms = lateness_horizon_s * 1000

    def event_time_ms(self, event: Event, received_at_ms: int, sent_at_ms: int | None) -> int:
        """Client time corrected by the batch's clock skew (as Segment does), checked."""
        client_ts_ms = to_epoch_ms(event.ts)
        if sent_at_ms is None:
            event_time = client_ts_ms
        else:
            event_time = received_at_ms - (sent_at_ms - client_ts_ms)
        if event_time > received_at_ms + self.future_horizon_ms:
            raise EventRejected(
                RejectReason.EVENT_IN_FUTURE, "event time is more than the future horizon ahead"
            )
        if event_time < received_at_ms - self.lateness_horizon_ms:
            raise EventRejected(
                RejectReason.EVENT_TOO_OLD, "event time is older than the lateness horizon"
            )
        return event_time

    def record_bytes(
        self,
        event: Event,
        app_id: str,
        received_at_ms: int,
        sent_at_ms: int | None,
        cdn_country: str | None,
    ) -> bytes:
        """The log record of a valid event: one JSON object, no newline.

        It is the event as validated, with the viewer id replaced by its pseudonym under the
        key `viewer_key`, and the enrichment appended: `event_time_ms`, `received_at_ms`,
        `client_ts_ms` and `app_id`. Built by encoding the struct in C and splicing bytes,
        not through a dict, because this runs once per event on the API's hot path. The
        rename is safe: `viewer_id` is the first key after `type`, `event_id` and `ts`,
        whose values cannot contain that text.
        """
        event_time = self.event_time_ms(event, received_at_ms, sent_at_ms)
        event.viewer_id = self.pseudonymise(app_id, event.viewer_id)
        event.event_id = event.event_id.lower()
        if event.country is None and cdn_country:
            event.country = cdn_country
        encoded = _encoder.encode(event).replace(b'"viewer_id":', b'"viewer_key":', 1)
        enrichment = b',"event_time_ms":%d,"received_at_ms":%d,"client_ts_ms":%d,"app_id":%b}' % (
            event_time,
            received_at_ms,
            to_epoch_ms(event.ts),
            _encoder.encode(app_id),
        )
        return encoded[:-1] + enrichment

    def record(
        self,
        event: Event,
        app_id: str,
        received_at_ms: int,
        sent_at_ms: int | None,
        cdn_country: str | None,
    ) -> dict[str, Any]:
        """The log record as a dict (for callers off the hot path)."""
        raw = self.record_bytes(event, app_id, received_at_ms, sent_at_ms, cdn_country)
        record: dict[str, Any] = msgspec.json.decode(raw)
        return record
