"""The traffic simulator in process: contract, session shape, realism, faults, determinism.

Every test of the model runs on both engines: the vectorised stream the command line, the
demo and the history run, and the event-by-event reference model it is held to. Most tests
share one generated stream (fifteen simulated minutes, views run to their end via
`drain`), so the suite stays fast. The sender and the command line, which need an HTTP
server, are in test_simulator_sender.py.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import pytest

from marquee.events import EventRejected, decode_event
from tools.simulator import INVALID_KINDS, INVALID_MARKER, FaultRates, Simulator
from tools.simulator.clock import MINUTE_MS
from tools.simulator.discovery import SURFACE_CTR
from tools.simulator.stream import TrafficStream

pytestmark = pytest.mark.unit

DAY_MS = 86_400_000
T0 = (time.time_ns() // 1_000_000 // DAY_MS - 1) * DAY_MS + 51_200_000
"""Yesterday at 14:13:20 UTC: relative to the run's date, at a fixed time of day (traffic
follows the hour)."""
WINDOW_MS = 15 * MINUTE_MS
POOR_NETWORKS = {"IN", "ID", "NG", "PH", "EG", "PK", "KE"}
GOOD_NETWORKS = {"US", "GB", "DE", "FR", "JP", "KR", "CA", "AU"}
DELTA_FIELDS = ("played_ms", "stalled_ms", "stall_count", "seek_ms")


def ts_ms(value: str | int) -> int:
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


Engine = Callable[..., Simulator | TrafficStream]
ENGINES: dict[str, Engine] = {"stream": TrafficStream, "reference": Simulator}


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request: pytest.FixtureRequest) -> Engine:
    return ENGINES[request.param]


def encode(event: dict[str, Any]) -> bytes:
    return msgspec.json.encode(event)


@dataclass
class Traffic:
    sim: Simulator | TrafficStream
    events: list[dict[str, Any]]
    valid: list[dict[str, Any]]
    """Deliberately invalid events left out, duplicates (same event_id) counted once."""
    content: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def traffic(engine: Engine) -> Traffic:
    sim = engine(
        seed=7,
        creators=30,
        rate=60,
        warmup_s=0,
        faults=FaultRates(duplicate=0.02, late=0.01, invalid=0.01),
    )
    events = sim.events_between(T0, T0 + WINDOW_MS) + sim.drain()
    unique: dict[str, dict[str, Any]] = {}
    for event in events:
        if INVALID_MARKER not in event:
            unique.setdefault(event["event_id"], event)
    _, content = sim.catalogue(T0, T0 + WINDOW_MS)
    return Traffic(sim, events, list(unique.values()), {c["content_id"]: c for c in content})


def sessions(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if "session_id" in event:
            by_session[event["session_id"]].append(event)
    for session in by_session.values():
        session.sort(key=lambda e: e["seq"])
    return by_session


def test_every_event_but_the_deliberate_invalid_ones_passes_the_contract(
    traffic: Traffic,
) -> None:
    invalid_kinds: Counter[str] = Counter()
    for event in traffic.events:
        kind = event.get(INVALID_MARKER)
        if kind is None:
            decode_event(encode(event))
            continue
        with pytest.raises(EventRejected) as rejected:
            decode_event(encode(event))
        assert rejected.value.reason == INVALID_KINDS[kind], (kind, rejected.value.detail)
        invalid_kinds[kind] += 1
    assert set(invalid_kinds) == set(INVALID_KINDS)
    assert traffic.sim.stats.invalid == invalid_kinds
    share = sum(invalid_kinds.values()) / len(traffic.valid)
    assert 0.007 < share < 0.013


def test_every_event_type_of_the_contract_is_produced(traffic: Traffic, engine: Engine) -> None:
    produced = {event["type"] for event in traffic.valid}
    # Chat needs a live stream on air; scheduled lives fall on some days' afternoons and
    # evenings only, so T0 (yesterday 14:13 UTC) may have none: add two on air at T0.
    lives = engine(seed=7, creators=30, rate=60, warmup_s=0, on_air_at_ms=T0, on_air_lives=2)
    produced |= {
        event["type"]
        for event in lives.events_between(T0, T0 + 5 * MINUTE_MS)
        if INVALID_MARKER not in event
    }
    expected = {
        "play_requested", "playback_started", "heartbeat", "playback_error", "quality_changed",
        "playback_ended", "ad_break_started", "ad_impression", "ad_quartile", "ad_skipped",
        "ad_break_ended", "story_viewed", "story_navigated", "story_completed",
        "reaction_added", "chat_message", "follow", "share",
    }  # fmt: skip
    assert expected <= produced
    platforms = {event["platform"] for event in traffic.valid}
    assert platforms == {"web", "ios", "android", "tv"}
    formats = {type(event["ts"]) for event in traffic.valid}
    assert formats == {str, int}
    assert all(
        isinstance(e["ts"], int) or (len(e["ts"]) == 24 and e["ts"].endswith("Z"))
        for e in traffic.valid
    )


def test_sessions_start_with_play_requested_and_seq_goes_up_by_one(traffic: Traffic) -> None:
    by_session = sessions(traffic.valid)
    assert len(by_session) > 1_000
    for session_id, events in by_session.items():
        assert [e["seq"] for e in events] == list(range(len(events))), session_id
        assert events[0]["type"] == "play_requested"
        times = [ts_ms(e["ts"]) for e in events]
        assert times == sorted(times), session_id
        assert sum(e["type"] == "playback_ended" for e in events) <= 1


def test_deltas_are_non_negative_and_completed_vod_plays_at_most_its_duration(
    traffic: Traffic,
) -> None:
    completed = 0
    for events in sessions(traffic.valid).values():
        for event in events:
            for name in DELTA_FIELDS:
                assert event.get(name, 0) >= 0, event
        last = events[-1]
        if last["content_type"] == "vod" and last.get("reason") == "completed":
            completed += 1
            duration = traffic.content[last["content_id"]]["duration_ms"]
            played = sum(e.get("played_ms", 0) for e in events)
            assert played <= duration + 10_000, (last["session_id"], played, duration)
            assert last["playhead_ms"] == duration
    assert completed >= 20


def test_creator_popularity_is_long_tailed(traffic: Traffic) -> None:
    views = Counter(e["creator_id"] for e in traffic.valid if e["type"] == "play_requested")
    counts = sorted(views.values(), reverse=True)
    assert counts[0] >= 8 * statistics.median(counts)


def test_worse_networks_start_slower_and_stall_more(traffic: Traffic) -> None:
    startup: dict[str, list[int]] = defaultdict(list)
    stalls: Counter[str] = Counter()
    played: Counter[str] = Counter()
    for event in traffic.valid:
        country = event.get("country")
        tier = "poor" if country in POOR_NETWORKS else "good" if country in GOOD_NETWORKS else None
        if tier is None:
            continue
        if event["type"] == "playback_started":
            startup[tier].append(event["startup_ms"])
        stalls[tier] += event.get("stall_count", 0)
        played[tier] += event.get("played_ms", 0)
    assert len(startup["poor"]) > 200 and len(startup["good"]) > 200
    assert statistics.mean(startup["poor"]) > 1.8 * statistics.mean(startup["good"])
    assert stalls["poor"] / played["poor"] > 2 * stalls["good"] / played["good"]


def test_catalogue_names_every_title_the_events_name(traffic: Traffic) -> None:
    content = traffic.content
    for event in traffic.valid:
        for field in ("content_id", "target_id", "live_id", "story_id"):
            if field in event:
                assert event[field] in content, event
    fields = {
        "content_id", "creator_id", "content_type", "title", "duration_ms", "published_at",
        "expires_at", "announces_live_id", "source_live_id",
    }  # fmt: skip
    stories = [c for c in content.values() if c["content_type"] == "story"]
    for record in content.values():
        assert set(record) == fields
    for story in stories:
        lifetime = ts_ms(story["expires_at"]) - ts_ms(story["published_at"])
        assert lifetime == 24 * 60 * MINUTE_MS
    announcing = [s for s in stories if s["announces_live_id"]]
    assert announcing
    for story in announcing:
        live = content[story["announces_live_id"]]
        assert live["content_type"] == "live"
        assert ts_ms(story["published_at"]) < ts_ms(live["published_at"])
    creators, _ = traffic.sim.catalogue(T0, T0 + WINDOW_MS)
    assert len(creators) == 30
    assert all(set(c) == {"creator_id", "name", "created_at"} for c in creators)


def test_some_story_reactions_are_repeated_or_after_expiry(engine: Engine) -> None:
    """Over an hour: a stale reaction is a rare arrival (a few an hour at this rate), which
    the fixture's 15 minutes may not hold."""
    sim = engine(seed=7, creators=30, rate=60, warmup_s=0)
    events = sim.events_between(T0, T0 + 4 * WINDOW_MS) + sim.drain()
    _, catalogue = sim.catalogue(T0, T0 + 4 * WINDOW_MS)
    content = {c["content_id"]: c for c in catalogue}
    reactions = [
        e
        for e in events
        if INVALID_MARKER not in e and e["type"] == "reaction_added" and e["target_type"] == "story"
    ]
    per_viewer = Counter((e["viewer_id"], e["target_id"]) for e in reactions)
    assert any(n >= 2 for n in per_viewer.values())
    after_expiry = [
        e for e in reactions if ts_ms(e["ts"]) >= ts_ms(content[e["target_id"]]["expires_at"])
    ]
    assert after_expiry
    assert len(after_expiry) < 0.2 * len(reactions)


