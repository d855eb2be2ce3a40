"""Write one shard of history into the event log, through the API's validation.

The history is stamped with simulated receipt times, not the wall clock: each event is
received at the end of its 10-second delivery window, so the API's horizons are checked as
they would have been when the traffic happened (month-old history is accepted without
widening the API's lateness horizon) and everything downstream that reads receipt time
(lag, deduplication's first-received copy, data quality by hour) sees realistic values.

Traffic is planned an hour of arrivals at a time (`traffic.Traffic`); an event is final
once every arrival before its delivery time is planned, so each hour's delivered events
are written when that hour's arrivals are. For every batch:

- the client JSON of the valid events is decoded in one call by the API's own decoder
  (`marquee.events.decode_event_array`: the contract's types, ranges, patterns and the
  cross-field rules); a batch with any rejection, or events outside the API's time
  horizons, goes through `ingest_events` window by window instead;
- the log records are built in bulk (`records`) with `received_at_ms` the end of the
  event's delivery window, and each viewer pseudonymised once per shard with the API's
  `Pseudonymiser` and the data directory's key; the first window of every batch is also
  run through `ingest_events` and must give the same bytes, so a drift between this
  module and the API stops the history instead of writing records the API would not
  have written;
- the deliberately broken copies (`faults.break_event`, same kinds and marker as the
  simulator) go through `ingest_events`, so they are quarantined with the API's reasons.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator

import msgspec
import numpy as np
import polars as pl

from marquee.eventlog.segments import SegmentWriter
from marquee.events import EventRejected, decode_event_array
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.intake.quarantine import encode_records
from marquee.layout import DataLayout
from tools.history.plan import WARMUP_S, HistoryPlan, Shard
from tools.history.worker import ShardResult, WriterConfig
from tools.simulator.clock import HOUR_MS
from tools.simulator.faults import INVALID_KINDS, FaultRates, break_event
from tools.simulator.model import World
from tools.simulator.vector.population import titles, viewers
from tools.simulator.vector.records import Names, with_json
from tools.simulator.vector.traffic import Traffic

WINDOW_MS = 10_000
"""Delivered traffic received at a time (one 'request' per window)."""
CHUNK_MS = HOUR_MS
"""Arrivals planned at a time: an hour of traffic is a few MB of columns per creator-100."""
WRITE_ROWS = 50_000
_NEVER_BY_AGE_S = float("inf")
_KINDS = tuple(INVALID_KINDS)


@functools.cache
def _world(seed: int, creators: int) -> World:
    return World(seed, creators)


class _Keys:
    """Pseudonyms by viewer index, each computed once with the API's `Pseudonymiser`."""

    def __init__(self, pseudonymise: Pseudonymiser, app_id: str, ids: np.ndarray) -> None:
        self._pseudonymise = pseudonymise
        self._app_id = app_id
        self._ids = ids
        self._known = np.zeros(len(ids), dtype=bool)
        self._series = pl.Series("viewer_key", [None] * len(ids), dtype=pl.String)

    def gather(self, viewer: pl.Series) -> pl.Series:
        seen = viewer.unique().to_numpy()
        missing = seen[~self._known[seen]]
        if len(missing):
            keys = [self._pseudonymise(self._app_id, str(self._ids[v])) for v in missing]
            self._series.scatter(missing, pl.Series(keys, dtype=pl.String))
            self._known[missing] = True
        return self._series.gather(viewer)


