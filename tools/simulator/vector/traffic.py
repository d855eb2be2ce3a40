"""Arrivals of one stretch of simulated time, all at once (`Simulator` and `Audience` as arrays).

Viewers arrive as a Poisson process whose rate is set, as in the simulator, from the target
event rate and the running mean of events per arrival. Each arrival picks a viewer (mild
Zipf over the audience) and what to watch with the simulator's pulls: a live stream on air
(weight: creator popularity x the stream's audience ramp, `model.live_ramp`), a creator's
story tray, a clip or a VOD (creator by Zipf popularity; titles weighted by recency as in
`World.library`), or rarely a stale reaction to a story that just expired. An arrival whose
creator has nothing of that kind tries again (up to eight times), as `Audience.choose` does.

Every event is then delivered as `faults.deliveries` would: most on time, some late, some
twice (same event id), some with an extra deliberately broken copy (see `records`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

from tools.simulator.audience import (
    CLIP_PULL,
    LIVE_PULL,
    STALE_PULL,
    STORY_PULL,
    VOD_PULL,
)
from tools.simulator.clock import DAY_MS, HOUR_MS, MINUTE_MS
from tools.simulator.engine import PRIOR_EVENTS_PER_ARRIVAL, PRIOR_WEIGHT
from tools.simulator.faults import FaultRates
from tools.simulator.model import BACKFILL_DAYS, STORY_TTL_MS
from tools.simulator.vector.discovery import plan_discovery
from tools.simulator.vector.engagement import around_views, reactions
from tools.simulator.vector.pieces import Pieces, lognormal_ms
from tools.simulator.vector.playback import Views, play_views
from tools.simulator.vector.population import CLIP, LIVE, STORY, VOD, Titles, Viewers
from tools.simulator.vector.stories import watch_trays

_KEY = np.int64(1) << np.int64(44)
_STALE_WITHIN_MS = 3 * HOUR_MS


@dataclass
class RateModel:
    """Running mean of events per arrival, so the delivered rate settles at the target."""

    events: int = 0
    arrivals: int = 0

    def arrivals_per_ms(self, rate_per_s: float) -> float:
        per_arrival = (self.events + PRIOR_EVENTS_PER_ARRIVAL * PRIOR_WEIGHT) / (
            self.arrivals + PRIOR_WEIGHT
        )
        return rate_per_s / per_arrival / 1000.0


def _stories_index(titles: Titles) -> tuple[np.ndarray, np.ndarray]:
    stories = titles.of_type(STORY)
    return stories, titles.creator[stories] * _KEY + titles.published_ms[stories]


def _library(titles: Titles, kind: int, hour_start: int) -> tuple[np.ndarray, np.ndarray]:
    """Watchable titles of `kind` at `hour_start` and their running recency weights
    (`World.library`), grouped by creator."""
    today = hour_start // DAY_MS
    items = titles.of_type(kind)
    published = titles.published_ms[items]
    items = items[(published <= hour_start) & (published >= (today - BACKFILL_DAYS) * DAY_MS)]
    decay = 0.8 if kind == CLIP else 0.5
    weights = (1.0 + (hour_start - titles.published_ms[items]) / DAY_MS) ** -decay
    return items, np.cumsum(weights)


def _pick_in_group(
    rng: np.random.Generator,
    group_of_items: np.ndarray,
    cum: np.ndarray,
    group: np.ndarray,
) -> np.ndarray:
    """An item of each `group` by weight (-1 when the group has none)."""
    lo = np.searchsorted(group_of_items, group, side="left")
    hi = np.searchsorted(group_of_items, group, side="right")
    has = hi > lo
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = cum[np.maximum(hi - 1, 0)] if len(cum) else np.zeros(len(group))
    target = base + rng.random(len(group)) * (top - base)
    pick = np.searchsorted(cum, target, side="right") if len(cum) else np.zeros(len(group))
    return np.where(has, np.clip(pick, lo, np.maximum(hi - 1, lo)), -1)


def _lives_pull(titles: Titles, at: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Live streams that may be on air, the popularity x ramp weight of each for each
    arrival (None without any), and each arrival's total live weight."""
    lives = titles.of_type(LIVE)
    lives = lives[(titles.published_ms[lives] <= at.max()) & (titles.ends_ms[lives] > at.min())]
    if len(lives) == 0:
        return lives, None, np.zeros(len(at))
    start = titles.published_ms[lives][None, :]
    length = (titles.ends_ms[lives] - titles.published_ms[lives])[None, :]
    progress = (at[:, None] - start) / length
    on_air = (progress >= 0.0) & (progress < 1.0)
    ramp = 0.15 + 0.85 * np.sin(np.pi * np.clip(progress, 0.0, 1.0)) ** 1.5
    weight = np.where(on_air, titles.popularity[titles.creator[lives]][None, :] * ramp, 0.0)
    return lives, weight, weight.sum(axis=1)


