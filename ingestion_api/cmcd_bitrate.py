"""The bitrate on screen over a CMCD session, from what its reports say.

CTA-5004's `br` is the encoded bitrate of the object being requested; a player requests
ahead of its playhead by its buffer, so a new `br` reaches the screen `bl` (buffer length)
later: hls.js and Shaka Player report the rendition being loaded this way, and crediting
played time at it the moment it is reported moves a switch seconds early. `pb` (CMCD v2,
the playhead bitrate) is the rendition on screen and applies at once.

`ScreenBitrate` keeps the bitrate on screen and the switches already requested but not yet
shown, each at its report's time plus its `bl`; played time is credited at the bitrate of
each moment (`average`).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PENDING_SWITCHES = 16
"""Switches kept waiting for the screen; an older one is taken as shown (a bound on a
session's memory: a player switching that often has a buffer of many renditions)."""


@dataclass(frozen=True, slots=True)
class ScreenBitrate:
    kbps: int | None = None
    """The bitrate on screen as of the last report."""
    pending: tuple[tuple[int, int], ...] = ()
    """(time it reaches the screen, kbps) of each requested switch not shown yet, in order."""

    def at(self, ts_ms: int) -> ScreenBitrate:
        """The same timeline with every switch shown by `ts_ms` applied."""
        kbps, pending = self.kbps, self.pending
        while pending and pending[0][0] <= ts_ms:
            kbps, pending = pending[0][1], pending[1:]
        return ScreenBitrate(kbps, pending)

    def reported(
        self, ts_ms: int, kbps: int | None, on_screen: bool, buffer_ms: int | None
    ) -> ScreenBitrate:
        """The timeline after a report at `ts_ms`: `kbps` is on screen now (`pb`, or the
        session's first bitrate), or requested and shown `buffer_ms` later (`br`)."""
        now = self.at(ts_ms)
        if kbps is None:
            return now
        if on_screen or now.kbps is None:
            return ScreenBitrate(kbps)
        last_at, last_kbps = now.pending[-1] if now.pending else (ts_ms, now.kbps)
        if kbps == last_kbps:
            return now
        shown_at = max(ts_ms + (buffer_ms or 0), last_at)
        pending = (*now.pending, (shown_at, kbps))
        dropped = len(pending) - MAX_PENDING_SWITCHES
        if dropped > 0:
            return ScreenBitrate(pending[dropped - 1][1], pending[dropped:])
        return ScreenBitrate(now.kbps, pending)

    def average(self, start_ms: int, end_ms: int) -> int | None:
        """The time-weighted bitrate on screen over [start_ms, end_ms] (the bitrate at
        `end_ms` for an empty span); None before any bitrate is known."""
        timeline = self.at(start_ms)
        if timeline.kbps is None or end_ms <= start_ms:
            return self.at(end_ms).kbps
        weighted, kbps, since = 0, timeline.kbps, start_ms
        for shown_at, next_kbps in timeline.pending:
            if shown_at >= end_ms:
                break
            weighted += kbps * (shown_at - since)
            kbps, since = next_kbps, shown_at
        weighted += kbps * (end_ms - since)
        return round(weighted / (end_ms - start_ms))
