"""CDN log lines carrying CMCD v1 (request mode) mapped onto player events.

ExoPlayer/Media3 and AVPlayer send only CMCD v1: keys on each object request, as the `CMCD`
query argument or as `CMCD-Object/-Request/-Session/-Status` headers, with no timestamp,
play state or startup key. The CDN sees those requests; a log forwarder posts one JSON
object per request (`POST /v1/cmcd/cdn-log`, docs/cmcd-players.md "The CDN-log path"):

    {"ts": 1764752400700, "cmcd": "bl=21300,br=2500,d=2000,ot=v,sid=%22s1%22,...",
     "ua": "ExoPlayerLib/2.19.1", "url": "/vod/seg_12.m4s"}

`ts` is the request time (epoch ms); the CMCD data is `cmcd` (the query argument's value,
URL-encoded or not) or `headers` (the CMCD-* request headers); `ua`, `url`, `duration_ms`
and `bytes` are optional.

The session model (`V1Mapper`), from request timing and the v1 keys, per `sid`:
- one view per `sid`; the attempt (`play_requested`) at its first request, whatever it is;
- media requests are those of `ot=v`, `ot=av`, or no `ot` with a `d` (an object duration);
  audio (`ot=a`), manifests, init segments and others open the session and count nothing;
- started (`playback_started`) at the first media request not marked `su` (startup: the
  player stops marking requests urgent once it can play), startup_ms = that request's time
  less the session's first request's; a player that never sends `su` starts at its first
  media request;
- played time: the media time requested (the sum of `d` over distinct media objects,
  a repeated `url` counted once), credited once started, and bounded by wall time: at a
  request, what is credited never exceeds the time since the session's first media
  request plus the buffer the player reports (`bl`) plus the object (`d`), so a burst of
  requests ahead of playback waits for the wall clock (a start recognised late, after
  a stall marked `su` too, still gets the time played before it); on non-live content
  never beyond the catalogue's duration;
- stalls: one per media request marked `bs` (buffer starvation). Their duration is an
  estimate from the buffer the player reports: at a media request, the wall time since
  the start less the media played by then (requested before it, less `bl`) is the time
  spent not playing; its growth from the request before the `bs` one on, up to the first
  media request where it stops growing, is the stall's (needs `bl`; a pause during a
  stall counts as stall);
- bitrate: `br` of the media request, the rendition requested (ahead of the screen by the
  buffer); buffer from `bl`;
- the end: `playback_ended` with reason `completed` once the played time reaches the
  catalogue's duration of non-live content (less one second of rounding); otherwise the
  view ends by the pipeline's inactivity rule (dropped 60 s after its last event).

The session state lives in each worker's memory (bounded LRU) like the v2 mapper's: a
forwarder must send one session's lines to one worker, in request order. Event ids derive
from the session (lifecycle) or from the line's time and object (heartbeats), so a resent
line is deduplicated by the pipeline.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from ingestion_api.cmcd import (
    EVENT_ID_NAMESPACE,
    CmcdSyntaxError,
    Item,
    ReportRejected,
    parse_dictionary,
    platform_of,
    session_event_id,
)
from ingestion_api.cmcd_scrub import ViewerScrubber
from marquee.catalog import CatalogIndex
from marquee.events import MAX_BITRATE_KBPS, MAX_DELTA_MS
from marquee.intake.enrich import Pseudonymiser

CMCD_HEADERS = ("cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status")
"""The four CMCD v1 header shards (CTA-5004 §2.2); their union is one dictionary."""
MEDIA_TYPES = frozenset(("v", "av"))
STALL_NOISE_MS = 250
"""Growth of the time not played between two media requests that is rounding (`bl` to
100 ms, a request in flight), not a stall going on."""
COMPLETION_SLACK_MS = 1000
"""Segment durations are rounded (`d` in integer ms, or a player's own rounding): a view
whose media time is within this of the duration has played it all."""


class LogLine(msgspec.Struct, forbid_unknown_fields=False):
    """One CDN log line, as the forwarder posts it."""

    ts: int
    cmcd: str | None = None
    headers: dict[str, str] | None = None
    ua: str | None = None
    url: str | None = None
    duration_ms: int | None = None
    bytes: int | None = None


_decoder = msgspec.json.Decoder(LogLine)


def members_of_query(value: str) -> dict[str, Item]:
    """The CMCD dictionary of a query argument's value (percent-encoded or not); a query
    string or URL with a `CMCD` argument is accepted too."""
    if value.startswith("CMCD=") or "?CMCD=" in value or "&CMCD=" in value:
        found = urllib.parse.parse_qs(value.split("?", 1)[-1]).get("CMCD", [""])
        value = found[0]
    elif "=" not in value:  # percent-encoded: `=` is `%3D` (a lone flag key is unchanged)
        value = urllib.parse.unquote(value)
    return parse_dictionary(value)


def members_of_headers(headers: dict[str, str]) -> dict[str, Item]:
    """The CMCD dictionary of the CMCD-* headers (any case); other headers are ignored."""
    members: dict[str, Item] = {}
    for name, value in headers.items():
        if name.lower() in CMCD_HEADERS and value.strip():
            members.update(parse_dictionary(value))
    return members


def read_line(raw: bytes) -> tuple[LogLine, dict[str, Item]]:
    """Decode one log line and its CMCD data; raises ReportRejected."""
    try:
        line = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ReportRejected("invalid_field", f"log line: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ReportRejected("malformed_event", f"log line is not a JSON object: {exc}") from None
    if line.ts <= 0:
        raise ReportRejected("invalid_field", "`ts` must be the request time in epoch ms")
    if line.cmcd is None and not line.headers:
        raise ReportRejected("missing_field", "a log line needs `cmcd` or `headers`")
    try:
        if line.cmcd is not None:
            members = members_of_query(line.cmcd)
        else:
            assert line.headers is not None
            members = members_of_headers(line.headers)
    except CmcdSyntaxError as exc:
        raise ReportRejected("malformed_report", str(exc)) from None
    return line, members


def _text(members: dict[str, Item], key: str) -> str | None:
    item = members.get(key)
    if item is None:
        return None
    if isinstance(item.value, str | int) and not isinstance(item.value, bool):
        return str(item.value) or None
    raise ReportRejected("invalid_field", f"CMCD key {key!r} must be a string")


def _number(members: dict[str, Item], key: str) -> int | None:
    item = members.get(key)
    if item is None:
        return None
    value = item.value
    if isinstance(value, tuple):  # a v2 inner list sent to the v1 path: its first value
        value = value[0].value if value else 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ReportRejected("invalid_field", f"CMCD key {key!r} must be a non-negative number")
    return round(value)


def _flag(members: dict[str, Item], key: str) -> bool:
    item = members.get(key)
    return item is not None and item.value is True


@dataclass(slots=True)
class V1Session:
    """What one session's lines have shown so far."""

    first_ts: int
    content_id: str
    creator_id: str
    content_type: str
    duration_ms: int | None
    first_media_ts: int | None = None
    """Its first media request: nothing can have played before it."""
    started_ts: int | None = None
    requested_ms: int = 0
    """Media time requested (sum of `d` over distinct media objects)."""
    credited_ms: int = 0
    """Played time already sent in heartbeats."""
    idle_ms: int | None = None
    """At its last media request with `bl`: wall time since the start less media played."""
    stall_base_ms: int | None = None
    """`idle_ms` before a `bs` request, until the next media request measures the stall."""
    objects: set[str] = field(default_factory=set)
    ended: bool = False


class V1Memory:
    """Recent sessions of one worker, bounded (LRU)."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[tuple[str, str], V1Session] = OrderedDict()

    def get(self, app_id: str, sid: str) -> V1Session | None:
        session = self._sessions.get((app_id, sid))
        if session is not None:
            self._sessions.move_to_end((app_id, sid))
        return session

    def put(self, app_id: str, sid: str, session: V1Session) -> None:
        self._sessions[(app_id, sid)] = session
        self._sessions.move_to_end((app_id, sid))
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)


@dataclass
class MappedLine:
    events: list[dict[str, Any]]
    app_id: str
    sid: str
    session: V1Session
    """The session once this line is accepted (a copy: nothing changes until then)."""
    ignored: bool = False
    """Always False: every line is mapped (one that counts nothing makes no events)."""


class V1Mapper:
    """CDN log lines -> events, with the catalogue and the session memory of one worker."""

    def __init__(self, catalog: CatalogIndex, memory: V1Memory, viewer_key: str) -> None:
        self.catalog = catalog
        self.memory = memory
        self.viewer_key = viewer_key
        self._scrubber = ViewerScrubber(viewer_key)

    def scrub(self, line: str, app_id: str, pseudonymise: Pseudonymiser) -> str:
        """The log line with the raw viewer id replaced by its pseudonym (for the quarantine)."""
        return self._scrubber.log_line(line, app_id, pseudonymise)

    def map_line(self, raw: bytes, app_id: str) -> MappedLine:
        line, members = read_line(raw)
        sid = _text(members, "sid")
        if not sid:
            raise ReportRejected("missing_field", "CMCD key 'sid' (session id) is required")
        known = self.memory.get(app_id, sid)
        session = self._session(known, members, line.ts)
        session = replace(session, objects=set(session.objects))
        object_type = _text(members, "ot")
        duration = _number(members, "d")
        bitrate = _number(members, "br")
        buffer = _number(members, "bl")
        if bitrate is not None and bitrate > MAX_BITRATE_KBPS:
            raise ReportRejected(
                "out_of_range", f"`$.bitrate_kbps`: {bitrate} > {MAX_BITRATE_KBPS}"
            )
        media = object_type in MEDIA_TYPES or (object_type is None and duration is not None)
        viewer = _text(members, self.viewer_key) or sid
        platform = platform_of(line.ua) or "other"

        def event(kind: str, event_id: str, ts: int = line.ts) -> dict[str, Any]:
            return {
                "event_id": event_id,
                "type": kind,
                "ts": ts,
                "viewer_id": viewer,
                "platform": platform,
                "creator_id": session.creator_id,
                "content_id": session.content_id,
                "content_type": session.content_type,
                "session_id": sid,
            }

        events: list[dict[str, Any]] = []
        if known is None:
            events.append(event("play_requested", session_event_id(app_id, sid, "play_requested")))
        if not media or session.ended:
            return MappedLine(events, app_id, sid, session)
        object_key = line.url or f"{line.ts}\x1f{duration}\x1f{bitrate}"
        requested_before = session.requested_ms
        if session.first_media_ts is None:
            session.first_media_ts = line.ts
        if duration and object_key not in session.objects:
            session.objects.add(object_key)
            session.requested_ms += duration
        if session.started_ts is None and not _flag(members, "su"):
            session.started_ts = line.ts
            started = event("playback_started", session_event_id(app_id, sid, "playback_started"))
            started["startup_ms"] = max(line.ts - session.first_ts, 0)
            events.append(started)
        if session.started_ts is None:
            return MappedLine(events, app_id, sid, session)
        played = self._credit(session, line.ts, buffer or 0, duration or 0)
        starved = _flag(members, "bs")
        stalled = self._stalled(session, line.ts, requested_before, buffer, starved)
        completes = (
            session.duration_ms is not None
            and session.content_type != "live"
            and session.credited_ms >= session.duration_ms - COMPLETION_SLACK_MS
        )
        fields: dict[str, Any] = {
            "played_ms": played,
            "stalled_ms": stalled,
            "stall_count": 1 if starved else 0,
            "seek_ms": 0,
        }
        if bitrate is not None:
            fields["bitrate_kbps"] = bitrate
        if buffer is not None:
            fields["buffer_ms"] = buffer
        heartbeat_id = uuid.uuid5(
            EVENT_ID_NAMESPACE, f"{app_id}\x1f{sid}\x1fcdn\x1f{line.ts}\x1f{object_key}"
        )
        if completes:
            session.ended = True
            ended = event("playback_ended", session_event_id(app_id, sid, "playback_ended"))
            events.append(ended | fields | {"reason": "completed"})
        else:
            heartbeat = event("heartbeat", str(heartbeat_id))
            state = "stalled" if starved else "playing"
            events.append(heartbeat | fields | {"state": state})
        return MappedLine(events, app_id, sid, session)

    def remember(self, mapped: MappedLine) -> None:
        """Called once the line's events are accepted."""
        self.memory.put(mapped.app_id, mapped.sid, mapped.session)

    def _session(self, known: V1Session | None, members: dict[str, Item], ts: int) -> V1Session:
        cid = _text(members, "cid")
        if known is not None and (cid is None or cid == known.content_id):
            return known
        if cid is None:
            raise ReportRejected("missing_field", "CMCD key 'cid' (content id) is required")
        info = self.catalog.content(cid)
        if info is None:
            raise ReportRejected("unknown_content", f"content id {cid!r} is not in the catalogue")
        if known is not None:
            raise ReportRejected("invalid_field", "a v1 session plays one content id")
        return V1Session(ts, cid, info.creator_id, info.content_type, info.duration_ms)

    @staticmethod
    def _stalled(
        session: V1Session, ts: int, requested_before: int, buffer_ms: int | None, starved: bool
    ) -> int:
        """The stalled time this media request measures (see the module's docstring)."""
        assert session.started_ts is not None
        if buffer_ms is None:
            session.stall_base_ms = None
            return 0
        idle = max(ts - session.started_ts, 0) - max(requested_before - buffer_ms, 0)
        before, session.idle_ms = session.idle_ms, idle
        if starved:
            if session.stall_base_ms is None:
                session.stall_base_ms = idle if before is None else before
            return 0
        if session.stall_base_ms is None:
            return 0
        growth = idle - session.stall_base_ms
        # Still growing: the player asked for more before it played again; the stall stays
        # open to the next media request.
        session.stall_base_ms = idle if growth > STALL_NOISE_MS else None
        return min(max(growth, 0), MAX_DELTA_MS)

    @staticmethod
    def _credit(session: V1Session, ts: int, buffer_ms: int, duration_ms: int) -> int:
        """Played time this request credits: the media requested, bounded by wall time
        since the first media request plus what the player holds (its buffer and this
        object)."""
        assert session.first_media_ts is not None
        wall = max(ts - session.first_media_ts, 0) + buffer_ms + duration_ms
        total = min(session.requested_ms, wall)
        if session.duration_ms is not None and session.content_type != "live":
            total = min(total, session.duration_ms)
        played = min(max(total - session.credited_ms, 0), MAX_DELTA_MS)
        session.credited_ms += played
        return played
