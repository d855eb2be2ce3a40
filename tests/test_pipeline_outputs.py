"""The pipeline's mergeable outputs: per-minute metrics, view summaries, viewer-level facts.

The golden scenario goes through the real ingestion code and the real LocalRunner (Beam,
ledger, lake files) under several random splits into segments and delivery orders; what
the lake holds, merged across runs, must give the scenario's expected views, minutes,
story and ad numbers. The merge functions themselves are checked as a property: any
partition of the records into batches, merged in any order and grouping, gives the same
result as computing over all records at once.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import (
    CREATOR_MINUTE_AGGREGATES,
    CREATOR_VIEWER_DAYS,
    DEAD_LETTERS,
    LAKE_TABLES,
    LIVE_VIEWER_FACTS,
    MINUTE_AGGREGATES,
    REACTION_MINUTE_AGGREGATES,
    STARTUP_BUCKET_EDGES_MS,
    STORY_VIEWER_FACTS,
    TIP_MINUTE_AGGREGATES,
    VIEW_SUMMARIES,
)
from marquee.layout import DataLayout
from pipelines import aggregates, records, viewer_facts, views
from pipelines.local_runner import LocalRunner
from pipelines.transforms import ALL_PARTIALS, MERGES
from tests.support.ad_scenario import ad_scenario
from tests.support.golden import load_scenario
from tests.support.segments import golden_log_lines, random_split, write_segments

pytestmark = pytest.mark.unit

SEEDS = [11, 12, 13, 14, 15]
PSEUDONYM_KEY = b"k"  # the key golden_log_lines enriches with
APP_ID = "app"
DAY_MS = 86_400_000


def epoch_ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def viewer_key(viewer_id: str) -> str:
    return Pseudonymiser(PSEUDONYM_KEY)(APP_ID, viewer_id)


def read_lake(layout: DataLayout, table: str) -> pl.DataFrame:
    """Every run file of a table (and its empty schema file), run columns dropped."""
    frame = pl.read_parquet(str(layout.lake_table_dir(table) / "*.parquet"))
    return frame.drop("run_id", "processed_at_ms")


def minute_sums(layout: DataLayout, content_id: str | None = None) -> dict[str, int]:
    frame = read_lake(layout, MINUTE_AGGREGATES)
    if content_id is not None:
        frame = frame.filter(pl.col("content_id") == content_id)
    return {name: int(frame[name].sum()) for name in aggregates.MINUTE_MEASURES}


@dataclass(frozen=True)
class Golden:
    """The rebased scenario and one lake per seed built from exactly its events."""

    scenario: dict[str, Any]
    lakes: list[DataLayout]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The scenario's events once each (the retried copy dropped)."""
        unique: dict[str, dict[str, Any]] = {}
        for event in self.scenario["events_in_delivery_order"]:
            unique.setdefault(event["event_id"], event)
        return list(unique.values())

    @property
    def expected(self) -> dict[str, Any]:
        return dict(self.scenario["expected"])

    def durations(self) -> dict[str, int | None]:
        return {
            c["content_id"]: c.get("duration_ms") for c in self.scenario["catalogue"]["content"]
        }

    def views(self, layout: DataLayout) -> dict[str, dict[str, Any]]:
        """The lake's view partials of every run, merged and finalised now."""
        merged = views.merge_view_partials([read_lake(layout, VIEW_SUMMARIES)])
        final = views.finalize_views(merged, self.durations(), int(time.time() * 1000))
        return {row["session_id"]: row for row in final.to_dicts()}


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Golden:
    """The golden log through LocalRunner, once per seed: random segments, order, runs."""
    scenario = load_scenario()
    lines, _ = golden_log_lines(scenario)
    lakes = []
    for seed in SEEDS:
        layout = DataLayout(tmp_path_factory.mktemp(f"golden-{seed}"))
        write_segments(layout, random_split(lines, random.Random(seed)))
        assert LocalRunner(layout, max_segments_per_run=2).drain() >= 1
        lakes.append(layout)
    return Golden(scenario, lakes)


