"""Raw events: a sample of the event log (its newest sealed segments), as the API wrote them.

The contract of EVENTS.md after enrichment: every field known, the envelope present and
typed, accepted values, delta fields within [0, one hour], event time within the horizons
of the time it was received, and `event_id` unique within a segment once a client's retries
(the same event sent again, which the pipeline drops) count once.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING

import msgspec

from expectations.dataset import Dataset, SuiteBuilder, gx_severity
from marquee import events

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

ENRICHMENT_FIELDS = (
    "type",
    "viewer_key",
    "event_time_ms",
    "client_ts_ms",
    "received_at_ms",
    "app_id",
)
"""What the API adds to or puts in place of an event's fields (viewer_id is pseudonymised
into viewer_key)."""

ENVELOPE = (
    "type",
    "event_id",
    "ts",
    "viewer_key",
    "platform",
    "event_time_ms",
    "received_at_ms",
    "app_id",
)
DELTA_FIELDS = ("played_ms", "stalled_ms", "seek_ms")
RETRY_IDENTITY = ("segment", "event_id", "type", "ts", "event_time_ms", "session_id")
"""A client retrying a request sends the same events again, often into the same segment:
records equal in these fields are one event sent twice (the pipeline drops the repeat), so
the sample keeps one of them; two different events under one id remain a failure."""
PLATFORMS = typing.get_args(events.Platform)
CONTENT_TYPES = typing.get_args(events.ContentType)


def known_fields() -> set[str]:
    """Every field any event type may carry in the log."""
    names = set(ENRICHMENT_FIELDS)
    for cls in typing.get_args(events.Event):
        names.update(field.name for field in msgspec.structs.fields(cls))
    names.discard("viewer_id")
    return names


def load(sources: Sources) -> pd.DataFrame | None:
    frame = sources.segment_sample(
        sources.layout.log_dir, [*ENVELOPE, "content_type", "country", "session_id", *DELTA_FIELDS]
    )
    if frame is None:
        return None
    frame = frame.drop_duplicates(subset=list(RETRY_IDENTITY), ignore_index=True)
    known = known_fields() | {"segment"}
    unknown = [name for name in frame.columns if name not in known]
    frame["unknown_fields"] = None
    for name in unknown:
        present = frame[name].notna()
        frame.loc[present, "unknown_fields"] = frame.loc[present, "unknown_fields"].map(
            lambda prior, name=name: name if prior is None else f"{prior}, {name}"
        )
    offset = frame["event_time_ms"] - frame["received_at_ms"]
    frame["outside_horizons_ms"] = (offset - sources.future_horizon_ms).clip(lower=0) + (
        -sources.lateness_horizon_ms - offset
    ).clip(lower=0)
    frame["label"] = (
        frame["segment"] + " " + frame["type"].astype(str) + " " + frame["event_id"].astype(str)
    )
    return frame.drop(columns=unknown)


def build(suite: SuiteBuilder) -> None:
    import great_expectations.expectations as gxe

    suite.columns(ENVELOPE)
    suite.add(
        gxe.ExpectColumnValuesToBeNull(
            column="unknown_fields",
            severity=gx_severity("critical"),
            description="every field is one of the event contract's (a renamed field is not)",
        )
    )
    suite.not_null(ENVELOPE)
    suite.in_set("type", events.EVENT_TYPES)
    suite.in_set("platform", PLATFORMS)
    suite.in_set("content_type", CONTENT_TYPES)
    suite.matches("event_id", events.EVENT_ID_PATTERN, "a hyphenated UUID")
    suite.matches("country", events.COUNTRY_PATTERN, "an ISO 3166 code", severity="warning")
    suite.between(DELTA_FIELDS, 0, events.MAX_DELTA_MS, why="a delta since the previous event")
    suite.between(
        ["outside_horizons_ms"],
        0,
        0,
        why="event time within the lateness and future horizons of its receipt",
    )
    suite.add(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["segment", "event_id"],
            severity=gx_severity("warning"),
            description="event_id names one event within its segment (a retry repeats it whole)",
        )
    )


DATASET = Dataset(
    name="raw_events",
    layer="raw",
    description="A sample of the event log: its newest sealed segments",
    load=load,
    build=build,
    required=False,
)
