"""Replay and backfill: count what sealed segments or the quarantine hold and was never counted.

Two sources, one path. Replay picks the records that no committed run counted, validates
them with today's code, and *appends the valid ones to the event log* (MARQUEE_EVENT_LOG_URL)
like the API would; then local mode's real pipeline counts them with its exactly-once
protocol (ledger, seen-event dedup, lake files per run). So a replay needs no second way of
committing outputs, and with a broker event log the streaming job counts them the same way.

- `--segments FROM..TO`: sealed log segments in that name range. A segment no run has
  consumed yet is simply left to the pipeline run at the end. In a segment a committed run
  consumed, every record was counted (itself or an earlier copy of its event id) except
  those the run turned into dead letters (`lake/dead_letters/run-<id>.parquet` names the
  segment and keeps the payload): only those are candidates, e.g. after a fix of the
  pipeline's reader.
- `--quarantine [--since T] [--until T]`: records the API refused, re-validated with the
  current contract and ingest path (`marquee.intake.ingest`), with the original arrival time
  as `received_at` (so the time horizons judge them as they arrived) and without
  pseudonymising again (the quarantine already holds pseudonyms), with the request's
  `sent_at` and CDN country the quarantine kept (a refused body keeps its own `sent_at`),
  so a replayed event gets the event time and country the API would have given it then.
  Records quarantined before those were kept have neither: their time is the client `ts`
  uncorrected, their country the one the event carried.

Idempotent, within and beyond the deduplication window. Every source record replay has
dealt with is recorded in `state/replay.duckdb` (source, segment, line, item within a
body): fed, or found already counted. A record recorded there is never fed again, so a
second replay changes nothing even after the pipeline forgot the event ids (its seen set
keeps 24 h). Candidates are also checked against the seen set and against each other, so
an event already counted by another path is skipped as a duplicate. Order: append (durable)
first, then record; a crash in between feeds the records again on the next replay, where
the pipeline's seen-event dedup drops them (that retry comes well within 24 h). Records
still invalid are not recorded, so a later fix can still replay them.

Not covered: a record whose event id is missing or unreadable cannot be matched to a dead
letter; and a dead letter whose event id also had a valid copy counted more than 24 h ago
would count again (both need a client to reuse an event id across valid and invalid
records).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import polars as pl
from tqdm import tqdm

from marquee.eventlog.factory import local_directory, open_event_log
from marquee.eventlog.segments import recover_open_segments, sealed_segments
from marquee.events import Time
from marquee.intake.body import BodyError, ParsedBody, split_events
from marquee.intake.enrich import Enricher, Pseudonymiser, to_epoch_ms
from marquee.intake.ingest import ingest_events
from marquee.intake.quarantine import QuarantineRecord
from marquee.lake import DEAD_LETTERS
from marquee.layout import DataLayout
from pipelines.ledger import RunStats, already_seen, connect_with_retry
from pipelines.local_runner import LocalRunner
from pipelines.sinks.lake import read_run_table
from pipelines.validation import Reason, check_record

if TYPE_CHECKING:
    import argparse

    from marquee.settings import Settings

LOG = "log"
QUARANTINE = "quarantine"
WHOLE_BODY = -1
"""`item` of a source record that is one event; items of a quarantined body are 0, 1, ..."""

REPLAY_SCHEMA = """
create table if not exists replayed (
    source varchar not null,
    segment varchar not null,
    line bigint not null,
    item bigint not null,
    event_id varchar,
    outcome varchar not null,
    replayed_at_ms bigint not null,
    primary key (source, segment, line, item)
);
"""


# -- what was replayed -------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKey:
    """Where a source record is: its segment, its line, and its index within a body."""

    source: str
    segment: str
    line: int
    item: int = WHOLE_BODY


class ReplayLedger:
    """`state/replay.duckdb`: every source record a replay fed or found already counted.

    A file of its own, so replay never changes the pipeline ledger's schema.
    """

    def __init__(self, layout: DataLayout) -> None:
        self.path = layout.state_db.parent / "replay.duckdb"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with connect_with_retry(self.path, read_only=False) as conn:
            conn.execute(REPLAY_SCHEMA)

    def done(self, source: str, segment: str) -> set[tuple[int, int]]:
        """(line, item) of the records of a segment that are done with."""
        with connect_with_retry(self.path, read_only=False) as conn:
            rows = conn.execute(
                "select line, item from replayed where source = ? and segment = ?",
                [source, segment],
            ).fetchall()
        return {(int(line), int(item)) for line, item in rows}

    def record(self, outcomes: list[tuple[RecordKey, str | None, str]]) -> None:
        """Record (key, event id, outcome) rows in one transaction; repeats are ignored."""
        if not outcomes:
            return
        now_ms = int(time.time() * 1000)
        frame = pl.DataFrame(
            [
                (key.source, key.segment, key.line, key.item, event_id, outcome, now_ms)
                for key, event_id, outcome in outcomes
            ],
            schema={
                "source": pl.Utf8,
                "segment": pl.Utf8,
                "line": pl.Int64,
                "item": pl.Int64,
                "event_id": pl.Utf8,
                "outcome": pl.Utf8,
                "replayed_at_ms": pl.Int64,
            },
            orient="row",
        ).to_arrow()
        with connect_with_retry(self.path, read_only=False) as conn:
            conn.register("outcomes", frame)
            conn.execute("insert or ignore into replayed select * from outcomes")


# -- summary -----------------------------------------------------------------------------


@dataclass
class ReplaySummary:
    """What a replay found and did; `render()` is the report printed at the end."""

    source: str
    segments: int = 0
    records_read: int = 0
    newly_counted: int = 0
    duplicates_skipped: int = 0
    already_replayed: int = 0
    already_counted: int = 0
    pending_segments: int = 0
    pending_records: int = 0
    still_invalid: Counter[str] = field(default_factory=Counter)
    runs: list[RunStats] = field(default_factory=list)
    counted_by: str = "the pipeline run below"

    def render(self) -> str:
        invalid = ", ".join(f"{reason} {n}" for reason, n in sorted(self.still_invalid.items()))
        lines = [
            f"replay of {self.source}: {self.segments} segments, {self.records_read} records read",
            f"  newly counted       {self.newly_counted:>9}  (fed to the event log)",
            f"  duplicates skipped  {self.duplicates_skipped:>9}  "
            "(event already counted, or twice in the input)",
            f"  already replayed    {self.already_replayed:>9}  (by an earlier replay)",
        ]
        if self.source == LOG:
            lines += [
                f"  already counted     {self.already_counted:>9}  "
                "(by the run that consumed their segment)",
                f"  pending segments    {self.pending_segments:>9}  "
                f"({self.pending_records} records, never consumed: counted by "
                f"{self.counted_by})",
            ]
        lines.append(
            f"  still invalid       {sum(self.still_invalid.values()):>9}"
            + (f"  {invalid}" if invalid else "")
        )
        if self.runs:
            lines.append(
                f"  pipeline: {len(self.runs)} runs, "
                f"{sum(run.events_read for run in self.runs)} events read, "
                f"{sum(run.duplicates for run in self.runs)} duplicates, "
                f"{sum(run.dead_letters for run in self.runs)} dead letters"
            )
        return "\n".join(lines)


# -- candidates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A log record (as the event log keeps it) that replay may feed, and where it came from."""

    key: RecordKey
    event_id: str
    line: bytes
    received_at_ms: int


