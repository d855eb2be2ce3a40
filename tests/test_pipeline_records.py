"""Log records parse the same from a segment file (DuckDB) and from bytes (Polars).

Local mode parses segment files with DuckDB's JSON reader and the streaming job parses
messages with Polars; both must give the frame every output is computed from, and both
must turn only the unusable lines of a segment into dead letters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from pipelines.records import LOG_RECORD_SCHEMA, duckdb_frame, parse_segment, read_segment
from tests.support.segments import golden_log_lines, totals, write_segments

pytestmark = pytest.mark.unit

AWKWARD_RECORDS = [
    # Escapes, non-ASCII text and a field of another JSON type on each event kind.
    {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "type": "chat_message",
        "event_time_ms": 1_700_000_000_000,
        "platform": "web",
        "live_id": 'live "quoted" \\ back\u00e9\U0001f600',
        "position": 3,
        "extra": {"nested": [1, {"deep": None}]},
    },
    {
        "event_id": "00000000-0000-4000-8000-000000000002",
        "type": "ad_quartile",
        "event_time_ms": 1_700_000_000_001,
        "platform": "ios",
        "position": "pre",
        "quartile": 75,
        "fatal": None,
        "country": None,
    },
    {
        "event_id": "00000000-0000-4000-8000-000000000003",
        "type": "playback_error",
        "event_time_ms": -1,
        "platform": "android",
        "fatal": True,
        "amount_minor": 9_007_199_254_740_993,
    },
]


def test_a_segment_file_parses_as_its_bytes_do(tmp_path: Path) -> None:
    lines, _ = golden_log_lines()
    awkward = [json.dumps(record).encode() + b"\n" for record in AWKWARD_RECORDS]
    data = b"".join([*lines, b"\n", *awkward])
    path = tmp_path / "1700000000000-test0000-000000.seg"
    path.write_bytes(data)

    from_file = duckdb_frame([path])
    from_bytes = parse_segment(path.name, data)

    assert from_bytes.bad_lines == []
    assert from_file.schema == LOG_RECORD_SCHEMA
    assert from_file.height == len(lines) + len(AWKWARD_RECORDS)
    assert_frame_equal(from_file, from_bytes.frame)
    assert from_file["live_id"][len(lines)] == AWKWARD_RECORDS[0]["live_id"]
    assert_frame_equal(read_segment(path).frame, from_file)


def test_a_torn_last_line_is_the_only_bad_line(tmp_path: Path) -> None:
    lines, _ = golden_log_lines()
    path = tmp_path / "1700000000000-test0000-000000.seg"
    path.write_bytes(b"".join(lines) + lines[0][:25])

    batch = read_segment(path)

    assert batch.frame.height == len(lines)
    assert batch.bad_lines == [("unparseable_record", lines[0][:25].decode())]


def test_lines_no_column_can_hold_are_dead_letters_and_the_run_goes_on(tmp_path: Path) -> None:
    """Invalid UTF-8, an integer past 64 bits and an object where a number belongs each
    used to stop every retry of the run at the same segment."""
    lines, expected = golden_log_lines()
    unfit = [
        b'{"event_id":"bad\xff","type":"heartbeat","event_time_ms":1,"platform":"web"}\n',
        b'{"event_id":"x","type":"heartbeat","event_time_ms":99999999999999999999}\n',
        b'{"event_id":"y","type":"heartbeat","event_time_ms":1,"startup_ms":{"ms":1}}\n',
    ]
    layout = DataLayout(tmp_path)
    write_segments(layout, [[*lines[:10], *unfit, *lines[10:]]])
    segment = next(layout.log_dir.iterdir())

    batch = read_segment(segment)
    assert batch.frame.height == len(lines)
    assert [reason for reason, _ in batch.bad_lines] == ["unparseable_record"] * 3
    assert parse_segment(segment.name, segment.read_bytes()).bad_lines == batch.bad_lines

    stats = LocalRunner(layout).run_once()
    assert stats is not None and stats.dead_letters == 3
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]


def test_a_segment_under_a_path_duckdb_would_glob_is_read_alone(tmp_path: Path) -> None:
    """`log?/a.seg` as a DuckDB pattern also names `logX/a.seg`."""
    lines, _ = golden_log_lines()
    for folder, part in (("log?", lines[:5]), ("logX", lines[5:])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.seg").write_bytes(b"".join(part))

    assert read_segment(tmp_path / "log?" / "a.seg").frame.height == 5
