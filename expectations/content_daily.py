"""Expectation suite for the `main.content_daily` mart (one row per content per UTC day).

The same rules dbt tests at build time, checked again on the published data: the columns,
non-null keys, known content types, non-negative measures, a unique (day, content_id) key and
watched time covering played time. The mart counts play requests (`play_requests`), never
views: a column named `views` fails the column set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite

SUITE_NAME = "content_daily"
TABLE = "main.content_daily"

KEY_COLUMNS = ("day", "content_id")
ATTRIBUTE_COLUMNS = ("creator_id", "content_type")
MEASURE_COLUMNS = (
    "play_requests",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "startup_ms_sum",
    "watched_ms",
)
BUILD_COLUMNS = ("last_minute_start_at", "built_at_ms")
"""When the newest minute of the row started, and when the dbt build that wrote it started."""
COLUMNS = (*KEY_COLUMNS, *ATTRIBUTE_COLUMNS, *MEASURE_COLUMNS, *BUILD_COLUMNS)
CONTENT_TYPES = ("live", "vod", "clip", "story")


def build_suite() -> ExpectationSuite:
    """The suite, not yet added to a context."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=SUITE_NAME)
    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=list(COLUMNS), exact_match=True)
    )
    for column in (*KEY_COLUMNS, *ATTRIBUTE_COLUMNS, *BUILD_COLUMNS):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="content_type", value_set=list(CONTENT_TYPES))
    )
    for column in MEASURE_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(KEY_COLUMNS)))
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="watched_ms", column_B="played_ms", or_equal=True
        )
    )
    return suite
