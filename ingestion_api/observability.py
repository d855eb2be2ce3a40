"""Metrics (Prometheus, at /metrics) and structured JSON logs of the ingestion API.

Metrics are counted per request, never per accepted event, to keep the hot path flat:

- `marquee_http_requests_total{route,method,status}` and `marquee_http_errors_total{route,
  code}` come from `ObserveMiddleware`, which also turns any unhandled exception into a bare
  500 `{"error": "internal_error", ...}` and logs the trace server-side only. The error code is
  read from the JSON error body every error response carries. `POST /v1/events`, which
  skips the middleware, counts itself with the same `count_request`.
- `marquee_events_accepted_total`, `marquee_events_rejected_total{reason}` and the
  `marquee_log_append_seconds` histogram are counted by the events route.
- `marquee_open_segment_age_seconds` and `marquee_sealed_segments` are read from the log
  directory at scrape time, so they are right whichever worker answers the scrape.

With several workers, prometheus_client's multiprocess mode is used when
PROMETHEUS_MULTIPROC_DIR is set (`python -m ingestion_api --workers N` sets it): each worker
writes its values to files there and a scrape sums them.

Logs are one JSON object per line (`ts`, `level`, `logger`, `msg`, then any `extra`
fields, and `exc` with the trace when there is one). Nothing here logs a client address or
a viewer id.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestion_api.responses import internal_error
from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX
from marquee.events import RejectReason

log = logging.getLogger("ingestion_api")

disable_created_metrics()
"""No `*_created` series: they double the exposition and no dashboard here uses them."""

REQUESTS = Counter(
    "marquee_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
ERRORS = Counter(
    "marquee_http_errors_total",
    "Error responses (4xx, 5xx) by route template and stable error code.",
    ["route", "code"],
)
EVENTS_ACCEPTED = Counter(
    "marquee_events_accepted_total", "Events durably appended to the event log."
)
EVENTS_REJECTED = Counter(
    "marquee_events_rejected_total",
    "Events of an accepted batch rejected (and quarantined), by reason.",
    ["reason"],
)
LOG_APPEND_SECONDS = Histogram(
    "marquee_log_append_seconds",
    "Time from handing a request's records to the event log until they are fsynced.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

_rejected_by_reason = {
    reason.value: EVENTS_REJECTED.labels(reason.value) for reason in RejectReason
}


def count_events(accepted: int, rejected: list[dict[str, object]]) -> None:
    """Count one request's accepted events and its rejections by reason."""
    if accepted:
        EVENTS_ACCEPTED.inc(accepted)
    for rejection in rejected:
        reason = str(rejection["reason"])
        counter = _rejected_by_reason.get(reason) or EVENTS_REJECTED.labels(reason)
        counter.inc()


def observe_append(seconds: float) -> None:
    LOG_APPEND_SECONDS.observe(seconds)


class LogDirCollector(Collector):
    """Gauges read from the log directory at scrape time (global across workers)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        oldest_open_ms: int | None = None
        sealed = 0
        try:
            entries = list(os.scandir(self.log_dir))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.name.endswith(SEALED_SUFFIX):
                sealed += 1
            elif entry.name.endswith(OPEN_SUFFIX):
                try:
                    created_ms = int(entry.name.split("-", 1)[0])
                except ValueError:
                    continue
                if oldest_open_ms is None or created_ms < oldest_open_ms:
                    oldest_open_ms = created_ms
        age = 0.0 if oldest_open_ms is None else max(0.0, time.time() - oldest_open_ms / 1000)
        yield GaugeMetricFamily(
            "marquee_open_segment_age_seconds",
            "Age of the oldest open (unsealed) log segment: how long accepted events may wait "
            "before the pipeline can see them. 0 when no segment is open.",
            value=age,
        )
        yield GaugeMetricFamily(
            "marquee_sealed_segments",
            "Sealed segments in the event log directory (consumed or not: the pipeline keeps "
            "its own consumption ledger).",
            value=sealed,
        )


def render_metrics(log_dir: Path | None) -> tuple[bytes, str]:
    """The exposition text of every metric, summed over workers in multiprocess mode.

    The segment gauges are left out when the event log is a broker (no `log_dir`).
    """
    log_dir_registry = CollectorRegistry()
    if log_dir is not None:
        log_dir_registry.register(LogDirCollector(log_dir))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(log_dir_registry), CONTENT_TYPE_LATEST


class _ErrorCode(msgspec.Struct):
    error: str = "unknown"


_error_decoder = msgspec.json.Decoder(_ErrorCode)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_requests: dict[tuple[str, str, int], Any] = {}
"""Labelled request counters by (route, method, status): `labels()` costs a lock and a
tuple hash per call, which shows at tens of thousands of requests per second."""


def error_code_of(body: bytes) -> str:
    """The stable code of an error response body (every error body carries one)."""
    try:
        return _error_decoder.decode(body).error
    except msgspec.MsgspecError:
        return "unknown"


def count_request(route: str, method: str, status: int, error_code: str | None) -> None:
    """Count one answered request, and its error code when it is an error."""
    method = method if method in _METHODS else "other"
    key = (route, method, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(route, method, str(status))
    counter.inc()
    if error_code is not None:
        ERRORS.labels(route, error_code).inc()


class ObserveMiddleware:
    """Count every request by route and status, and shield clients from unhandled errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._template_of: dict[Any, str] = {}

    def route_of(self, scope: Scope) -> str:
        """The route template (bounded label values), or "unmatched"."""
        endpoint = scope.get("endpoint")
        if endpoint is not None:
            template = self._template_of.get(endpoint)
            if template is not None:
                return template
        routes: list[BaseRoute] = scope["app"].routes if "app" in scope else []
        for route in routes:
            if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
                if endpoint is route.endpoint:
                    self._template_of[endpoint] = route.path
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        error_code: str | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, error_code
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and error_code is None and message["type"] == "http.response.body":
                error_code = error_code_of(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            log.exception(
                "unhandled error", extra={"route": self.route_of(scope), "method": scope["method"]}
            )
            if status:
                count_request(self.route_of(scope), scope["method"], status, error_code)
                raise
            await internal_error()(scope, receive, observed_send)
        count_request(self.route_of(scope), scope["method"], status, error_code)


_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def _utc_iso(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc (the trace)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


def log_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and the app: JSON lines on stderr."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ingestion_api.observability.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": False},
        },
    }
