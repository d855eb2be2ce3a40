"""CMCD reports (CTA-5004, and CTA-5004-B "CMCD v2" event mode) mapped onto player events.

Players such as hls.js, dash.js, Shaka, Media3 and AVPlayer emit Common Media Client Data.
In v2 event mode a player POSTs reports (one per line) when its play state changes (`e=ps`),
on a time interval (`e=t`), on errors (`e=e`) and more. Each report is an RFC 8941
Structured Field dictionary, e.g.

    e=ps,sid="6e2fb550",cid="vod_1",sta=p,msd=700,ts=1764752400700,sn=1,br=(3000;v),v=2

This module turns one such report into the events of EVENTS.md, which then go through the
same validation, enrichment and log as `POST /v1/events` (see `cmcd_routes`). The subset
supported, and why, is in docs/cmcd-and-catalogue.md:

- `sta=s` -> `play_requested`; `msd` (media start delay, sent once per session) ->
  `playback_started` with `startup_ms`; `sta=e`/`q`/`f` -> `playback_ended` with reason
  `completed`/`user_exit`/`error`; `e=e` or `sta=f` -> `playback_error` (`fatal` for `f`);
  `e=bc` -> `quality_changed`; every other report -> a `heartbeat`.
- Lifecycle events happen once per view, so their event ids derive from the session alone
  (uuid5 of app, `sid` and the event type): a repeated `sta=s` or a retried report
  collapses into one attempt in the pipeline's deduplication, without server state.
- Durations are deltas in the native contract; CMCD carries states and timestamps, not
  durations. The time between a report and the session's previous report counts as
  played, stalled or seeking time according to the *previous* report's state (`p`, `r`,
  `k`); a stall is counted when it ends. That needs the previous report, so each worker
  keeps a small bounded memory of recent sessions (`SessionMemory`). It remembers the
  deltas it derived per report, so a retried report gets exactly the same events and is
  deduplicated. Time counts only from the direct predecessor: a report older than one
  already seen, or whose `sn` skips one this worker did not see (another worker, a lost
  report), counts no interval, so two workers never count the same time. A report
  without a known predecessor counts only what it carries itself: `bsd` (buffer
  starvation duration) as one stall.
- The numeric bounds of the contract (`marquee.events`) hold for what this module derives:
  an interval, and a `bsd` stall, count at most `MAX_DELTA_MS` (a longer one is still one
  stall); a `pt` over `MAX_PLAYHEAD_MS` (a live timeline anchored at 1970) is left out,
  as completion only needs the playhead of non-live content. What the player measured
  (`br`, `bl`, `msd`) is checked as a native event's field is: over its bound, the report
  is rejected as `out_of_range`.
"""

from __future__ import annotations

import base64
import re
import string
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from marquee.catalog import CatalogIndex, ContentInfo
from marquee.events import MAX_DELTA_MS, MAX_PLAYHEAD_MS
from marquee.intake.enrich import Pseudonymiser

# ---------------------------------------------------------------------------------------
# Structured Field dictionaries (RFC 8941), the encoding of every CMCD report


class Token(str):
    """A bare sf-token (`sta=p`), as opposed to a quoted sf-string (`sid="p"`)."""

    __slots__ = ()


BareItem = int | float | str | bool | bytes


@dataclass(frozen=True, slots=True)
class Item:
    """A dictionary member: a bare item or an inner list, with its parameters."""

    value: BareItem | tuple[Item, ...]
    params: dict[str, BareItem] = field(default_factory=dict)


class CmcdSyntaxError(ValueError):
    """Not a Structured Field dictionary."""


