"""The soak's load client: batches of events with fixed ids, each retried until acknowledged.

Each batch is made once (its event ids, times and values fixed) and posted until the API
answers 2xx, by one of a few sender threads, the same bytes on every attempt, as a client
that follows EVENTS.md does. The events are views of a few pieces of content: one
`play_requested` and a few `heartbeat`s with a random `played_ms` per view, and one event
per `INVALID_EVERY` that the API must refuse (an unknown platform). An acknowledged batch
adds its valid events to `acknowledged` (per content and minute of event time: attempts
and played ms), the figures the lake's `minute_aggregates` must then hold exactly.

A share of acknowledged batches (`resend_share`) is posted again after its answer, as by a
client that never saw the answer: the pipeline's deduplication by `event_id` must keep it
from counting twice. Nothing else tells such a copy from a retry, so a client that gave
retries new ids would be counted twice and fail the check.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

CONTENT_IDS = tuple(f"soak_vod_{number}" for number in range(8))
CREATOR_ID = "soak_creator"
HEARTBEATS_PER_VIEW = 4
INVALID_EVERY = 50
"""One event in this many is invalid (platform `toaster`): refused, quarantined, never
counted."""
MINUTE_MS = 60_000

MinuteKey = tuple[str, int]
"""(content_id, epoch minute of event time)."""


@dataclass(frozen=True)
class Batch:
    number: int
    body: bytes
    valid: int
    attempts: Counter[MinuteKey]
    played_ms: Counter[MinuteKey]


def make_batch(number: int, size: int, rng: random.Random, now_ms: int) -> Batch:
    """`size` events timed now: whole views (a request, then heartbeats), one invalid event
    per INVALID_EVERY. No `sent_at`, so event time is `ts` and the minute is known here."""
    events: list[dict[str, object]] = []
    attempts: Counter[MinuteKey] = Counter()
    played: Counter[MinuteKey] = Counter()
    valid = 0
    while len(events) < size:
        content_id = rng.choice(CONTENT_IDS)
        session = f"soak_{number}_{len(events)}"
        view = {
            "viewer_id": f"soak_viewer_{rng.randrange(1000)}",
            "platform": "web",
            "creator_id": CREATOR_ID,
            "content_id": content_id,
            "content_type": "vod",
            "session_id": session,
        }
        for seq in range(min(1 + HEARTBEATS_PER_VIEW, size - len(events))):
            ts = now_ms - rng.randrange(2_000)
            played_ms = rng.randint(1, 10_000) if seq else 0
            event: dict[str, object] = {
                **view,
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "ts": ts,
                "seq": seq,
            }
            if seq == 0:
                event["type"] = "play_requested"
            else:
                event.update(type="heartbeat", played_ms=played_ms, state="playing")
            if (number * size + len(events)) % INVALID_EVERY == INVALID_EVERY - 1:
                event["platform"] = "toaster"
            else:
                valid += 1
                key = (content_id, ts // MINUTE_MS)
                attempts[key] += seq == 0
                played[key] += played_ms
            events.append(event)
    body = json.dumps({"events": events}).encode()
    return Batch(number, body, valid, attempts, played)


@dataclass
class ClientStats:
    acknowledged_batches: int = 0
    acknowledged_events: int = 0
    retries: int = 0
    resent_after_ack: int = 0
    wrong_answers: list[str] = field(default_factory=list)
    """2xx answers whose `accepted` count is not the batch's valid events."""
    latencies_s: list[float] = field(default_factory=list)
    """Of every 2xx answer."""


@dataclass
class LoadClient:
    """Posts `rate` events/s in batches of `batch_size` until `stop_producing`; see the
    module docstring. `wait_acknowledged` waits for every batch made to be acknowledged."""

    url: str
    write_key: str
    rate: float
    batch_size: int = 50
    senders: int = 4
    resend_share: float = 0.05
    seed: int = 22
    stats: ClientStats = field(default_factory=ClientStats)
    attempts: Counter[MinuteKey] = field(default_factory=Counter)
    played_ms: Counter[MinuteKey] = field(default_factory=Counter)
    _queue: queue.Queue[tuple[Batch, bool]] = field(default_factory=queue.Queue)
    _outstanding: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _producing: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._producing.set()
        self._threads = [threading.Thread(target=self._produce, daemon=True)]
        self._threads += [
            threading.Thread(target=self._send, args=(index,), daemon=True)
            for index in range(self.senders)
        ]
        for thread in self._threads:
            thread.start()

    def stop_producing(self) -> None:
        self._producing.clear()

    def wait_acknowledged(self, timeout_s: float) -> bool:
        """True once every batch made (and every resend) has been acknowledged."""
        with self._lock:
            return self._lock.wait_for(lambda: self._outstanding == 0, timeout_s)

    @property
    def outstanding(self) -> int:
        with self._lock:
            return self._outstanding

    def _enqueue(self, batch: Batch, resend: bool) -> None:
        with self._lock:
            self._outstanding += 1
        self._queue.put((batch, resend))

    def _produce(self) -> None:
        rng = random.Random(self.seed)
        interval_s = self.batch_size / self.rate
        next_at = time.monotonic()
        number = 0
        while self._producing.is_set():
            self._enqueue(make_batch(number, self.batch_size, rng, int(time.time() * 1000)), False)
            number += 1
            next_at += interval_s
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _send(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        headers = {"X-Write-Key": self.write_key, "Content-Type": "application/json"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10.0) as http:
            while True:
                batch, resend = self._queue.get()
                self._post_until_acknowledged(http, batch, resend)
                if not resend and rng.random() < self.resend_share:
                    self._enqueue(batch, True)
                with self._lock:
                    self._outstanding -= 1
                    self._lock.notify_all()

    def _post_until_acknowledged(self, http: httpx.Client, batch: Batch, resend: bool) -> None:
        pause_s = 0.2
        while True:
            started = time.monotonic()
            try:
                response = http.post("/v1/events", content=batch.body)
            except httpx.HTTPError:
                response = None
            if response is not None and response.is_success:
                self._acknowledged(batch, resend, response, time.monotonic() - started)
                return
            with self._lock:
                self.stats.retries += 1
            time.sleep(pause_s)
            pause_s = min(2.0, pause_s * 2)

    def _acknowledged(
        self, batch: Batch, resend: bool, response: httpx.Response, latency_s: float
    ) -> None:
        accepted = response.json().get("accepted")
        with self._lock:
            self.stats.latencies_s.append(latency_s)
            if accepted != batch.valid:
                self.stats.wrong_answers.append(
                    f"batch {batch.number}: {accepted} accepted of {batch.valid} valid"
                )
            if resend:
                self.stats.resent_after_ack += 1
                return
            self.stats.acknowledged_batches += 1
            self.stats.acknowledged_events += batch.valid
            self.attempts.update(batch.attempts)
            self.played_ms.update(batch.played_ms)
