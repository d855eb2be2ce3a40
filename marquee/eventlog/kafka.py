"""The Kafka event log: one message per log record, acknowledged by the brokers.

URL: `kafka://broker1:9092,broker2:9092/topic?acks=all&compression=zstd&linger_ms=5`.

The producer is idempotent with `acks=all`: a message counts as written only when every
in-sync replica has it, and librdkafka's internal retries never duplicate or reorder it
within a partition. `append` produces one message per record and returns when every
message's delivery report is a success; a failed report, a full local queue or no report
within the delivery timeout raises `LogUnavailable`, so the API answers 503.

librdkafka delivers reports only from `poll()`. A dedicated thread polls; each report
settles the append's `DeliveryBatch`, which wakes the event loop once per append
(`loop.call_soon_threadsafe`). `produce()` itself only enqueues, so it runs on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import SplitResult

from confluent_kafka import KafkaError, KafkaException, Producer

from marquee.eventlog.base import (
    REPORT_MARGIN_S,
    BrokerMessage,
    DeliveryBatch,
    EventLog,
    LogUnavailable,
    UrlOptions,
    broker_messages,
)

log = logging.getLogger(__name__)

_BROKER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
URL_OPTIONS = (
    "acks",
    "compression",
    "linger_ms",
    "delivery_timeout_ms",
    "client_id",
    "any librdkafka property with dots, e.g. security.protocol",
)
_MANAGED = {
    "bootstrap.servers": "given by the URL's host part",
    "metadata.broker.list": "given by the URL's host part",
    "enable.idempotence": "always true",
    "acks": "set with the acks option",
    "request.required.acks": "set with the acks option",
    "compression.type": "set with the compression option",
    "compression.codec": "set with the compression option",
    "linger.ms": "set with the linger_ms option",
    "queue.buffering.max.ms": "set with the linger_ms option",
    "delivery.timeout.ms": "set with the delivery_timeout_ms option",
    "message.timeout.ms": "set with the delivery_timeout_ms option",
    "client.id": "set with the client_id option",
}
"""librdkafka properties the URL's own options set; passing them raw would bypass checks."""


@dataclass(frozen=True)
class KafkaConfig:
    topic: str
    producer: dict[str, str] = field(default_factory=dict)
    """librdkafka configuration, bootstrap.servers included."""

    @property
    def delivery_timeout_s(self) -> float:
        return int(self.producer["delivery.timeout.ms"]) / 1000


def parse_kafka_url(url: SplitResult) -> KafkaConfig:
    """Read a `kafka://` URL; bad brokers, topic or options raise EventLogURLError."""
    options = UrlOptions(url)
    brokers = url.netloc.split(",") if url.netloc else []
    if not brokers or not all(_BROKER.match(broker) for broker in brokers):
        raise options.error("expected kafka://host:port[,host:port...]/topic")
    topic = url.path.removeprefix("/")
    if not _TOPIC.match(topic):
        raise options.error(f"{topic!r} is not a Kafka topic name")
    acks = options.text("acks", "all", choices=("all", "-1"))
    producer = {
        "bootstrap.servers": ",".join(brokers),
        "enable.idempotence": "true",
        "acks": acks,
        "compression.type": options.text(
            "compression", "zstd", choices=("none", "gzip", "snappy", "lz4", "zstd")
        ),
        "linger.ms": str(options.integer("linger_ms", 5, minimum=0, maximum=900_000)),
        "delivery.timeout.ms": str(
            options.integer("delivery_timeout_ms", 10_000, minimum=1, maximum=3_600_000)
        ),
        "client.id": options.text("client_id", "marquee-ingestion"),
    }
    for name, value in options.take_rest().items():
        if "." not in name:
            raise options.error(f"unknown option {name}; accepted: {', '.join(URL_OPTIONS)}")
        if name in _MANAGED:
            raise options.error(f"{name} is {_MANAGED[name]}")
        producer[name] = value
    return KafkaConfig(topic=topic, producer=producer)


@dataclass(frozen=True)
class KafkaRecord:
    """The arguments of one `Producer.produce` call."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]
    timestamp_ms: int
    """CreateTime: the event time, so a consumer can window on message timestamps; 0 lets
    the producer stamp the current time (quarantine records)."""


def kafka_record(message: BrokerMessage) -> KafkaRecord:
    return KafkaRecord(
        key=message.key.encode() if message.key is not None else None,
        value=message.value,
        headers=[(name, value.encode()) for name, value in message.attributes.items()],
        timestamp_ms=message.event_time_ms or 0,
    )


class ProducerLike(Protocol):
    """What KafkaEventLog uses of `confluent_kafka.Producer`."""

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


class KafkaEventLog(EventLog):
    """Publishes each record of an append to one topic; `append` returns on broker acks."""

    def __init__(self, config: KafkaConfig, producer: ProducerLike | None = None) -> None:
        self.config = config
        self._fatal: str | None = None
        self._closed = False
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if producer is None:
            settings: dict[str, Any] = dict(config.producer)
            settings["error_cb"] = self._on_error
            settings["logger"] = log
            producer = Producer(settings)
        self.producer: ProducerLike = producer

    def describe(self) -> str:
        return f"Kafka topic {self.config.topic} at {self.config.producer['bootstrap.servers']}"

    def start(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(
                target=self._poll_loop, name="kafka-delivery-poller", daemon=True
            )
            self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.producer.poll(0.1)
            except Exception:
                # poll() re-raises what a callback raised; the poller must outlive it, or
                # every later append would wait out its timeout.
                log.exception("kafka delivery poller: a callback failed")

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's client-level errors; a fatal one ends this producer's usefulness."""
        if error.fatal():
            self._fatal = error.str()
            log.error("kafka producer fatal error: %s", error.str())
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            log.warning("kafka: %s", error.str())
        else:
            log.debug("kafka: %s", error.str())

    async def append(self, data: bytes) -> None:
        messages = broker_messages(data)
        if not messages:
            return
        if self._closed:
            raise LogUnavailable("the Kafka event log is closed")
        if self._fatal is not None:
            raise LogUnavailable(f"the Kafka producer failed: {self._fatal}")
        self.start()
        batch = DeliveryBatch(asyncio.get_running_loop(), len(messages))

        def delivered(error: KafkaError | None, _message: object) -> None:
            batch.settle(None if error is None else f"kafka delivery failed: {error.str()}")

        for message in messages:
            record = kafka_record(message)
            try:
                self.producer.produce(
                    self.config.topic,
                    record.value,
                    record.key,
                    on_delivery=delivered,
                    timestamp=record.timestamp_ms,
                    headers=record.headers,
                )
            except BufferError as exc:
                raise LogUnavailable("the Kafka producer's local queue is full") from exc
            except KafkaException as exc:
                raise LogUnavailable(f"kafka produce failed: {exc}") from exc
        await batch.wait(self.config.delivery_timeout_s + REPORT_MARGIN_S)

    async def close(self) -> None:
        """Stop polling, then deliver what is still queued (bounded by the delivery timeout)."""
        self._closed = True
        self._stop.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join)
        left = await asyncio.to_thread(self.producer.flush, self.config.delivery_timeout_s)
        if left:
            log.error("%d Kafka messages were still undelivered at shutdown", left)


__all__ = ["KafkaConfig", "KafkaEventLog", "KafkaRecord", "kafka_record", "parse_kafka_url"]
