"""The Google Cloud Pub/Sub event log: one message per log record, acknowledged by Pub/Sub.

URL: `pubsub://projects/P/topics/T?ordering=false&max_latency_ms=5&timeout_s=10`.

Pub/Sub acknowledges a publish once the message is stored in more than one zone; `append`
returns when every message of the append has a message id. The client library batches
messages (BatchSettings) and publishes from its own threads; each publish future settles
the append's `DeliveryBatch` from there, which wakes the event loop once per append. A
failed publish, a full client-side flow-control buffer or no answer within `timeout_s`
raises `LogUnavailable`, so the API answers 503.

With `ordering=true`, player and ad events carry their `session_id` as ordering key, so a
view's events arrive in order. The library then retries failed publishes without limit
(our `timeout_s` plus `REPORT_MARGIN_S` still bounds how long a request waits) and pauses
a key after a permanent failure; this log resumes the keys of a failed append so the
client's retry can go through. Ordering also needs a subscription with ordering enabled,
and Google advises a regional endpoint (`endpoint=us-east1-pubsub.googleapis.com:443`).

Outside Google Cloud the client reads Application Default Credentials; with
`PUBSUB_EMULATOR_HOST` set it talks to the emulator without credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1 import types

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

_TOPIC_PATH = re.compile(r"^projects/[^/]+/topics/[^/]+$")
URL_OPTIONS = (
    "ordering",
    "max_messages",
    "max_bytes",
    "max_latency_ms",
    "timeout_s",
    "max_outstanding_messages",
    "max_outstanding_bytes",
    "endpoint",
)
_RETRYABLE = api_retry.if_exception_type(
    api_exceptions.Aborted,
    api_exceptions.Cancelled,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.ServiceUnavailable,
    api_exceptions.Unknown,
)
"""The status codes the library's own publish retry treats as transient."""


@dataclass(frozen=True)
class PubSubConfig:
    topic: str
    """`projects/P/topics/T`."""
    ordering: bool = False
    max_messages: int = 100
    max_bytes: int = 1_000_000
    max_latency_s: float = 0.005
    timeout_s: float = 10.0
    max_outstanding_messages: int = 100_000
    max_outstanding_bytes: int = 256 * 1024 * 1024
    endpoint: str | None = None


def parse_pubsub_url(url: SplitResult) -> PubSubConfig:
    """Read a `pubsub://projects/P/topics/T` URL; problems raise EventLogURLError."""
    options = UrlOptions(url)
    topic = f"{url.netloc}{url.path}"
    if not _TOPIC_PATH.match(topic):
        raise options.error("expected pubsub://projects/<project>/topics/<topic>")
    config = PubSubConfig(
        topic=topic,
        ordering=options.boolean("ordering", False),
        # Pub/Sub refuses requests over 1,000 messages or 10 MB.
        max_messages=options.integer("max_messages", 100, minimum=1, maximum=1000),
        max_bytes=options.integer("max_bytes", 1_000_000, minimum=1, maximum=10_000_000),
        max_latency_s=options.integer("max_latency_ms", 5, minimum=0, maximum=60_000) / 1000,
        timeout_s=float(options.integer("timeout_s", 10, minimum=1, maximum=600)),
        max_outstanding_messages=options.integer("max_outstanding_messages", 100_000, minimum=1),
        max_outstanding_bytes=options.integer(
            "max_outstanding_bytes", 256 * 1024 * 1024, minimum=1
        ),
        endpoint=options.text("endpoint", "") or None,
    )
    options.refuse_unknown(URL_OPTIONS)
    return config


@dataclass(frozen=True)
class PubSubMessage:
    """The arguments of one `PublisherClient.publish` call."""

    data: bytes
    attributes: dict[str, str]
    ordering_key: str


def pubsub_message(message: BrokerMessage, ordering: bool) -> PubSubMessage:
    return PubSubMessage(
        data=message.value,
        attributes=message.attributes,
        ordering_key=(message.session_id or "") if ordering else "",
    )


