"""The audience: who the viewers are, and what each new arrival decides to watch.

Viewers are a fixed population with a platform, a country (hence a `NetworkProfile`), a
device and habits (how chatty, whether they tip). Some viewers are far more active than
others (a mild Zipf over viewers), and creators are chosen by their Zipf popularity, so both
"unique viewers" and "views per creator" come out long-tailed.

What an arrival watches depends on the time: live streams on air pull viewers in proportion
to their creator's popularity and their audience ramp (see `model.live_ramp`), and viewers
who saw a story announcing a live stream are more likely to join it. The audience also keeps
who follows whom, so follow/unfollow events stay consistent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tools.simulator.clock import HOUR_MS
from tools.simulator.model import Content, Creator, World
from tools.simulator.network import (
    COUNTRIES,
    PLATFORM_SHARE,
    PLATFORMS,
    NetworkProfile,
    profile_for,
)
from tools.simulator.sampling import cumulative, zipf_weights

OS_DEVICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "web": (
        ("Windows 10", "Windows 11", "Mac OS X 10.15.7", "macOS 14.6", "ChromeOS 128", "Linux"),
        ("Chrome 131", "Safari 18", "Firefox 133", "Edge 131"),
    ),
    "ios": (
        ("iOS 17.5", "iOS 17.6.1", "iOS 18.1", "iOS 18.1.1", "iPadOS 18.1"),
        (
            "iPhone14,5", "iPhone14,7", "iPhone15,2", "iPhone15,4", "iPhone16,1",
            "iPhone16,2", "iPhone17,1", "iPad13,18", "iPad14,3",
        ),
    ),
    "android": (
        ("Android 12", "Android 13", "android 14", "Android 14", "Android 15"),
        (
            "Pixel 6a", "Pixel 7", "Pixel 8", "Pixel 8 Pro", "Pixel 9", "SM-S918B", "SM-S911B",
            "SM-A546E", "SM-A155F", "SM-A057F", "SM-G991B", "SM-M146B", "Redmi Note 13",
            "Redmi 13C", "moto g54", "moto g84", "CPH2581", "V2303", "Infinix X6833B",
            "TECNO KI7", "2201117TG", "M2101K6G", "RMX3771", "A065", "22101316G",
        ),
    ),
    "tv": (
        ("tvOS 18.1", "Tizen 8.0", "webOS 24", "Android TV 12", "Roku OS 13.0", "Fire OS 7"),
        ("AppleTV14,1", "Samsung QN90D", "LG OLED C4", "Chromecast HD", "Roku Ultra", "AFTKA"),
    ),
}  # fmt: skip
"""Per platform: the OS names and device models its players report, raw (the pipeline
normalises them: "android 14" and "Android 14" are one OS). Android's long tail of models
is longer than the marts' top 20 devices a day, so the demo shows the `other` fold."""
APP_VERSIONS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "web": (("2026.10.3", "2026.11.1", "2026.11.2"), (1, 3, 6)),
    "ios": (("5.2.1", "5.3.0", "5.4.0", "5.4.1 (5567)"), (1, 1, 2, 4)),
    "android": (("5.2.0", "5.3.1", "5.4.0", "5.4.1", "5.5.0-beta"), (1, 2, 3, 4, 1)),
    "tv": (("3.1.9", "3.2.0"), (2, 3)),
}
"""Per platform: its app's versions as the app reports them, and how many viewers run each
(newer ones more); each platform's app has its own version line."""
_APP_VERSION_CUM = {
    platform: cumulative(weights) for platform, (_, weights) in APP_VERSIONS.items()
}

