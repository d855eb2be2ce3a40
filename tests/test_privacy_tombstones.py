"""Ingest drops an erased viewer's events and quarantine entries, and nobody else's.

The tombstones are the erasure job files (`marquee.privacy.tombstones`): a job written
after the reader's first look is seen at its next call, and a job whose tombstone expired
drops nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.layout import DataLayout
from marquee.privacy.jobs import new_job, save_job
from marquee.privacy.tombstones import Tombstones

pytestmark = pytest.mark.unit

KEY = b"tombstone-test-key"


def player_event(viewer: str, **overrides: object) -> bytes:
    record: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": int(time.time() * 1000) - 3_600_000,
        "viewer_id": viewer,
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": f"s_{viewer}",
    }
    record.update(overrides)
    return json.dumps(record).encode()


def test_an_erased_viewers_events_are_dropped_at_ingest(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path).ensure()
    tombstones = Tombstones(layout)
    pseudonymise = Pseudonymiser(KEY)
    enricher = Enricher(Pseudonymiser(KEY), 300, 7 * 86_400, erased=tombstones.current)
    batch = [
        player_event("alice"),
        player_event("bob"),
        player_event("alice", platform="toaster"),
        player_event("bob", platform="toaster"),
    ]

    before = ingest_events(batch, None, "app", int(time.time() * 1000), None, enricher)
    assert before.erased == 0 and len(before.log_bytes.splitlines()) == 2
    assert len(before.quarantine) == 2

    job = new_job(layout, [pseudonymise("app", "alice")])
    after = ingest_events(batch, None, "app", int(time.time() * 1000), None, enricher)
    assert after.accepted == 2 and after.erased == 2
    keys = [json.loads(line)["viewer_key"] for line in after.log_bytes.splitlines()]
    assert keys == [pseudonymise("app", "bob")]
    assert [pseudonymise("app", "bob") in record.payload for record in after.quarantine] == [True]

    other_app = ingest_events(batch[:1], None, "app2", int(time.time() * 1000), None, enricher)
    assert other_app.erased == 0, "a job erases the pseudonyms it names, per app"

    job.pseudonyms, job.tombstone_expired = [], True
    save_job(layout, job)
    expired = ingest_events(batch, None, "app", int(time.time() * 1000), None, enricher)
    assert expired.erased == 0 and len(expired.log_bytes.splitlines()) == 2


def test_a_valid_batch_of_erased_and_kept_viewers_keeps_the_others_in_order(
    tmp_path: Path,
) -> None:
    layout = DataLayout(tmp_path).ensure()
    enricher = Enricher(Pseudonymiser(KEY), 300, 7 * 86_400, erased=Tombstones(layout).current)
    new_job(layout, [Pseudonymiser(KEY)("app", "v2")])
    batch = [player_event(f"v{index % 4}") for index in range(40)]
    result = ingest_events(batch, None, "app", int(time.time() * 1000), None, enricher)
    kept = [json.loads(line)["event_id"] for line in result.log_bytes.splitlines()]
    expected = [json.loads(raw)["event_id"] for raw in batch if b'"v2"' not in raw]
    assert kept == expected and result.erased == 10
