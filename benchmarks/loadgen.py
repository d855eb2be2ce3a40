"""A load generator in its own process: posts request bodies with N concurrent connections.

`python -m benchmarks.loadgen URL WRITE_KEY BODIES_FILE CONCURRENCY` prints one JSON line:
accepted events, seconds, and p50/p99 latency in ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import httpx


async def run(url: str, key: str, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    accepted = 0
    headers = {"X-Write-Key": key, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            accepted += response.json()["accepted"]

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "accepted": accepted,
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
