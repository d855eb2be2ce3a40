"""A segment-file event log on local disk: append, fsync, seal, read, recover.

Records are NDJSON lines (one JSON object per line, never containing a newline). A writer
appends to `<name>.open`; sealing fsyncs it and renames it to `<name>.seg` atomically, so a
reader that lists `*.seg` only ever sees complete, immutable segments. Segment names start
with the creation time in milliseconds, so sorting names orders segments by creation.

After a crash an `.open` file may end in a torn record (a write the kernel persisted only in
part). Recovery truncates it after the last newline, which is the end of the last complete
record, and seals it: a torn record is detected and never half-read. Records of an
unacknowledged write may survive a crash; they are harmless because the pipeline
deduplicates by `event_id`.

Each writer holds an exclusive `flock` on its open segment, so recovery never seals a
segment that a live writer (another worker process) is still appending to.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from marquee.durable import fsync_path

_sync_data = getattr(os, "fdatasync", os.fsync)

OPEN_SUFFIX = ".open"
SEALED_SUFFIX = ".seg"


class SegmentWriter:
    """Appends records to the open segment of one writer process; one thread at a time.

    `write` only hands bytes to the kernel; `sync` makes everything written so far durable.
    `written` and `synced` count bytes across segments (sealing does not reset them), so
    `synced == written` says everything written is durable; the group commit answers a
    round's waiters only after its sync, so it reads neither.
    """

    def __init__(self, directory: Path, max_bytes: int, max_age_s: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.writer_id = uuid.uuid4().hex[:8]
        self._counter = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._segment_bytes = 0
        self.written = 0
        """Bytes handed to the kernel since this writer started."""
        self.synced = 0
        """Bytes known durable (fsynced) since this writer started."""
        directory.mkdir(parents=True, exist_ok=True)

    def _open_new_segment(self) -> int:
        self._counter += 1
        name = f"{int(time.time() * 1000):013d}-{self.writer_id}-{self._counter:06d}"
        path = self.directory / f"{name}{OPEN_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fsync_path(self.directory)
        self._fd, self._path = fd, path
        self._opened_at = time.monotonic()
        self._segment_bytes = 0
        return fd

    def write(self, data: bytes) -> int:
        """Append whole records (bytes ending in a newline); return the end position.

        A write that fails part-way (disk full, file too large) is cut back off the segment,
        so the next record never lands glued to a torn one. If even the cut fails, the
        segment is abandoned to recovery, which cuts the torn tail when it seals it.
        """
        fd = self._fd if self._fd is not None else self._open_new_segment()
        view = memoryview(data)
        try:
            while view:
                done = os.write(fd, view)
                view = view[done:]
        except OSError:
            self._undo_partial_write(fd)
            raise
        self._segment_bytes += len(data)
        self.written += len(data)
        return self.written

    def _undo_partial_write(self, fd: int) -> None:
        try:
            os.ftruncate(fd, self._segment_bytes)
        except OSError:
            self._fd = self._path = None
            os.close(fd)

    def sync(self) -> None:
        """Make everything written before the call durable.

        `fdatasync` where the system has it: it flushes the data and the file size (what
        reading the records back needs) but not the modification time, a third cheaper
        than fsync here on a segment that only grows. The segment's name is made durable
        when it is created and again when it is sealed (an fsync of the directory).
        """
        target = self.written
        if self._fd is not None:
            _sync_data(self._fd)
        self.synced = max(self.synced, target)

    def should_seal(self) -> bool:
        if self._fd is None or self._segment_bytes == 0:
            return False
        too_big = self._segment_bytes >= self.max_bytes
        too_old = time.monotonic() - self._opened_at >= self.max_age_s
        return too_big or too_old

    def seal(self) -> Path | None:
        """Make the open segment durable and immutable (`.seg`); the next write opens anew."""
        if self._fd is None or self._path is None:
            return None
        self.sync()
        fd, path = self._fd, self._path
        self._fd = self._path = None
        if self._segment_bytes == 0:
            os.close(fd)
            path.unlink()
            return None
        sealed = path.with_suffix(SEALED_SUFFIX)
        os.rename(path, sealed)
        fsync_path(self.directory)
        os.close(fd)
        return sealed

    def close(self) -> Path | None:
        return self.seal()


def sealed_segments(directory: Path) -> list[Path]:
    """Every sealed segment, oldest first."""
    if not directory.exists():
        return []
    return sorted(directory.glob(f"*{SEALED_SUFFIX}"))


def read_segment(path: Path) -> bytes:
    """The records of a sealed segment, as NDJSON bytes."""
    return path.read_bytes()


def iter_records(path: Path) -> Iterator[bytes]:
    """Each record of a sealed segment, without its newline."""
    for line in read_segment(path).splitlines():
        if line:
            yield line


def iter_sealed_records(directory: Path) -> Iterator[bytes]:
    """Each record of every sealed segment in a log directory, oldest segment first."""
    for segment in sealed_segments(directory):
        yield from iter_records(segment)


def recover_open_segments(directory: Path) -> list[Path]:
    """Seal the open segments that no live writer holds, cutting any torn final record.

    Returns the sealed paths. Call it when a writer starts, and before a pipeline run
    when the API may have crashed.
    """
    recovered: list[Path] = []
    if not directory.exists():
        return recovered
    for path in sorted(directory.glob(f"*{OPEN_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            data = path.read_bytes()
            complete = data.rfind(b"\n") + 1
            if complete < len(data):
                os.ftruncate(fd, complete)
            os.fsync(fd)
            if complete == 0:
                path.unlink()
                continue
            sealed = path.with_suffix(SEALED_SUFFIX)
            os.rename(path, sealed)
            recovered.append(sealed)
        finally:
            os.close(fd)
    if recovered:
        fsync_path(directory)
    return recovered
