"""The event log interface, and what one log record becomes as a broker message.

The API appends NDJSON log records (one enriched event, or one quarantine record, per line)
and answers 202 only when `append` has returned: every backend must make the whole append
durable before it returns, or raise `LogUnavailable` so the API answers 503 and
acknowledges nothing. Backends (chosen by URL in `factory.py`):

- `GroupCommitLog` (`group_commit.py`): segment files on local disk, fsync before return;
- `KafkaEventLog` (`kafka.py`): one Kafka message per record, returns on broker acks;
- `PubSubEventLog` (`pubsub.py`): one Pub/Sub message per record, returns on publish acks.

The broker backends share the mapping below, so a consumer sees the same key and headers
from either. The value of each message is the log record's JSON exactly as the segment log
would store it (without the newline), so the pipeline parses both the same way.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import threading
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl

import msgspec

SCHEMA_VERSION = "1"
"""Version of the event contract the records follow (shared/spec/EVENTS.md, version 1)."""


class LogUnavailable(Exception):
    """The event log cannot take writes now; the caller should answer 503."""


class EventLogURLError(ValueError):
    """An event log URL that names no backend or carries a bad option; raised at start-up."""


class EventLog(abc.ABC):
    """Where the API appends log records.

    `append` returns only once every record of `data` is durable (fsynced, or acknowledged
    by the broker); otherwise it raises `LogUnavailable`. Records of a failed append may
    still have been stored in part: consumers deduplicate by `event_id`.
    """

    @abc.abstractmethod
    def start(self) -> None:
        """Start background work (sealing, delivery polling); call with the loop running."""

    @abc.abstractmethod
    async def append(self, data: bytes) -> None:
        """Make NDJSON log records (whole lines, each ending in a newline) durable."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish what was appended (seal, flush) and release the backend."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the log goes, for start-up logs; never holds credentials."""


class RecordMeta(msgspec.Struct):
    """The fields of a log record that route and label its message; the rest is ignored.

    Event records carry `type`, `event_id`, `app_id`, `event_time_ms` and, for player and
    ad events, `session_id`; quarantine records carry `app_id` and `reason` only.
    """

    type: str | None = None
    event_id: str | None = None
    session_id: str | None = None
    app_id: str | None = None
    event_time_ms: int | None = None
    reason: str | None = None


_meta_batch_decoder = msgspec.json.Decoder(list[RecordMeta])


@dataclass(frozen=True)
class BrokerMessage:
    """One log record as a broker message, before the broker-specific encoding."""

    key: str | None
    """Kafka partition key; see `partition_key`."""
    session_id: str | None
    """Pub/Sub ordering key when ordering is on: only a view's events need an order."""
    value: bytes
    """The log record's JSON, unchanged."""
    attributes: dict[str, str]
    """Kafka headers / Pub/Sub attributes: routing and filtering without parsing."""
    event_time_ms: int | None


def split_records(data: bytes) -> list[bytes]:
    """The records of an append, each without its newline; refuses a torn final record."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError("log records must be whole NDJSON lines, each ending in a newline")
    return [line for line in data.split(b"\n") if line]


def partition_key(meta: RecordMeta) -> str | None:
    """The key a record is partitioned by (Kafka).

    A player or ad event is keyed by its `session_id`: one view's events share a partition
    and keep their order there, so a streaming consumer that summarises views sees each
    view's heartbeats in sequence and in one place; views are short and numerous, so
    partitions stay balanced. An event without a session (story views, reactions, follows,
    shares, tips) is keyed by its `event_id`: spread evenly, and a client's retry of the
    same event lands on the same partition as the first copy. A quarantine record has
    neither and gets no key (the producer spreads those itself).
    """
    return meta.session_id or meta.event_id or None


def record_attributes(meta: RecordMeta) -> dict[str, str]:
    """Headers / attributes of a record's message: only the fields the record has."""
    attributes = {"schema_version": SCHEMA_VERSION}
    if meta.type is not None:
        attributes["type"] = meta.type
    if meta.app_id is not None:
        attributes["app_id"] = meta.app_id
    if meta.event_time_ms is not None:
        attributes["event_time_ms"] = str(meta.event_time_ms)
    if meta.event_id is not None:
        attributes["event_id"] = meta.event_id
    if meta.reason is not None:
        attributes["reason"] = meta.reason
    return attributes