def shard_batches(
    plan: HistoryPlan, shard: Shard, app_id: str, pseudonymise: Pseudonymiser
) -> Iterator[pl.DataFrame]:
    """The shard's events delivered in it, hour by hour, in delivery order, each row with
    its `raw` client JSON, its log `record`, `received_at_ms` and `invalid` (a broken
    copy of the event is delivered too). The same plan and shard give the same rows."""
    audience = viewers(plan.seed, max(2_000, 300 * plan.creators))
    warmup_ms = int(WARMUP_S * 1000)
    catalogue = titles(_world(plan.seed, plan.creators), shard.start_ms - warmup_ms, shard.end_ms)
    traffic = Traffic(
        [plan.seed, 0x4157, shard.start_ms // 1000], plan.rate, catalogue, audience, FaultRates()
    )
    keys = _Keys(pseudonymise, app_id, audience.viewer_id)
    names = Names(audience, catalogue)
    pending: pl.DataFrame | None = None
    t = shard.start_ms - warmup_ms
    while t < shard.end_ms:
        end = min(shard.end_ms, (t // CHUNK_MS + 1) * CHUNK_MS)
        chunk = traffic.chunk(t, end)
        if not chunk.is_empty():
            pending = (
                chunk if pending is None else pl.concat([pending, chunk], how="diagonal_relaxed")
            )
        t = end
        if pending is None:
            continue
        due = pl.col("delivered") < end
        ready = pending.filter(due & (pl.col("delivered") >= shard.start_ms))
        pending = pending.filter(~due)
        if ready.height:
            yield _finish(ready, shard, names, keys, app_id)


def _finish(
    frame: pl.DataFrame, shard: Shard, names: Names, keys: _Keys, app_id: str
) -> pl.DataFrame:
    frame = frame.sort(["delivered", "t", "session", "order"], maintain_order=True)
    window = (frame["delivered"] - shard.start_ms) // WINDOW_MS + 1
    frame = names.name(frame).with_columns(
        viewer_key=keys.gather(frame["viewer"]),
        received_at_ms=(shard.start_ms + window * WINDOW_MS).clip(upper_bound=shard.end_ms),
    )
    return with_json(frame, app_id)


class _Output:
    """The shard's log and quarantine writers, and what went into them."""

    def __init__(self, layout: DataLayout, segment_max_bytes: int) -> None:
        self.log = SegmentWriter(layout.log_dir, segment_max_bytes, _NEVER_BY_AGE_S)
        self.quarantine = SegmentWriter(layout.quarantine_dir, segment_max_bytes, _NEVER_BY_AGE_S)
        self.accepted = 0
        self.quarantined = 0

    def records(self, data: bytes, count: int) -> None:
        self.log.write(data)
        self.accepted += count
        if self.log.should_seal():
            self.log.seal()

    def through_api(
        self, raw: list[bytes], received_at: list[int], app_id: str, enricher: Enricher
    ) -> bytes:
        """`ingest_events` one delivery window at a time, as the API receives them."""
        out = bytearray()
        start = 0
        while start < len(raw):
            stop = start
            while stop < len(raw) and received_at[stop] == received_at[start]:
                stop += 1
            result = ingest_events(
                raw[start:stop], None, app_id, received_at[start], None, enricher
            )
            if result.log_bytes:
                out += result.log_bytes
                self.records(bytes(result.log_bytes), result.accepted)
            if result.quarantine:
                self.quarantine.write(encode_records(result.quarantine))
                self.quarantined += len(result.quarantine)
            start = stop
        return bytes(out)

    def close(self) -> None:
        self.log.close()
        self.quarantine.close()


def write_shard(
    plan: HistoryPlan,
    shard: Shard,
    config: WriterConfig,
    report: Callable[[int], None] | None = None,
) -> ShardResult:
    """Generate, validate and append one shard; its segments are sealed when it returns."""
    started, started_cpu = time.perf_counter(), time.process_time()
    pseudonymise = Pseudonymiser(config.pseudonym_key)
    enricher = Enricher(
        pseudonymise,
        future_horizon_s=config.future_horizon_s,
        lateness_horizon_s=config.lateness_horizon_s,
    )
    output = _Output(DataLayout(config.data_dir), config.segment_max_bytes)
    breaker = random.Random(f"{plan.seed}:history-invalid:{shard.start_ms}")
    delivered = 0
    try:
        for batch in shard_batches(plan, shard, config.app_id, pseudonymise):
            delivered += _write_batch(batch, config, enricher, output, breaker)
            if report is not None:
                report(batch.height + int(batch["invalid"].sum()))
    finally:
        output.close()
    return ShardResult(
        shard=shard.index,
        delivered=delivered,
        accepted=output.accepted,
        quarantined=output.quarantined,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - started_cpu,
    )


def _write_batch(
    batch: pl.DataFrame,
    config: WriterConfig,
    enricher: Enricher,
    output: _Output,
    breaker: random.Random,
) -> int:
    """Validate and write one batch; returns the events delivered (broken copies too)."""
    received = pl.col("received_at_ms")
    in_horizon = (pl.col("t") <= received + config.future_horizon_s * 1000) & (
        pl.col("t") >= received - config.lateness_horizon_s * 1000
    )
    ok = batch.filter(in_horizon)
    out_of_horizon = batch.filter(~in_horizon)
    raw = ok["raw"].to_list()
    if not _all_valid(raw):
        ok, out_of_horizon = ok.clear(), batch
    else:
        _check_against_api(ok, config.app_id, enricher)
        for start in range(0, ok.height, WRITE_ROWS):
            block = ok["record"].slice(start, WRITE_ROWS)
            output.records(("\n".join(block.to_list()) + "\n").encode(), len(block))
    if out_of_horizon.height:
        output.through_api(
            [line.encode() for line in out_of_horizon["raw"].to_list()],
            out_of_horizon["received_at_ms"].to_list(),
            config.app_id,
            enricher,
        )
    broken = batch.filter(pl.col("invalid"))
    if broken.height:
        copies = [
            msgspec.json.encode(
                break_event(breaker, msgspec.json.decode(line), breaker.choice(_KINDS))
            )
            for line in broken["raw"].to_list()
        ]
        output.through_api(copies, broken["received_at_ms"].to_list(), config.app_id, enricher)
    return batch.height + broken.height


def _all_valid(raw: list[str]) -> bool:
    """The API's decoder accepts every event (one call for the whole batch)."""
    try:
        events = decode_event_array(("[" + ",".join(raw) + "]").encode())
    except (msgspec.ValidationError, msgspec.DecodeError):
        return False
    return len(events) == len(raw) and EventRejected not in set(map(type, events))


def _check_against_api(batch: pl.DataFrame, app_id: str, enricher: Enricher) -> None:
    """The first delivery window of the batch through `ingest_events` gives the same bytes."""
    if batch.is_empty():
        return
    first = batch.filter(pl.col("received_at_ms") == batch["received_at_ms"][0]).head(200)
    api = ingest_events(
        [line.encode() for line in first["raw"].to_list()],
        None,
        app_id,
        int(first["received_at_ms"][0]),
        None,
        enricher,
    )
    ours = ("\n".join(first["record"].to_list()) + "\n").encode()
    if bytes(api.log_bytes) != ours:
        raise RuntimeError(
            "vectorised records differ from the API's: "
            f"{bytes(api.log_bytes)[:300]!r} != {ours[:300]!r}"
        )
