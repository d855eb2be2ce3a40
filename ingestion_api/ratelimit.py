"""Rate limits: token buckets per write key (events/s) and per client (requests/s).

Both answer 429 with Retry-After and accept nothing. A bucket holds `rate * burst_s` tokens
and refills at `rate` per second; a request that costs more than a full bucket (a batch
larger than the burst) is let through when the bucket is full and leaves it in debt, so a
large batch is never refused forever. A rate of 0 turns that limit off.

The client is a keyed hash of its address (`scope["client"]`, which uvicorn sets from
X-Forwarded-For only for proxies listed in FORWARDED_ALLOW_IPS); the raw address is never
stored or logged. Rate-limited bodies are not quarantined: the client is expected to retry.

The buckets live behind `RateLimitStore`. `InMemoryRateLimitStore` is the real local one:
buckets are per worker process, so with N workers a client or key may reach up to N times
the configured rate. In production the store is Redis: the same bucket as one Lua script
(read tokens and timestamp, refill, take, write back, PEXPIRE at the refill time) run with
EVALSHA per request, so every worker and host shares one bucket per key. Such a store
needs the client hash salt shared by every process too (derive it from a deployment secret
such as MARQUEE_PSEUDONYM_KEY instead of the per-process random salt used here).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ingestion_api.auth import write_key_of
from ingestion_api.responses import json_response
from marquee.settings import Settings


class RateLimitStore(Protocol):
    """Token buckets by name. Implementations: in memory (local), Redis (production)."""

    async def acquire(self, bucket: str, cost: float, rate: float, capacity: float) -> float:
        """Take `cost` tokens if the bucket holds enough (or is full); return 0.0 then.

        Otherwise take nothing and return the seconds until the request would pass.
        """
        ...


class InMemoryRateLimitStore:
    """Buckets in a dict of one worker process; idle buckets are dropped past `max_buckets`."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self._buckets: dict[str, list[float]] = {}
        """bucket -> [tokens, monotonic time of the last update, capacity / rate]."""

    async def acquire(self, bucket: str, cost: float, rate: float, capacity: float) -> float:
        now = time.monotonic()
        state = self._buckets.get(bucket)
        if state is None:
            if len(self._buckets) >= self.max_buckets:
                self._evict(now)
            state = self._buckets[bucket] = [capacity, now, capacity / rate]
        tokens = min(capacity, state[0] + (now - state[1]) * rate)
        state[1] = now
        needed = min(cost, capacity)
        if tokens >= needed:
            state[0] = tokens - cost
            return 0.0
        state[0] = tokens
        return (needed - tokens) / rate

    def _evict(self, now: float) -> None:
        """Drop full buckets (idle long enough to have refilled); if none, the oldest half."""
        idle = [name for name, state in self._buckets.items() if now - state[1] > state[2]]
        for name in idle:
            del self._buckets[name]
        if len(self._buckets) >= self.max_buckets:
            for name in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[name]


class RateLimiter:
    """The configured limits over a store; one per worker, at `app.state.rate_limiter`."""

    def __init__(self, settings: Settings, store: RateLimitStore, client_salt: bytes) -> None:
        self.store = store
        self.key_rate = settings.rate_limit_key_events_per_s
        self.key_capacity = max(1.0, self.key_rate * settings.rate_limit_burst_s)
        self.client_rate = settings.rate_limit_client_requests_per_s
        self.client_capacity = max(1.0, self.client_rate * settings.rate_limit_burst_s)
        self._salt = hashlib.blake2b(client_salt, digest_size=32).digest()

    @classmethod
    def local(cls, settings: Settings) -> RateLimiter:
        return cls(settings, InMemoryRateLimitStore(), secrets.token_bytes(32))

    def client_id(self, host: str) -> str:
        """A keyed hash of the client address: stable in this process, not reversible."""
        return hashlib.blake2b(host.encode(), key=self._salt, digest_size=12).hexdigest()

    async def write_key_retry_after(self, write_key: str, events: int) -> float:
        if not self.key_rate:
            return 0.0
        return await self.store.acquire(f"k:{write_key}", events, self.key_rate, self.key_capacity)

    async def client_retry_after(self, host: str) -> float:
        if not self.client_rate:
            return 0.0
        bucket = f"c:{self.client_id(host)}"
        return await self.store.acquire(bucket, 1, self.client_rate, self.client_capacity)


def too_many_requests(code: str, detail: str, retry_after_s: float) -> Response:
    """429 with a whole number of seconds in Retry-After (at least 1)."""
    retry_after = str(max(1, math.ceil(retry_after_s)))
    return json_response(429, {"error": code, "detail": detail}, {"Retry-After": retry_after})


async def write_key_limited(limiter: RateLimiter, write_key: str, events: int) -> Response | None:
    """The 429 response when a write key is over its events/s, else None."""
    if not limiter.key_rate:
        return None
    retry_after = await limiter.write_key_retry_after(write_key, events)
    if not retry_after:
        return None
    return too_many_requests(
        "rate_limited_write_key",
        f"write key over {limiter.key_rate:g} events/s",
        retry_after,
    )


async def limit_write_key(request: Request, events: int) -> Response | None:
    """The 429 response when the request's write key is over its events/s, else None."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return await write_key_limited(limiter, write_key_of(request) or "", events)


async def client_limited(limiter: RateLimiter, scope: Scope) -> Response | None:
    """The 429 response when the request's client is over its requests/s, else None."""
    if not limiter.client_rate:
        return None
    client = scope.get("client")
    retry_after = await limiter.client_retry_after(client[0] if client else "")
    if not retry_after:
        return None
    return too_many_requests(
        "rate_limited_client", f"client over {limiter.client_rate:g} requests/s", retry_after
    )


class ClientRateLimitMiddleware:
    """Requests/s per client address on every path under `prefix`, before the route runs."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, prefix: str = "/v1/") -> None:
        self.app = app
        self.limiter = limiter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefix):
            response = await client_limited(self.limiter, scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
