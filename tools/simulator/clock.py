"""Time for the simulator: integer epoch milliseconds everywhere, formatted only at the edge.

Simulated time is plain `int` milliseconds so that arithmetic is exact and runs are
reproducible; wall-clock time is read in one place (`now_ms`) so the generator itself never
depends on when it runs.
"""

from __future__ import annotations

import time

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def now_ms() -> int:
    """Wall-clock time as epoch milliseconds (the only place the simulator reads the clock)."""
    return time.time_ns() // 1_000_000


_day_prefixes: dict[int, str] = {}


def rfc3339_ms(ms: int) -> str:
    """Epoch ms as an RFC 3339 UTC string with milliseconds, e.g. 2026-09-21T14:13:25.100Z.

    The date part is cached per day: this runs for most events the simulator makes.
    """
    seconds, millis = divmod(ms, SECOND_MS)
    day, second_of_day = divmod(seconds, 86_400)
    prefix = _day_prefixes.get(day)
    if prefix is None:
        tm = time.gmtime(day * 86_400)
        prefix = f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
        if len(_day_prefixes) > 4096:
            _day_prefixes.clear()
        _day_prefixes[day] = prefix
    hour, rest = divmod(second_of_day, 3_600)
    minute, second = divmod(rest, 60)
    return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def utc_day(ms: int) -> int:
    """Days since the epoch of the UTC day holding `ms` (content is planned per UTC day)."""
    return ms // DAY_MS


def day_stamp(day: int) -> str:
    """A UTC day as YYYYMMDD, used inside content ids so they read as dates."""
    tm = time.gmtime(day * 86_400)
    return f"{tm.tm_year:04d}{tm.tm_mon:02d}{tm.tm_mday:02d}"
