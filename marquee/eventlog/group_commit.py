"""Group commit: one write and one fsync cover every append waiting for them.

An fsync costs milliseconds here; one per request would cap the API near a few hundred
requests/s. Instead each request queues its bytes and waits for the next commit round: a
dedicated thread writes everything queued since the previous round in one write, makes it
durable (`SegmentWriter.sync`), and then every waiter of the round is answered. Under load
many requests share each round, and the event loop makes no write system call at all: a
write to a file that is being synced can wait in the kernel for the pages under writeback,
which stalled the loop when requests wrote their bytes themselves.

Sealing runs in the same thread under the same lock as a round, so a segment is never
closed under a running write or fsync, and a round holds the lock until its fsync is done,
so no write lands in a segment after its final fsync. If a write or fsync fails, every
waiter of the round gets the error and nothing is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from marquee.eventlog.base import EventLog, LogUnavailable
from marquee.eventlog.segments import SegmentWriter, recover_open_segments

__all__ = ["GroupCommitLog", "LogUnavailable"]


class GroupCommitLog(EventLog):
    """An asyncio front for a SegmentWriter: `await append(data)` returns once durable."""

    def __init__(self, directory: Path, max_bytes: int, max_age_s: float) -> None:
        recover_open_segments(directory)
        self.writer = SegmentWriter(directory, max_bytes, max_age_s)
        self._io_lock = asyncio.Lock()
        self._queued: list[bytes] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._committer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="group-commit")
        self._sealer: asyncio.Task[None] | None = None
        self.fsyncs = 0

    async def append(self, data: bytes) -> None:
        if not data:
            return
        done = asyncio.get_running_loop().create_future()
        self._queued.append(data)
        self._waiters.append(done)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_rounds())
        await done
        if self.writer.should_seal():
            await self.seal(only_if_due=True)

    async def _commit_rounds(self) -> None:
        """Commit rounds until nothing is queued; each takes what was queued when it began."""
        loop = asyncio.get_running_loop()
        while self._queued:
            async with self._io_lock:
                queued, self._queued = self._queued, []
                waiters, self._waiters = self._waiters, []
                try:
                    await loop.run_in_executor(self._thread, self._write_and_sync, queued)
                except Exception as exc:
                    error = _unavailable(exc) if isinstance(exc, OSError) else exc
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(error)
                    continue
                self.fsyncs += 1
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def _write_and_sync(self, queued: list[bytes]) -> None:
        self.writer.write(queued[0] if len(queued) == 1 else b"".join(queued))
        self.writer.sync()

    async def seal(self, only_if_due: bool = False) -> Path | None:
        """Seal the open segment in the commit thread, between rounds (under their lock), so
        no write slips in before the rename and the event loop does not wait for the sync,
        the rename and the directory fsync (several milliseconds, twice a second in the
        benchmark). With `only_if_due`, only if it is still old or big enough once the lock
        is taken: every waiter of a round asks, the first one seals."""
        async with self._io_lock:
            if only_if_due and not self.writer.should_seal():
                return None
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self.writer.seal)

    def start(self) -> None:
        self.start_sealer()

    def describe(self) -> str:
        return f"segment log in {self.writer.directory}"

    def start_sealer(self, interval_s: float = 0.25) -> None:
        """Seal the open segment once it is old enough, even when no request arrives."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                if self.writer.should_seal():
                    await self.seal(only_if_due=True)

        self._sealer = asyncio.create_task(loop())

    async def close(self) -> None:
        if self._sealer is not None:
            self._sealer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sealer
        if self._committer is not None:
            await self._committer
        await self.seal()
        self._thread.shutdown(wait=False)


def _unavailable(error: OSError) -> LogUnavailable:
    unavailable = LogUnavailable(str(error))
    unavailable.__cause__ = error
    return unavailable
