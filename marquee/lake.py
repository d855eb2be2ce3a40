"""The tables the pipeline lands for dbt: immutable Parquet files, one per committed run.

DuckDB lets one process write a database file and locks readers out meanwhile, so the
pipeline does not write into the warehouse file dbt builds. It lands each run's outputs as
Parquet files under `lake/<table>/`; dbt reads them through `read_parquet` globs and the
rows of all runs merge at their grain (every output is a mergeable aggregate: sums for the
per-minute tables, the view-partial merge for `view_summaries`, union distinct for the
viewer-level fact sets).

Each table directory always holds `_schema.parquet`, an empty file with the table's
columns, so that globs match even before the first run and dbt sees typed columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from marquee.durable import fsync_path, replace_durably
from marquee.layout import DataLayout

UNKNOWN_COUNTRY = "ZZ"
"""ISO 3166 user-assigned code used when neither the event nor the CDN gave a country."""

MINUTE_AGGREGATES = "minute_aggregates"

STARTUP_BUCKET_EDGES_MS: tuple[int, ...] = (0, 250, 500, 1000, 2000, 4000, 8000)
"""Lower edges of the startup-time histogram buckets (METRICS.md); the last is open-ended."""


def startup_bucket_columns() -> list[str]:
    """`startup_bucket_0_250`, ..., `startup_bucket_8000_inf`: [lower, upper) in ms."""
    uppers = [*(str(edge) for edge in STARTUP_BUCKET_EDGES_MS[1:]), "inf"]
    return [
        f"startup_bucket_{lower}_{upper}"
        for lower, upper in zip(STARTUP_BUCKET_EDGES_MS, uppers, strict=True)
    ]


MINUTE_ADDED_MEASURES: list[str] = [
    *startup_bucket_columns(),
    "story_views",
    "story_completions",
    "story_tap_forward",
    "story_tap_back",
    "story_tap_exit",
    "story_swipe_forward",
    "reactions",
    "chat_messages",
    "shares",
    "ad_impressions",
    "ad_q25",
    "ad_q50",
    "ad_q75",
    "ad_q100",
    "ad_skips",
    "ad_clicks",
    "bitrate_weighted",
]
"""Measures added after the first release of the table. They are nullable in the schema
because run files written before they existed lack them (dbt reads with union_by_name); the
pipeline always writes them, 0 when nothing happened. Sum them like the others."""

MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("attempts", pa.int64(), nullable=False),
        pa.field("starts", pa.int64(), nullable=False),
        pa.field("fatal_errors", pa.int64(), nullable=False),
        pa.field("played_ms", pa.int64(), nullable=False),
        pa.field("stalled_ms", pa.int64(), nullable=False),
        pa.field("stall_count", pa.int64(), nullable=False),
        pa.field("seek_ms", pa.int64(), nullable=False),
        pa.field("startup_ms_sum", pa.int64(), nullable=False),
        *(pa.field(name, pa.int64(), nullable=True) for name in MINUTE_ADDED_MEASURES),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (minutes since the epoch, by event time) x content x platform x country.

A (minute, content, platform, country) key may appear in several runs; its measures sum.
Rows come from events about one piece of content: player, ad, story, reaction (placed on
the reaction's target), chat and share events. Follows, unfollows and tips are about a
creator, not a piece of content, and live in `creator_minute_aggregates` and
`tip_minute_aggregates` instead (giving them an empty content id here would break the
content grain dbt tests: one creator and one content type per content).
`content_impression` events are counted per surface in `impression_minute_aggregates`.

Startup buckets count `playback_started` events by `startup_ms` in [lower, upper);
`story_tap_forward`... count `story_navigated` by action; `ad_q25`... count `ad_quartile` by
quartile; `bitrate_weighted` is the sum of `bitrate_kbps * played_ms` over the events that
carry both (average bitrate = bitrate_weighted / played_ms).
"""

CREATOR_MINUTE_AGGREGATES = "creator_minute_aggregates"

