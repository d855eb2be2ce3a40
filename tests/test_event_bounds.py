"""The numeric bounds of the event contract (docs/api.md, "Numeric bounds") over real HTTP.

Every bounded field: its bound is accepted, one more is rejected as `out_of_range` and
quarantined with that reason. The poison values that once made every later dbt build fail
are rejected while the valid events of their batch are accepted. The published schemas carry
the maxima, and no CMCD report derives an event over a bound.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.stores import log_records, quarantined

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_bounds"
HOUR_MS = 3_600_000

BOUNDS: dict[str, tuple[str, int]] = {
    "ts": ("play_requested", 253_402_300_799_999),
    "seq": ("play_requested", 1_000_000_000),
    "startup_ms": ("playback_started", 600_000),
    "played_ms": ("heartbeat", 3_600_000),
    "stalled_ms": ("playback_ended", 3_600_000),
    "stall_count": ("heartbeat", 3_600),
    "seek_ms": ("heartbeat", 3_600_000),
    "bitrate_kbps": ("quality_changed", 200_000),
    "playhead_ms": ("heartbeat", 316_224_000_000),
    "buffer_ms": ("heartbeat", 86_400_000),
    "dropped_frames": ("heartbeat", 20_736_000),
    "live_latency_ms": ("heartbeat", 86_400_000),
    "height": ("quality_changed", 16_384),
    "ad_duration_ms": ("ad_impression", 3_600_000),
    "position": ("story_viewed", 10_000),
    "length": ("chat_message", 10_000),
    "list_position": ("content_impression", 10_000),
    "amount_minor": ("tip", 100_000_000_000),
}
"""Each bounded field: an event type that carries it, and its maximum."""


def now_ms() -> int:
    return int(time.time() * 1000)


def event(type_: str, **fields: Any) -> dict[str, Any]:
    """A valid event of the type, a minute old, with the given fields."""
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": now_ms() - 60_000,
        "viewer_id": "viewer-raw-9",
        "platform": "web",
        "creator_id": "cr_b",
        "content_id": "vod_b",
        "content_type": "vod",
        "session_id": "s_b",
    }
    if type_ == "playback_started":
        base["startup_ms"] = 700
    if type_ == "playback_ended":
        base["reason"] = "completed"
    if type_ == "content_impression":
        base["surface"] = "feed"
    if type_ == "tip":
        base |= {"amount_minor": 15_800_000, "currency": "IDR"}
    return base | fields


def quarantined_event(data_dir: Path, event_id: str) -> dict[str, Any]:
    (record,) = [record for record in quarantined(data_dir) if event_id in record["payload"]]
    return record


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """One API for the module, with a catalogue for the CMCD reports and intervals of up
    to two hours between CMCD reports (more than a delta may hold)."""
    server = start_api(
        tmp_path_factory.mktemp("bounds"),
        {
            "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}",
            "MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN,
            "MARQUEE_CMCD_MAX_INTERVAL_S": "7200",
        },
    )
    try:
        response = httpx.put(
            f"{server.url}/v1/catalog/content",
            json=[
                {"content_id": "vod_b", "creator_id": "cr_b", "content_type": "vod"},
                {"content_id": "live_b", "creator_id": "cr_b", "content_type": "live"},
            ],
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200 and response.json()["rejected"] == []
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(("field", "type_", "maximum"), [(f, *b) for f, b in BOUNDS.items()])
def test_a_bound_is_accepted_and_one_more_is_out_of_range(
    api: ApiProcess, field: str, type_: str, maximum: int
) -> None:
    at_bound, over = event(type_, **{field: maximum}), event(type_, **{field: maximum + 1})
    body: dict[str, Any] = {"events": [at_bound, over]}
    if field == "ts":  # the client's clock at the bound: corrected to now, so not too late
        body["sent_at"] = maximum
    response = api.post(body)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "rejected": [{"index": 1, "reason": "out_of_range"}]}
    (logged,) = [r for r in log_records(api.data_dir) if r["event_id"] == at_bound["event_id"]]
    assert logged[field] == maximum
    record = quarantined_event(api.data_dir, over["event_id"])
    assert record["reason"] == "out_of_range"
    assert f"<= {maximum}" in record["detail"] and f"`$.{field}`" in record["detail"]


@pytest.mark.parametrize("valid_count", [3, 150], ids=["small-batch", "over-event-limit"])
def test_poison_values_are_quarantined_and_their_batch_accepted(
    api: ApiProcess, valid_count: int
) -> None:
    """The values that, once accepted, summed into negative numbers in the lake and made
    every later dbt build fail. 150 valid events make the body longer than an event may be,
    which takes the path that splits the body first."""
    poison = [
        event("tip", amount_minor=2**63 - 1),
        event("playback_started", startup_ms=2**62),
        event("heartbeat", played_ms=2**62),
        event("playback_ended", played_ms=2**64, reason="completed"),
    ]
    valid = [event("heartbeat", played_ms=10_000) for _ in range(valid_count)]
    events = valid[:1] + poison + valid[1:]
    response = api.post({"sent_at": now_ms(), "events": events})
    assert response.status_code == 202
    assert response.json() == {
        "accepted": valid_count,
        "rejected": [{"index": i, "reason": "out_of_range"} for i in range(1, 5)],
    }
    logged = {record["event_id"] for record in log_records(api.data_dir)}
    assert {e["event_id"] for e in valid} <= logged
    assert not {e["event_id"] for e in poison} & logged
    for bad, field in zip(
        poison, ["amount_minor", "startup_ms", "played_ms", "played_ms"], strict=True
    ):
        record = quarantined_event(api.data_dir, bad["event_id"])
        assert record["reason"] == "out_of_range" and f"`$.{field}`" in record["detail"]


def integer_maxima(schemas: dict[str, Any]) -> dict[str, set[int | None]]:
    """The maximum of each integer property of the event structs, by field name."""
    maxima: dict[str, set[int | None]] = {}
    for schema in schemas.values():
        if "enum" not in schema.get("properties", {}).get("type", {}):
            continue  # not an event struct
        for name, prop in schema["properties"].items():
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "integer":
                    maxima.setdefault(name, set()).add(option.get("maximum"))
    return maxima


def test_published_schemas_carry_every_maximum(api: ApiProcess) -> None:
    expected = {field: {maximum} for field, (_, maximum) in BOUNDS.items()}
    schema = httpx.get(f"{api.url}/v1/schema/event.json").json()
    assert integer_maxima(schema["$defs"]) == expected
    openapi = httpx.get(f"{api.url}/openapi.json").json()
    components = openapi["components"]["schemas"]
    assert integer_maxima(components) == expected
    assert "out_of_range" in components["RejectReason"]["enum"]


# --- CMCD: what the mapper derives stays within the bounds ------------------------------


def post_cmcd(api: ApiProcess, lines: list[str]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/cmcd",
        content="\n".join(lines) + "\n",
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"},
    )


def report(sid: str, sn: int, ts: int, extra: str, cid: str = "vod_b") -> str:
    return f'sid="{sid}",cid="{cid}",sn={sn},ts={ts},com.marquee-pf=web,v=2,{extra}'


def session_records(api: ApiProcess, sid: str) -> list[dict[str, Any]]:
    return [r for r in log_records(api.data_dir) if r.get("session_id") == sid]


def test_cmcd_interval_longer_than_a_delta_counts_the_bound(api: ApiProcess) -> None:
    """The API allows two hours between reports here; a delta holds at most one."""
    t = now_ms() - 3 * HOUR_MS
    lines = [
        report("s_long", 0, t, "e=ps,sta=p"),
        report("s_long", 1, t + 2 * HOUR_MS, "e=t,sta=p"),
    ]
    response = post_cmcd(api, lines)
    assert response.json()["rejected"] == []
    beats = [r for r in session_records(api, "s_long") if r["type"] == "heartbeat"]
    assert [beat.get("played_ms", 0) for beat in beats] == [0, 3_600_000]


def test_cmcd_stall_longer_than_a_delta_counts_the_bound(api: ApiProcess) -> None:
    response = post_cmcd(api, [report("s_bsd", 0, now_ms() - HOUR_MS, "e=ps,sta=p,bsd=(5000000)")])
    assert response.json()["rejected"] == []
    (beat,) = session_records(api, "s_bsd")
    assert (beat["stalled_ms"], beat["stall_count"]) == (3_600_000, 1)


def test_cmcd_playhead_of_a_timeline_anchored_at_1970_is_left_out(api: ApiProcess) -> None:
    t = now_ms() - HOUR_MS
    lines = [
        report("s_pt", 0, t, f"e=t,sta=p,pt={t}", cid="live_b"),
        report("s_pt", 1, t + 10_000, "e=t,sta=p,pt=316224000000", cid="live_b"),
    ]
    assert post_cmcd(api, lines).json()["rejected"] == []
    beats = session_records(api, "s_pt")
    assert [beat.get("playhead_ms") for beat in beats] == [None, 316_224_000_000]
    assert beats[1]["played_ms"] == 10_000


@pytest.mark.parametrize(
    ("key", "maximum", "field"),
    [
        ("br", 200_000, "bitrate_kbps"),
        ("bl", 86_400_000, "buffer_ms"),
        ("msd", 600_000, "startup_ms"),
    ],
)
def test_cmcd_measurement_over_its_bound_rejects_the_report(
    api: ApiProcess, key: str, maximum: int, field: str
) -> None:
    sid = f"s_{key}"
    t = now_ms() - HOUR_MS
    lines = [
        report(sid, 0, t, f"e=ps,sta=p,{key}={maximum}"),
        report(sid, 1, t + 1_000, f"e=ps,sta=p,{key}={maximum + 1}"),
    ]
    response = post_cmcd(api, lines)
    assert response.status_code == 202
    assert response.json()["rejected"] == [{"index": 1, "reason": "out_of_range"}]
    assert [r[field] for r in session_records(api, sid) if field in r] == [maximum]
    (record,) = [q for q in quarantined(api.data_dir) if f'sid="{sid}"' in q["payload"]]
    assert record["reason"] == "out_of_range" and f"`$.{field}`" in record["detail"]
    assert f"{key}={maximum + 1}" in record["payload"]
