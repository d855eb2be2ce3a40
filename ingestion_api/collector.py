"""What the routes of one worker share: settings, the event and quarantine logs, the enricher.

One Collector per worker process, made in the app's lifespan; routes reach it through
`request.app.state.collector`.
"""

from __future__ import annotations

import time

from starlette.requests import Request

from ingestion_api.enrich import Enricher, Pseudonymiser, scrub_viewer_ids
from ingestion_api.quarantine import QuarantineRecord, encode_records
from marquee.eventlog.group_commit import GroupCommitLog
from marquee.settings import Settings


class Collector:
    def __init__(self, settings: Settings) -> None:
        layout = settings.layout.ensure()
        self.settings = settings
        self.apps_by_key = settings.app_for_write_key()
        self.enricher = Enricher(
            Pseudonymiser(settings.resolved_pseudonym_key()),
            future_horizon_s=settings.future_horizon_s,
            lateness_horizon_s=settings.lateness_horizon_s,
        )
        self.events_log = GroupCommitLog(
            layout.log_dir, settings.segment_max_bytes, settings.segment_max_age_s
        )
        self.quarantine_log = GroupCommitLog(
            layout.quarantine_dir, settings.segment_max_bytes, settings.segment_max_age_s
        )

    def start(self) -> None:
        self.events_log.start_sealer()
        self.quarantine_log.start_sealer()

    async def close(self) -> None:
        await self.events_log.close()
        await self.quarantine_log.close()

    def cdn_country(self, request: Request) -> str | None:
        header = self.settings.trusted_country_header
        if not header:
            return None
        value = request.headers.get(header, "").strip().upper()
        return value if len(value) == 2 and value.isalpha() else None

    async def quarantine_body(self, app_id: str, code: str, detail: str, body: bytes) -> None:
        """Keep a body refused as a whole, viewer ids pseudonymised."""
        payload = scrub_viewer_ids(body, app_id, self.enricher.pseudonymise)
        record = QuarantineRecord(
            quarantined_at_ms=int(time.time() * 1000),
            app_id=app_id,
            reason=code,
            detail=detail,
            payload=payload.decode("utf-8", "replace"),
        )
        await self.quarantine_log.append(encode_records([record]))