def test_golden_views_from_any_split_and_order(golden: Golden) -> None:
    expected = golden.expected["views"]
    sessions = {event["session_id"] for event in golden.events if "session_id" in event}
    for layout in golden.lakes:
        final = golden.views(layout)
        assert set(final) == sessions, "one view per session, each once"
        for session_id, fields in expected.items():
            row = final[session_id]
            for name, value in fields.items():
                if isinstance(value, float):
                    assert row[name] == pytest.approx(value, abs=1e-4), (session_id, name)
                else:
                    assert row[name] == value, (session_id, name)


def test_golden_minute_totals_from_any_split_and_order(golden: Golden) -> None:
    expected = golden.expected["minutes"]["totals_over_all_minutes"]
    for layout in golden.lakes:
        for content_id, totals in expected.items():
            sums = minute_sums(layout, content_id)
            assert {name: sums[name] for name in totals} == totals


def startup_bucket(startup_ms: int) -> str:
    index = bisect_right(STARTUP_BUCKET_EDGES_MS, startup_ms) - 1
    return aggregates.STARTUP_BUCKETS[index]


def test_golden_startup_histogram(golden: Golden) -> None:
    starts = [e for e in golden.events if e["type"] == "playback_started"]
    expected = Counter(startup_bucket(event["startup_ms"]) for event in starts)
    for layout in golden.lakes:
        sums = minute_sums(layout)
        assert {name: sums[name] for name in aggregates.STARTUP_BUCKETS} == {
            name: expected.get(name, 0) for name in aggregates.STARTUP_BUCKETS
        }
        assert sum(sums[name] for name in aggregates.STARTUP_BUCKETS) == sums["starts"]


def test_golden_engagement_ad_and_bitrate_sums(golden: Golden) -> None:
    events = golden.events
    types = Counter(event["type"] for event in events)
    quartiles = Counter(event["quartile"] for event in events if event["type"] == "ad_quartile")
    actions = Counter(event["action"] for event in events if event["type"] == "story_navigated")
    expected = {
        "story_views": types["story_viewed"],
        "story_completions": types["story_completed"],
        **{f"story_{action}": actions[action] for action in aggregates.STORY_ACTIONS},
        "reactions": types["reaction_added"],
        "chat_messages": types["chat_message"],
        "shares": types["share"],
        "ad_impressions": types["ad_impression"],
        **{f"ad_q{q}": quartiles[q] for q in aggregates.AD_QUARTILES},
        "ad_skips": types["ad_skipped"],
        "ad_clicks": types["ad_clicked"],
        "bitrate_weighted": sum(
            event.get("bitrate_kbps", 0) * event.get("played_ms", 0) for event in events
        ),
    }
    assert (expected["ad_impressions"], expected["ad_q75"], expected["story_views"]) == (2, 1, 3)
    ads = golden.expected["ads"]
    for layout in golden.lakes:
        sums = minute_sums(layout)
        assert {name: sums[name] for name in expected} == expected
        impressions = sums["ad_impressions"]
        assert impressions == ads["impressions"]
        for q in aggregates.AD_QUARTILES:
            assert 100.0 * sums[f"ad_q{q}"] / impressions == pytest.approx(ads[f"q{q}_pct"])
        assert 100.0 * sums["ad_skips"] / impressions == pytest.approx(ads["skip_rate_pct"])
        assert 100.0 * sums["ad_clicks"] / impressions == pytest.approx(ads["ctr_pct"])


