"""The Kafka and Pub/Sub event logs: message mapping, delivery, and the failure path.

No Kafka broker and no Pub/Sub service (nor its emulator, which needs a JVM) can run on
this machine, so no test here sees a message actually stored by a broker. What is tested:

- the pure mapping from log records to messages (key, value, headers/attributes,
  timestamp, ordering key), on records the real ingestion code produces;
- the real client libraries' failure path, against a closed local port: librdkafka's
  delivery report times out, the Pub/Sub client's publish fails, and `append` raises
  LogUnavailable (the real API's 503 when its Kafka log is unreachable is in
  test_api_event_log.py);
- the success path and delivery bookkeeping through `FakeProducer` and `FakePublisher`,
  minimal in-test stand-ins for the broker client objects. They are the one place this
  project uses a stand-in, because the broker they stand in for cannot run here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest

from marquee.eventlog.base import (
    SCHEMA_VERSION,
    DeliveryBatch,
    LogUnavailable,
    broker_messages,
    split_records,
)
from marquee.eventlog.kafka import KafkaEventLog, kafka_record, parse_kafka_url
from marquee.eventlog.pubsub import PubSubEventLog, parse_pubsub_url, pubsub_message
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.intake.quarantine import QuarantineRecord, encode_records
from tests.support.api import free_port

pytestmark = pytest.mark.unit

NOW_MS = int(time.time() * 1000)


def raw_event(**fields: object) -> bytes:
    event: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "heartbeat",
        "ts": NOW_MS - 1_000,
        "viewer_id": "viewer-raw-id-7",
        "platform": "ios",
        "creator_id": "cr_1",
        "content_id": "live_1",
        "content_type": "live",
        "session_id": "s_42",
        "played_ms": 10_000,
    }
    event.update(fields)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def log_bytes(*raw_events: bytes) -> bytes:
    """NDJSON log records exactly as the API appends them."""
    enricher = Enricher(Pseudonymiser(b"k" * 32), future_horizon_s=300, lateness_horizon_s=3600)
    result = ingest_events(list(raw_events), None, "app_1", NOW_MS, None, enricher)
    assert result.accepted == len(raw_events), result.rejected
    return bytes(result.log_bytes)


def quarantine_bytes() -> bytes:
    record = QuarantineRecord(
        quarantined_at_ms=NOW_MS, app_id="app_1", reason="malformed_body", detail="x", payload="{"
    )
    return encode_records([record])


# --- mapping -------------------------------------------------------------------------


def test_an_append_becomes_one_message_per_record_in_order() -> None:
    data = log_bytes(raw_event(seq=1), raw_event(seq=2), raw_event(type="follow"))
    messages = broker_messages(data)
    assert [m.value for m in messages] == data.rstrip(b"\n").split(b"\n")
    assert [json.loads(m.value).get("seq") for m in messages] == [1, 2, None]
    assert broker_messages(b"") == []


def test_a_torn_or_foreign_batch_is_refused() -> None:
    assert split_records(b'{"a":1}\n\n{"a":2}\n') == [b'{"a":1}', b'{"a":2}']
    with pytest.raises(ValueError, match="newline"):
        split_records(b'{"a":1}\n{"a":')
    with pytest.raises(ValueError, match="log records"):
        broker_messages(b"[1, 2]\n")


def test_keys_session_for_views_event_id_otherwise_none_for_quarantine() -> None:
    heartbeat, follow = broker_messages(
        log_bytes(
            raw_event(session_id="s_9"),
            raw_event(
                type="follow", session_id=None, content_id=None, content_type=None, played_ms=None
            ),
        )
    )
    (quarantined,) = broker_messages(quarantine_bytes())
    assert heartbeat.key == "s_9"
    assert follow.key == json.loads(follow.value)["event_id"]
    assert quarantined.key is None


def test_kafka_record_headers_key_and_event_time() -> None:
    (message,) = broker_messages(log_bytes(raw_event()))
    record = kafka_record(message)
    stored = json.loads(record.value)
    assert record.key == b"s_42"
    assert dict(record.headers) == {
        "schema_version": SCHEMA_VERSION.encode(),
        "type": b"heartbeat",
        "app_id": b"app_1",
        "event_time_ms": str(stored["event_time_ms"]).encode(),
        "event_id": stored["event_id"].encode(),
    }
    assert record.timestamp_ms == stored["event_time_ms"]
    assert "viewer-raw-id-7" not in record.value.decode()

    (quarantined,) = broker_messages(quarantine_bytes())
    quarantine_record = kafka_record(quarantined)
    assert quarantine_record.key is None
    assert quarantine_record.timestamp_ms == 0  # the producer stamps the current time
    assert dict(quarantine_record.headers) == {
        "schema_version": SCHEMA_VERSION.encode(),
        "app_id": b"app_1",
        "reason": b"malformed_body",
    }


def test_pubsub_attributes_and_ordering_keys() -> None:
    view, tip = broker_messages(
        log_bytes(
            raw_event(),
            raw_event(
                type="tip",
                session_id=None,
                content_id=None,
                content_type=None,
                played_ms=None,
                amount_minor=500,
                currency="EUR",
            ),
        )
    )
    ordered = pubsub_message(view, ordering=True)
    assert ordered.ordering_key == "s_42"
    assert ordered.attributes["type"] == "heartbeat"
    assert ordered.attributes["app_id"] == "app_1"
    assert ordered.data == view.value
    assert all(isinstance(value, str) for value in ordered.attributes.values())
    assert pubsub_message(tip, ordering=True).ordering_key == ""  # no view, no order needed
    assert pubsub_message(view, ordering=False).ordering_key == ""


# --- Kafka: the delivery path --------------------------------------------------------


class FakeKafkaError:
    """Stands in for confluent_kafka.KafkaError in a delivery report."""

    def __init__(self, text: str) -> None:
        self.text = text

    def str(self) -> str:
        return self.text


class FakeProducer:
    """Stands in for confluent_kafka.Producer talking to a broker that cannot run here.

    produce() queues the message; poll() (called from KafkaEventLog's poller thread)
    serves one delivery report per queued message, failing those whose index is listed in
    `fail`, as librdkafka serves reports from poll().
    """

    def __init__(self, fail: set[int] | None = None, queue_limit: int | None = None) -> None:
        self.fail = fail or set()
        self.queue_limit = queue_limit
        self.produced: list[dict[str, Any]] = []
        self._pending: list[tuple[int, Any]] = []
        self._lock = threading.Lock()

    def produce(self, topic: str, value: bytes, key: bytes | None, **kwargs: Any) -> None:
        with self._lock:
            if self.queue_limit is not None and len(self.produced) >= self.queue_limit:
                raise BufferError("Local: Queue full")
            index = len(self.produced)
            self.produced.append({"topic": topic, "value": value, "key": key, **kwargs})
            self._pending.append((index, kwargs["on_delivery"]))

    def poll(self, timeout: float) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            time.sleep(timeout / 10)
        for index, callback in pending:
            callback(
                FakeKafkaError(f"broker refused {index}") if index in self.fail else None, None
            )
        return len(pending)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0


KAFKA_URL = urlsplit("kafka://127.0.0.1:9092/marquee-events?delivery_timeout_ms=2000")


def test_kafka_append_returns_once_every_message_is_acknowledged() -> None:
    producer = FakeProducer()
    data = log_bytes(raw_event(), raw_event(), raw_event(session_id="s_43"))

    async def scenario() -> None:
        kafka_log = KafkaEventLog(parse_kafka_url(KAFKA_URL), producer=producer)
        kafka_log.start()
        await kafka_log.append(data)
        await kafka_log.close()

    asyncio.run(scenario())
    assert [m["topic"] for m in producer.produced] == ["marquee-events"] * 3
    assert [m["key"] for m in producer.produced] == [b"s_42", b"s_42", b"s_43"]
    assert b"\n".join(m["value"] for m in producer.produced) + b"\n" == data
    assert all(("type", b"heartbeat") in m["headers"] for m in producer.produced)


def test_kafka_failed_delivery_report_raises_log_unavailable() -> None:
    producer = FakeProducer(fail={1})

    async def scenario() -> None:
        kafka_log = KafkaEventLog(parse_kafka_url(KAFKA_URL), producer=producer)
        kafka_log.start()
        try:
            with pytest.raises(LogUnavailable, match="broker refused 1"):
                await kafka_log.append(log_bytes(raw_event(), raw_event(), raw_event()))
            await kafka_log.append(log_bytes(raw_event()))  # the next append is unaffected
        finally:
            await kafka_log.close()

    asyncio.run(scenario())


def test_kafka_full_local_queue_raises_log_unavailable() -> None:
    producer = FakeProducer(queue_limit=1)

    async def scenario() -> None:
        kafka_log = KafkaEventLog(parse_kafka_url(KAFKA_URL), producer=producer)
        kafka_log.start()
        try:
            with pytest.raises(LogUnavailable, match="queue is full"):
                await kafka_log.append(log_bytes(raw_event(), raw_event()))
        finally:
            await kafka_log.close()

    asyncio.run(scenario())


def test_delivery_batch_without_reports_times_out() -> None:
    async def scenario() -> None:
        batch = DeliveryBatch(asyncio.get_running_loop(), expected=2)
        batch.settle(None)
        with pytest.raises(LogUnavailable, match="no delivery report"):
            await batch.wait(0.05)
        batch.settle(None)  # a late report after the timeout is harmless
        await asyncio.sleep(0)

    asyncio.run(scenario())


def test_real_librdkafka_unreachable_broker_raises_log_unavailable() -> None:
    """The real confluent-kafka Producer, no stand-in: nothing listens on the port."""
    url = urlsplit(f"kafka://127.0.0.1:{free_port()}/events?delivery_timeout_ms=300")

    async def scenario() -> float:
        kafka_log = KafkaEventLog(parse_kafka_url(url))
        kafka_log.start()
        started = time.monotonic()
        try:
            with pytest.raises(LogUnavailable, match="timed out"):
                await kafka_log.append(log_bytes(raw_event(), raw_event()))
            return time.monotonic() - started
        finally:
            await kafka_log.close()

    assert asyncio.run(scenario()) < 5


# --- Pub/Sub: the publish path ------------------------------------------------------


class FakePublisher:
    """Stands in for google.cloud.pubsub_v1.PublisherClient and a Pub/Sub service that
    cannot run here: publish() returns a concurrent future that another thread resolves,
    as the library's batch-commit threads do."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.fail = fail or set()
        self.published: list[dict[str, Any]] = []
        self.resumed: list[tuple[str, str]] = []
        self.stopped = False

    def publish(
        self, topic: str, data: bytes, ordering_key: str = "", **attributes: str
    ) -> concurrent.futures.Future[str]:
        if self.stopped:
            raise RuntimeError("Cannot publish on a stopped publisher.")
        index = len(self.published)
        self.published.append(
            {"topic": topic, "data": data, "ordering_key": ordering_key, **attributes}
        )
        future: concurrent.futures.Future[str] = concurrent.futures.Future()

        def resolve() -> None:
            if index in self.fail:
                future.set_exception(RuntimeError(f"publish {index} refused"))
            else:
                future.set_result(f"message-{index}")

        threading.Timer(0.001, resolve).start()
        return future

    def resume_publish(self, topic: str, ordering_key: str) -> None:
        self.resumed.append((topic, ordering_key))

    def stop(self) -> None:
        self.stopped = True


PUBSUB_URL = urlsplit("pubsub://projects/demo/topics/marquee-events?ordering=true&timeout_s=2")


def test_pubsub_append_returns_once_every_publish_resolves() -> None:
    publisher = FakePublisher()

    async def scenario() -> None:
        pubsub_log = PubSubEventLog(parse_pubsub_url(PUBSUB_URL), publisher=publisher)
        pubsub_log.start()
        await pubsub_log.append(log_bytes(raw_event(), raw_event(session_id="s_7")))
        await pubsub_log.close()

    asyncio.run(scenario())
    assert [m["topic"] for m in publisher.published] == ["projects/demo/topics/marquee-events"] * 2
    assert [m["ordering_key"] for m in publisher.published] == ["s_42", "s_7"]
    assert publisher.published[0]["type"] == "heartbeat"
    assert publisher.published[0]["schema_version"] == SCHEMA_VERSION
    assert publisher.stopped


def test_pubsub_failed_publish_raises_and_resumes_its_ordering_keys() -> None:
    publisher = FakePublisher(fail={1})

    async def scenario() -> None:
        pubsub_log = PubSubEventLog(parse_pubsub_url(PUBSUB_URL), publisher=publisher)
        with pytest.raises(LogUnavailable, match="publish 1 refused"):
            await pubsub_log.append(log_bytes(raw_event(), raw_event(session_id="s_8")))
        await pubsub_log.close()
        with pytest.raises(LogUnavailable, match="closed"):
            await pubsub_log.append(log_bytes(raw_event()))

    asyncio.run(scenario())
    topic = "projects/demo/topics/marquee-events"
    assert sorted(publisher.resumed) == [(topic, "s_42"), (topic, "s_8")]


def test_real_pubsub_client_unreachable_service_raises_log_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real PublisherClient, no stand-in, pointed by PUBSUB_EMULATOR_HOST at a port
    where nothing listens (which also spares it from looking for credentials)."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    url = urlsplit("pubsub://projects/demo/topics/events?timeout_s=1")

    async def scenario() -> None:
        pubsub_log = PubSubEventLog(parse_pubsub_url(url))
        try:
            with pytest.raises(LogUnavailable, match="pubsub publish failed"):
                await pubsub_log.append(log_bytes(raw_event()))
        finally:
            await pubsub_log.close()

    asyncio.run(scenario())


def test_record_meta_ignores_every_other_field() -> None:
    """The mapping decodes only routing fields; unknown ones (new event fields) pass."""
    record = msgspec.json.encode({"type": "x", "app_id": "a", "brand_new": {"nested": [1]}})
    (message,) = broker_messages(record + b"\n")
    assert message.value == record
    assert message.attributes == {"schema_version": SCHEMA_VERSION, "type": "x", "app_id": "a"}