def broker_messages(data: bytes) -> list[BrokerMessage]:
    """Map an append's NDJSON records to one message each, in order.

    The routing fields of every record are decoded in one call (a decoder call per
    record costs about three times more per record).
    """
    records = split_records(data)
    if not records:
        return []
    try:
        metas = _meta_batch_decoder.decode(b"[" + b",".join(records) + b"]")
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(f"not a batch of log records: {exc}") from exc
    if len(metas) != len(records):
        raise ValueError("a log record holds more than one JSON value")
    return [
        BrokerMessage(
            key=partition_key(meta),
            session_id=meta.session_id,
            value=record,
            attributes=record_attributes(meta),
            event_time_ms=meta.event_time_ms,
        )
        for meta, record in zip(metas, records, strict=True)
    ]


REPORT_MARGIN_S = 5.0
"""How much longer than a client's own delivery deadline an append waits for its reports.

The client's failure names its cause (refused connection, bad topic), so it must arrive
first; the margin only bounds the wait on a client that never reports. Under CI load a
wait equal to the deadline raced the client's own error and lost its reason.
"""


class DeliveryBatch:
    """Counts the broker's answers for the messages of one append.

    Delivery reports arrive on the client library's threads; the batch wakes the event
    loop once, when the last message is acknowledged or at the first failure, instead of
    once per message.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int) -> None:
        self._loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self._remaining = expected
        self._failed = False
        self._lock = threading.Lock()

    def settle(self, error: str | None) -> None:
        """Record one message's outcome; safe to call from any thread."""
        with self._lock:
            if self._failed:
                return
            self._remaining -= 1
            if error is not None:
                self._failed = True
            elif self._remaining > 0:
                return
        # The loop may already be closed at shutdown; nobody waits on the batch then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._resolve, error)

    def _resolve(self, error: str | None) -> None:
        if self.future.done():
            return
        if error is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(LogUnavailable(error))

    async def wait(self, timeout_s: float) -> None:
        """Return when every message is acknowledged; raise LogUnavailable otherwise."""
        try:
            await asyncio.wait_for(self.future, timeout_s)
        except TimeoutError as exc:
            raise LogUnavailable(f"no delivery report within {timeout_s:g} s") from exc


def redacted(url: SplitResult) -> str:
    """A URL without its query, which may hold credentials (e.g. `sasl.password`)."""
    return f"{url.scheme}://{url.netloc}{url.path}"


class UrlOptions:
    """The query options of an event log URL, taken one by one; any left over is an error."""

    def __init__(self, url: SplitResult) -> None:
        self._where = redacted(url)
        self._values: dict[str, str] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            if name in self._values:
                raise self.error(f"option {name!r} is given twice")
            self._values[name] = value

    def error(self, problem: str) -> EventLogURLError:
        return EventLogURLError(f"event log URL {self._where}: {problem}")

    def text(self, name: str, default: str, choices: tuple[str, ...] = ()) -> str:
        value = self._values.pop(name, default)
        if choices and value not in choices:
            raise self.error(f"{name}={value!r} is not one of {', '.join(choices)}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = self._values.pop(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self.error(f"{name}={raw!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and {maximum}"
            raise self.error(f"{name}={value} is not between {minimum}{upper}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._values.pop(name, None)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise self.error(f"{name}={raw!r} is not true or false")

    def take_rest(self) -> dict[str, str]:
        rest, self._values = self._values, {}
        return rest

    def refuse_unknown(self, accepted: tuple[str, ...]) -> None:
        if self._values:
            unknown = ", ".join(sorted(self._values))
            raise self.error(f"unknown option(s) {unknown}; accepted: {', '.join(accepted)}")