def test_ads_are_tracked_in_vast_order(traffic: Traffic) -> None:
    ads: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in traffic.valid:
        if event["type"].startswith("ad_") and "ad_id" in event:
            ads[(event["session_id"], event["ad_break_id"], event["ad_id"])].append(event)
    skipped = 0
    for events in ads.values():
        events.sort(key=lambda e: e["seq"])
        assert events[0]["type"] == "ad_impression"
        quartiles = [e["quartile"] for e in events if e["type"] == "ad_quartile"]
        assert quartiles == [25, 50, 75, 100][: len(quartiles)]
        skips = [e for e in events if e["type"] == "ad_skipped"]
        if skips:
            skipped += 1
            assert ts_ms(skips[0]["ts"]) - ts_ms(events[0]["ts"]) >= 5_000
    assert len(ads) > 200 and skipped > 20


def test_ads_come_in_every_format_mostly_linear(traffic: Traffic) -> None:
    """Each creative has one format; linear most, squeezeback and overlay a share each."""
    formats: dict[str, set[str]] = defaultdict(set)
    impressions: Counter[str] = Counter()
    for event in traffic.valid:
        if event["type"].startswith("ad_") and "ad_id" in event:
            formats[event["ad_id"]].add(event["ad_format"])
            if event["type"] == "ad_impression":
                impressions[event["ad_format"]] += 1
    assert all(len(seen) == 1 for seen in formats.values())
    total = sum(impressions.values())
    assert set(impressions) == {"linear", "squeezeback", "overlay"}
    assert 0.55 < impressions["linear"] / total < 0.85
    assert 0.1 < impressions["squeezeback"] / total < 0.3
    assert 0.03 < impressions["overlay"] / total < 0.2


