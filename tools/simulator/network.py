"""Playback conditions by platform and country: why QoE differs between viewers.

Each viewer gets a `NetworkProfile` from their platform and country. Countries carry a
network factor (1.0 on good fixed and mobile networks, up to ~3 on congested mobile ones)
that stretches startup, multiplies stalls and failures and shrinks bandwidth; platforms adjust
that (TVs are wired but slow to start, iOS fails least, Android spans cheap devices). The
numbers are plausible rather than measured: what matters downstream is that QoE dashboards
show real, explainable differences by country and platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

PLATFORMS: tuple[str, ...] = ("web", "ios", "android", "tv")
PLATFORM_SHARE: tuple[float, ...] = (0.30, 0.28, 0.34, 0.08)


@dataclass(frozen=True, slots=True)
class Country:
    """A viewer country: ISO 3166-1 alpha-2 code, share of viewers, network factor, currency."""

    code: str
    share: float
    network: float
    currency: str
    minor_per_usd_cent: float
    """Minor units of `currency` worth one US cent, to turn a tip in cents into local money."""


COUNTRIES: tuple[Country, ...] = (
    Country("US", 0.20, 1.0, "USD", 1.0),
    Country("IN", 0.12, 2.6, "INR", 83.0),
    Country("BR", 0.08, 1.7, "BRL", 5.0),
    Country("GB", 0.06, 1.0, "GBP", 0.79),
    Country("ID", 0.05, 2.4, "IDR", 15_800.0),
    Country("MX", 0.05, 1.6, "MXN", 17.0),
    Country("DE", 0.05, 1.05, "EUR", 0.92),
    Country("NG", 0.04, 3.2, "NGN", 1_500.0),
    Country("FR", 0.04, 1.0, "EUR", 0.92),
    Country("PH", 0.04, 2.5, "PHP", 56.0),
    Country("JP", 0.04, 0.85, "JPY", 1.5),
    Country("TR", 0.03, 1.8, "TRY", 32.0),
    Country("CA", 0.03, 1.0, "CAD", 1.37),
    Country("ES", 0.03, 1.1, "EUR", 0.92),
    Country("KR", 0.02, 0.8, "KRW", 13.5),
    Country("EG", 0.02, 2.8, "EGP", 48.0),
    Country("PK", 0.02, 3.0, "PKR", 280.0),
    Country("KE", 0.02, 2.9, "KES", 130.0),
    Country("VN", 0.02, 1.9, "VND", 250.0),
    Country("AU", 0.02, 1.05, "AUD", 1.5),
)
COUNTRY_BY_CODE = {country.code: country for country in COUNTRIES}

LADDER: tuple[tuple[int, int], ...] = (
    (400, 240),
    (800, 360),
    (1_500, 480),
    (3_000, 720),
    (4_500, 1080),
    (8_000, 2160),
)
"""The ABR ladder: (bitrate_kbps, height) renditions every title is encoded in."""


@dataclass(frozen=True, slots=True)
class PlatformTraits:
    startup: float
    stalls: float
    failures: float
    bandwidth: float
    max_height: int


PLATFORM_TRAITS = {
    "web": PlatformTraits(startup=1.0, stalls=1.0, failures=1.2, bandwidth=1.2, max_height=1080),
    "ios": PlatformTraits(startup=0.8, stalls=0.8, failures=0.6, bandwidth=1.0, max_height=1080),
    "android": PlatformTraits(
        startup=1.1, stalls=1.25, failures=1.3, bandwidth=0.9, max_height=1080
    ),
    "tv": PlatformTraits(startup=1.35, stalls=0.7, failures=0.9, bandwidth=1.6, max_height=2160),
}


@dataclass(frozen=True, slots=True)
class NetworkProfile:
    """What playback is like for one platform in one country (medians; sessions vary)."""

    startup_median_ms: float
    startup_sigma: float
    stalls_per_min: float
    stall_median_ms: float
    fatal_failure_prob: float
    """Chance that a view fails with a fatal error before its first frame."""
    fatal_per_min: float
    """Rate of fatal errors after start (a view that plays, then dies)."""
    bandwidth_median_kbps: float
    max_height: int
    buffer_target_ms: int
    seek_median_ms: float


@cache
def profile_for(platform: str, country: str) -> NetworkProfile:
    """The profile of a platform and country; unknown countries count as average networks."""
    traits = PLATFORM_TRAITS.get(platform, PLATFORM_TRAITS["web"])
    factor = COUNTRY_BY_CODE[country].network if country in COUNTRY_BY_CODE else 1.5
    return NetworkProfile(
        startup_median_ms=600.0 * factor * traits.startup,
        startup_sigma=0.45 + 0.1 * factor,
        stalls_per_min=0.12 * factor**1.6 * traits.stalls,
        stall_median_ms=900.0 * factor**0.8,
        fatal_failure_prob=min(0.2, 0.006 * factor**1.7 * traits.failures),
        fatal_per_min=0.0006 * factor * traits.failures,
        bandwidth_median_kbps=9_000.0 * traits.bandwidth / factor**1.3,
        max_height=traits.max_height,
        buffer_target_ms=int(30_000 / factor**0.5),
        seek_median_ms=350.0 * factor,
    )


def rendition_for(bandwidth_kbps: float, max_height: int) -> int:
    """Index of the highest rendition that fits in 70 % of the bandwidth and the screen."""
    best = 0
    for index, (kbps, height) in enumerate(LADDER):
        if kbps <= 0.7 * bandwidth_kbps and height <= max_height:
            best = index
    return best