class _Ids(msgspec.Struct):
    event_id: str | None = None
    received_at_ms: int | None = None


_ids = msgspec.json.Decoder(_Ids)


def _ids_of(line: bytes) -> _Ids:
    try:
        return _ids.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _Ids()


def segment_range(names: Iterable[str], spec: str) -> list[str]:
    """Names within `FROM..TO` (inclusive; either end a name or a prefix, or empty)."""
    first, sep, last = spec.partition("..")
    if not sep:
        raise ValueError(f"{spec!r} is not FROM..TO (either end may be empty)")
    return [
        name
        for name in names
        if (not first or name[: len(first)] >= first) and (not last or name[: len(last)] <= last)
    ]


def consumed_by(state_db: Path, segments: list[str]) -> dict[str, int]:
    """The run that consumed each of these segments, for those a committed run consumed."""
    if not segments or not state_db.exists():
        return {}
    with connect_with_retry(state_db, read_only=True) as conn:
        rows = conn.execute(
            "select c.segment, c.run_id from consumed_segments c join runs r using (run_id) "
            "where r.state = 'committed' and c.segment in (select unnest(?::varchar[]))",
            [segments],
        ).fetchall()
    return {str(segment): int(run_id) for segment, run_id in rows}


def dead_letters_of(lake_dir: Path, run_id: int, segment: str) -> tuple[set[str], set[str]]:
    """(payloads, event ids) of the records run `run_id` refused in `segment`."""
    letters = read_run_table(lake_dir, DEAD_LETTERS, run_id)
    if letters is None:
        return set(), set()
    payloads = letters.filter(pl.col("segment") == segment)["payload"].to_list()
    ids = {_ids_of(payload.encode()).event_id for payload in payloads}
    return set(payloads), {event_id for event_id in ids if event_id}


