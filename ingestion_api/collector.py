"""What the routes of one worker share: settings, the event and quarantine logs, the enricher.

One Collector per worker process, made in the app's lifespan; routes reach it through
`request.app.state.collector`. Both logs are chosen by URL (`marquee.eventlog.factory`):
segment files on local disk by default, Kafka or Pub/Sub in production. A bad URL fails
the start-up, before the worker takes any request.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from starlette.requests import Request

from marquee.eventlog.base import EventLog, EventLogURLError
from marquee.eventlog.factory import open_event_log
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.quarantine import QuarantineRecord, encode_records
from marquee.intake.scrub import scrub_viewer_ids
from marquee.privacy.tombstones import Tombstones
from marquee.settings import Settings

log = logging.getLogger("ingestion_api")


def _open_log(setting: str, url: str, default_dir: Path, settings: Settings) -> EventLog:
    try:
        return open_event_log(
            url,
            default_dir=default_dir,
            segment_max_bytes=settings.segment_max_bytes,
            segment_max_age_s=settings.segment_max_age_s,
        )
    except EventLogURLError as error:
        raise EventLogURLError(f"{setting}: {error}") from None


def country_code(header_value: str | None) -> str | None:
    """The country a trusted CDN header names, if it is a two-letter code."""
    value = (header_value or "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else None


class Collector:
    def __init__(self, settings: Settings) -> None:
        layout = settings.layout.ensure()
        self.settings = settings
        self.apps_by_key = settings.app_for_write_key()
        self.enricher = Enricher(
            Pseudonymiser(settings.resolved_pseudonym_key()),
            future_horizon_s=settings.future_horizon_s,
            lateness_horizon_s=settings.lateness_horizon_s,
            erased=Tombstones(layout).current,
        )
        self.events_log = _open_log(
            "MARQUEE_EVENT_LOG_URL", settings.event_log_url, layout.log_dir, settings
        )
        self.quarantine_log = _open_log(
            "MARQUEE_QUARANTINE_LOG_URL",
            settings.quarantine_log_url,
            layout.quarantine_dir,
            settings,
        )

    def start(self) -> None:
        """Start the logs' background work: sealing segments, polling delivery reports."""
        self.events_log.start()
        self.quarantine_log.start()
        log.info(
            "event log: %s; quarantine: %s",
            self.events_log.describe(),
            self.quarantine_log.describe(),
        )

    async def close(self) -> None:
        try:
            await self.events_log.close()
        finally:
            await self.quarantine_log.close()

    def cdn_country(self, request: Request) -> str | None:
        header = self.settings.trusted_country_header
        return country_code(request.headers.get(header)) if header else None

    async def quarantine_body(
        self, app_id: str, code: str, detail: str, body: bytes, cdn_country: str | None
    ) -> None:
        """Keep a body refused as a whole, viewer ids pseudonymised, with the CDN country."""
        payload = scrub_viewer_ids(body, app_id, self.enricher.pseudonymise)
        record = QuarantineRecord(
            quarantined_at_ms=int(time.time() * 1000),
            app_id=app_id,
            reason=code,
            detail=detail,
            payload=payload.decode("utf-8", "replace"),
            cdn_country=cdn_country,
        )
        await self.quarantine(record)

    def not_erased(self, records: list[QuarantineRecord]) -> list[QuarantineRecord]:
        """The records that hold no erased viewer's pseudonym (docs/privacy.md): those of
        an erased viewer are kept nowhere."""
        erased = self.enricher.erased() if self.enricher.erased is not None else frozenset()
        if not erased:
            return records
        return [r for r in records if not any(pseudonym in r.payload for pseudonym in erased)]

    async def quarantine(self, *records: QuarantineRecord) -> None:
        """Append quarantine records, but an erased viewer's."""
        kept = self.not_erased(list(records))
        if kept:
            await self.quarantine_log.append(encode_records(kept))
