"""A load generator in its own process: posts request bodies over N keep-alive connections.

`python -m benchmarks.loadgen URL WRITE_KEY BODIES_FILE CONCURRENCY` prints one JSON line:
accepted events, seconds, and p50/p99 latency in ms.

It speaks HTTP/1.1 over raw asyncio streams: a general-purpose client (httpx) costs more
CPU per request than the API under test, and on a 2-core machine the load generator's cost
would be measured as the API's.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit


async def _post_all(
    host: str, port: int, path: str, key: str, queue: list[bytes], latencies: list[float]
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    accepted = 0
    try:
        while queue:
            body = queue.pop()
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Write-Key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if b" 202 " not in status_line:
                raise RuntimeError(f"unexpected answer: {status_line!r} {payload[:200]!r}")
            accepted += json.loads(payload)["accepted"]
    finally:
        writer.close()
    return accepted


async def run(url: str, key: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    parts = urlsplit(url)
    queue = list(reversed(bodies))
    latencies: list[float] = []
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(
            _post_all(parts.hostname or "127.0.0.1", parts.port or 80, parts.path, key, queue,
                      latencies)
            for _ in range(concurrency)
        )
    )  # fmt: skip
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
    print(json.dumps(asyncio.run(run(url, key, bodies, int(concurrency)))))


if __name__ == "__main__":
    main()
