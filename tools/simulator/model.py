"""The simulated world: creators with long-tailed popularity and what they publish.

Creators' popularity follows a Zipf law (a few creators get most views, as on every social
platform), and more popular creators also publish and go live more often. Content is planned
per creator per UTC day from a random generator seeded by (seed, creator, day), so any day's
catalogue is the same no matter when, in which order or how often it is asked for: the
catalogue written at start-up and the events generated hours later always agree.

Each day a creator may publish VOD, clips, 24-hour stories and a scheduled live stream; most
live streams are announced by a story a few hours before (`announces_live_id`), which is what
the story-to-live conversion metric measures. Popular creators' live streams have clips cut
from them (`source_live_id`) while on air and soon after, which the clips-per-live metric
measures.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from tools.simulator.clock import DAY_MS, HOUR_MS, MINUTE_MS, day_stamp, rfc3339_ms, utc_day
from tools.simulator.sampling import cumulative, lognormal_ms, poisson, zipf_weights

BACKFILL_DAYS = 30
"""How far back VOD and clips stay watchable (and are written to the catalogue)."""

STORY_TTL_MS = DAY_MS

_FIRST_NAMES = (
    "Aria", "Leo", "Mila", "Kai", "Nova", "Zane", "Ivy", "Theo", "Luna", "Omar", "Sana", "Eli",
    "Maya", "Ravi", "Chloe", "Diego", "Yuki", "Amara", "Finn", "Zara", "Noah", "Lea", "Ikaika",
    "Priya", "Mateo", "Aiko", "Femi", "Sofia", "Jonas", "Nia",
)  # fmt: skip
_NICHES: dict[str, tuple[str, ...]] = {
    "Cooks": ("One-pan dinner", "Street food tour", "Knife skills", "Sourdough day",
              "Ramen from scratch", "Budget meal prep"),
    "Plays": ("Speedrun attempt", "Ranked grind", "Indie game first look", "Boss rush",
              "Co-op chaos", "Patch notes reaction"),
    "Sings": ("Acoustic session", "Cover request night", "Writing a song", "Vocal warm-up",
              "Studio vlog", "Duet challenge"),
    "Travels": ("Night market walk", "Mountain hut", "Train across the coast", "Hidden beach",
                "Old town tour", "Packing light"),
    "Lifts": ("Leg day", "Mobility routine", "5k training", "Home workout",
              "Form check", "Rest day talk"),
    "Laughs": ("Sketch", "Crowd work", "Prank gone wrong", "Stand-up set",
               "Reading comments", "Impressions"),
    "Builds": ("Desk setup", "Keyboard build", "Phone teardown", "Home lab",
               "Code along", "Gadget review"),
    "Glows": ("Get ready with me", "Skincare routine", "Thrift haul", "Hair tutorial",
              "Five-minute look", "Outfit ideas"),
}  # fmt: skip
_NICHE_NAMES = tuple(_NICHES)

# Live streams start mostly in the (UTC) afternoon and evening.
_LIVE_HOUR_WEIGHTS = cumulative(
    [1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 9, 7, 4, 2]
)
_LIVE_MINUTES = (30, 45, 60, 90, 120, 180)
_LIVE_MINUTE_WEIGHTS = cumulative([2, 3, 5, 4, 3, 1])
_CREATORS_JOIN_FROM_MS = 1_672_531_200_000  # 2023-01-01
_CREATORS_JOIN_SPAN_DAYS = 545  # until mid-2024: every creator is older than 2025 traffic


@dataclass(frozen=True, slots=True)
class Creator:
    """A creator: popularity is its share of views; activity scales how much it publishes."""

    index: int
    creator_id: str
    name: str
    niche: str
    created_at_ms: int
    popularity: float
    activity: float

    def record(self) -> dict[str, Any]:
        """The catalogue record (EVENTS.md, "Catalogue")."""
        return {
            "creator_id": self.creator_id,
            "name": self.name,
            "created_at": rfc3339_ms(self.created_at_ms),
        }


@dataclass(frozen=True, slots=True)
class Content:
    """A title: VOD, clip, story or live stream. `ends_at_ms` is internal (live end)."""

    content_id: str
    creator_index: int
    creator_id: str
    content_type: str
    title: str
    duration_ms: int | None
    published_at_ms: int
    expires_at_ms: int | None = None
    announces_live_id: str | None = None
    ends_at_ms: int | None = None
    source_live_id: str | None = None

    def record(self) -> dict[str, Any]:
        """The catalogue record. A live stream's length is unknown to the catalogue up front."""
        return {
            "content_id": self.content_id,
            "creator_id": self.creator_id,
            "content_type": self.content_type,
            "title": self.title,
            "duration_ms": None if self.content_type == "live" else self.duration_ms,
            "published_at": rfc3339_ms(self.published_at_ms),
            "expires_at": None if self.expires_at_ms is None else rfc3339_ms(self.expires_at_ms),
            "announces_live_id": self.announces_live_id,
            "source_live_id": self.source_live_id,
        }