def make_publisher(config: PubSubConfig) -> pubsub_v1.PublisherClient:
    """A PublisherClient whose retries end within the timeout and that never blocks."""
    kwargs: dict[str, Any] = {}
    if config.endpoint:
        kwargs["client_options"] = {"api_endpoint": config.endpoint}
    return pubsub_v1.PublisherClient(
        batch_settings=types.BatchSettings(
            max_bytes=config.max_bytes,
            max_latency=config.max_latency_s,
            max_messages=config.max_messages,
        ),
        publisher_options=types.PublisherOptions(
            enable_message_ordering=config.ordering,
            # ERROR, not BLOCK: publish() runs on the event loop, which must never block.
            flow_control=types.PublishFlowControl(
                message_limit=config.max_outstanding_messages,
                byte_limit=config.max_outstanding_bytes,
                limit_exceeded_behavior=types.LimitExceededBehavior.ERROR,
            ),
            retry=api_retry.Retry(
                predicate=_RETRYABLE,
                initial=0.1,
                maximum=2.0,
                multiplier=2.0,
                timeout=config.timeout_s,
            ),
            timeout=config.timeout_s,
        ),
        **kwargs,
    )


def _failure(future: Future[str]) -> str | None:
    if future.cancelled():
        return "pubsub publish was cancelled"
    error = future.exception()
    return None if error is None else f"pubsub publish failed: {type(error).__name__}: {error}"


class PubSubEventLog(EventLog):
    """Publishes each record of an append to one topic; `append` returns on publish acks."""

    def __init__(self, config: PubSubConfig, publisher: Any | None = None) -> None:
        self.config = config
        self._closed = False
        self.publisher = publisher if publisher is not None else make_publisher(config)

    def start(self) -> None:
        """Nothing to start: the client library publishes from its own threads."""

    def describe(self) -> str:
        ordering = ", ordered by session" if self.config.ordering else ""
        return f"Pub/Sub topic {self.config.topic}{ordering}"

    async def append(self, data: bytes) -> None:
        messages = [pubsub_message(m, self.config.ordering) for m in broker_messages(data)]
        if not messages:
            return
        if self._closed:
            raise LogUnavailable("the Pub/Sub event log is closed")
        batch = DeliveryBatch(asyncio.get_running_loop(), len(messages))
        try:
            for message in messages:
                future = self.publisher.publish(
                    self.config.topic,
                    message.data,
                    ordering_key=message.ordering_key,
                    **message.attributes,
                )
                future.add_done_callback(lambda done: batch.settle(_failure(done)))
            await batch.wait(self.config.timeout_s + REPORT_MARGIN_S)
        except (ValueError, RuntimeError, api_exceptions.GoogleAPIError) as exc:
            # publish() raises ValueError for a message over the size limit and
            # RuntimeError once the client is stopped.
            self._resume({m.ordering_key for m in messages})
            raise LogUnavailable(f"pubsub publish failed: {exc}") from exc
        except LogUnavailable:
            self._resume({m.ordering_key for m in messages})
            raise

    def _resume(self, ordering_keys: set[str]) -> None:
        """Unpause ordering keys a permanent failure paused, so the client's retry can pass.

        A key not (yet) paused raises RuntimeError; if it is paused later, the next append
        with it fails fast with PublishToPausedOrderingKeyException and resumes it then.
        """
        if not self.config.ordering:
            return
        for key in ordering_keys - {""}:
            with contextlib.suppress(RuntimeError, ValueError):
                self.publisher.resume_publish(self.config.topic, key)

    async def close(self) -> None:
        """Send the batches still open and refuse further publishes."""
        self._closed = True
        await asyncio.to_thread(self.publisher.stop)


__all__ = [
    "PubSubConfig",
    "PubSubEventLog",
    "PubSubMessage",
    "make_publisher",
    "parse_pubsub_url",
    "pubsub_message",
]