# -- the replay --------------------------------------------------------------------------


class Replay:
    """One replay: collects candidates, feeds the new ones, records them, runs the pipeline."""

    def __init__(self, settings: Settings, progress: bool = True, run: bool = True) -> None:
        self.settings = settings
        self.run = run
        """Run local mode's pipeline at the end; off when `pipelines local` is running."""
        self.layout = settings.layout.ensure()
        self.ledger = ReplayLedger(self.layout)
        self.progress = progress
        self.log_dir = local_directory(settings.event_log_url, self.layout.log_dir)
        self.fed_ids: set[str] = set()
        """Event ids this replay fed: the seen set knows them only once a run commits."""

    # sources

    def segments(self, spec: str) -> ReplaySummary:
        """Replay the sealed log segments named by `FROM..TO`."""
        if self.log_dir is None:
            raise ReplayError(
                "--segments reads a segment log, but MARQUEE_EVENT_LOG_URL names a broker"
            )
        recover_open_segments(self.log_dir)
        names = segment_range((path.name for path in sealed_segments(self.log_dir)), spec)
        summary = ReplaySummary(LOG, segments=len(names))
        consumed = consumed_by(self.layout.state_db, names)
        for name in self._bar(names, summary):
            lines = (self.log_dir / name).read_bytes().splitlines()
            records = sum(1 for line in lines if line.strip())
            summary.records_read += records
            run_id = consumed.get(name)
            if run_id is None:
                summary.pending_segments += 1
                summary.pending_records += records
                continue
            self._feed(self._log_candidates(name, run_id, lines, summary), summary)
        self._count(summary)
        return summary

    def quarantine(self, since_ms: int | None, until_ms: int | None) -> ReplaySummary:
        """Re-validate quarantined records (quarantined in [since, until)) and feed the valid."""
        directory = local_directory(self.settings.quarantine_log_url, self.layout.quarantine_dir)
        if directory is None:
            raise ReplayError(
                "--quarantine reads a segment quarantine, but MARQUEE_QUARANTINE_LOG_URL "
                "names a broker"
            )
        recover_open_segments(directory)
        names = [path.name for path in sealed_segments(directory)]
        summary = ReplaySummary(QUARANTINE, segments=len(names))
        enricher = Enricher(
            KeepPseudonyms(),
            future_horizon_s=self.settings.future_horizon_s,
            lateness_horizon_s=self.settings.lateness_horizon_s,
        )
        for name in self._bar(names, summary):
            lines = (directory / name).read_bytes().splitlines()
            candidates = self._quarantine_candidates(
                name, lines, enricher, since_ms, until_ms, summary
            )
            self._feed(candidates, summary)
        self._count(summary)
        return summary

    def _log_candidates(
        self, segment: str, run_id: int, lines: list[bytes], summary: ReplaySummary
    ) -> Iterator[Candidate]:
        payloads, ids = dead_letters_of(self.layout.lake_dir, run_id, segment)
        done = self.ledger.done(LOG, segment)
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            key = RecordKey(LOG, segment, number)
            parsed = _ids_of(line)
            refused = line.decode("utf-8", "replace") in payloads or parsed.event_id in ids
            if not refused:
                summary.already_counted += 1
                continue
            if (number, key.item) in done:
                summary.already_replayed += 1
                continue
            event_id, reason = check_record(line)
            if reason is not None or event_id is None:
                summary.still_invalid[str(reason or Reason.INVALID_EVENT_ID)] += 1
                continue
            yield Candidate(key, event_id, line, parsed.received_at_ms or 0)

    def _quarantine_candidates(
        self,
        segment: str,
        lines: list[bytes],
        enricher: Enricher,
        since_ms: int | None,
        until_ms: int | None,
        summary: ReplaySummary,
    ) -> Iterator[Candidate]:
        done = self.ledger.done(QUARANTINE, segment)
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = _quarantine_record.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                summary.records_read += 1
                summary.still_invalid["unreadable_quarantine_record"] += 1
                continue
            if (since_ms is not None and record.quarantined_at_ms < since_ms) or (
                until_ms is not None and record.quarantined_at_ms >= until_ms
            ):
                continue
            yield from self._revalidate(segment, number, record, enricher, done, summary)

    def _revalidate(
        self,
        segment: str,
        number: int,
        record: QuarantineRecord,
        enricher: Enricher,
        done: set[tuple[int, int]],
        summary: ReplaySummary,
    ) -> Iterator[Candidate]:
        payload = record.payload.encode()
        sent_at: Time | None
        if record.index is not None:
            raw_events, sent_at, items = [payload], record.sent_at_ms, [WHOLE_BODY]
        else:
            try:
                body = split_body(payload)
            except BodyError as error:
                summary.records_read += 1
                summary.still_invalid[error.code] += 1
                return
            raw_events, sent_at = body.events, body.sent_at
            items = list(range(len(raw_events)))
        summary.records_read += len(raw_events)
        pending = [
            (raw, item)
            for raw, item in zip(raw_events, items, strict=True)
            if (number, item) not in done
        ]
        summary.already_replayed += len(raw_events) - len(pending)
        if not pending:
            return
        result = ingest_events(
            [raw for raw, _ in pending],
            sent_at,
            record.app_id,
            record.quarantined_at_ms,
            record.cdn_country,
            enricher,
        )
        rejected = {int(str(item["index"])): str(item["reason"]) for item in result.rejected}
        for reason in rejected.values():
            summary.still_invalid[reason] += 1
        accepted = [item for index, (_, item) in enumerate(pending) if index not in rejected]
        log_lines = bytes(result.log_bytes).splitlines(keepends=True)
        for item, line in zip(accepted, log_lines, strict=True):
            parsed = _ids_of(line)
            yield Candidate(
                RecordKey(QUARANTINE, segment, number, item),
                parsed.event_id or "",
                line,
                parsed.received_at_ms or record.quarantined_at_ms,
            )

    # feeding and counting

    def _feed(self, candidates: Iterable[Candidate], summary: ReplaySummary) -> None:
        """Skip candidates already counted (seen set, or earlier in this batch), feed the rest.

        The appended records are durable before they are recorded as fed.
        """
        batch = list(candidates)
        if not batch:
            return
        seen = set(
            already_seen(
                self.layout.state_db, pl.Series("event_id", [c.event_id for c in batch])
            ).to_list()
        )
        fed: list[Candidate] = []
        outcomes: list[tuple[RecordKey, str | None, str]] = []
        for candidate in sorted(batch, key=lambda c: (c.event_id, c.received_at_ms)):
            if candidate.event_id in seen or candidate.event_id in self.fed_ids:
                summary.duplicates_skipped += 1
                outcomes.append((candidate.key, candidate.event_id, "already_counted"))
                continue
            self.fed_ids.add(candidate.event_id)
            fed.append(candidate)
            outcomes.append((candidate.key, candidate.event_id, "fed"))
        if fed:
            self._append(b"".join(_with_newline(c.line) for c in fed))
        self.ledger.record(outcomes)
        summary.newly_counted += len(fed)

    def _append(self, data: bytes) -> None:
        settings = self.settings

        async def append() -> None:
            log = open_event_log(
                settings.event_log_url,
                default_dir=self.layout.log_dir,
                segment_max_bytes=settings.segment_max_bytes,
                segment_max_age_s=settings.segment_max_age_s,
            )
            log.start()
            try:
                await log.append(data)
            finally:
                await log.close()

        asyncio.run(append())

    def _count(self, summary: ReplaySummary) -> None:
        """Run local mode's pipeline until every sealed segment is consumed (segment logs)."""
        if self.log_dir is None:
            summary.counted_by = "the streaming job"
            return
        if not self.run:
            summary.counted_by = "the running local mode"
            return
        runner = LocalRunner(self.layout, log_dir=self.log_dir)
        while (stats := runner.run_once()) is not None:
            summary.runs.append(stats)

    def _bar(self, names: list[str], summary: ReplaySummary) -> Iterator[str]:
        bar = tqdm(
            names,
            desc=f"replay {summary.source}",
            unit="segment",
            disable=not self.progress,
            file=sys.stderr,
        )
        for name in bar:
            yield name
            bar.set_postfix(read=summary.records_read, new=summary.newly_counted, refresh=False)