def story_numbers(layout: DataLayout, story: dict[str, Any]) -> dict[str, float]:
    """expected.stories, computed from the viewer-level fact sets as dbt would."""
    facts = viewer_facts.STORY_VIEWERS.merge([read_lake(layout, STORY_VIEWER_FACTS)]).filter(
        pl.col("story_id") == story["content_id"]
    )
    first_viewed = (
        facts.filter(pl.col("fact") == "viewed")
        .group_by("viewer_key")
        .agg(pl.col("at_ms").min().alias("viewed_ms"))
    )
    reach = first_viewed.height
    completers = facts.filter(pl.col("fact") == "completed")["viewer_key"].n_unique()
    reactions = facts.filter(pl.col("fact") == "reacted").with_columns(
        (
            (pl.col("at_ms").rank("ordinal").over("viewer_key") == 1)
            & (pl.col("at_ms") <= epoch_ms(story["expires_at"]))
        ).alias("valid")
    )
    valid = reactions.filter(pl.col("valid"))
    lives = viewer_facts.LIVE_VIEWERS.merge([read_lake(layout, LIVE_VIEWER_FACTS)])
    first_play = (
        lives.filter(
            (pl.col("live_id") == story["announces_live_id"]) & (pl.col("fact") == "requested")
        )
        .group_by("viewer_key")
        .agg(pl.col("at_ms").min().alias("play_ms"))
    )
    converted = first_viewed.join(first_play, on="viewer_key").filter(
        (pl.col("play_ms") >= pl.col("viewed_ms"))
        & (pl.col("play_ms") <= pl.col("viewed_ms") + DAY_MS)
    )
    return {
        "reach": reach,
        "completion_rate_pct": 100.0 * completers / reach,
        "valid_reactions": valid.height,
        "invalid_reactions": reactions.height - valid.height,
        "reaction_rate_pct": 100.0 * valid["viewer_key"].n_unique() / reach,
        "story_to_live_conversion_pct": 100.0 * converted.height / reach,
    }


def test_golden_story_numbers_from_viewer_facts(golden: Golden) -> None:
    content = golden.scenario["catalogue"]["content"]
    story = next(c for c in content if c["content_type"] == "story")
    expected = golden.expected["stories"][story["content_id"]]
    for layout in golden.lakes:
        numbers = story_numbers(layout, story)
        for name, value in numbers.items():
            assert value == pytest.approx(expected[name], abs=1e-4), name
        sums = minute_sums(layout, story["content_id"])
        assert sums["story_views"] == expected["impressions"]
        assert 100.0 * sums["story_tap_forward"] / sums["story_views"] == pytest.approx(
            expected["tap_forward_rate_pct"], abs=1e-4
        )


