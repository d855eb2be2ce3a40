"""The segment log on a real directory: sealing, torn records, live writers, group commit."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from marquee.eventlog.group_commit import GroupCommitLog, LogUnavailable
from marquee.eventlog.segments import (
    OPEN_SUFFIX,
    SegmentWriter,
    iter_records,
    recover_open_segments,
    sealed_segments,
)

pytestmark = pytest.mark.unit


def test_sealed_segment_holds_every_record(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_bytes=1 << 20, max_age_s=60)
    writer.write(b'{"a":1}\n{"a":2}\n')
    writer.write(b'{"a":3}\n')
    sealed = writer.seal()
    assert sealed is not None and sealed.suffix == ".seg"
    assert list(iter_records(sealed)) == [b'{"a":1}', b'{"a":2}', b'{"a":3}']
    assert list(tmp_path.glob(f"*{OPEN_SUFFIX}")) == []


def test_size_rotation_and_ordering(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_bytes=5, max_age_s=60)
    for index in range(3):
        writer.write(f'{{"i":{index}}}\n'.encode())
        assert writer.should_seal()
        writer.seal()
    records = [record for path in sealed_segments(tmp_path) for record in iter_records(path)]
    assert records == [b'{"i":0}', b'{"i":1}', b'{"i":2}']


def test_recovery_cuts_a_torn_final_record(tmp_path: Path) -> None:
    torn = tmp_path / f"0000000000001-deadbeef-000001{OPEN_SUFFIX}"
    torn.write_bytes(b'{"a":1}\n{"a":2}\n{"a":')
    recovered = recover_open_segments(tmp_path)
    assert [path.name for path in recovered] == ["0000000000001-deadbeef-000001.seg"]
    assert list(iter_records(recovered[0])) == [b'{"a":1}', b'{"a":2}']


def test_recovery_drops_an_open_segment_with_no_complete_record(tmp_path: Path) -> None:
    (tmp_path / f"0000000000001-deadbeef-000001{OPEN_SUFFIX}").write_bytes(b'{"a":')
    assert recover_open_segments(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_recovery_leaves_a_live_writers_segment_alone(tmp_path: Path) -> None:
    live = tmp_path / f"0000000000001-cafecafe-000001{OPEN_SUFFIX}"
    live.write_bytes(b'{"a":1}\n')
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert recover_open_segments(tmp_path) == []
        assert live.exists()
    finally:
        os.close(fd)
    assert len(recover_open_segments(tmp_path)) == 1


def test_group_commit_shares_fsyncs_and_loses_nothing(tmp_path: Path) -> None:
    async def scenario() -> int:
        log = GroupCommitLog(tmp_path, max_bytes=1 << 20, max_age_s=60)
        await asyncio.gather(*(log.append(f'{{"i":{i}}}\n'.encode()) for i in range(200)))
        assert log.writer.synced == log.writer.written
        fsyncs = log.fsyncs
        await log.close()
        return fsyncs

    fsyncs = asyncio.run(scenario())
    records = [record for path in sealed_segments(tmp_path) for record in iter_records(path)]
    assert sorted(records) == sorted(f'{{"i":{i}}}'.encode() for i in range(200))
    assert fsyncs < 200


def test_a_failed_commit_round_fails_all_its_appends_and_the_next_round_works(
    tmp_path: Path,
) -> None:
    """The disk fills up under a round of many appends (/dev/full in place of the open
    segment): every append of the round fails and none is acknowledged; then a new segment
    takes the next appends. The abandoned segment is sealed by recovery, as at a restart."""

    async def scenario() -> list[BaseException | None]:
        log = GroupCommitLog(tmp_path, max_bytes=1 << 20, max_age_s=60)
        await log.append(b'{"i":0}\n')
        assert log.writer._fd is not None
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, log.writer._fd)
        os.close(full)
        failed = await asyncio.gather(
            *(log.append(f'{{"i":{i}}}\n'.encode()) for i in range(1, 50)),
            return_exceptions=True,
        )
        await log.append(b'{"i":50}\n')
        await log.close()
        return failed

    failed = asyncio.run(scenario())
    assert all(isinstance(error, LogUnavailable) for error in failed)
    assert "No space left on device" in str(failed[0])
    assert len(recover_open_segments(tmp_path)) == 1
    records = [record for path in sealed_segments(tmp_path) for record in iter_records(path)]
    assert sorted(records) == [b'{"i":0}', b'{"i":50}']
