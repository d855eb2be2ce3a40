"""Validate and enrich the raw events of one request: accepted records and rejections.

Kept apart from HTTP so the same step serves the API, the benchmark's no-HTTP baseline and
a replay of the quarantine.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field

from marquee.events import Event, EventRejected, Time, decode_events
from marquee.intake.enrich import Enricher, to_epoch_ms
from marquee.intake.quarantine import QuarantineRecord
from marquee.intake.scrub import scrub_viewer_ids


@dataclass
class IngestResult:
    log_bytes: bytes = b""
    """Accepted events as NDJSON log records."""
    accepted: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    erased: int = 0
    """Events of erased viewers dropped (counted as accepted: a retry would change nothing)."""


def ingest_events(
    raw_events: list[bytes],
    sent_at: Time | None,
    app_id: str,
    received_at_ms: int,
    cdn_country: str | None,
    enricher: Enricher,
) -> IngestResult:
    """Validate and enrich raw events (one JSON object each)."""
    return ingest_decoded(
        decode_events(raw_events),
        raw_events.__getitem__,
        sent_at,
        app_id,
        received_at_ms,
        cdn_country,
        enricher,
    )


def ingest_decoded(
    events: list[Event | EventRejected],
    raw_event: Callable[[int], bytes],
    sent_at: Time | None,
    app_id: str,
    received_at_ms: int,
    cdn_country: str | None,
    enricher: Enricher,
) -> IngestResult:
    """Enrich decoded events; `raw_event(index)` gives a rejected event's JSON to quarantine."""
    result = IngestResult()
    sent_at_ms = to_epoch_ms(sent_at) if sent_at is not None else None
    log_bytes, rejections = enricher.encode_batch(
        events, app_id, received_at_ms, sent_at_ms, cdn_country
    )
    result.log_bytes = log_bytes
    result.accepted = len(events) - len(rejections)
    for index, rejection in rejections:
        result.rejected.append({"index": index, "reason": rejection.reason.value})
        result.quarantine.append(
            QuarantineRecord(
                quarantined_at_ms=received_at_ms,
                app_id=app_id,
                reason=rejection.reason.value,
                detail=rejection.detail,
                index=index,
                sent_at_ms=sent_at_ms,
                cdn_country=cdn_country,
                payload=scrub_viewer_ids(raw_event(index), app_id, enricher.pseudonymise).decode(
                    "utf-8", "replace"
                ),
            )
        )
    erased = enricher.erased() if enricher.erased is not None else None
    if erased:
        _drop_erased(result, events, erased)
    return result


def _drop_erased(
    result: IngestResult, events: list[Event | EventRejected], erased: frozenset[str]
) -> None:
    """Drop the records and quarantine entries of erased viewers (docs/privacy.md).

    The accepted events were pseudonymised in place, and their records are the lines of
    `log_bytes` in the same order; a quarantined payload holds the pseudonym as text.
    """
    if result.rejected:
        refused = {rejection["index"] for rejection in result.rejected}
        kept = [
            typing.cast(Event, event) for index, event in enumerate(events) if index not in refused
        ]
    else:  # no rejection: every event is an Event (a union: isinstance on it is slow)
        kept = typing.cast(list[Event], events)
    if not erased.isdisjoint([event.viewer_id for event in kept]):
        lines = result.log_bytes.splitlines(keepends=True)
        if len(lines) == len(kept):
            keep = [
                line
                for line, event in zip(lines, kept, strict=True)
                if event.viewer_id not in erased
            ]
        else:
            keys = [b'"viewer_key":"%b"' % pseudonym.encode() for pseudonym in erased]
            keep = [line for line in lines if not any(key in line for key in keys)]
        result.log_bytes = b"".join(keep)
        result.erased += len(lines) - len(keep)
    if result.quarantine:
        clean = [
            record
            for record in result.quarantine
            if not any(pseudonym in record.payload for pseudonym in erased)
        ]
        result.erased += len(result.quarantine) - len(clean)
        result.quarantine = clean
