"""Log records parse the same from a segment file (DuckDB) and from bytes (Polars).

Local mode parses segment files with DuckDB's JSON reader and the streaming job parses
messages with Polars; both must give the frame every output is computed from.
"""

from __future__ import annotations

import json
from pathlib import Path

from polars.testing import assert_frame_equal

from pipelines.records import LOG_RECORD_SCHEMA, parse_segment, read_segment
from tests.test_pipeline_local import golden_log_lines

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

    from_file = read_segment(path)
    from_bytes = parse_segment(path.name, data)

    assert from_file.bad_lines == from_bytes.bad_lines == []
    assert from_file.frame.schema == LOG_RECORD_SCHEMA
    assert from_file.frame.height == len(lines) + len(AWKWARD_RECORDS)
    assert_frame_equal(from_file.frame, from_bytes.frame)
    assert from_file.frame["live_id"][len(lines)] == AWKWARD_RECORDS[0]["live_id"]


def test_a_torn_last_line_is_the_only_bad_line(tmp_path: Path) -> None:
    lines, _ = golden_log_lines()
    path = tmp_path / "1700000000000-test0000-000000.seg"
    path.write_bytes(b"".join(lines) + lines[0][:25])

    batch = read_segment(path)

    assert batch.frame.height == len(lines)
    assert batch.bad_lines == [("unparseable_record", lines[0][:25].decode())]