def test_golden_viewer_fact_sets_hold_exactly_the_facts(golden: Golden) -> None:
    events = golden.events
    stories: dict[tuple[str, str, str, str], int] = {}
    reacted: set[tuple[str, str, str, int, str]] = set()
    lives: dict[tuple[str, str, str], int] = {}
    days: set[tuple[str, str, int, str]] = set()
    live_facts = {"play_requested": "requested", "playback_started": "started"}
    for event in events:
        key, at = viewer_key(event["viewer_id"]), epoch_ms(event["ts"])
        kind = event["type"]
        if kind in ("story_viewed", "story_completed"):
            fact = "viewed" if kind == "story_viewed" else "completed"
            slot = (event["content_id"], key, fact, "")
            stories[slot] = min(at, stories.get(slot, at))
        if kind == "reaction_added" and event["target_type"] == "story":
            reacted.add((event["target_id"], key, "reacted", at, event["reaction"]))
        if event.get("content_type") == "live" and kind in live_facts:
            slot2 = (event["content_id"], key, live_facts[kind])
            lives[slot2] = min(at, lives.get(slot2, at))
        activity = (
            "view"
            if "session_id" in event
            else "story"
            if kind.startswith("story_")
            else "engagement"
        )
        days.add((event["creator_id"], key, at // DAY_MS, activity))
    expected_stories = {(s, v, f, at, r) for (s, v, f, r), at in stories.items()} | reacted
    expected_lives = {(live, v, f, at) for (live, v, f), at in lives.items()}
    assert len(expected_stories) == 3 + 1 + 3 and len(expected_lives) == 4
    for layout in golden.lakes:
        story_rows = viewer_facts.STORY_VIEWERS.merge([read_lake(layout, STORY_VIEWER_FACTS)])
        live_rows = viewer_facts.LIVE_VIEWERS.merge([read_lake(layout, LIVE_VIEWER_FACTS)])
        day_rows = viewer_facts.CREATOR_VIEWER_DAY_SET.merge(
            [read_lake(layout, CREATOR_VIEWER_DAYS)]
        ).with_columns(pl.col("day").cast(pl.Int64))
        assert set(story_rows.iter_rows()) == expected_stories
        assert set(live_rows.iter_rows()) == expected_lives
        assert set(day_rows.iter_rows()) == days


# Pure functions: merge order and grouping, histogram edges, dropped and resumed views.


def event(type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
    """A contract-valid event at epoch milliseconds."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": at_ms,
        "viewer_id": "v_extra",
        "platform": "ios",
        "country": "DE",
        **fields,
    }


def log_records(events: list[dict[str, Any]]) -> pl.DataFrame:
    """Events through the real validation and enrichment, parsed as the pipeline reads them."""
    enricher = Enricher(Pseudonymiser(PSEUDONYM_KEY), 300, 7 * 86400)
    raw = [json.dumps(e).encode() for e in events]
    result = ingest_events(raw, None, APP_ID, int(time.time() * 1000), None, enricher)
    assert result.accepted == len(events), result.rejected
    return records.parse_segment("test", bytes(result.log_bytes)).frame


def engagement_events(at_ms: int) -> list[dict[str, Any]]:
    """Creator-level and other engagement the golden scenario lacks."""
    live = {"creator_id": "cr_x", "content_id": "live_x", "content_type": "live"}
    return [
        event("follow", at_ms, creator_id="cr_x"),
        event("follow", at_ms + 1_000, creator_id="cr_x", viewer_id="v_other"),
        event("unfollow", at_ms + 61_000, creator_id="cr_x"),
        event("tip", at_ms + 2_000, creator_id="cr_x", amount_minor=500, currency="EUR"),
        event("tip", at_ms + 3_000, creator_id="cr_x", amount_minor=200, currency="EUR"),
        event("tip", at_ms + 4_000, creator_id="cr_x", amount_minor=300, currency="USD"),
        event("chat_message", at_ms + 5_000, live_id="live_x", length=12, **live),
        event("share", at_ms + 6_000, channel="copy_link", **live),
        event(
            "reaction_added",
            at_ms + 7_000,
            creator_id="cr_x",
            target_id="live_x",
            target_type="live",
            reaction="clap",
        ),
    ]


def all_outputs() -> list[tuple[str, Any, Any]]:
    """(name, partial, merge) of every mergeable output: those the pipeline computes."""
    outputs = [(name, partial, MERGES[name]) for name, partial in ALL_PARTIALS]
    assert {name for name, _, _ in outputs} == set(LAKE_TABLES) - {DEAD_LETTERS}
    return outputs


def restarted_session_events(at_ms: int) -> list[dict[str, Any]]:
    """One session that starts and ends twice, and whose country changes midway."""
    base = {"creator_id": "cr_x", "content_id": "vod_x", "content_type": "vod"}
    base["session_id"] = "s_twice"
    return [
        event("play_requested", at_ms, **base),
        event("playback_started", at_ms + 1_000, startup_ms=800, **base),
        event("playback_ended", at_ms + 20_000, reason="replaced", played_ms=19_000,
              playhead_ms=19_000, **base),
        event("playback_error", at_ms + 25_000, code="E", fatal=False, **base),
        event("playback_started", at_ms + 30_000, startup_ms=300, **{**base, "country": "FR"}),
        event("playback_ended", at_ms + 40_000, reason="user_exit", played_ms=10_000,
              playhead_ms=29_000, **{**base, "country": "FR"}),
    ]  # fmt: skip


def test_view_merge_picks_first_start_last_end_and_first_attributes() -> None:
    frame = log_records(restarted_session_events(int(time.time() * 1000) - 3_600_000))
    partials = [views.view_partials(frame.slice(index, 1)) for index in range(frame.height)]
    merged = views.merge_view_partials(partials[::-1])
    row = merged.row(0, named=True)
    assert (row["startup_ms"], row["end_reason"], row["country"]) == (800, "user_exit", "DE")
    assert (row["started"], row["ended"], row["failed"]) == (True, True, False)
    assert (row["played_ms"], row["max_playhead_ms"], row["event_count"]) == (29_000, 29_000, 6)


def tied_session_events(at_ms: int) -> list[dict[str, Any]]:
    """A session whose first events, starts and ends each tie on the millisecond, and
    another session's events at the same milliseconds."""
    base = {"creator_id": "cr_x", "content_id": "vod_x", "content_type": "vod"}
    tied = {**base, "session_id": "s_tied"}
    other = {**base, "session_id": "s_other", "country": "AR"}
    return [
        event("play_requested", at_ms, **{**tied, "country": "US"}),
        event("heartbeat", at_ms, played_ms=0, **{**tied, "country": "BR"}),
        event("play_requested", at_ms, **other),
        event("playback_started", at_ms + 1_000, startup_ms=900, **tied),
        event("playback_started", at_ms + 1_000, startup_ms=400, **tied),
        event("playback_started", at_ms + 1_000, startup_ms=100, **other),
        event("playback_ended", at_ms + 9_000, reason="completed", played_ms=1, **tied),
        event("playback_ended", at_ms + 9_000, reason="user_exit", played_ms=1, **tied),
    ]


def test_view_merge_breaks_ties_by_the_whole_order() -> None:
    """Tied rows pick the least country, the least startup and the greatest end reason,
    whatever the order and split of the events."""
    frame = log_records(tied_session_events(int(time.time() * 1000) - 3_600_000))
    rng = random.Random(5)
    for _ in range(12):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rng.randrange(1 << 30))
        cut = rng.randrange(frame.height + 1)
        parts = [shuffled.head(cut), shuffled.tail(frame.height - cut)]
        for merged in (
            views.view_partials(shuffled),
            views.merge_view_partials([views.view_partials(part) for part in parts]),
        ):
            tied = merged.filter(pl.col("session_id") == "s_tied").row(0, named=True)
            assert (tied["country"], tied["startup_ms"], tied["end_reason"]) == (
                "BR",
                400,
                "user_exit",
            )
            other = merged.filter(pl.col("session_id") == "s_other").row(0, named=True)
            assert (other["country"], other["startup_ms"]) == ("AR", 100)


@pytest.fixture(scope="module")
def property_records() -> pl.DataFrame:
    lines, _ = golden_log_lines()
    golden = records.parse_segment("golden", b"".join(lines)).frame
    at_ms = int(time.time() * 1000) - 3_600_000
    extra = log_records(
        engagement_events(at_ms)
        + restarted_session_events(at_ms)
        + [e for e in ad_scenario()["events_in_delivery_order"] if e["type"].startswith("ad_")]
    )
    return aggregates.deduplicate(pl.concat([golden, extra]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_partials_merge_alike_whatever_the_partition_order_and_grouping(
    property_records: pl.DataFrame, data: st.DataObject
) -> None:
    rows = property_records.height
    parts_count = data.draw(st.integers(1, 6), label="parts")
    assignment = data.draw(
        st.lists(st.integers(0, parts_count - 1), min_size=rows, max_size=rows), label="parts"
    )
    order = data.draw(st.permutations(range(parts_count)), label="order")
    split = data.draw(st.integers(0, parts_count), label="grouping")
    batches = property_records.with_columns(pl.Series("_part", assignment))
    frames = [batches.filter(pl.col("_part") == part).drop("_part") for part in order]
    for name, partial, merge in all_outputs():
        whole = partial(property_records)
        partials = [partial(frame) for frame in frames]
        flat = merge(partials)
        nested = merge([merge(partials[:split]), merge(partials[split:])])
        again = merge([flat, merge([])])
        for merged in (flat, nested, again):
            assert merged.columns == whole.columns, name
            assert_frame_equal(merged, whole, check_row_order=False)


def test_engagement_tables_count_each_event_once(property_records: pl.DataFrame) -> None:
    creators = aggregates.CREATOR_MINUTES.partial(property_records)
    assert creators.select("follows", "unfollows").sum().row(0) == (2, 1)
    tips = (
        aggregates.TIP_MINUTES.partial(property_records)
        .group_by("currency")
        .agg(pl.col("tips").sum(), pl.col("tips_amount_minor").sum())
    )
    assert sorted(tips.iter_rows()) == [("EUR", 2, 700), ("USD", 1, 300)]
    minutes = aggregates.minute_aggregates(property_records)
    live = minutes.filter(pl.col("content_id") == "live_x").select(
        "chat_messages", "shares", "reactions"
    )
    assert live.sum().row(0) == (1, 1, 1)
    assert "" not in minutes["content_id"].to_list(), "follows and tips stay out"
    reactions = aggregates.REACTION_MINUTES.partial(property_records)
    by_code = reactions.group_by("content_id", "reaction").agg(pl.col("reactions").sum())
    assert sorted(by_code.iter_rows()) == [
        ("live_x", "clap", 1),
        ("story_g_1", "fire", 2),
        ("story_g_1", "heart", 1),
    ]


def test_story_facts_keep_the_first_view_and_every_reaction() -> None:
    at = int(time.time() * 1000) - 3_600_000
    story = {"creator_id": "cr_x", "content_id": "story_x", "content_type": "story"}
    react = {"creator_id": "cr_x", "target_id": "story_x", "target_type": "story"}
    frame = log_records(
        [
            event("story_viewed", at + 5_000, story_id="story_x", **story),
            event("story_viewed", at, story_id="story_x", **story),
            event("story_completed", at + 9_000, **story),
            event("reaction_added", at + 6_000, reaction="fire", **react),
            event("reaction_added", at + 7_000, reaction="fire", **react),
        ]
    )
    halves = [viewer_facts.STORY_VIEWERS.partial(part) for part in (frame.head(2), frame.tail(3))]
    facts = viewer_facts.STORY_VIEWERS.merge(halves)
    key = viewer_key("v_extra")
    assert facts.rows() == [
        ("story_x", key, "completed", at + 9_000, ""),
        ("story_x", key, "reacted", at + 6_000, "fire"),
        ("story_x", key, "reacted", at + 7_000, "fire"),
        ("story_x", key, "viewed", at, ""),
    ]


def test_startup_histogram_bucket_edges() -> None:
    values = [0, 249, 250, 499, 500, 999, 1000, 1999, 2000, 3999, 4000, 7999, 8000, 120_000]
    base = {"creator_id": "c", "content_id": "vod_1", "content_type": "vod", "session_id": "s"}
    minute_start = (int(time.time() * 1000) - 3_600_000) // 60_000 * 60_000
    frame = log_records(
        [
            event("playback_started", minute_start + i, startup_ms=v, **base)
            for i, v in enumerate(values)
        ]
    )
    sums = aggregates.minute_aggregates(frame).select(aggregates.STARTUP_BUCKETS).sum()
    assert sums.row(0) == (2, 2, 2, 2, 2, 2, 2)


def session_events(session: str, start_ms: int) -> list[dict[str, Any]]:
    """A view whose player goes silent after play_requested and comes back 2 minutes later."""
    base = {"creator_id": "cr_x", "content_id": "vod_x", "content_type": "vod"}
    base["session_id"] = session
    return [
        event("play_requested", start_ms, **base),
        event("playback_started", start_ms + 120_000, startup_ms=1_200, **base),
        event(
            "heartbeat",
            start_ms + 130_000,
            played_ms=10_000,
            bitrate_kbps=2_000,
            playhead_ms=10_000,
            **base,
        ),
        event(
            "playback_ended",
            start_ms + 135_000,
            reason="completed",
            played_ms=5_000,
            bitrate_kbps=2_000,
            playhead_ms=15_000,
            **base,
        ),
    ]


def test_a_dropped_view_that_resumes_is_one_view() -> None:
    start = int(time.time() * 1000) - 3_600_000
    frame = log_records(session_events("s_resumed", start))
    before, after = frame.head(1), frame.tail(3)
    dropped = views.finalize_views(views.view_partials(before), {"vod_x": 15_000}, start + 61_000)
    assert dropped.select("view_state", "ebvs", "started").row(0) == ("dropped", True, False)
    still_open = views.finalize_views(
        views.view_partials(before), {"vod_x": 15_000}, start + 60_000
    )
    assert still_open.select("view_state", "ebvs").row(0) == ("open", False)
    merged = views.merge_view_partials([views.view_partials(after), views.view_partials(before)])
    resumed = views.finalize_views(merged, {"vod_x": 15_000}, start + 200_000)
    assert resumed.height == 1
    row = resumed.row(0, named=True)
    assert (row["view_state"], row["ebvs"], row["started"], row["completed"]) == (
        "ended",
        False,
        True,
        True,
    )
    assert (row["startup_ms"], row["played_ms"], row["watched_ms"]) == (1_200, 15_000, 16_200)
    assert (row["view_start_ms"], row["event_count"], row["avg_bitrate_kbps"]) == (
        start,
        4,
        2_000.0,
    )


@pytest.fixture(scope="module")
def resumed_lake(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """Two runs: the first sees a view start and go quiet, the second its resumption."""
    layout = DataLayout(tmp_path_factory.mktemp("resumed"))
    runner = LocalRunner(layout)
    start = int(time.time() * 1000) - 3_600_000
    session = session_events("s_resumed", start)
    enricher = Enricher(Pseudonymiser(PSEUDONYM_KEY), 300, 7 * 86400)
    for index, batch in enumerate([session[:1], session[1:] + engagement_events(start)]):
        raw = [json.dumps(e).encode() for e in batch]
        result = ingest_events(raw, None, APP_ID, int(time.time() * 1000), None, enricher)
        write_segments(layout, [bytes(result.log_bytes).splitlines(keepends=True)], index * 10)
        assert runner.run_once() is not None
    return layout


def test_a_view_resumed_in_a_later_run_counts_once(resumed_lake: DataLayout) -> None:
    partials = read_lake(resumed_lake, VIEW_SUMMARIES)
    assert partials.filter(pl.col("session_id") == "s_resumed").height == 2, "one per run"
    merged = views.merge_view_partials([partials])
    final = views.finalize_views(merged, {"vod_x": 15_000}, int(time.time() * 1000))
    row = final.filter(pl.col("session_id") == "s_resumed").row(0, named=True)
    assert (row["view_state"], row["ebvs"], row["started"], row["played_ms"]) == (
        "ended",
        False,
        True,
        15_000,
    )
    assert row["event_count"] == 4


def test_creator_and_tip_tables_land_per_run(resumed_lake: DataLayout) -> None:
    creators = read_lake(resumed_lake, CREATOR_MINUTE_AGGREGATES)
    assert creators.select("follows", "unfollows").sum().row(0) == (2, 1)
    assert set(creators["country"]) == {"DE"}
    tips = read_lake(resumed_lake, TIP_MINUTE_AGGREGATES)
    totals = tips.group_by("currency").agg(pl.col("tips_amount_minor").sum()).sort("currency")
    assert totals.rows() == [("EUR", 700), ("USD", 300)]
    reactions = read_lake(resumed_lake, REACTION_MINUTE_AGGREGATES)
    assert reactions.select("content_id", "content_type", "reaction").rows() == [
        ("live_x", "live", "clap")
    ]
    minutes = read_lake(resumed_lake, MINUTE_AGGREGATES).filter(pl.col("content_id") == "live_x")
    assert minutes.select("chat_messages", "shares", "reactions").sum().row(0) == (1, 1, 1)


def test_deduplication_keeps_the_copy_received_first() -> None:
    """Of an event's copies the first received stays (ties: the earlier corrected time),
    whatever their order in the batch; events without copies all stay."""
    copies = pl.DataFrame(
        {
            "event_id": ["a", "b", "a", "c", "a", "b"],
            "received_at_ms": [30, 5, 10, 7, 10, 5],
            "event_time_ms": [1, 9, 4, 2, 3, 8],
            "tag": ["a-late", "b-later-time", "a-tie-later", "c", "a-first", "b-first"],
        }
    )
    for seed in range(5):
        shuffled = copies.sample(fraction=1.0, shuffle=True, seed=seed)
        kept = aggregates.deduplicate(shuffled).sort("event_id")["tag"].to_list()
        assert kept == ["a-first", "b-first", "c"]


def test_deduplication_keeps_distinct_ids_whose_hashes_collide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Repeated ids are found by their hash; ids that only share a hash all stay. Every
    hash is made equal here, the worst collision there can be."""
    monkeypatch.setattr(pl.Expr, "hash", lambda self, *_: self.is_null().cast(pl.UInt64))
    frame = pl.DataFrame(
        {
            "event_id": ["a", "b", "c", "a", "d"],
            "received_at_ms": [2, 1, 1, 1, 1],
            "event_time_ms": [0, 0, 0, 0, 0],
        }
    )
    kept = aggregates.deduplicate(frame)
    assert kept.sort("event_id").rows() == [("a", 1, 0), ("b", 1, 0), ("c", 1, 0), ("d", 1, 0)]