# Relative pull of each kind of arrival. Live pull multiplies the summed popularity x ramp
# of the streams on air, so a top creator mid-stream draws a large share of all arrivals.
STORY_PULL, CLIP_PULL, VOD_PULL, STALE_PULL = 0.30, 0.30, 0.25, 0.003
LIVE_PULL = 5.0
_REMINDED_JOIN = 0.4
"""Chance that a live arrival is a viewer who saw the stream's announcing story."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """One app user on one device. `envelope` holds the envelope fields their app sends."""

    index: int
    viewer_id: str
    platform: str
    country: str
    envelope: dict[str, Any]
    epoch_ts: bool
    """Sends `ts` as epoch milliseconds (Android's System.currentTimeMillis) not RFC 3339."""
    chat_per_min: float
    tipper: bool
    profile: NetworkProfile


@dataclass(frozen=True, slots=True)
class Arrival:
    """A viewer arriving to watch: a title (`play`), a story tray, or a stale reaction."""

    kind: str
    viewer: Viewer
    creator: Creator
    content: Content | None = None
    tray: list[Content] = field(default_factory=list)


class Audience:
    """The viewer population and the choices and relationships of its members."""

    def __init__(self, world: World, seed: int, n_viewers: int) -> None:
        self.world = world
        rng = random.Random(f"{seed}:viewers")
        country_cum = cumulative([c.share for c in COUNTRIES])
        platform_cum = cumulative(PLATFORM_SHARE)
        viewers = []
        for index in range(n_viewers):
            platform = rng.choices(PLATFORMS, cum_weights=platform_cum)[0]
            country = rng.choices(COUNTRIES, cum_weights=country_cum)[0].code
            os_names, devices = OS_DEVICES[platform]
            envelope: dict[str, Any] = {
                "platform": platform,
                "app_version": rng.choices(
                    APP_VERSIONS[platform][0], cum_weights=_APP_VERSION_CUM[platform]
                )[0],
                "os": rng.choice(os_names),
                "device": rng.choice(devices),
            }
            # Some web clients send no country: the API takes it from the CDN header then.
            if platform != "web" or rng.random() > 0.05:
                envelope["country"] = country
            viewers.append(
                Viewer(
                    index=index,
                    viewer_id=f"v_{index:06d}",
                    platform=platform,
                    country=country,
                    envelope=envelope,
                    epoch_ts=platform == "android",
                    chat_per_min=0.8 if rng.random() < 0.15 else 0.01,
                    tipper=rng.random() < 0.05,
                    profile=profile_for(platform, country),
                )
            )
        self.viewers: tuple[Viewer, ...] = tuple(viewers)
        activity = zipf_weights(n_viewers, 0.7)
        rng.shuffle(activity)
        self._viewer_cum = cumulative(activity)
        self.follows: set[tuple[int, int]] = set()
        self._reminded: dict[str, tuple[int, list[int]]] = {}

    def pick_viewer(self, rng: random.Random) -> Viewer:
        return rng.choices(self.viewers, cum_weights=self._viewer_cum)[0]

    def remember_announcement(self, live: str, live_ends_ms: int, viewer: Viewer) -> None:
        """A viewer saw a story announcing `live`: they may come back when it is on air."""
        self._reminded.setdefault(live, (live_ends_ms, []))[1].append(viewer.index)

    def _forget_ended(self, t_ms: int) -> None:
        for live in [k for k, (ends, _) in self._reminded.items() if ends < t_ms]:
            del self._reminded[live]

    def choose(self, rng: random.Random, t_ms: int) -> Arrival | None:
        """What an arrival at `t_ms` watches; None when nothing is watchable yet."""
        world = self.world
        viewer = self.pick_viewer(rng)
        lives, live_cum, live_total = world.lives_on_air(t_ms)
        live_pull = LIVE_PULL * live_total
        pick = rng.random() * (STORY_PULL + CLIP_PULL + VOD_PULL + STALE_PULL + live_pull)
        if pick < live_pull:
            live = rng.choices(lives, cum_weights=live_cum)[0]
            reminded = self._reminded.get(live.content_id)
            if reminded and rng.random() < _REMINDED_JOIN:
                viewer = self.viewers[rng.choice(reminded[1])]
            if len(self._reminded) > 1000:
                self._forget_ended(t_ms)
            return Arrival("play", viewer, world.creators[live.creator_index], live)
        pick -= live_pull
        if pick < STALE_PULL:
            creator = world.pick_creator(rng)
            expired = world.expired_stories(creator.index, t_ms, 3 * HOUR_MS)
            if expired:
                return Arrival("stale_reaction", viewer, creator, rng.choice(expired))
            kind = "story"
        elif pick < STALE_PULL + STORY_PULL:
            kind = "story"
        elif pick < STALE_PULL + STORY_PULL + CLIP_PULL:
            kind = "clip"
        else:
            kind = "vod"
        for _ in range(8):
            creator = world.pick_creator(rng)
            if kind == "story":
                tray = world.active_stories(creator.index, t_ms)
                if tray:
                    return Arrival("stories", viewer, creator, tray=tray)
            else:
                items, cum = world.library(creator.index, kind, t_ms)
                if items:
                    return Arrival("play", viewer, creator, rng.choices(items, cum_weights=cum)[0])
            kind = rng.choice(("clip", "vod", "story"))
        return None