_KEY_FIRST = frozenset(string.ascii_lowercase + "*")
_KEY_CHARS = frozenset(string.ascii_lowercase + string.digits + "_-.*")
_TOKEN_FIRST = frozenset(string.ascii_letters + "*")
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> CmcdSyntaxError:
        return CmcdSyntaxError(f"{message} at character {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, Item]:
        members: dict[str, Item] = {}
        self.skip(" \t")
        while self.pos < len(self.text):
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                members[key] = self.item_or_inner_list()
            else:
                members[key] = Item(True, self.parameters())
            self.skip(" \t")
            if self.pos >= len(self.text):
                break
            if self.peek() != ",":
                raise self.error("expected ','")
            self.pos += 1
            self.skip(" \t")
            if self.pos >= len(self.text):
                raise self.error("trailing ','")
        return members

    def key(self) -> str:
        start = self.pos
        if self.peek() not in _KEY_FIRST or not self.peek():
            raise self.error("expected a lower-case key")
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] in _KEY_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def item_or_inner_list(self) -> Item:
        if self.peek() != "(":
            value = self.bare_item()
            return Item(value, self.parameters())
        self.pos += 1
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return Item(tuple(items), self.parameters())
            value = self.bare_item()
            items.append(Item(value, self.parameters()))
            if self.peek() not in (" ", ")"):
                raise self.error("expected ' ' or ')' in an inner list")

    def parameters(self) -> dict[str, BareItem]:
        params: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return params

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            match = _NUMBER.match(self.text, self.pos)
            if match is None:
                raise self.error("bad number")
            self.pos = match.end()
            return float(match.group()) if match.group(1) else int(match.group())
        if char == '"':
            return self.string()
        if char in _TOKEN_FIRST and char:
            start = self.pos
            self.pos += 1
            while self.pos < len(self.text) and self.text[self.pos] in _TOKEN_CHARS:
                self.pos += 1
            return Token(self.text[start : self.pos])
        if char == "?":
            flag = self.text[self.pos + 1 : self.pos + 2]
            if flag not in ("0", "1"):
                raise self.error("bad boolean")
            self.pos += 2
            return flag == "1"
        if char == ":":
            match = _BASE64.match(self.text, self.pos + 1)
            end = match.end() if match else self.pos + 1
            if self.text[end : end + 1] != ":":
                raise self.error("bad byte sequence")
            encoded = self.text[self.pos + 1 : end]
            self.pos = end + 1
            try:
                return base64.b64decode(encoded, validate=True)
            except ValueError:
                raise self.error("bad base64") from None
        raise self.error("expected a value")

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\") or not escaped:
                    raise self.error("bad escape in a string")
                out.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not " " <= char <= "~":
                raise self.error("non-printable character in a string")
            else:
                out.append(char)
        raise self.error("unterminated string")


def parse_dictionary(text: str) -> dict[str, Item]:
    """Parse one CMCD report (an RFC 8941 dictionary); raises CmcdSyntaxError."""
    return _Parser(text).dictionary()


# ---------------------------------------------------------------------------------------
# One report, read into the fields the mapping uses

STATES = frozenset("spkrawefqd")
"""CTA-5004-B `sta`: starting, playing, seeking, rebuffering, paused, waiting, ended, fatal
error, quit, preloading."""
ENDED_REASONS = {"e": "completed", "q": "user_exit", "f": "error"}
HEARTBEAT_STATES = {"p": "playing", "a": "paused", "w": "paused", "r": "stalled", "k": "seeking"}
MAPPED_EVENTS = frozenset(("ps", "t", "e", "bc", "c"))
"""`e` values mapped; any other event type (ads, mute, response received, ...) is
acknowledged and ignored."""
PRE_START_STATES = frozenset("sd")