CREATOR_MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("follows", pa.int64(), nullable=False),
        pa.field("unfollows", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (event time) x creator x platform x country; measures sum across runs.

Counts of `follow` and `unfollow` (net followers = follows - unfollows)."""

TIP_MINUTE_AGGREGATES = "tip_minute_aggregates"

TIP_MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("tips", pa.int64(), nullable=False),
        pa.field("tips_amount_minor", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (event time) x creator x currency (ISO 4217); measures sum across runs.

Tips count and the sum of `amount_minor`, kept per currency because a sum across
currencies means nothing. The one home of tip counts (sum over currencies for a total)."""

REACTION_MINUTE_AGGREGATES = "reaction_minute_aggregates"

REACTION_MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("reaction", pa.string(), nullable=False),
        pa.field("reactions", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (event time) x reacted-to content (`target_id`) x reaction code.

`reactions` sums across runs; the same events' total is `minute_aggregates.reactions`. Every
reaction counts here: whether it is valid (story not expired, first per viewer) is decided in
dbt from `story_viewer_facts`."""

IMPRESSION_MINUTE_AGGREGATES = "impression_minute_aggregates"

IMPRESSION_MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("surface", pa.string(), nullable=False),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (event time) x content x surface (EVENTS.md `content_impression`).

`impressions` counts `content_impression` events and sums across runs. The denominator of
the impression click-through rate; its numerator is the views whose `play_requested` named
the same surface (`view_summaries.surface`). Apart from `minute_aggregates`, whose grain
has no surface."""

LIVE_LATENCY_MINUTE_VALUES = "live_latency_minute_values"

LIVE_LATENCY_MINUTE_VALUES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("live_latency_ms", pa.int64(), nullable=False),
        pa.field("heartbeats", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (event time) x live content x `live_latency_ms` value.

`heartbeats` counts the live heartbeats of the minute that carried that latency, and sums
across runs. Every value is kept (a count per distinct value, not a sketch), so dbt ranks
the exact multiset: METRICS.md's p50 and p95 per live session and minute, and over the
whole session, by linear interpolation. Heartbeats of other content types are left out
(EVENTS.md: the field is live only); `content_type` is always `live`, kept so dbt resolves
the content's owner as it does for every per-content minute table."""

VIEW_SUMMARIES = "view_summaries"

VIEW_ADDED_MEASURES: list[str] = ["surface"]
"""Columns of `view_summaries` added after its first release that are merged, not picked
with the descriptive columns: nullable, and null in older run files."""

VIEW_ADDED_ATTRIBUTES: list[str] = ["app_version", "os", "device"]
"""Descriptive columns added after the first release of `view_summaries`: the QoE
dimensions, normalised by `pipelines.dimensions` (`unknown` when the events gave none).
Nullable because older run files lack them; readers take a missing value as `unknown`."""

VIEW_SUMMARIES_SCHEMA = pa.schema(
    [
        pa.field("app_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("first_event_ms", pa.int64(), nullable=False),
        pa.field("last_event_ms", pa.int64(), nullable=False),
        pa.field("play_requested_ms", pa.int64(), nullable=True),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("viewer_key", pa.string(), nullable=False),
        *(pa.field(name, pa.string(), nullable=True) for name in VIEW_ADDED_ATTRIBUTES),
        pa.field("started", pa.bool_(), nullable=False),
        pa.field("started_at_ms", pa.int64(), nullable=True),
        pa.field("startup_ms", pa.int64(), nullable=True),
        pa.field("played_ms", pa.int64(), nullable=False),
        pa.field("stalled_ms", pa.int64(), nullable=False),
        pa.field("stall_count", pa.int64(), nullable=False),
        pa.field("seek_ms", pa.int64(), nullable=False),
        pa.field("failed", pa.bool_(), nullable=False),
        pa.field("ended", pa.bool_(), nullable=False),
        pa.field("ended_at_ms", pa.int64(), nullable=True),
        pa.field("end_reason", pa.string(), nullable=True),
        pa.field("max_playhead_ms", pa.int64(), nullable=True),
        pa.field("bitrate_weighted", pa.int64(), nullable=False),
        pa.field("event_count", pa.int64(), nullable=False),
        pa.field("surface", pa.string(), nullable=True),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Partial view (playback session) summaries. Grain: app x session_id, per run.

The same view appears in every run that saw one of its events; merge the rows of a key with
`pipelines.views.merge_view_partials` (in SQL: min of first_event_ms and play_requested_ms,
max of last_event_ms and max_playhead_ms, sums, bool_or of started/failed/ended; startup_ms
and started_at_ms of the row with the least (started_at_ms, startup_ms); end_reason and
ended_at_ms of the row with the greatest (ended_at_ms, end_reason); the descriptive columns
content_id..device of the row with the least (first_event_ms, content_id, ..., device);
surface, the `play_requested.surface` of the view, the least given: null when none was).
`pipelines.views.finalize_views` derives the METRICS.md per-view fields."""

AD_PLAYS = "ad_plays"

AD_PLAYS_SCHEMA = pa.schema(
    [
        pa.field("app_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("ad_break_id", pa.string(), nullable=False),
        pa.field("ad_id", pa.string(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("position", pa.string(), nullable=True),
        pa.field("ad_format", pa.string(), nullable=True),
        pa.field("first_event_ms", pa.int64(), nullable=False),
        pa.field("impression_ms", pa.int64(), nullable=True),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("reached_q25", pa.bool_(), nullable=False),
        pa.field("reached_q50", pa.bool_(), nullable=False),
        pa.field("reached_q75", pa.bool_(), nullable=False),
        pa.field("reached_q100", pa.bool_(), nullable=False),
        pa.field("skipped", pa.bool_(), nullable=False),
        pa.field("clicked", pa.bool_(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Partial ad plays. Grain: app x session_id x ad_break_id x ad_id (one ad played in one
break of one view), per run.

Built from `ad_impression`, `ad_quartile`, `ad_skipped` and `ad_clicked`; an absent
`ad_break_id` or `ad_id` is ''. The rows of a key merge (`pipelines.ads.merge_ad_plays`):
min of first_event_ms and impression_ms (the first `ad_impression`, null without one), sum
of impressions (`ad_impression` events), bool-or of the quartiles reached, skipped and
clicked, and max of the attributes content_id .. ad_format (every event of a play names
the same; max prefers a named position or format to an absent one, null: the event named
none, and an absent `ad_format` means linear). A play counts on the day of its first
event, which is its impression, so a quartile past midnight stays with its impression
and quartile reach cannot exceed 100 %; plays without an impression are counted apart
(docs/decisions/0001-ad-quartiles.md)."""

STORY_VIEWER_FACTS = "story_viewer_facts"

STORY_VIEWER_FACTS_SCHEMA = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("viewer_key", pa.string(), nullable=False),
        pa.field("fact", pa.string(), nullable=False),
        pa.field("at_ms", pa.int64(), nullable=False),
        pa.field("reaction", pa.string(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Set of story x viewer facts (pseudonymised viewers only); merge = union of distinct
(story_id, viewer_key, fact, at_ms, reaction), ignoring run_id and processed_at_ms.

fact `viewed` / `completed`: at_ms is the earliest such event of the viewer in the run
(readers take the min across runs: first_viewed_ms); fact `reacted`: one row per distinct
(at_ms, reaction code) of a reaction whose target is the story, so dbt can tell valid
reactions (first per viewer, before the story expired) from invalid ones. `reaction` is ''
for the other facts."""

LIVE_VIEWER_FACTS = "live_viewer_facts"

LIVE_VIEWER_FACTS_SCHEMA = pa.schema(
    [
        pa.field("live_id", pa.string(), nullable=False),
        pa.field("viewer_key", pa.string(), nullable=False),
        pa.field("fact", pa.string(), nullable=False),
        pa.field("at_ms", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Set of live x viewer facts; merge = union of distinct (live_id, viewer_key, fact, at_ms),
readers take the min of at_ms per (live_id, viewer_key, fact).

fact `requested` (play_requested: the view starts; first_play_ms), `started`
(playback_started) or `chatted` (chat_message), with the earliest time in the run. Feeds
story-to-live conversion and chatters."""

CREATOR_VIEWER_DAYS = "creator_viewer_days"

CREATOR_VIEWER_DAYS_SCHEMA = pa.schema(
    [
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("viewer_key", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("activity", pa.string(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Set of creator x viewer x UTC day (event time) facts; merge = union of distinct
(creator_id, viewer_key, day, activity).

activity: `view` (any player or ad event of a session), `story` (story viewed, navigated
or completed) or `engagement` (reaction, chat, share, follow, unfollow, tip). Unique
viewers, returning viewers and reach per creator and day come from here."""

DEAD_LETTERS = "dead_letters"

DEAD_LETTERS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("payload", pa.string(), nullable=False),
    ]
)
"""Log records the pipeline could not use, with the reason; one row per record."""

LAKE_TABLES: dict[str, pa.Schema] = {
    MINUTE_AGGREGATES: MINUTE_AGGREGATES_SCHEMA,
    CREATOR_MINUTE_AGGREGATES: CREATOR_MINUTE_AGGREGATES_SCHEMA,
    TIP_MINUTE_AGGREGATES: TIP_MINUTE_AGGREGATES_SCHEMA,
    REACTION_MINUTE_AGGREGATES: REACTION_MINUTE_AGGREGATES_SCHEMA,
    IMPRESSION_MINUTE_AGGREGATES: IMPRESSION_MINUTE_AGGREGATES_SCHEMA,
    LIVE_LATENCY_MINUTE_VALUES: LIVE_LATENCY_MINUTE_VALUES_SCHEMA,
    VIEW_SUMMARIES: VIEW_SUMMARIES_SCHEMA,
    AD_PLAYS: AD_PLAYS_SCHEMA,
    STORY_VIEWER_FACTS: STORY_VIEWER_FACTS_SCHEMA,
    LIVE_VIEWER_FACTS: LIVE_VIEWER_FACTS_SCHEMA,
    CREATOR_VIEWER_DAYS: CREATOR_VIEWER_DAYS_SCHEMA,
    DEAD_LETTERS: DEAD_LETTERS_SCHEMA,
}
"""Every table the pipeline lands, with its schema; each gets `_schema.parquet`."""

ADDED_COLUMNS: dict[str, list[str]] = {
    MINUTE_AGGREGATES: MINUTE_ADDED_MEASURES,
    VIEW_SUMMARIES: [*VIEW_ADDED_ATTRIBUTES, *VIEW_ADDED_MEASURES],
}
"""Per table, the nullable columns added after its first release: run files and warehouse
tables made before them lack them (the Snowflake sink adds them to its tables)."""


def ensure_lake(layout: DataLayout) -> None:
    """Create each table directory with its empty `_schema.parquet`.

    An existing schema file that no longer matches the table's schema (columns were added)
    is replaced, so readers see the new columns before the first run that writes them.
    """
    for table, schema in LAKE_TABLES.items():
        directory = layout.lake_table_dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        schema_file = directory / "_schema.parquet"
        if not schema_file.exists() or not pq.read_schema(schema_file).equals(schema):
            write_table_atomically(schema.empty_table(), schema_file)


def write_table_atomically(table: pa.Table, path: Path, **options: Any) -> None:
    """Write a Parquet file under a temporary name, fsync it, then rename it into place.

    Readers globbing `*.parquet` never see a half-written file, and a rewrite of the same
    run replaces the file whole. `options` go to `pyarrow.parquet.write_table`.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, **options)
    fsync_path(tmp)
    replace_durably(tmp, path)
