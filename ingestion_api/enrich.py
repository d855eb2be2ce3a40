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

    Keyed BLAKE2b is a MAC in one C call, about twice as fast as HMAC-SHA256 here.
    """

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.blake2b(key, digest_size=32).digest()

    def __call__(self, app_id: str, viewer_id: str) -> str:
        message = f"{app_id}\x00{viewer_id}".encode()
        return hashlib.blake2b(message, key=self._key, digest_size=16).hexdigest()


_VIEWER_ID_IN_TEXT = re.compile(rb'("viewer_id"\s*:\s*)"(?:[^"\\]|\\.)*"')


def scrub_viewer_ids(raw: bytes, app_id: str, pseudonymise: Pseudonymiser) -> bytes:
    """Replace the viewer id in raw event JSON (even malformed JSON) by its pseudonym."""
    try:
        parsed = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        parsed = None
    if isinstance(parsed, dict):
        if isinstance(parsed.get("viewer_id"), str):
            parsed["viewer_id"] = pseudonymise(app_id, parsed["viewer_id"])
        return msgspec.json.encode(parsed)

    def replace(match: re.Match[bytes]) -> bytes:
        original = match.group(0)[len(match.group(1)) :].strip(b'"')
        pseudonym = pseudonymise(app_id, original.decode("utf-8", "replace"))
        return match.group(1) + b'"' + pseudonym.encode() + b'"'

    return _VIEWER_ID_IN_TEXT.sub(replace, raw)


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

    def record(
        self,
        event: Event,
        app_id: str,
        received_at_ms: int,
        sent_at_ms: int | None,
        cdn_country: str | None,
    ) -> dict[str, Any]:
        event_time = self.event_time_ms(event, received_at_ms, sent_at_ms)
        record: dict[str, Any] = msgspec.to_builtins(event)
        record["viewer_key"] = self.pseudonymise(app_id, record.pop("viewer_id"))
        record["client_ts_ms"] = to_epoch_ms(event.ts)
        del record["ts"]
        record["event_time_ms"] = event_time
        record["received_at_ms"] = received_at_ms
        record["app_id"] = app_id
        if "country" not in record and cdn_country:
            record["country"] = cdn_country
        return record