class Traffic:
    """Plans the events of arrivals in [start, end) of one shard; `chunk()` per stretch."""

    def __init__(
        self,
        rng_seed: list[int],
        rate: float,
        titles: Titles,
        audience: Viewers,
        faults: FaultRates,
    ) -> None:
        self.rng_seed = rng_seed
        self.rate = rate
        self.titles = titles
        self.audience = audience
        self.faults = faults
        self.model = RateModel()
        self.stories, self.story_keys = _stories_index(titles)
        self.arrivals: Counter[str] = Counter()
        """Arrivals planned so far by what they came for: play, stories, stale_reaction."""
        self._sessions = 0
        self._chunks = 0

    def use_titles(self, titles: Titles) -> None:
        """Plan the next chunks over `titles` (an endless stream's catalogue grows daily).
        Title indices of chunks already handed out refer to the titles they were planned on."""
        self.titles = titles
        self.stories, self.story_keys = _stories_index(titles)

    def chunk(self, start: int, end: int) -> pl.DataFrame:
        """Every event of the arrivals in [start, end), with delivery times (any order)."""
        rng = np.random.default_rng([*self.rng_seed, self._chunks])
        self._chunks += 1
        lam = self.model.arrivals_per_ms(self.rate)
        n = int(rng.poisson(lam * (end - start)))
        at = np.sort(rng.integers(start, end, n))
        pieces = Pieces()
        first_session = self._sessions
        planned = self._plan(rng, pieces, at)
        frame = pieces.frame()
        if frame.is_empty():
            return frame
        session_ids = np.append(uuid4_strings(rng, self._sessions - first_session), "")
        numbered = (  # the sort on four narrow columns, not on the whole frame
            frame.select("session", "t", "order")
            .with_row_index("_row")
            .sort(["session", "t", "order"], maintain_order=True)
            .with_columns(
                pl.when(pl.col("session") >= 0)
                .then(pl.int_range(pl.len(), dtype=pl.Int64).over("session"))
                .alias("seq")
            )
            .sort("_row")
        )
        frame = frame.with_columns(numbered["seq"])
        ids = pl.Series(session_ids).gather((frame["session"] - first_session).clip(lower_bound=0))
        frame = frame.with_columns(
            pl.when(pl.col("session") >= 0).then(ids).otherwise(None).alias("session_id")
        )
        self.model.events += frame.height
        self.model.arrivals += planned
        return self._deliver(rng, frame)

    def _plan(self, rng: np.random.Generator, pieces: Pieces, at: np.ndarray) -> int:
        audience, titles = self.audience, self.titles
        n = len(at)
        if n == 0:
            return 0
        viewer = np.searchsorted(audience.activity_cum, rng.random(n), side="right")
        viewer = np.minimum(viewer, audience.count - 1)
        lives, weight, live_total = _lives_pull(titles, at)
        live_pull = LIVE_PULL * live_total
        pick = rng.random(n) * (STORY_PULL + CLIP_PULL + VOD_PULL + STALE_PULL + live_pull)
        is_live = pick < live_pull
        play_title = np.full(n, -1)
        if weight is not None and is_live.any():
            rows = np.flatnonzero(is_live)
            cum = np.cumsum(weight[rows], axis=1)
            u = rng.random(len(rows)) * cum[:, -1]
            play_title[rows] = lives[np.minimum((cum <= u[:, None]).sum(axis=1), len(lives) - 1)]
        pick = pick - live_pull
        kind = np.where(
            pick < STALE_PULL,
            -1,
            np.where(
                pick < STALE_PULL + STORY_PULL,
                STORY,
                np.where(pick < STALE_PULL + STORY_PULL + CLIP_PULL, CLIP, VOD),
            ),
        )
        kind = np.where(is_live, LIVE, kind)
        stale_title = np.full(n, -1)
        tray_first = np.full(n, -1)
        tray_len = np.zeros(n, dtype=np.int64)
        hour = int(at[0] // HOUR_MS) * HOUR_MS
        libraries = {k: _library(titles, k, hour) for k in (VOD, CLIP)}
        todo = np.flatnonzero(~is_live)
        for attempt in range(8):
            if len(todo) == 0:
                break
            creator = np.searchsorted(titles.popularity_cum, rng.random(len(todo)), side="right")
            creator = np.minimum(creator, len(titles.popularity) - 1)
            k, t = kind[todo], at[todo]
            resolved = np.zeros(len(todo), dtype=bool)
            stale = np.flatnonzero(k == -1)
            if len(stale):
                lo = np.searchsorted(
                    self.story_keys,
                    creator[stale] * _KEY + t[stale] - _STALE_WITHIN_MS - STORY_TTL_MS,
                    "left",
                )
                hi = np.searchsorted(
                    self.story_keys, creator[stale] * _KEY + t[stale] - STORY_TTL_MS, "left"
                )
                has = hi > lo
                choice = lo + (rng.random(len(stale)) * (hi - lo)).astype(np.int64)
                stale_title[todo[stale[has]]] = self.stories[choice[has]]
                resolved[stale[has]] = True
                kind[todo[stale[~has]]] = STORY
                k = kind[todo]
            story = np.flatnonzero(k == STORY)
            lo = np.searchsorted(
                self.story_keys, creator[story] * _KEY + t[story] - STORY_TTL_MS, "right"
            )
            hi = np.searchsorted(self.story_keys, creator[story] * _KEY + t[story], "right")
            has = hi > lo
            tray_first[todo[story[has]]] = lo[has]  # position in self.stories
            tray_len[todo[story[has]]] = hi[has] - lo[has]
            resolved[story[has]] = True
            for lib_kind, (items, cum) in libraries.items():
                rows = np.flatnonzero(k == lib_kind)
                if len(rows) == 0:
                    continue
                chosen = _pick_in_group(rng, titles.creator[items], cum, creator[rows])
                ok = chosen >= 0
                play_title[todo[rows[ok]]] = items[chosen[ok]]
                resolved[rows[ok]] = True
            todo = todo[~resolved]
            kind[todo] = np.array([CLIP, VOD, STORY])[rng.integers(0, 3, len(todo))]
            del attempt
        plays = np.flatnonzero(play_title >= 0)
        self._play(rng, pieces, at[plays], viewer[plays], play_title[plays])
        trays = np.flatnonzero(tray_len > 0)
        self._sessions += watch_trays(
            rng, pieces, at[trays], viewer[trays], self.stories, tray_first[trays],
            tray_len[trays], titles, self.audience, self._sessions,
        )  # fmt: skip
        stale = np.flatnonzero(stale_title >= 0)
        reactions(rng, pieces, at[stale], viewer[stale], stale_title[stale], titles)
        self.arrivals.update(play=len(plays), stories=len(trays), stale_reaction=len(stale))
        return n

    def _play(
        self,
        rng: np.random.Generator,
        pieces: Pieces,
        t0: np.ndarray,
        viewer: np.ndarray,
        title: np.ndarray,
    ) -> None:
        """`Simulator._play` and `_intent_for`: what each viewer means to watch, then the view."""
        titles, n = self.titles, len(t0)
        kind = titles.content_type[title]
        # Surfaces and impressions draw from their own stream, so adding them left every
        # other draw of the chunk as it was.
        discovery_rng = np.random.default_rng([*self.rng_seed, self._chunks, 1])
        surface, t0 = plan_discovery(discovery_rng, pieces, t0, viewer, title, kind)
        since = len(pieces)
        duration = titles.duration_ms[title]
        u = rng.random(n)
        full = rng.random(n)
        vod_watch = np.where(
            full < 0.3, duration, np.maximum(3_000, (duration * u**1.8).astype(np.int64))
        )
        clip_watch = np.where(
            full < 0.55, duration, np.maximum(1_000, (duration * u**1.2).astype(np.int64))
        )
        live_watch = np.minimum(
            3 * 60 * MINUTE_MS, np.maximum(20_000, lognormal_ms(rng, 10 * MINUTE_MS, 1.0, n))
        )
        watch = np.where(kind == VOD, vod_watch, np.where(kind == CLIP, clip_watch, live_watch))
        roll = rng.random(n)
        autoplay = roll < np.where(kind == VOD, 0.1, np.where(kind == CLIP, 0.8, 0.05))
        preroll = rng.random(n) < np.where(kind == VOD, 0.6, np.where(kind == CLIP, 0.05, 0.3))
        exit_reason = np.where(
            (kind == CLIP) & (rng.random(n) < 0.7), "replaced", "user_exit"
        ).astype(object)
        views = Views(
            t0=t0,
            viewer=viewer,
            title=title,
            content_type=kind,
            duration_ms=duration,
            watch_ms=watch,
            exit_reason=exit_reason,
            autoplay=autoplay,
            preroll=preroll,
            midrolls=kind != CLIP,
            interactive=kind == VOD,
            live_start_ms=titles.published_ms[title],
            live_end_ms=titles.ends_ms[title],
        )
        outcome = play_views(rng, pieces, views, self.audience, self._sessions)
        pieces.set_per_session(since, "play_requested", "surface", surface, self._sessions)
        self._sessions += n
        around_views(rng, pieces, viewer, title, outcome, titles, self.audience)

    def _deliver(self, rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
        """Delivery times, duplicates (a second row, `duplicate` true) and the rows whose
        broken copy is delivered too (`invalid`), as `faults.deliveries` decides them."""
        rates = self.faults
        n = frame.height
        roll = rng.random(n)
        late = roll < rates.late
        duplicate = ~late & (roll < rates.late + rates.duplicate)
        invalid = ~late & ~duplicate & (roll < rates.late + rates.duplicate + rates.invalid)
        t = frame["t"].to_numpy()
        delay = rng.integers(rates.late_min_ms, rates.late_max_ms + 1, n)
        frame = frame.with_columns(
            pl.Series("delivered", np.where(late, t + delay, t)),
            pl.Series("event_id", uuid4_strings(rng, n)),
            pl.Series("invalid", invalid),
            pl.lit(False).alias("duplicate"),
        )
        again = rng.integers(200, rates.duplicate_max_delay_ms + 1, int(duplicate.sum()))
        copies = frame.filter(pl.Series(duplicate)).with_columns(
            (pl.col("t") + pl.Series(again)).alias("delivered"),
            pl.lit(False).alias("invalid"),
            pl.lit(True).alias("duplicate"),
        )
        return pl.concat([frame, copies], how="vertical_relaxed")


def uuid4_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    """Version-4 UUIDs drawn from `rng` (as `sampling.uuid4` does), lower-case hex."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode(), dtype="S1").reshape(n, 32)
    out = np.full((n, 36), b"-", dtype="S1")
    for dst, src in ((slice(0, 8), slice(0, 8)), (slice(9, 13), slice(8, 12)),
                     (slice(14, 18), slice(12, 16)), (slice(19, 23), slice(16, 20)),
                     (slice(24, 36), slice(20, 32))):  # fmt: skip
        out[:, dst] = hexed[:, src]
    return out.view("S36").ravel().astype(str)
