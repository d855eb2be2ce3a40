"""The ingestion API over real HTTP on loopback, writing the real segment log."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from marquee.eventlog.segments import SEALED_SUFFIX
from marquee.events import EventRejected, decode_event, decode_events
from marquee.intake.body import parse_batch, split_events
from marquee.intake.enrich import Enricher, Pseudonymiser
from tests.support.api import WRITE_KEY, ApiProcess
from tests.support.stores import log_records

pytestmark = pytest.mark.integration


def an_hour_ago_rfc3339() -> str:
    moment = datetime.now(UTC) - timedelta(hours=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def player_event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": an_hour_ago_rfc3339(),
        "viewer_id": "viewer-raw-id-42",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_1",
    }
    event.update(overrides)
    return event


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def quarantine_text(data_dir: Path) -> str:
    return "".join(path.read_text() for path in sorted((data_dir / "quarantine").iterdir()))


def test_accepted_events_are_in_the_log_when_acknowledged(api: ApiProcess) -> None:
    events = [player_event(ts=now_ms()) for _ in range(3)]
    response = api.post({"sent_at": now_ms(), "events": events})
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "rejected": []}
    logged = {record["event_id"] for record in log_records(api.data_dir)}
    assert logged == {event["event_id"] for event in events}


def test_log_records_are_enriched_and_pseudonymised(api: ApiProcess) -> None:
    api.post({"events": [player_event(ts=now_ms())]})
    (record,) = log_records(api.data_dir)
    assert record["app_id"] == "test_app"
    assert "viewer_id" not in record
    assert isinstance(record["viewer_key"], str) and len(record["viewer_key"]) == 32
    assert isinstance(record["received_at_ms"], int)
    raw_bytes = b"".join(path.read_bytes() for path in (api.data_dir / "log").iterdir())
    assert b"viewer-raw-id-42" not in raw_bytes


def test_same_viewer_gets_the_same_pseudonym_per_app(api: ApiProcess) -> None:
    api.post({"events": [player_event(ts=now_ms()), player_event(ts=now_ms())]})
    api.post({"events": [player_event(ts=now_ms())]}, key="wk_other")
    by_app: dict[object, set[object]] = {}
    for record in log_records(api.data_dir):
        by_app.setdefault(record["app_id"], set()).add(record["viewer_key"])
    assert len(by_app["test_app"]) == 1
    assert by_app["test_app"] != by_app["other_app"]


def test_clock_skew_is_corrected_from_sent_at(api: ApiProcess) -> None:
    skew_ms = 3_600_000  # the client's clock runs an hour fast
    client_now = now_ms() + skew_ms
    event = player_event(ts=client_now - 5_000)
    api.post({"sent_at": client_now, "events": [event]})
    (record,) = log_records(api.data_dir)
    assert isinstance(record["event_time_ms"], int)
    assert isinstance(record["received_at_ms"], int)
    assert record["received_at_ms"] - record["event_time_ms"] == 5_000


def test_partial_acceptance_with_typed_reasons_and_quarantine(api: ApiProcess) -> None:
    good = player_event(ts=now_ms())
    missing = player_event(ts=now_ms())
    del missing["session_id"]
    events = [
        good,
        missing,
        player_event(ts=now_ms(), type="teleported"),
        player_event(ts=now_ms(), platform="xbox"),
        player_event(ts=now_ms() + 3_600_000),
        player_event(ts=now_ms() - 8 * 24 * 3_600_000),
        player_event(ts=now_ms(), content_type=None),
    ]
    response = api.post({"events": events})
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 1, "reason": "missing_field"},
        {"index": 2, "reason": "unknown_type"},
        {"index": 3, "reason": "invalid_field"},
        {"index": 4, "reason": "event_in_future"},
        {"index": 5, "reason": "event_too_old"},
        {"index": 6, "reason": "invalid_field"},
    ]
    quarantined = [json.loads(line) for line in quarantine_text(api.data_dir).splitlines()]
    assert [record["reason"] for record in quarantined] == [r["reason"] for r in body["rejected"]]
    assert all(record["app_id"] == "test_app" for record in quarantined)
    assert "viewer-raw-id-42" not in quarantine_text(api.data_dir)


@pytest.mark.parametrize("batch_size", [3, 150], ids=["under-event-limit", "over-event-limit"])
def test_a_late_event_of_a_valid_batch_is_quarantined_as_sent(
    api: ApiProcess, batch_size: int
) -> None:
    """A batch that decodes in one pass still quarantines the right raw event.

    150 events make the body longer than one event may be (32 KB), which takes the path
    that splits the body to check each event's size; 3 events take the one without.
    """
    events = [player_event(ts=now_ms()) for _ in range(batch_size)]
    late = batch_size - 2
    events[late]["ts"] = now_ms() - 8 * 24 * 3_600_000
    response = api.post({"events": events})
    assert response.json() == {
        "accepted": batch_size - 1,
        "rejected": [{"index": late, "reason": "event_too_old"}],
    }
    (record,) = [json.loads(line) for line in quarantine_text(api.data_dir).splitlines()]
    assert record["index"] == late
    payload = json.loads(record["payload"])
    assert payload["event_id"] == events[late]["event_id"]
    assert payload["viewer_id"] not in ("", "viewer-raw-id-42")
    assert len(log_records(api.data_dir)) == batch_size - 1


_UUID = "0b4c6f1e-3a2d-4e5f-8a9b-1c2d3e4f5a6b"


def _decode_one(raw: bytes) -> object:
    try:
        return decode_event(raw)
    except EventRejected as rejection:
        return rejection


def _decoded(items: list[object]) -> list[object]:
    return [
        (item.reason, item.detail) if isinstance(item, EventRejected) else msgspec.json.encode(item)
        for item in items
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"events": [player_event(ts=1), player_event(ts=2)], "sent_at": 5},
        [player_event(ts=1), player_event(ts=2, platform="xbox")],
        {"events": [player_event(ts=1), player_event(ts=2, content_type=None)]},
        {"events": [player_event(ts=1, content_type=None, type="share")]},
        {"events": [player_event(ts=i, device="d" * 200) for i in range(200)]},
        {"events": [player_event(ts=i) for i in range(200)] + [{"type": "heartbeat"}]},
        [player_event(ts=1), player_event(ts=2, event_id="not-a-uuid")],
        [player_event(ts=1, country="BR"), player_event(ts=2, country="br")],
        [player_event(ts=1, event_id=str(uuid.uuid4()) + "\n")],
        [player_event(ts=1, event_id=str(uuid.uuid4()).upper(), country="JP")],
        [player_event(ts=1, event_id=_UUID[:-1]), player_event(ts=2, event_id="a" + _UUID)],
        [player_event(ts=1, event_id=_UUID.replace("-", "\n"))],
        [player_event(ts=1, country="Bé"), player_event(ts=1, country="B")],
    ],
    ids=[
        "envelope",
        "array-bad-field",
        "no-content-type",
        "share",
        "over-limit",
        "missing",
        "bad-event-id",
        "bad-country",
        "id-then-newline",
        "upper-case",
        "ids-that-join-into-valid-ones",
        "newlines-for-hyphens",
        "country-not-ascii-or-short",
    ],
)
def test_one_pass_decoding_gives_what_decoding_each_event_gives(body: object) -> None:
    raw = json.dumps(body).encode()
    batch = parse_batch(raw, "application/json", 500, 32 * 1024)
    parsed = split_events(raw, "application/json")
    assert _decoded(list(batch.events)) == _decoded(list(decode_events(parsed.events)))
    assert _decoded(list(batch.events)) == _decoded([_decode_one(raw) for raw in parsed.events])
    assert batch.sent_at == parsed.sent_at
    assert [batch.raw_event(i) for i in range(len(parsed.events))] == parsed.events


def test_a_batch_gives_the_records_that_enriching_event_by_event_gives() -> None:
    """The enricher splices a whole batch of valid events from one encoder call; a batch with
    an RFC 3339 time is enriched event by event. Both must write the same bytes, also for
    strings that hold what the splice cuts at."""
    now = now_ms()
    tricky = ['},{"type":"heartbeat"', '"viewer_id":"x"', "100%d %b", "é\u2028\\"]
    events = [
        player_event(
            ts=now - i,
            event_id=str(uuid.uuid4()).upper() if i % 2 else str(uuid.uuid4()),
            viewer_id=f"viewer-{i}-{tricky[i % 4]}",
            session_id=tricky[(i + 1) % 4],
            country=None if i % 3 else "BR",
        )
        for i in range(12)
    ]
    events = [{k: v for k, v in event.items() if v is not None} for event in events]
    rfc3339 = player_event(ts=an_hour_ago_rfc3339())

    def records(body: list[dict[str, object]], app_id: str) -> list[bytes]:
        enricher = Enricher(Pseudonymiser(b"k"), future_horizon_s=300, lateness_horizon_s=10**9)
        batch = parse_batch(json.dumps(body).encode(), "application/json", 500, 32 * 1024)
        log_bytes, rejections = enricher.encode_batch(batch.events, app_id, now, now - 7, "DE")
        assert rejections == []
        return bytes(log_bytes).splitlines()

    for app_id in ["app_1", 'app%s"},{"type":']:
        spliced = records(events, app_id)
        one_by_one = records([*events, rfc3339], app_id)[:-1]
        assert spliced == one_by_one
        decoded = [json.loads(line) for line in spliced]
        assert [record["event_id"] for record in decoded] == [
            str(event["event_id"]).lower() for event in events
        ]
        assert [record["country"] for record in decoded] == [
            event.get("country", "DE") for event in events
        ]
        assert {record["app_id"] for record in decoded} == {app_id}
        assert [record["event_time_ms"] for record in decoded] == [
            int(str(event["ts"])) + 7 for event in events
        ]
        assert all("viewer_id" not in record for record in decoded)


def test_content_id_without_content_type_is_rejected(api: ApiProcess) -> None:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "tip",
        "ts": now_ms(),
        "viewer_id": "v",
        "platform": "ios",
        "creator_id": "cr_1",
        "content_id": "clip_1",
        "amount_minor": 500,
        "currency": "EUR",
    }
    assert api.post({"events": [event]}).json()["rejected"] == [
        {"index": 0, "reason": "missing_content_type"}
    ]


def test_bare_array_ndjson_and_gzip_bodies(api: ApiProcess) -> None:
    assert api.post([player_event(ts=now_ms())]).json()["accepted"] == 1
    ndjson = "\n".join(json.dumps(player_event(ts=now_ms())) for _ in range(2)) + "\n"
    response = httpx.post(
        f"{api.url}/v1/events",
        content=ndjson,
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/x-ndjson"},
    )
    assert response.json()["accepted"] == 2
    compressed = gzip.compress(json.dumps({"events": [player_event(ts=now_ms())]}).encode())
    response = httpx.post(
        f"{api.url}/v1/events",
        content=compressed,
        headers={
            "X-Write-Key": WRITE_KEY,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert response.json()["accepted"] == 1
    assert len(log_records(api.data_dir)) == 4


def test_write_key_in_query_parameter_for_send_beacon(api: ApiProcess) -> None:
    response = httpx.post(
        f"{api.url}/v1/events?write_key={WRITE_KEY}",
        content=json.dumps([player_event(ts=now_ms())]),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 202


def test_unknown_write_key_is_401_and_writes_nothing(api: ApiProcess) -> None:
    response = api.post({"events": [player_event(ts=now_ms())]}, key="nope")
    assert response.status_code == 401
    assert response.json()["error"] == "unknown_write_key"
    assert log_records(api.data_dir) == []


def test_malformed_and_unsupported_bodies(api: ApiProcess) -> None:
    headers = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"}
    response = httpx.post(f"{api.url}/v1/events", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"
    assert "Traceback" not in response.text
    response = httpx.post(
        f"{api.url}/v1/events",
        content=b"<xml/>",
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/xml"},
    )
    assert response.status_code == 415
    reasons = [json.loads(line)["reason"] for line in quarantine_text(api.data_dir).splitlines()]
    assert reasons == ["malformed_body", "unsupported_media_type"]


def test_limits_give_413_and_accept_nothing(api: ApiProcess) -> None:
    too_many = [player_event(ts=now_ms()) for _ in range(501)]
    assert api.post({"events": too_many}).status_code == 413
    huge = player_event(ts=now_ms(), device="x" * 200, app_version="y" * 200)
    huge["padding"] = "z" * 40_000
    assert api.post({"events": [player_event(ts=now_ms()), huge]}).status_code == 413
    big_body = b"[" + b" " * (1024 * 1024 + 10) + b"]"
    response = httpx.post(
        f"{api.url}/v1/events",
        content=big_body,
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    bomb = gzip.compress(b"[" + b" " * (9 * 1024 * 1024) + b"]")
    response = httpx.post(
        f"{api.url}/v1/events",
        content=bomb,
        headers={
            "X-Write-Key": WRITE_KEY,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status_code == 413
    assert response.json()["error"] == "decompressed_too_large"
    assert log_records(api.data_dir) == []


def test_graceful_shutdown_seals_the_open_segment(api: ApiProcess) -> None:
    api.post({"events": [player_event(ts=now_ms())]})
    api.stop()
    names = [path.name for path in (api.data_dir / "log").iterdir()]
    assert names and all(name.endswith(SEALED_SUFFIX) for name in names)


def test_segments_are_sealed_within_seconds_while_running(api: ApiProcess) -> None:
    import time

    api.post({"events": [player_event(ts=now_ms())]})
    # Segments seal after 2 s; 15 s leaves room for a loaded machine, and a segment sealed
    # only when the API stops would still fail.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if any(p.suffix == SEALED_SUFFIX for p in (api.data_dir / "log").iterdir()):
            return
        time.sleep(0.1)
    raise AssertionError("no segment was sealed within 15 s")


def test_published_event_schema_lists_every_type(api: ApiProcess) -> None:
    schema = httpx.get(f"{api.url}/v1/schema/event.json").json()
    assert "play_requested" in json.dumps(schema)
    assert "tip" in json.dumps(schema)


def test_country_comes_from_the_trusted_cdn_header_only_when_absent(data_dir: Path) -> None:
    from tests.support.api import start_api

    server = start_api(data_dir, {"MARQUEE_TRUSTED_COUNTRY_HEADER": "CF-IPCountry"})
    try:
        events = [player_event(ts=now_ms()), player_event(ts=now_ms(), country="JP")]
        response = httpx.post(
            f"{server.url}/v1/events",
            json={"events": events},
            headers={"X-Write-Key": WRITE_KEY, "CF-IPCountry": "br"},
        )
        assert response.status_code == 202
    finally:
        server.stop()
    countries = {record["event_id"]: record["country"] for record in log_records(data_dir)}
    assert countries == {events[0]["event_id"]: "BR", events[1]["event_id"]: "JP"}


def test_an_untrusted_country_header_is_ignored(api: ApiProcess) -> None:
    event = player_event(ts=now_ms())
    httpx.post(
        f"{api.url}/v1/events",
        json={"events": [event]},
        headers={"X-Write-Key": WRITE_KEY, "CF-IPCountry": "BR"},
    )
    (record,) = log_records(api.data_dir)
    assert "country" not in record