def test_clips_are_cut_from_popular_creators_lives_and_viewed(engine: Engine) -> None:
    """Clips with source_live_id name a live of their creator, are published from 5 min into
    it to an hour after it, come mostly from the most popular creators, and get views."""
    start = T0 - 2 * DAY_MS
    sim = engine(seed=11, creators=40, rate=80, warmup_s=0)
    _, content = sim.catalogue(start, T0)
    by_id = {record["content_id"]: record for record in content}
    cut = [r for r in content if r["source_live_id"] is not None]
    assert cut and all(r["content_type"] == "clip" for r in cut)
    for clip in cut:
        live = by_id[clip["source_live_id"]]
        assert live["content_type"] == "live" and live["creator_id"] == clip["creator_id"]
        assert ts_ms(clip["published_at"]) - ts_ms(live["published_at"]) >= 5 * MINUTE_MS
    lives = [r for r in content if r["content_type"] == "live"]
    popularity = {c.creator_id: c.popularity for c in sim.world.creators}
    top = sorted(popularity, key=lambda creator: -popularity[creator])[:5]
    top_lives = [r for r in lives if r["creator_id"] in top]
    clipped = {r["source_live_id"] for r in cut}
    top_share = sum(r["content_id"] in clipped for r in top_lives) / len(top_lives)
    all_share = sum(r["content_id"] in clipped for r in lives) / len(lives)
    assert top_share > all_share
    events = sim.events_between(T0, T0 + 10 * MINUTE_MS)
    viewed = {e["content_id"] for e in events if e["type"] == "play_requested"}
    assert viewed & {r["content_id"] for r in cut}


