"""Deliver a notification: POST it as JSON to the webhook, or log it when none is set.

MARQUEE_ALERT_WEBHOOK_URL names the receiver (a Slack incoming webhook reads the `text`
field; any other receiver gets the whole object). A delivery that gets no 2xx within
TIMEOUT_S raises, and the store (`alerts.state.AlertStore.deliver`) retries it later with
backoff; nothing here retries, so one slow receiver never holds the evaluation loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger("alerts")

TIMEOUT_S = 5.0


def webhook_sender(url: str | None) -> Callable[[dict[str, Any]], None]:
    """A function that delivers one notification to `url`, or logs it when `url` is None."""
    if not url:

        def log_only(payload: dict[str, Any]) -> None:
            log.warning("alert (no MARQUEE_ALERT_WEBHOOK_URL set): %s", payload["text"])

        return log_only

    client = httpx.Client(timeout=TIMEOUT_S)

    def post(payload: dict[str, Any]) -> None:
        response = client.post(url, json=payload)
        response.raise_for_status()
        log.info("alert delivered: %s", payload["text"])

    return post
