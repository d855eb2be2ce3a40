"""Synthetic request bodies: valid player events for many sessions, 100 per request."""

from __future__ import annotations

import json
import random
import time
import uuid


def player_events(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    events: list[dict[str, object]] = []
    kinds = ["play_requested", "playback_started", "heartbeat", "heartbeat", "playback_ended"]
    for index in range(count):
        kind = kinds[index % len(kinds)]
        session = index // len(kinds)
        event: dict[str, object] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "ts": now - rng.randint(0, 3_600_000),
            "viewer_id": f"viewer-{session % 5000}",
            "platform": rng.choice(["web", "ios", "android", "tv"]),
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
