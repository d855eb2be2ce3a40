"""A load generator in its own process: posts request bodies over N keep-alive connections.

`python -m benchmarks.loadgen URL WRITE_KEY BODIES_FILE CONCURRENCY` prints one JSON line:
accepted events, seconds, and p50/p99 latency in ms.

It speaks HTTP/1.1 from an asyncio Protocol on uvloop, with every request's bytes built
before the clock starts: a general-purpose client (httpx) costs more CPU per request than
the API under test, and on a 2-core machine the load generator's cost would be measured as
the API's. Each answer is still checked: status 202 and the accepted count of its body.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

import uvloop


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends the next request when the previous answer is in."""

    def __init__(
        self, requests: list[bytes], latencies: list[float], done: asyncio.Future[int]
    ) -> None:
        self.requests = requests
        self.latencies = latencies
        self.done = done
        self.buffer = bytearray()
        self.accepted = 0
        self.started = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send_next()

    def _send_next(self) -> None:
        assert self.transport is not None
        if not self.requests:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(self.accepted)
            return
        self.started = time.perf_counter()
        self.transport.write(self.requests.pop())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        start = head.index(b"content-length:") + len(b"content-length:")
        line_end = head.find(b"\r\n", start)
        length = int(head[start : line_end if line_end >= 0 else len(head)])
        if len(self.buffer) < end + 4 + length:
            return
        payload = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.latencies.append((time.perf_counter() - self.started) * 1000)
        if not head.startswith(b"http/1.1 202 "):
            error = RuntimeError(f"unexpected answer: {head[:40]!r} {payload[:200]!r}")
            self.done.set_exception(error)
            return
        self.accepted += json.loads(payload)["accepted"]
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or RuntimeError("connection closed early"))


async def run(url: str, key: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        f"POST {parts.path} HTTP/1.1\r\nHost: {host}\r\nX-Write-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
        for body in reversed(bodies)
    ]
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    futures = []
    for _ in range(concurrency):
        done: asyncio.Future[int] = loop.create_future()
        await loop.create_connection(
            functools.partial(_Connection, requests, latencies, done), host, port
        )
        futures.append(done)
    counts = await asyncio.gather(*futures)
    seconds = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "accepted": sum(counts),
        "seconds": seconds,
        "p50_ms": quantiles[49],
        "p99_ms": quantiles[98],
    }


def main() -> None:
    url, key, path, concurrency = sys.argv[1:5]
    with open(path, "rb") as handle:
        bodies = [line for line in handle.read().splitlines() if line]
    print(json.dumps(uvloop.run(run(url, key, bodies, int(concurrency)))))


if __name__ == "__main__":
    main()
