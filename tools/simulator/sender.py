"""Posting simulated events to the ingestion API, the way a well-behaved client does.

One batch is one `POST {url}/v1/events` with `X-Write-Key` and the body
`{"sent_at": <now>, "events": [...]}`; the API answers 202 with
`{"accepted": N, "rejected": [{"index": I, "reason": "..."}]}` once the batch is durable.

Connection errors, timeouts, 429 and 5xx mean nothing was acknowledged, so the batch is
sent again after an exponential backoff with jitter (or the server's Retry-After), with the
*same* events: their bytes are encoded once and reused, so every retry carries the same
event ids and the server's deduplication can make the retry harmless. Only `sent_at` is new
on each attempt, because the server uses it to correct the client clock. A 413 splits the
batch in two; any other 4xx is not retried (resending cannot fix it).
"""

from __future__ import annotations

import gzip
import random
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import msgspec

from tools.simulator.clock import now_ms, rfc3339_ms

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one batch after all its attempts."""

    status: int | None
    accepted: int
    rejected: list[dict[str, Any]]
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SenderStats:
    """Event counts: every sent event ends up accepted, rejected or failed (given up)."""

    batches: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None


class Sender:
    """Sends batches with retries; thread-safe, so several workers may share one."""

    def __init__(
        self,
        url: str,
        write_key: str,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 8,
        backoff_s: float = 0.25,
        max_backoff_s: float = 10.0,
        compress: bool = False,
        client: httpx.Client | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/v1/events"
        self.write_key = write_key
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.compress = compress
        self._client = client or httpx.Client(timeout=timeout_s)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._jitter = random.Random()
        self._stats = SenderStats()

    def stats(self) -> SenderStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return replace(self._stats, reasons=Counter(self._stats.reasons))

    def stop(self) -> None:
        """Give up on retries in progress (at shutdown): their batches count as failed."""
        self._stop.set()

    def close(self) -> None:
        self._client.close()

    def send(self, events: list[dict[str, Any]]) -> SendResult:
        """Send one batch (retrying as needed) and count the outcome."""
        if not events:
            return SendResult(None, 0, [], 0)
        with self._lock:
            self._stats.batches += 1
            self._stats.sent += len(events)
        result = self._send_encoded(events, _encoder.encode(events))
        with self._lock:
            stats = self._stats
            stats.accepted += result.accepted
            stats.rejected += len(result.rejected)
            stats.reasons.update(str(item.get("reason")) for item in result.rejected)
            if not result.ok:
                stats.failed += len(events) - result.accepted - len(result.rejected)
                stats.last_error = result.error
        return result

    def _send_encoded(self, events: list[dict[str, Any]], payload: bytes) -> SendResult:
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self._post(payload)
            except httpx.TransportError as exc:
                status: int | None = None
                error = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status in (200, 202):
                    return self._acknowledged(response, len(events), attempt)
                error = f"HTTP {status}: {response.text[:200]}"
                if status == 413 and len(events) > 1:
                    return self._split(events, attempt)
                if status != 429 and status < 500:
                    return SendResult(status, 0, [], attempt, error)
                retry_after = _retry_after_s(response)
            if attempt >= self.max_attempts or self._stop.is_set():
                return SendResult(status, 0, [], attempt, error)
            with self._lock:
                self._stats.retries += 1
            backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
            delay = backoff * self._jitter.uniform(0.5, 1.0)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.max_backoff_s))
            if self._stop.wait(delay):
                return SendResult(status, 0, [], attempt, f"stopped while retrying: {error}")

    def _post(self, payload: bytes) -> httpx.Response:
        sent_at = rfc3339_ms(now_ms()).encode()
        body = b'{"sent_at":"' + sent_at + b'","events":' + payload + b"}"
        headers = {"X-Write-Key": self.write_key, "Content-Type": "application/json"}
        if self.compress:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return self._client.post(self.endpoint, content=body, headers=headers)

    def _acknowledged(self, response: httpx.Response, count: int, attempts: int) -> SendResult:
        try:
            data = response.json()
            accepted = int(data["accepted"])
            rejected = [dict(item) for item in data.get("rejected", [])]
        except (ValueError, KeyError, TypeError):
            # 202 means the batch is durable even if the answer is garbled: count it accepted.
            return SendResult(response.status_code, count, [], attempts)
        return SendResult(response.status_code, accepted, rejected, attempts)

    def _split(self, events: list[dict[str, Any]], attempts: int) -> SendResult:
        half = len(events) // 2
        first = self._send_encoded(events[:half], _encoder.encode(events[:half]))
        second = self._send_encoded(events[half:], _encoder.encode(events[half:]))
        rejected = first.rejected + [
            {**item, "index": int(item.get("index", 0)) + half} for item in second.rejected
        ]
        return SendResult(
            second.status if first.ok else first.status,
            first.accepted + second.accepted,
            rejected,
            attempts + first.attempts + second.attempts,
            first.error or second.error,
        )


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def chunked(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """`events` cut into batches of at most `size`."""
    return [events[i : i + size] for i in range(0, len(events), size)]
