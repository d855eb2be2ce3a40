"""CMCD reports for the CMCD tests: the catalogue they name and one report line."""

from __future__ import annotations

import time

CATALOGUE = [
    {"content_id": "vod_c", "creator_id": "cr_c", "content_type": "vod"},
    {"content_id": "live_c", "creator_id": "cr_live", "content_type": "live"},
]
"""The content the reports name: one VOD and one live stream."""

HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def report(sid: str, sn: int, ts: int, extra: str, cid: str = "vod_c") -> str:
    """One CMCD report line of session `sid` for `cid`, with the viewer and platform keys
    the API's mapper is configured with, and `extra` keys (e.g. `e=ps,sta=s`)."""
    return (
        f'sid="{sid}",cid="{cid}",sn={sn},ts={ts},com.marquee-vid="viewer-raw-7",'
        f"com.marquee-pf=ios,st=v,v=2,{extra}"
    )
