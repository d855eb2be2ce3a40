"""Choosing the event log by URL: each form opens its backend, bad URLs fail at start-up.

The Kafka and Pub/Sub logs are built with their real client libraries (neither contacts a
broker before the first publish). The API with each kind of URL, as its own process, is in
test_api_event_log.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from marquee.eventlog.base import EventLog, EventLogURLError
from marquee.eventlog.factory import open_event_log
from marquee.eventlog.group_commit import GroupCommitLog
from marquee.eventlog.kafka import KafkaEventLog
from marquee.eventlog.pubsub import PubSubEventLog
from tests.support.api import free_port

pytestmark = pytest.mark.unit


def opened(url: str, default_dir: Path) -> EventLog:
    return open_event_log(
        url, default_dir=default_dir, segment_max_bytes=1 << 20, segment_max_age_s=1
    )


def close(event_log: EventLog) -> None:
    asyncio.run(event_log.close())


@pytest.mark.parametrize("url", ["segments://", "", "  segments://  "])
def test_default_url_is_the_segment_log_in_the_default_directory(tmp_path: Path, url: str) -> None:
    event_log = opened(url, tmp_path / "log")
    assert isinstance(event_log, GroupCommitLog)
    assert event_log.writer.directory == tmp_path / "log"
    close(event_log)


def test_file_url_is_the_segment_log_in_that_directory(tmp_path: Path) -> None:
    for url in (f"file://{tmp_path}/elsewhere", f"file://localhost{tmp_path}/elsewhere"):
        event_log = opened(url, tmp_path / "log")
        assert isinstance(event_log, GroupCommitLog)
        assert event_log.writer.directory == tmp_path / "elsewhere"
        close(event_log)


def test_kafka_url_opens_an_idempotent_acks_all_producer(tmp_path: Path) -> None:
    url = (
        "kafka://127.0.0.1:9092,[::1]:9093/marquee.events?acks=all&compression=lz4"
        "&linger_ms=20&security.protocol=plaintext"
    )
    event_log = opened(url, tmp_path)
    assert isinstance(event_log, KafkaEventLog)
    assert event_log.config.topic == "marquee.events"
    assert event_log.config.producer == {
        "bootstrap.servers": "127.0.0.1:9092,[::1]:9093",
        "enable.idempotence": "true",
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": "20",
        "delivery.timeout.ms": "10000",
        "client.id": "marquee-ingestion",
        "security.protocol": "plaintext",
    }
    assert "marquee.events" in event_log.describe()
    close(event_log)


def test_pubsub_url_opens_a_batching_publisher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator setting spares the real client from looking for Google credentials.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    url = "pubsub://projects/demo-1/topics/marquee-events?ordering=true&max_latency_ms=20"
    event_log = opened(url, tmp_path)
    assert isinstance(event_log, PubSubEventLog)
    assert event_log.config.topic == "projects/demo-1/topics/marquee-events"
    assert event_log.config.ordering
    assert event_log.publisher.batch_settings.max_latency == pytest.approx(0.02)
    assert event_log.publisher.publisher_options.enable_message_ordering
    close(event_log)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("kafak://broker:9092/events", "unsupported scheme 'kafak'"),
        ("/var/lib/marquee/log", "no scheme"),
        ("s3://bucket/log", "unsupported scheme 's3'"),
        ("file://relative/dir", "absolute path"),
        ("segments://somewhere", "takes no path"),
        ("kafka://broker/events", "host:port"),
        ("kafka://broker:9092/", "not a Kafka topic name"),
        ("kafka://broker:9092/events?acks=1", "acks='1' is not one of all, -1"),
        ("kafka://broker:9092/events?linger_ms=soon", "not an integer"),
        ("kafka://broker:9092/events?lingerms=5", "unknown option lingerms"),
        ("kafka://broker:9092/events?enable.idempotence=false", "always true"),
        ("kafka://broker:9092/events?request.required.acks=1", "acks option"),
        ("kafka://b:9092/events?linger_ms=1&linger_ms=2", "given twice"),
        ("pubsub://projects/p/subscriptions/s", "pubsub://projects/<project>/topics/<topic>"),
        ("pubsub://projects/p/topics/t?ordering=maybe", "not true or false"),
        ("pubsub://projects/p/topics/t?max_messages=5000", "between 1 and 1000"),
        ("pubsub://projects/p/topics/t?orderingkey=x", "unknown option(s) orderingkey"),
    ],
)
def test_bad_urls_fail_with_a_clear_error(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(EventLogURLError) as caught:
        opened(url, tmp_path)
    assert problem in str(caught.value)


def test_an_unknown_scheme_lists_the_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(EventLogURLError) as caught:
        opened("amqp://rabbit/events", tmp_path)
    message = str(caught.value)
    for form in ("segments://", "file:///", "kafka://", "pubsub://projects/"):
        assert form in message


def test_errors_never_repeat_the_query_which_may_hold_secrets(tmp_path: Path) -> None:
    with pytest.raises(EventLogURLError) as caught:
        opened("kafka://b:9092/events?sasl.password=hunter2&linger_ms=x", tmp_path)
    assert "hunter2" not in str(caught.value)
