"""Validate and enrich the raw events of one request: accepted records and rejections.

Kept apart from HTTP so the same step serves the API, the benchmark's no-HTTP baseline and
a replay of the quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from ingestion_api.enrich import Enricher, scrub_viewer_ids, to_epoch_ms
from ingestion_api.quarantine import QuarantineRecord
from marquee.events import Time, decode_events

_encoder = msgspec.json.Encoder()


@dataclass
class IngestResult:
    log_bytes: bytearray = field(default_factory=bytearray)
    """Accepted events as NDJSON log records."""
    accepted: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)


def ingest_events(
    raw_events: list[bytes],
    sent_at: Time | None,
    app_id: str,
    received_at_ms: int,
    cdn_country: str | None,
    enricher: Enricher,
) -> IngestResult:
    result = IngestResult()
    sent_at_ms = to_epoch_ms(sent_at) if sent_at is not None else None
    log_bytes, rejections = enricher.encode_batch(
        decode_events(raw_events), app_id, received_at_ms, sent_at_ms, cdn_country
    )
    result.log_bytes = log_bytes
    result.accepted = len(raw_events) - len(rejections)
    for index, rejection in rejections:
        result.rejected.append({"index": index, "reason": rejection.reason.value})
        result.quarantine.append(
            QuarantineRecord(
                quarantined_at_ms=received_at_ms,
                app_id=app_id,
                reason=rejection.reason.value,
                detail=rejection.detail,
                index=index,
                payload=scrub_viewer_ids(raw_events[index], app_id, enricher.pseudonymise).decode(
                    "utf-8", "replace"
                ),
            )
        )
    return result


def oversized_event_index(raw_events: list[bytes], max_event_bytes: int) -> int | None:
    for index, raw in enumerate(raw_events):
        if len(raw) > max_event_bytes:
            return index
    return None