_quarantine_record = msgspec.json.Decoder(QuarantineRecord)


class ReplayError(Exception):
    """A replay that cannot run with these settings (e.g. the log is a broker)."""


class KeepPseudonyms(Pseudonymiser):
    """Leaves viewer ids as they are: quarantined payloads already hold pseudonyms."""

    def __init__(self) -> None:
        super().__init__(b"unused: replay never hashes")

    def __call__(self, app_id: str, viewer_id: str) -> str:
        return viewer_id

    def cache_of(self, app_id: str) -> dict[str, str]:
        """An empty cache every time, so every id goes through `__call__`."""
        return {}


def split_body(payload: bytes) -> ParsedBody:
    """The events of a quarantined whole body: JSON (envelope or array), else NDJSON.

    The request's Content-Type is not kept, so JSON is tried first.
    """
    try:
        return split_events(payload, "application/json")
    except BodyError:
        if b"\n" not in payload.strip():
            raise
        return split_events(payload, "application/x-ndjson")


def _with_newline(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


def parse_time_ms(value: str) -> int:
    """Epoch milliseconds, or an ISO 8601 time (UTC when no offset is given)."""
    if value.isdigit():
        return int(value)
    return to_epoch_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))


def run_replay_command(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings
) -> int:
    """`python -m pipelines replay ...`: run it, print the summary; 0 on success."""
    replay = Replay(settings, progress=not args.no_progress, run=not args.no_run)
    try:
        if args.segments is not None:
            if args.since or args.until:
                parser.error("--since/--until apply to --quarantine")
            summary = replay.segments(args.segments)
        else:
            since = parse_time_ms(args.since) if args.since else None
            until = parse_time_ms(args.until) if args.until else None
            summary = replay.quarantine(since, until)
    except (ReplayError, ValueError) as error:
        parser.error(str(error))
    print(summary.render())
    return 0