class ReportRejected(Exception):
    """A report that cannot become events: a stable reason code and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Report:
    sid: str
    cid: str | None
    event: str
    """The `e` key; a report without one (CMCD v1, e.g. through GET) counts as `t`."""
    state: str | None
    ts_ms: int
    sn: int | None
    bitrate_kbps: int | None
    buffer_ms: int | None
    playhead_ms: int | None
    startup_ms: int | None
    stall_ms: int | None
    error_codes: tuple[str, ...]
    viewer_id: str | None
    platform: str | None

    @property
    def order(self) -> tuple[int, int]:
        """Position in its session: timestamp, then sequence number for equal times."""
        return (self.ts_ms, -1 if self.sn is None else self.sn)


def _invalid(key: str, expected: str) -> ReportRejected:
    return ReportRejected("invalid_field", f"CMCD key {key!r} must be {expected}")


def _text(members: dict[str, Item], key: str) -> str | None:
    item = members.get(key)
    if item is None:
        return None
    if isinstance(item.value, str):
        return str(item.value)
    if isinstance(item.value, int) and not isinstance(item.value, bool):
        return str(item.value)
    raise _invalid(key, "a string")


def _integer(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(key, "a non-negative number")
    return round(value)


def _number(members: dict[str, Item], key: str) -> int | None:
    item = members.get(key)
    return None if item is None else _integer(item.value, key)


def _per_object_type(members: dict[str, Item], key: str) -> int | None:
    """A v1 scalar or a v2 inner list keyed by object type: the video value.

    `br=(3000;v 128;a)` gives 3000; an untyped list (`bl=(6000)`) gives its first value.
    """
    item = members.get(key)
    if item is None:
        return None
    if not isinstance(item.value, tuple):
        return _integer(item.value, key)
    if not item.value:
        return None
    for element in item.value:
        if "v" in element.params or "av" in element.params:
            return _integer(element.value, key)
    return _integer(item.value[0].value, key)


def _texts(members: dict[str, Item], key: str) -> tuple[str, ...]:
    item = members.get(key)
    if item is None:
        return ()
    values = item.value if isinstance(item.value, tuple) else (item,)
    out: list[str] = []
    for element in values:
        if not isinstance(element.value, str | int) or isinstance(element.value, bool):
            raise _invalid(key, "a string or a list of strings")
        if str(element.value):
            out.append(str(element.value))
    return tuple(out)


def read_report(
    members: dict[str, Item], received_at_ms: int, viewer_key: str, platform_key: str
) -> Report:
    sid = _text(members, "sid")
    if not sid:
        raise ReportRejected("missing_field", "CMCD key 'sid' (session id) is required")
    event = _text(members, "e") or "t"
    state = _text(members, "sta")
    if state is not None and state not in STATES:
        raise _invalid("sta", "one of " + ",".join(sorted(STATES)))
    ts_ms = _number(members, "ts")
    return Report(
        sid=sid,
        cid=_text(members, "cid") or None,
        event=event,
        state=state,
        ts_ms=received_at_ms if ts_ms is None else ts_ms,
        sn=_number(members, "sn"),
        bitrate_kbps=_per_object_type(members, "br"),
        buffer_ms=_per_object_type(members, "bl"),
        playhead_ms=_number(members, "pt"),
        startup_ms=_number(members, "msd"),
        stall_ms=_per_object_type(members, "bsd"),
        error_codes=_texts(members, "ec"),
        viewer_id=_text(members, viewer_key),
        platform=_text(members, platform_key),
    )


# ---------------------------------------------------------------------------------------
# Per-worker memory of recent sessions, for the deltas


@dataclass(frozen=True, slots=True)
class Content:
    content_id: str
    creator_id: str
    content_type: str


@dataclass(frozen=True, slots=True)
class Deltas:
    played_ms: int = 0
    stalled_ms: int = 0
    stall_count: int = 0
    seek_ms: int = 0

    def __bool__(self) -> bool:
        return bool(self.played_ms or self.stalled_ms or self.stall_count or self.seek_ms)

    def fields(self) -> dict[str, int]:
        return {
            "played_ms": self.played_ms,
            "stalled_ms": self.stalled_ms,
            "stall_count": self.stall_count,
            "seek_ms": self.seek_ms,
        }


NO_DELTAS = Deltas()


@dataclass(frozen=True, slots=True)
class Seen:
    """What a session's accepted report left behind: enough to derive the next one."""

    order: tuple[int, int]
    ts_ms: int
    state: str | None
    content: Content
    deltas: Deltas
    interval_content: Content
    """The content the deltas belong to (the previous report's, across a `cid` change)."""


@dataclass(slots=True)
class Session:
    """One session as this worker saw it."""

    history: deque[Seen]
    """Its last accepted mapped reports, in order: the base of the next interval, and the
    deltas to give a retried report again."""
    last_sn: int | None = None
    """The highest `sn` of any accepted report, ignored event types included: a report
    whose `sn` does not follow it has a predecessor this worker did not see."""


class SessionMemory:
    """The last few accepted reports of the most recent sessions, bounded (LRU).

    Per worker and in memory. Only the deltas depend on it, and losing it (restart,
    eviction, another worker) loses the time between two reports: it is not guessed.
    """

    def __init__(self, max_sessions: int, history: int = 4) -> None:
        self.max_sessions = max_sessions
        self.history = history
        self._sessions: OrderedDict[tuple[str, str], Session] = OrderedDict()

    def get(self, app_id: str, sid: str) -> Session | None:
        key = (app_id, sid)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
        return session

    def remember(self, app_id: str, sid: str, sn: int | None, report: Seen | None) -> None:
        key = (app_id, sid)
        session = self._sessions.get(key)
        if session is None:
            session = Session(deque(maxlen=self.history))
            self._sessions[key] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        if sn is not None and (session.last_sn is None or sn > session.last_sn):
            session.last_sn = sn
        if report is not None and (not session.history or report.order > session.history[-1].order):
            session.history.append(report)

    def __len__(self) -> int:
        return len(self._sessions)


