"""Ad plays in the lake: every ad event with its play, whatever the runs that saw them.

The ads scenario (`tests.support.ad_scenario`: two breaks in one view, a play straddling midnight
with its impression delivered last, a play whose impression never came) goes through the
real ingestion code and the real LocalRunner under several random splits into segments and
runs; the `ad_plays` files of all runs, merged, must hold one row per play with its
impression's time, its break position and ad format, and the quartiles, skip and click it
saw. That any partition and order of the events merges alike is the property test of every
output in tests/test_pipeline_outputs.py.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import polars as pl
import pytest

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import AD_PLAYS
from marquee.layout import DataLayout
from pipelines.ads import merge_ad_plays
from pipelines.local_runner import LocalRunner
from pipelines.records import read_segment
from tests.support.ad_scenario import ad_scenario, iso
from tests.support.segments import random_split, write_segments

pytestmark = pytest.mark.unit

SEEDS = [21, 22, 23]


def scenario_log_lines() -> tuple[dict[str, object], list[bytes]]:
    """The ads scenario, and its events as the API logs them."""
    scenario = ad_scenario()
    events = scenario["events_in_delivery_order"]
    assert isinstance(events, list)
    enricher = Enricher(Pseudonymiser(b"k"), future_horizon_s=300, lateness_horizon_s=7 * 86400)
    raw = [json.dumps(event).encode() for event in events]
    result = ingest_events(raw, None, "app", int(time.time() * 1000), None, enricher)
    assert result.accepted == len(raw), result.rejected
    return scenario, bytes(result.log_bytes).splitlines(keepends=True)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[DataLayout]]:
    """Midnight in epoch ms, and one lake per seed: random segments, order and runs, the
    straddling play's impression (delivered last) in the last run."""
    scenario, lines = scenario_log_lines()
    assert b'"ad_impression"' in lines[-1] and b'"b_pre2"' in lines[-1]
    layouts = []
    for seed in SEEDS:
        layout = DataLayout(tmp_path_factory.mktemp(f"ads-{seed}"))
        write_segments(layout, [*random_split(lines[:-1], random.Random(seed)), lines[-1:]])
        assert LocalRunner(layout, max_segments_per_run=2).drain() >= 2
        layouts.append(layout)
    midnight = scenario["midnight"]
    return int(midnight.timestamp() * 1000), layouts  # type: ignore[attr-defined]


def merged_plays(layout: DataLayout) -> pl.DataFrame:
    files = pl.read_parquet(str(layout.lake_table_dir(AD_PLAYS) / "*.parquet"))
    return merge_ad_plays([files.drop("run_id", "processed_at_ms")])


def test_each_play_merges_into_one_row_whatever_the_runs(
    lakes: tuple[int, list[DataLayout]],
) -> None:
    midnight_ms, layouts = lakes
    columns = [
        "session_id", "ad_break_id", "ad_id", "position", "ad_format", "impressions",
        "reached_q25", "reached_q50", "reached_q75", "reached_q100", "skipped", "clicked",
    ]  # fmt: skip
    expected = [
        ("s_ads_1", "b_mid", "ad_A", "mid", None, 1, False, False, False, False, False, False),
        ("s_ads_1", "b_mid", "ad_C", "mid", "overlay", 1, True, True, False, False, False, False),
        ("s_ads_1", "b_pre", "ad_A", "pre", None, 1, True, True, True, True, False, True),
        ("s_ads_1", "b_pre", "ad_B", "pre", "linear", 1, True, False, False, False, True, False),
        ("s_ads_2", "b_pre2", "ad_A", "pre", None, 1, True, True, False, False, True, False),
        ("s_ads_3", "b_mid3", "ad_B", "mid", None, 0, True, True, False, False, False, False),
    ]
    for layout in layouts:
        plays = merged_plays(layout)
        assert plays.select(columns).rows() == expected
        assert set(plays["content_id"]) == {"vod_ads"}
        assert set(plays["creator_id"]) == {"cr_ads"}
        straddling = plays.filter(pl.col("session_id") == "s_ads_2").row(0, named=True)
        # The quartiles and the skip after midnight stay with the impression before it.
        assert straddling["impression_ms"] == straddling["first_event_ms"] == midnight_ms - 2_000
        without = plays.filter(pl.col("session_id") == "s_ads_3").row(0, named=True)
        assert without["impression_ms"] is None
        assert without["first_event_ms"] == midnight_ms + 3_600_000 + 63_750


def test_a_story_tray_position_is_read_as_text_on_every_path(tmp_path: Path) -> None:
    """`position` is an integer on story_viewed and a string on ad events. DuckDB reads the
    whole segment; a segment with an unusable line is read line by line, and there too
    the story's position is its text, not a dead letter."""
    story = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "type": "story_viewed",
        "event_time_ms": 1,
        "platform": "web",
        "position": 3,
    }
    ad = {**story, "event_id": "00000000-0000-4000-8000-000000000002", "type": "ad_impression"}
    ad["position"] = "mid"
    lines = [json.dumps(story).encode(), json.dumps(ad).encode()]
    clean = tmp_path / "0000000000001-test0000-000000.seg"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    torn = tmp_path / "0000000000002-test0000-000001.seg"
    torn.write_bytes(b"\n".join([*lines, b'{"torn']) + b"\n")

    for path, bad_lines in ((clean, 0), (torn, 1)):
        batch = read_segment(path)
        assert batch.frame["position"].to_list() == ["3", "mid"]
        assert len(batch.bad_lines) == bad_lines


def test_the_scenario_straddles_a_midnight_inside_the_horizon() -> None:
    scenario = ad_scenario()
    times = sorted(event["ts"] for event in scenario["events_in_delivery_order"])
    assert times[0] < iso(scenario["midnight"]) < times[-1]
