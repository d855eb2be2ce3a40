"""The world and the audience as arrays: what the vectorised generator draws from.

Creators and titles come from the simulator's own `World` (planned per creator per day from
the same seeds), so the catalogue `python -m tools.history` writes names every title the
vectorised events name, exactly as for the scalar simulator. The viewers follow the
simulator's `Audience` distributions (platform and country shares, OS, device and app
version per platform, chatty viewers and tippers, a mild Zipf of activity, a
`NetworkProfile` per platform and country), drawn with numpy in one go instead of one
`Viewer` object at a time (building 300,000 of those cost seconds per shard).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from tools.simulator.audience import APP_VERSIONS, OS_DEVICES
from tools.simulator.clock import DAY_MS
from tools.simulator.engagement import TIP_US_CENTS, round_price
from tools.simulator.model import BACKFILL_DAYS, World
from tools.simulator.network import COUNTRIES, PLATFORM_SHARE, PLATFORMS, profile_for
from tools.simulator.sampling import zipf_weights

CONTENT_TYPES = ("vod", "clip", "live", "story")
VOD, CLIP, LIVE, STORY = range(4)
PROFILE_FIELDS = (
    "startup_median_ms",
    "startup_sigma",
    "stalls_per_min",
    "stall_median_ms",
    "fatal_failure_prob",
    "fatal_per_min",
    "bandwidth_median_kbps",
    "max_height",
    "buffer_target_ms",
    "seek_median_ms",
)


def _json_str(value: str) -> str:
    """A JSON string literal for the plain ASCII names used here (no escapes needed)."""
    if not value.isascii() or '"' in value or "\\" in value:
        raise ValueError(f"unexpected text in a generated field: {value!r}")
    return f'"{value}"'


@dataclass(frozen=True)
class Viewers:
    viewer_id: np.ndarray
    """`v_000123`, as the simulator names viewers."""
    platform: np.ndarray
    country: np.ndarray
    epoch_ts: np.ndarray
    """Android apps send `ts` as epoch milliseconds, the others as RFC 3339."""
    chat_per_min: np.ndarray
    tipper: np.ndarray
    activity_cum: np.ndarray
    envelope: np.ndarray
    """JSON text of the envelope fields after `viewer_id` (platform .. country)."""
    profile: dict[str, np.ndarray]
    tip_amount: np.ndarray
    """(viewer, tip choice) -> amount in the viewer's currency's minor units."""
    currency: np.ndarray

    @property
    def count(self) -> int:
        return len(self.viewer_id)


@functools.cache
def viewers(seed: int, n_viewers: int) -> Viewers:
    rng = np.random.default_rng([seed, 0x7615])
    shares = np.array([c.share for c in COUNTRIES])
    platform = rng.choice(len(PLATFORMS), n_viewers, p=np.array(PLATFORM_SHARE) / 1.0)
    country = rng.choice(len(COUNTRIES), n_viewers, p=shares / shares.sum())
    version_pick = rng.random(n_viewers)
    os_pick = rng.random(n_viewers)
    device_pick = rng.random(n_viewers)
    sends_country = (platform != PLATFORMS.index("web")) | (rng.random(n_viewers) > 0.05)
    # Few distinct envelopes: build the text of each once, then index it per viewer.
    app_version = np.empty(n_viewers, dtype=np.int64)
    os_index = np.empty(n_viewers, dtype=np.int64)
    device_index = np.empty(n_viewers, dtype=np.int64)
    for code, name in enumerate(PLATFORMS):
        mine = platform == code
        weights = np.cumsum(APP_VERSIONS[name][1], dtype=float)
        app_version[mine] = np.searchsorted(weights / weights[-1], version_pick[mine], "right")
        os_names, devices = OS_DEVICES[name]
        os_index[mine] = (os_pick[mine] * len(os_names)).astype(np.int64)
        device_index[mine] = (device_pick[mine] * len(devices)).astype(np.int64)
    combos = np.stack(
        [platform, app_version, os_index, device_index, country, sends_country], axis=1
    )
    distinct, which = np.unique(combos, axis=0, return_inverse=True)
    texts = []
    for p_code, version, os_at, device_at, country_at, sends in distinct.tolist():
        name = PLATFORMS[p_code]
        os_names, devices = OS_DEVICES[name]
        text = (
            f',"platform":"{name}","app_version":{_json_str(APP_VERSIONS[name][0][version])}'
            f',"os":{_json_str(os_names[os_at])},"device":{_json_str(devices[device_at])}'
        )
        if sends:
            text += f',"country":"{COUNTRIES[country_at].code}"'
        texts.append(text)
    envelope = np.array(texts)[which.ravel()]
    profiles = [
        [profile_for(p, c.code) for c in COUNTRIES] for p in PLATFORMS
    ]  # 4 x 20 profiles, then looked up per viewer
    profile = {
        name: np.array([[getattr(pr, name) for pr in row] for row in profiles], dtype=float)[
            platform, country
        ]
        for name in PROFILE_FIELDS
    }
    activity = np.array(zipf_weights(n_viewers, 0.7))
    rng.shuffle(activity)
    tips = np.array(
        [[round_price(cents * c.minor_per_usd_cent) for cents in TIP_US_CENTS] for c in COUNTRIES]
    )
    return Viewers(
        viewer_id=np.char.add("v_", np.char.zfill(np.arange(n_viewers).astype(str), 6)),
        platform=platform,
        country=country,
        epoch_ts=platform == PLATFORMS.index("android"),
        chat_per_min=np.where(rng.random(n_viewers) < 0.15, 0.8, 0.01),
        tipper=rng.random(n_viewers) < 0.05,
        activity_cum=np.cumsum(activity) / activity.sum(),
        envelope=envelope,
        profile=profile,
        tip_amount=tips[country],
        currency=np.array([c.currency for c in COUNTRIES])[country],
    )


@dataclass(frozen=True)
class Titles:
    """Every title that events in a range can name, sorted by (creator, published)."""

    content_id: np.ndarray
    creator: np.ndarray
    content_type: np.ndarray
    duration_ms: np.ndarray
    published_ms: np.ndarray
    ends_ms: np.ndarray
    """End of a live stream (0 for other titles)."""
    fragment: np.ndarray
    """JSON text `,"creator_id":..,"content_id":..,"content_type":..` of the title."""
    creator_fragment: np.ndarray
    """JSON text `,"creator_id":..` by creator index (follow and unfollow name no title)."""
    popularity_cum: np.ndarray
    popularity: np.ndarray

    def of_type(self, content_type: int) -> np.ndarray:
        return np.flatnonzero(self.content_type == content_type)


def titles(world: World, start_ms: int, end_ms: int) -> Titles:
    """Titles published from the back catalogue before `start_ms` to a day after `end_ms`."""
    first_day = start_ms // DAY_MS - BACKFILL_DAYS - 2
    last_day = end_ms // DAY_MS + 1
    items = [
        item
        for creator in world.creators
        for day in range(first_day, last_day + 1)
        for item in world.content_on_day(creator.index, day)
    ]
    items.sort(key=lambda item: (item.creator_index, item.published_at_ms, item.content_id))
    popularity = np.array([creator.popularity for creator in world.creators])
    return Titles(
        content_id=np.array([item.content_id for item in items]),
        creator=np.array([item.creator_index for item in items], dtype=np.int64),
        content_type=np.array(
            [CONTENT_TYPES.index(item.content_type) for item in items], dtype=np.int64
        ),
        duration_ms=np.array([item.duration_ms or 0 for item in items], dtype=np.int64),
        published_ms=np.array([item.published_at_ms for item in items], dtype=np.int64),
        ends_ms=np.array([item.ends_at_ms or 0 for item in items], dtype=np.int64),
        fragment=np.array(
            [
                f',"creator_id":"{item.creator_id}","content_id":"{item.content_id}"'
                f',"content_type":"{item.content_type}"'
                for item in items
            ]
        ),
        creator_fragment=np.array([f',"creator_id":"{c.creator_id}"' for c in world.creators]),
        popularity_cum=np.cumsum(popularity) / popularity.sum(),
        popularity=popularity,
    )