def test_duplicate_rate_is_close_to_the_configured_rate(engine: Engine) -> None:
    sim = engine(seed=11, creators=20, rate=30, warmup_s=0, faults=FaultRates(0.05, 0.0, 0.0))
    events = sim.events_between(T0, T0 + 8 * MINUTE_MS) + sim.drain()
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_id[event["event_id"]].append(event)
    duplicates = len(events) - len(by_id)
    assert duplicates == sim.stats.duplicates
    assert 0.04 < duplicates / len(by_id) < 0.06
    for copies in by_id.values():
        assert all(copy == copies[0] for copy in copies)


def test_late_events_arrive_minutes_after_their_time(engine: Engine) -> None:
    sim = engine(seed=12, creators=20, rate=20, warmup_s=0, faults=FaultRates(0.0, 0.05, 0.0))
    counted_until = T0 + 10 * MINUTE_MS
    total = late = 0
    for minute in range(21):  # ten minutes of events, and long enough for them all to arrive
        start = T0 + minute * MINUTE_MS
        for event in sim.events_between(start, start + MINUTE_MS):
            event_ms = ts_ms(event["ts"])
            if event_ms >= counted_until:
                continue
            total += 1
            if event_ms < start:
                late += 1
                assert start - event_ms <= 11 * MINUTE_MS
    assert 0 < late <= sim.stats.late
    assert 0.04 < late / total < 0.06


def test_same_seed_gives_the_same_events_however_time_is_windowed(engine: Engine) -> None:
    def run(seed: int, step_ms: int) -> list[dict[str, Any]]:
        sim = engine(seed=seed, creators=10, rate=25, warmup_s=60)
        events: list[dict[str, Any]] = []
        for start in range(T0, T0 + 3 * MINUTE_MS, step_ms):
            events += sim.events_between(start, start + step_ms)
        return events

    whole = run(3, 3 * MINUTE_MS)
    assert len(whole) > 2_500
    assert run(3, 10_000) == whole
    assert run(4, 3 * MINUTE_MS) != whole


def test_windows_must_follow_each_other(engine: Engine) -> None:
    sim = engine(seed=1, creators=5, rate=10, warmup_s=0)
    sim.events_between(T0, T0 + 1_000)
    with pytest.raises(ValueError, match="contiguous"):
        sim.events_between(T0 + 5_000, T0 + 6_000)