def live_ramp(progress: float) -> float:
    """Relative audience of a live stream at `progress` (0..1): low at both ends, peak mid-way.

    Viewers trickle in when a stream starts, pile in once it is going (notifications, shares)
    and leave as it winds down; arrival weights follow this curve.
    """
    if progress < 0.0 or progress > 1.0:
        return 0.0
    return 0.15 + 0.85 * math.sin(math.pi * progress) ** 1.5


class World:
    """Creators and their content, planned lazily and deterministically per day."""

    def __init__(
        self,
        seed: int,
        n_creators: int,
        zipf_exponent: float = 1.1,
        *,
        on_air_at_ms: int | None = None,
        on_air_lives: int = 0,
    ) -> None:
        """`on_air_lives` extra live streams, of the most popular creators, are on air at
        `on_air_at_ms` (see `_on_air_lives`)."""
        if n_creators < 1:
            raise ValueError("at least one creator is needed")
        self.seed = seed
        rng = random.Random(f"{seed}:creators")
        shares = zipf_weights(n_creators, zipf_exponent)
        rng.shuffle(shares)  # the most popular creator is not always cr_0000
        top = max(shares)
        creators = []
        for index, share in enumerate(shares):
            niche = rng.choice(_NICHE_NAMES)
            joined_day = rng.randrange(_CREATORS_JOIN_SPAN_DAYS)
            creators.append(
                Creator(
                    index=index,
                    creator_id=f"cr_{index:04d}",
                    name=f"{rng.choice(_FIRST_NAMES)} {niche}",
                    niche=niche,
                    created_at_ms=_CREATORS_JOIN_FROM_MS
                    + joined_day * DAY_MS
                    + rng.randrange(DAY_MS),
                    popularity=share,
                    activity=0.25 + 0.75 * (share / top) ** 0.35,
                )
            )
        self.creators: tuple[Creator, ...] = tuple(creators)
        self._creator_cum = cumulative([c.popularity for c in creators])
        self._days: dict[tuple[int, int], tuple[Content, ...]] = {}
        self._library: dict[tuple[int, str, int], tuple[list[Content], list[float]]] = {}
        self._on_air: tuple[int, list[Content], list[float], float] = (-1, [], [], 0.0)
        self._extra: dict[tuple[int, int], list[Content]] = {}
        if on_air_at_ms is not None:
            for live in self._on_air_lives(on_air_at_ms, on_air_lives):
                key = (live.creator_index, utc_day(live.published_at_ms))
                self._extra.setdefault(key, []).append(live)

    def _on_air_lives(self, at_ms: int, count: int) -> list[Content]:
        """Live streams that started 5 to 40 minutes before `at_ms` and last 2 to 3 hours,
        one for each of the `count` most popular creators.

        Scheduled lives start mostly in the UTC afternoon and evening, so a demo started at
        05:00 UTC would otherwise have nothing on air; these make the first hours of a run
        show live traffic whatever the hour. Their ids end in `_onair`.
        """
        rng = random.Random(f"{self.seed}:on-air:{at_ms // MINUTE_MS}")
        popular = sorted(self.creators, key=lambda creator: -creator.popularity)[:count]
        lives = []
        for creator in popular:
            start = (at_ms // MINUTE_MS - rng.randint(5, 40)) * MINUTE_MS
            minutes = rng.choice((120, 150, 180))
            lives.append(
                Content(
                    content_id=f"live_{creator.index:04d}_{day_stamp(utc_day(start))}_onair",
                    creator_index=creator.index,
                    creator_id=creator.creator_id,
                    content_type="live",
                    title=f"LIVE: {rng.choice(_NICHES[creator.niche])}",
                    duration_ms=minutes * MINUTE_MS,
                    published_at_ms=start,
                    ends_at_ms=start + minutes * MINUTE_MS,
                )
            )
        return lives

    def pick_creator(self, rng: random.Random) -> Creator:
        """A creator drawn by popularity (Zipf)."""
        return rng.choices(self.creators, cum_weights=self._creator_cum)[0]

    def content_on_day(self, creator_index: int, day: int) -> tuple[Content, ...]:
        """Everything `creator_index` plans for UTC `day` (announcing stories may fall earlier)."""
        key = (creator_index, day)
        cached = self._days.get(key)
        if cached is None:
            if len(self._days) > 64 * len(self.creators):
                self._days.clear()
            cached = self._plan_day(creator_index, day)
            self._days[key] = cached
        return cached

    def _plan_day(self, creator_index: int, day: int) -> tuple[Content, ...]:
        creator = self.creators[creator_index]
        day_start = day * DAY_MS
        if day_start + DAY_MS <= creator.created_at_ms:
            return ()
        rng = random.Random(f"{self.seed}:content:{creator_index}:{day}")
        phrases = _NICHES[creator.niche]
        stamp = day_stamp(day)
        items: list[Content] = []

        def new_id(kind: str) -> str:
            return f"{kind}_{creator_index:04d}_{stamp}_{len(items)}"

        def publish_time() -> int:
            return max(day_start + rng.randrange(DAY_MS), creator.created_at_ms)

        activity = creator.activity
        for _ in range(poisson(rng, 0.05 + 0.35 * activity)):
            items.append(
                Content(
                    content_id=new_id("vod"),
                    creator_index=creator_index,
                    creator_id=creator.creator_id,
                    content_type="vod",
                    title=f"{rng.choice(phrases)}, part {rng.randint(1, 12)}",
                    duration_ms=min(
                        60 * MINUTE_MS, max(2 * MINUTE_MS, lognormal_ms(rng, 540_000, 0.6))
                    ),
                    published_at_ms=publish_time(),
                )
            )
        for _ in range(poisson(rng, 0.3 + 1.2 * activity)):
            items.append(
                Content(
                    content_id=new_id("clip"),
                    creator_index=creator_index,
                    creator_id=creator.creator_id,
                    content_type="clip",
                    title=f"{rng.choice(phrases)}: the best bit",
                    duration_ms=rng.randint(8, 60) * 1_000,
                    published_at_ms=publish_time(),
                )
            )
        for _ in range(poisson(rng, 0.5 + 2.5 * activity)):
            published = publish_time()
            items.append(
                Content(
                    content_id=new_id("story"),
                    creator_index=creator_index,
                    creator_id=creator.creator_id,
                    content_type="story",
                    title=f"Story {rfc3339_ms(published)[11:16]}",
                    duration_ms=rng.randint(5, 15) * 1_000,
                    published_at_ms=published,
                    expires_at_ms=published + STORY_TTL_MS,
                )
            )
        if rng.random() < min(0.9, 0.1 + 0.5 * activity):
            hour = rng.choices(range(24), cum_weights=_LIVE_HOUR_WEIGHTS)[0]
            start = day_start + hour * HOUR_MS + rng.choice((0, 15, 30, 45)) * MINUTE_MS
            minutes = rng.choices(_LIVE_MINUTES, cum_weights=_LIVE_MINUTE_WEIGHTS)[0]
            if start >= creator.created_at_ms:
                live = Content(
                    content_id=new_id("live"),
                    creator_index=creator_index,
                    creator_id=creator.creator_id,
                    content_type="live",
                    title=f"LIVE: {rng.choice(phrases)}",
                    duration_ms=minutes * MINUTE_MS,
                    published_at_ms=start,
                    ends_at_ms=start + minutes * MINUTE_MS,
                )
                items.append(live)
                if rng.random() < 0.7:
                    published = start - rng.randint(60, 360) * MINUTE_MS
                    items.append(
                        Content(
                            content_id=new_id("story"),
                            creator_index=creator_index,
                            creator_id=creator.creator_id,
                            content_type="story",
                            title=f"Live at {rfc3339_ms(start)[11:16]} UTC: {live.title[6:]}",
                            duration_ms=10_000,
                            published_at_ms=published,
                            expires_at_ms=published + STORY_TTL_MS,
                            announces_live_id=live.content_id,
                        )
                    )
        items.extend(self._extra.get((creator_index, day), ()))
        for live in [item for item in items if item.content_type == "live"]:
            items.extend(self._clips_of_live(creator, live))
        items.sort(key=lambda item: item.published_at_ms)
        return tuple(items)

    def _clips_of_live(self, creator: Creator, live: Content) -> list[Content]:
        """Clips cut from a live stream (`source_live_id`): the more popular the creator, the
        likelier and the more (certain for the most active: one plus Poisson(2 x activity)).
        Each is published between 5 minutes into the stream and an hour after its end, so
        the clips of a stream on air appear while it runs. A generator of its own (seeded by
        the live's id) leaves every other draw of the day's plan as it was.
        """
        rng = random.Random(f"{self.seed}:live-clips:{live.content_id}")
        if live.ends_at_ms is None or rng.random() >= creator.activity**2:
            return []
        latest = live.ends_at_ms - live.published_at_ms + HOUR_MS
        stem = live.content_id.replace("live_", "clip_", 1)
        return [
            Content(
                content_id=f"{stem}_cut{n}",
                creator_index=creator.index,
                creator_id=creator.creator_id,
                content_type="clip",
                title=f"{live.title.removeprefix('LIVE: ')}: moment {n + 1}",
                duration_ms=rng.randint(10, 60) * 1_000,
                published_at_ms=live.published_at_ms + rng.randint(5 * MINUTE_MS, latest),
                source_live_id=live.content_id,
            )
            for n in range(1 + poisson(rng, 2.0 * creator.activity))
        ]

    def active_stories(self, creator_index: int, t_ms: int) -> list[Content]:
        """The creator's story tray at `t_ms`: unexpired stories, oldest first."""
        day = utc_day(t_ms)
        return [
            item
            for d in (day - 1, day, day + 1)
            for item in self.content_on_day(creator_index, d)
            if item.content_type == "story"
            and item.published_at_ms <= t_ms
            and item.expires_at_ms is not None
            and t_ms < item.expires_at_ms
        ]

    def expired_stories(self, creator_index: int, t_ms: int, within_ms: int) -> list[Content]:
        """Stories of the creator that expired in the last `within_ms` (stale app trays)."""
        day = utc_day(t_ms)
        return [
            item
            for d in (day - 2, day - 1, day)
            for item in self.content_on_day(creator_index, d)
            if item.content_type == "story"
            and item.expires_at_ms is not None
            and t_ms - within_ms <= item.expires_at_ms < t_ms
        ]

    def library(
        self, creator_index: int, kind: str, t_ms: int
    ) -> tuple[list[Content], list[float]]:
        """Watchable VOD or clips of a creator at `t_ms`, with recency-weighted cum. weights.

        Newer titles get more views (weight ~ (1 + age in days)^-a). Computed per hour, so a
        title becomes watchable at the first full hour after it is published.
        """
        hour = t_ms // HOUR_MS
        key = (creator_index, kind, hour)
        cached = self._library.get(key)
        if cached is not None:
            return cached
        if len(self._library) > 8 * len(self.creators):
            self._library.clear()
        hour_start = hour * HOUR_MS
        today = utc_day(hour_start)
        decay = 0.8 if kind == "clip" else 0.5
        items = [
            item
            for d in range(today - BACKFILL_DAYS, today + 1)
            for item in self.content_on_day(creator_index, d)
            if item.content_type == kind and item.published_at_ms <= hour_start
        ]
        weights = [(1.0 + (hour_start - item.published_at_ms) / DAY_MS) ** -decay for item in items]
        cached = (items, cumulative(weights))
        self._library[key] = cached
        return cached

    def lives_on_air(self, t_ms: int) -> tuple[list[Content], list[float], float]:
        """Live streams on air at `t_ms` with cumulative weights popularity x audience ramp.

        Returns (lives, cumulative weights, total weight); recomputed once per minute.
        """
        minute = t_ms // MINUTE_MS
        if self._on_air[0] != minute:
            day = utc_day(t_ms)
            lives: list[Content] = []
            weights: list[float] = []
            for creator in self.creators:
                for d in (day - 1, day):
                    for item in self.content_on_day(creator.index, d):
                        if item.content_type != "live" or item.ends_at_ms is None:
                            continue
                        if item.published_at_ms <= t_ms < item.ends_at_ms:
                            length = item.ends_at_ms - item.published_at_ms
                            progress = (t_ms - item.published_at_ms) / length
                            lives.append(item)
                            weights.append(creator.popularity * live_ramp(progress))
            self._on_air = (minute, lives, cumulative(weights), sum(weights))
        return self._on_air[1], self._on_air[2], self._on_air[3]

    def content_published_between(self, from_ms: int, to_ms: int) -> list[Content]:
        """Content with `from_ms <= published_at < to_ms`, by publication time, plus the
        live streams that those stories announce (a live may be scheduled after `to_ms`) and
        that those clips were cut from (a live may start before `from_ms`)."""
        candidates = [
            item
            for creator in self.creators
            for d in range(utc_day(from_ms) - 1, utc_day(to_ms) + 2)
            for item in self.content_on_day(creator.index, d)
        ]
        found = [item for item in candidates if from_ms <= item.published_at_ms < to_ms]
        announced = {item.announces_live_id for item in found if item.announces_live_id}
        announced |= {item.source_live_id for item in found if item.source_live_id}
        found += [
            item
            for item in candidates
            if item.content_id in announced and not from_ms <= item.published_at_ms < to_ms
        ]
        found.sort(key=lambda item: (item.published_at_ms, item.content_id))
        return found

    def catalogue(
        self, from_ms: int, to_ms: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Catalogue records (creators, content) for everything published in [from, to).

        Call with `from_ms` at least BACKFILL_DAYS before the first simulated event, as
        `catalogue_for_traffic` does, so every title an event names is in it.
        """
        creators = [creator.record() for creator in self.creators]
        content = [item.record() for item in self.content_published_between(from_ms, to_ms)]
        return creators, content

    def catalogue_for_traffic(
        self, start_ms: int, end_ms: int, warmup_ms: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Catalogue records covering every title that traffic in [start, end) can name:
        back over the watchable back catalogue and the warm-up, and one day past `end` so
        that announced live streams are already known."""
        since = start_ms - warmup_ms - (BACKFILL_DAYS + 1) * DAY_MS
        return self.catalogue(since, end_ms + DAY_MS)
