"""Dead letters: the records a pipeline could not use, and the one list of reasons.

Both modes set records aside with these reasons (`pipelines.validation` for unusable
records, `content_types` for type conflicts, `streaming.DropTooLate` for records too late)
on the output tagged `DEAD_LETTERS`, the name of the lake table they land in. A light
module (Polars only), so the segment reader names its reason from here too.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl

from marquee.lake import DEAD_LETTERS

__all__ = ["DEAD_LETTERS", "Reason", "dead_letter_frame", "payloads"]


class Reason(StrEnum):
    """Why a record became a dead letter: the `reason` column of `dead_letters`."""

    UNPARSEABLE_RECORD = "unparseable_record"
    """Not a JSON object in UTF-8, or a value its column cannot hold (an integer past
    64 bits, an object where a number belongs)."""
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_EVENT_ID = "invalid_event_id"
    CONTENT_TYPE_CONFLICT = "content_type_conflict"
    """Names another type than the one decided for its content (`content_types`)."""
    BEYOND_ALLOWED_LATENESS = "beyond_allowed_lateness"
    """Streaming only: its window had expired when it arrived (`streaming.DropTooLate`)."""


def dead_letter_frame(segment: str, reason: str, payloads: list[str]) -> pl.DataFrame:
    """Dead letters of one segment and reason (`segment`, `reason`, `payload`)."""
    return pl.DataFrame(
        {
            "segment": [segment] * len(payloads),
            "reason": [str(reason)] * len(payloads),
            "payload": payloads,
        },
        schema={"segment": pl.Utf8, "reason": pl.Utf8, "payload": pl.Utf8},
    )


def payloads(frame: pl.DataFrame) -> list[str]:
    """Each record of a frame as a JSON line: the payload of a parsed record's dead letter."""
    return [line for line in frame.write_ndjson().splitlines() if line]
