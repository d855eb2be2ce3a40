"""Quarantine records: every rejected event or body, with its reason, kept for replay.

The quarantine is a segment log of its own (same format and durability as the event log),
so the pipeline can replay it after a fix with the same reader. Payloads are kept as text
with viewer ids already pseudonymised.
"""

from __future__ import annotations

import msgspec


class QuarantineRecord(msgspec.Struct, omit_defaults=True):
    quarantined_at_ms: int
    app_id: str
    reason: str
    detail: str
    payload: str
    index: int | None = None
    """Position of the event in its request; absent when the whole body was refused."""
    sent_at_ms: int | None = None
    """The request's `sent_at` for a refused event, so a replay corrects the client clock
    as the API did (a refused body keeps its own `sent_at`); absent without one."""
    cdn_country: str | None = None
    """The country the trusted CDN header gave the request, so a replay fills it in as the
    API did; absent without the header."""


_encoder = msgspec.json.Encoder()


def encode_records(records: list[QuarantineRecord]) -> bytes:
    return b"".join(_encoder.encode(record) + b"\n" for record in records)
