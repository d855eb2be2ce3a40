"""Sealed segment files as the API writes them, and the lake totals the pipeline commits.

The golden scenario's events go through the real validation and enrichment into log lines;
the tests cut them into segments (`random_split`, `write_segments`) and compare the
committed minute totals with the scenario's expected ones.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import duckdb

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.layout import DataLayout
from tests.support.golden import load_scenario

SEGMENTS_CREATED_MS = int(time.time() * 1000)
"""Segment names start with their creation time, as the API names them."""
MEASURES = ("attempts", "starts", "fatal_errors", "played_ms", "stalled_ms")


def golden_log_lines(
    scenario: dict[str, Any] | None = None,
) -> tuple[list[bytes], dict[str, dict[str, int]]]:
    """The golden events as the API would log them, and the expected minute totals.

    Pass the scenario when the caller needs the same rebased times as the log lines.
    """
    scenario = scenario if scenario is not None else load_scenario()
    enricher = Enricher(Pseudonymiser(b"k"), future_horizon_s=300, lateness_horizon_s=7 * 86400)
    raw = [json.dumps(event).encode() for event in scenario["events_in_delivery_order"]]
    result = ingest_events(raw, None, "app", int(time.time() * 1000), None, enricher)
    assert result.accepted == len(raw)
    lines = bytes(result.log_bytes).splitlines(keepends=True)
    return lines, scenario["expected"]["minutes"]["totals_over_all_minutes"]


def write_segments(layout: DataLayout, chunks: list[list[bytes]], start: int = 0) -> None:
    """Each chunk as one sealed segment, named in order from `start` ms after the first."""
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    for offset, chunk in enumerate(chunks):
        name = f"{SEGMENTS_CREATED_MS + start + offset:013d}-test0000-{offset:06d}.seg"
        (layout.log_dir / name).write_bytes(b"".join(chunk))


def totals(layout: DataLayout) -> dict[str, dict[str, int]]:
    """The committed minute aggregates summed per content id, measure by measure."""
    glob = str(layout.lake_dir / "minute_aggregates" / "*.parquet")
    rows = duckdb.execute(
        "select content_id, "
        + ", ".join(f"sum({name})::bigint" for name in MEASURES)
        + " from read_parquet(?) group by content_id",
        [glob],
    ).fetchall()
    return {row[0]: dict(zip(MEASURES, row[1:], strict=True)) for row in rows}


def random_split(lines: list[bytes], rng: random.Random) -> list[list[bytes]]:
    """The lines shuffled and cut into two to six chunks, as `rng` decides."""
    shuffled = lines[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(1, 5)))
    return [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
