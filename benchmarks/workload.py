"""Synthetic request bodies: valid player events for many sessions, 100 per request."""

from __future__ import annotations

import json
import random
import time
import uuid

ENVELOPES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "web": (
        ("2026.11.2", "Windows 10", "Chrome 131"),
        ("2026.11.2", "Mac OS X 10.15.7", "Safari 18"),
    ),
    "ios": (("5.4.1 (5567)", "iOS 17.6.1", "iPhone15,2"), ("5.4.0", "iOS 18.1", "iPhone16,1")),
    "android": (("5.4.1", "Android 14", "Pixel 8"), ("5.3.0-beta", "android 13", "SM-S918B")),
    "tv": (("3.2.0", "tvOS 18.1", "AppleTV14,1"), ("3.1.9", "Tizen 8.0", "Samsung QN90D")),
}
"""(app_version, os, device) a platform's apps send, raw as players write them."""


def player_events(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    events: list[dict[str, object]] = []
    kinds = ["play_requested", "playback_started", "heartbeat", "heartbeat", "playback_ended"]
    for index in range(count):
        kind = kinds[index % len(kinds)]
        session = index // len(kinds)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ts = now - rng.randint(0, 3_600_000)
        platform = rng.choice(["web", "ios", "android", "tv"])
        app_version, os_name, device = ENVELOPES[platform][session % 2]
        event: dict[str, object] = {
            "event_id": event_id,
            "type": kind,
            "ts": ts,
            "viewer_id": f"viewer-{session % 5000}",
            "platform": platform,
            "app_version": app_version,
            "os": os_name,
            "device": device,
            "country": rng.choice(["US", "BR", "IN", "DE", "NG"]),
            "creator_id": f"cr_{session % 200}",
            "content_id": f"vod_{session % 2000}",
            "content_type": "vod",
            "session_id": f"s_{session}",
            "seq": index % len(kinds),
        }
        if kind == "playback_started":
            event["startup_ms"] = rng.randint(200, 4000)
        if kind in ("heartbeat", "playback_ended"):
            event.update(played_ms=10_000, stalled_ms=rng.choice([0, 0, 500]), bitrate_kbps=3000)
        if kind == "playback_ended":
            event["reason"] = "completed"
        events.append(event)
    return events


def request_bodies(total_events: int, per_request: int = 100) -> list[bytes]:
    events = player_events(total_events)
    return [
        json.dumps(
            {"sent_at": int(time.time() * 1000), "events": events[i : i + per_request]}
        ).encode()
        for i in range(0, len(events), per_request)
    ]