def test_delivered_rate_is_close_to_the_target(engine: Engine) -> None:
    # The rate is a mean over the day: one short window varies from one simulated day to
    # the next as lives and bursts fall, so six windows spread over the day are summed.
    day = T0 // DAY_MS * DAY_MS
    delivered = 0
    for hour in range(1, 24, 4):
        start = day + hour * 3_600_000
        sim = engine(seed=5, creators=20, rate=20)
        sim.events_between(start, start)  # the warm-up
        delivered += len(sim.events_between(start, start + 5 * MINUTE_MS))
    assert 0.85 * 20 * 300 * 6 < delivered < 1.15 * 20 * 300 * 6


def test_live_audience_is_largest_mid_stream() -> None:
    sim = Simulator(seed=5, creators=20, rate=40)
    lives = [
        c
        for c in sim.world.content_published_between(T0 - 2 * 1440 * MINUTE_MS, T0)
        if c.content_type == "live" and c.ends_at_ms is not None
    ]
    top = max(lives, key=lambda c: sim.world.creators[c.creator_index].popularity)
    assert top.ends_at_ms is not None
    length = top.ends_at_ms - top.published_at_ms
    rng = random.Random(1)

    def joins(progress: float) -> int:
        t = top.published_at_ms + int(progress * length)
        arrivals = (sim.audience.choose(rng, t) for _ in range(3_000))
        return sum(1 for a in arrivals if a is not None and a.content is top)

    early, middle, late = joins(0.03), joins(0.5), joins(0.97)
    assert middle > 2 * early and middle > 2 * late


@pytest.mark.parametrize("hour", range(24))
def test_lives_asked_for_are_on_air_in_the_first_minute_whatever_the_utc_hour(
    hour: int, engine: Engine
) -> None:
    # Scheduled lives start mostly in the UTC afternoon and evening; a demo started at any
    # hour asks for some already on air (`--lives-on-air`).
    start = (T0 // (1440 * MINUTE_MS)) * 1440 * MINUTE_MS + hour * 60 * MINUTE_MS + 24 * MINUTE_MS
    sim = engine(seed=3, creators=10, rate=50, warmup_s=120, on_air_at_ms=start, on_air_lives=3)
    on_air = {
        c.content_id for c in sim.world.lives_on_air(start)[0] if c.content_id.endswith("_onair")
    }
    assert len(on_air) == 3
    events = sim.events_between(start, start + MINUTE_MS)
    beating = {
        e["content_id"]
        for e in events
        if e["type"] == "heartbeat" and e.get("content_type") == "live"
    }
    assert on_air <= beating
    _, content = sim.catalogue(start, start)
    assert on_air <= {record["content_id"] for record in content}


def test_plays_name_a_surface_and_impressions_give_each_surface_its_ctr(engine: Engine) -> None:
    """Views from a surface / its impressions comes out near the surface's CTR (a feed
    thumbnail is clicked far less often than a search result or a live tray avatar), and
    a few plays name no surface."""
    sim = engine(seed=5, creators=30, rate=400, warmup_s=0)
    events = sim.events_between(T0, T0 + 20 * MINUTE_MS) + sim.drain()
    valid = [e for e in events if INVALID_MARKER not in e]
    impressions = Counter(e["surface"] for e in valid if e["type"] == "content_impression")
    requested = [e for e in valid if e["type"] == "play_requested" and e["content_type"] != "story"]
    plays = Counter(e.get("surface") for e in requested)
    ctr = {surface: plays[surface] / count for surface, count in impressions.items()}
    assert set(ctr) <= set(SURFACE_CTR) and {"feed", "search", "profile", "share"} <= set(ctr)
    for surface, expected in SURFACE_CTR.items():
        if impressions[surface] >= 1_000:  # the tray only shows lives on air: few here
            assert ctr[surface] == pytest.approx(expected, rel=0.2), surface
    assert ctr["feed"] < ctr["profile"] < ctr["search"] < ctr["share"]
    assert 0.02 < plays[None] / len(requested) < 0.1
    for event in valid[:2000]:
        if event["type"] == "content_impression":
            decode_event(msgspec.json.encode(event))