# ---------------------------------------------------------------------------------------
# The mapping

EVENT_ID_NAMESPACE = uuid.UUID("5d0f6f5e-4d1a-4c55-9a43-6f1f3f0c2b7e")
"""Fixed namespace of the uuid5 event ids derived from CMCD reports."""


def session_event_id(app_id: str, sid: str, kind: str) -> str:
    """Id of an event that happens once per view (request, start, end, fatal error)."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{app_id}\x1f{sid}\x1f{kind}"))


def report_event_id(app_id: str, report: Report, kind: str) -> str:
    """Id of an event of one report: a retried report (same ts and sn) gets the same id."""
    ts_ms, sn = report.order
    return str(
        uuid.uuid5(EVENT_ID_NAMESPACE, f"{app_id}\x1f{report.sid}\x1f{ts_ms}\x1f{sn}\x1f{kind}")
    )


@dataclass
class MappedReport:
    """The events of one report, and what to remember once they are accepted."""

    events: list[dict[str, Any]]
    app_id: str
    sid: str
    sn: int | None
    seen: Seen | None
    """None when the report is no base for the next interval (ignored, late, retried)."""
    ignored: bool = False


class CmcdMapper:
    """Reports -> events, with the catalogue index and the session memory of one worker."""

    def __init__(
        self,
        catalog: CatalogIndex,
        memory: SessionMemory,
        viewer_key: str,
        platform_key: str,
        max_interval_ms: int,
    ) -> None:
        self.catalog = catalog
        self.memory = memory
        self.viewer_key = viewer_key
        self.platform_key = platform_key
        # Never above the contract's bound of a delta: no interval can make an event that
        # is rejected as out of range.
        self.max_interval_ms = min(max_interval_ms, MAX_DELTA_MS)
        self._viewer_in_line = re.compile(
            "(?<![a-z0-9_.*-])(" + re.escape(viewer_key) + r'=)("(?:[^"\\]|\\.)*"|[^,;\s]*)'
        )

    def map_line(self, line: str, app_id: str, received_at_ms: int) -> MappedReport:
        try:
            members = parse_dictionary(line)
        except CmcdSyntaxError as exc:
            raise ReportRejected("malformed_report", str(exc)) from None
        report = read_report(members, received_at_ms, self.viewer_key, self.platform_key)
        if report.event not in MAPPED_EVENTS:
            return MappedReport([], app_id, report.sid, report.sn, None, ignored=True)
        session = self.memory.get(app_id, report.sid)
        content = self._content(report, session)
        deltas, interval_content, remember = self._deltas(report, content, session)
        events = self._events(report, app_id, content, interval_content, deltas)
        seen = None
        if remember:
            seen = Seen(report.order, report.ts_ms, report.state, content, deltas, interval_content)
        return MappedReport(events, app_id, report.sid, report.sn, seen)

    def remember(self, mapped: MappedReport) -> None:
        """Called once the report's events are accepted."""
        self.memory.remember(mapped.app_id, mapped.sid, mapped.sn, mapped.seen)

    def scrub(self, line: str, app_id: str, pseudonymise: Pseudonymiser) -> str:
        """The report with the raw viewer id replaced by its pseudonym (for the quarantine)."""

        def replace(match: re.Match[str]) -> str:
            raw = match.group(2)
            if raw.startswith('"'):
                raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            return f'{match.group(1)}"{pseudonymise(app_id, raw)}"'

        return self._viewer_in_line.sub(replace, line)

    def _content(self, report: Report, session: Session | None) -> Content:
        if report.cid is None:
            if session and session.history:
                return session.history[-1].content
            raise ReportRejected("missing_field", "CMCD key 'cid' (content id) is required")
        info: ContentInfo | None = self.catalog.content(report.cid)
        if info is None:
            raise ReportRejected(
                "unknown_content", f"content id {report.cid!r} is not in the catalogue"
            )
        return Content(report.cid, info.creator_id, info.content_type)

    def _deltas(
        self, report: Report, content: Content, session: Session | None
    ) -> tuple[Deltas, Content, bool]:
        """The report's deltas, the content they belong to, and whether it is a new base.

        Time since the previous report counts only when that report is this one's direct
        predecessor (no `sn` in between that this worker did not see), so two workers
        that each saw part of a session never count the same time; otherwise the report
        counts only what it carries itself.
        """
        carried = (
            Deltas(stalled_ms=min(report.stall_ms, MAX_DELTA_MS), stall_count=1)
            if report.stall_ms
            else NO_DELTAS
        )
        if session is None or not session.history:
            return carried, content, True
        for seen in session.history:
            if seen.order == report.order:
                return seen.deltas, seen.interval_content, False  # a retry
        previous = session.history[-1]
        if report.order < previous.order:
            return NO_DELTAS, content, False  # late: a later report covered its time
        if (
            report.sn is not None
            and session.last_sn is not None
            and report.sn != session.last_sn + 1
        ):
            return carried, content, True  # a gap: its predecessor went elsewhere or was lost
        interval = min(max(report.ts_ms - previous.ts_ms, 0), self.max_interval_ms)
        state = previous.state
        deltas = Deltas(
            played_ms=interval if state == "p" else 0,
            stalled_ms=interval if state == "r" else 0,
            stall_count=1 if state == "r" and report.state != "r" else 0,
            seek_ms=interval if state == "k" else 0,
        )
        return deltas, previous.content, True

    def _events(
        self,
        report: Report,
        app_id: str,
        content: Content,
        interval_content: Content,
        deltas: Deltas,
    ) -> list[dict[str, Any]]:
        def event(kind: str, event_id: str, on: Content = content) -> dict[str, Any]:
            return {
                "event_id": event_id,
                "type": kind,
                "ts": report.ts_ms,
                "viewer_id": report.viewer_id or report.sid,
                "platform": report.platform or "other",
                "creator_id": on.creator_id,
                "content_id": on.content_id,
                "content_type": on.content_type,
                "session_id": report.sid,
            }

        quality: dict[str, int] = {}
        if report.bitrate_kbps is not None:
            quality["bitrate_kbps"] = report.bitrate_kbps
        if report.buffer_ms is not None:
            quality["buffer_ms"] = report.buffer_ms
        if report.playhead_ms is not None and report.playhead_ms <= MAX_PLAYHEAD_MS:
            quality["playhead_ms"] = report.playhead_ms

        events: list[dict[str, Any]] = []
        if report.state == "s":
            events.append(
                event("play_requested", session_event_id(app_id, report.sid, "play_requested"))
            )
        if report.startup_ms is not None:
            started = event(
                "playback_started", session_event_id(app_id, report.sid, "playback_started")
            )
            started["startup_ms"] = report.startup_ms
            events.append(started)
        if deltas and interval_content != content:
            # The time since the previous report was spent on the previous content (`e=c`).
            moved = event(
                "heartbeat", report_event_id(app_id, report, "interval"), interval_content
            )
            events.append(moved | deltas.fields())
            deltas = NO_DELTAS

        ended_reason = ENDED_REASONS.get(report.state or "")
        fatal = report.state == "f"
        if report.event == "e" or fatal:
            kind_id = (
                session_event_id(app_id, report.sid, "fatal_error")
                if fatal
                else report_event_id(app_id, report, "playback_error")
            )
            error = event("playback_error", kind_id)
            error["fatal"] = fatal
            if report.error_codes:
                error["code"] = report.error_codes[0][:256]
                error["message"] = " ".join(report.error_codes)[:2048]
            events.append(error)
        if ended_reason is not None:
            ended = event("playback_ended", session_event_id(app_id, report.sid, "playback_ended"))
            ended["reason"] = ended_reason
            events.append(ended | deltas.fields() | quality)
            return events
        if report.event == "bc" and report.bitrate_kbps is not None:
            changed = event("quality_changed", report_event_id(app_id, report, "quality_changed"))
            changed["bitrate_kbps"] = report.bitrate_kbps
            events.append(changed)
        if deltas or report.state not in PRE_START_STATES:
            heartbeat = event("heartbeat", report_event_id(app_id, report, "heartbeat"))
            state = HEARTBEAT_STATES.get(report.state or "")
            if state is not None:
                heartbeat["state"] = state
            events.append(heartbeat | deltas.fields() | quality)
        return events
