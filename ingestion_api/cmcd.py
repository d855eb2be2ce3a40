"""CMCD reports (CTA-5004, and CTA-5004-B "CMCD v2" event mode) mapped onto player events.

Players such as hls.js, dash.js, Shaka, Media3 and AVPlayer emit Common Media Client Data.
In v2 event mode a player POSTs reports (one per line) when its play state changes (`e=ps`),
on a time interval (`e=t`), on errors (`e=e`) and more. Each report is an RFC 8941
Structured Field dictionary, e.g.

    e=ps,sid="6e2fb550",cid="vod_1",sta=p,msd=700,ts=1764752400700,sn=1,br=(3000;v),v=2

This module turns one such report into the events of EVENTS.md, which then go through the
same validation, enrichment and log as `POST /v1/events` (see `cmcd_routes`). The subset
supported, and why, is in docs/cmcd-and-catalogue.md:

- `sta=s` -> `play_requested`; the first frame -> `playback_started` with `startup_ms`
  (`msd` when plausible, else the time from `sta=s` to the first `sta=p`);
  `sta=e`/`q` -> `playback_ended` with reason `completed`/`user_exit`; `e=e` or `sta=f`
  -> `playback_error`; a second `sta=f` in a row -> a fatal `playback_error` and
  `playback_ended` reason `error`; `e=bc` -> `quality_changed`; every other report -> a
  `heartbeat`. What real players leave out is filled from the session's `Progress`
  (`CmcdMapper`; measured against dash.js, Shaka Player and hls.js in
  tests/test_cmcd_players.py, docs/cmcd-players.md).
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
  (`br`, `bl`, `msd`, `ltc`) is checked as a native event's field is: over its bound, the
  report is rejected as `out_of_range`.
- `ltc` (CMCD v2 live latency) -> the heartbeat's `live_latency_ms`, on live content only
  (the contract ignores it elsewhere, so it is not sent there).
"""

from __future__ import annotations

import base64
import re
import string
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Any

from ingestion_api.cmcd_bitrate import ScreenBitrate
from ingestion_api.cmcd_scrub import ViewerScrubber
from marquee.catalog import CatalogIndex, ContentInfo
from marquee.events import (
    MAX_BITRATE_KBPS,
    MAX_DELTA_MS,
    MAX_LIVE_LATENCY_MS,
    MAX_PLAYHEAD_MS,
    MAX_STARTUP_MS,
)
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
    """`pb` (the playhead bitrate: the rendition on screen) when sent, else `br` (the
    rendition being requested, which runs ahead of the screen by the buffer)."""
    bitrate_on_screen: bool
    """`bitrate_kbps` is `pb`."""
    buffer_ms: int | None
    playhead_ms: int | None
    startup_ms: int | None
    stall_ms: int | None
    error_codes: tuple[str, ...]
    viewer_id: str | None
    platform: str | None
    live_latency_ms: int | None = None
    """`ltc`: how far behind the live edge the player plays."""

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
    playhead_kbps = _per_object_type(members, "pb")
    return Report(
        sid=sid,
        cid=_text(members, "cid") or None,
        event=event,
        state=state,
        ts_ms=received_at_ms if ts_ms is None else ts_ms,
        sn=_number(members, "sn"),
        bitrate_kbps=playhead_kbps or _per_object_type(members, "br"),
        bitrate_on_screen=bool(playhead_kbps),
        buffer_ms=_per_object_type(members, "bl"),
        playhead_ms=_number(members, "pt"),
        startup_ms=_number(members, "msd"),
        stall_ms=_per_object_type(members, "bsd"),
        error_codes=_texts(members, "ec"),
        viewer_id=_text(members, viewer_key),
        platform=_text(members, platform_key),
        live_latency_ms=_per_object_type(members, "ltc"),
    )


# ---------------------------------------------------------------------------------------
# Per-worker memory of recent sessions, for the deltas


@dataclass(frozen=True, slots=True)
class Content:
    content_id: str
    creator_id: str
    content_type: str
    duration_ms: int | None = None


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
    before: Progress | None = None
    """The session's progress it was mapped with: a retry is mapped with it again."""
    completes: bool = False
    """It completed a session that sends no `sta` (its played time reached the duration)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """What a session has shown so far, beyond its last reports (see `CmcdMapper`)."""

    opened_ts: int | None = None
    """`ts` of its first report: the player's start when it sends no `sta=s`."""
    requested_ts: int | None = None
    """`ts` of its first `sta=s` report: the play request, base of a startup by timing."""
    first_frame_ts: int | None = None
    """When its first frame was shown: its first `sta=p` report, or request + `msd`."""
    started: bool = False
    """`playback_started` was emitted (once per view, from `msd` or from timing)."""
    sends_state: bool = False
    """It sent `sta` at least once; a session that never does counts time as played from
    its first frame on."""
    screen: ScreenBitrate = field(default_factory=ScreenBitrate)
    """The bitrate on screen and the switches it requested that are not shown yet (a
    `br` reaches the screen its `bl` later): carried to the reports that send none."""
    fatal_pending: bool = False
    """Its last state was `f`: the next report says whether the playback failed."""
    ended: bool = False
    """Its `playback_ended` was emitted: later end reports (dash.js and hls.js send
    `sta=e` again on the next interval) add no second one with the same id."""
    stateless_played_ms: int = 0
    """Played time counted for a session that sends no `sta`, capped at the content's
    duration: such a player never says when it ended."""


@dataclass(slots=True)
class Session:
    """One session as this worker saw it."""

    history: deque[Seen]
    """Its last accepted mapped reports, in order: the base of the next interval, and the
    deltas to give a retried report again."""
    last_sn: int | None = None
    """The highest `sn` of any accepted report, ignored event types included: a report
    whose `sn` does not follow it has a predecessor this worker did not see."""
    progress: Progress = field(default_factory=Progress)


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

    def remember(
        self,
        app_id: str,
        sid: str,
        sn: int | None,
        report: Seen | None,
        progress: Progress | None = None,
    ) -> None:
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
        if progress is not None:
            session.progress = progress

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
    progress: Progress | None = None
    """The session's progress after this report; None when it changes nothing."""


def _earliest(known: int | None, ts_ms: int) -> int:
    return ts_ms if known is None else min(known, ts_ms)


def platform_of(user_agent: str | None) -> str | None:
    """The platform of a player's User-Agent, for reports that do not name one.

    A TV or set-top box first (their User-Agents also name the OS or browser engine),
    then Apple's media stack and iOS devices, Android (ExoPlayer/Media3 too), and any
    other browser (`Mozilla/`) as `web`. None when it says nothing known.
    """
    if not user_agent:
        return None
    if _TV_AGENT.search(user_agent):
        return "tv"
    if _IOS_AGENT.search(user_agent):
        return "ios"
    if _ANDROID_AGENT.search(user_agent):
        return "android"
    if user_agent.startswith("Mozilla/"):
        return "web"
    return None


_TV_AGENT = re.compile(r"AppleTV|tvOS|Android TV|SMART-TV|SmartTV|Tizen|Web0S|webOS|CrKey|AFT[A-Z]")
_IOS_AGENT = re.compile(r"iPhone|iPad|iPod|AppleCoreMedia|CFNetwork")
_ANDROID_AGENT = re.compile(r"Android|ExoPlayer|androidx\.media3|okhttp", re.IGNORECASE)

STALL_STATES = frozenset("rw")
"""`r` rebuffering, and `w` waiting: dash.js sends `w` for the media element's `waiting`
event when its own rebuffering bookkeeping has not seen playback yet. Either counts as a
stall only after the first frame; before it, the wait is startup time."""
MIN_STALL_MS = 34
"""A stall ends no sooner than a frame at 30 fps: a `w` or `r` answered by playing within
it skipped no frame a viewer could see (Chromium fires such `waiting`/`playing` pairs at
some segment boundaries, and hls.js reports each), so its time counts as played."""
PRE_FRAME_STATES = frozenset("sdrw")
"""States in which no frame can have been shown yet, at the start of a session: an `msd`
sent with one of them cannot measure the first frame (dash.js sends `msd=1` so)."""


class CmcdMapper:
    """Reports -> events, with the catalogue index and the session memory of one worker.

    Besides the last reports (for the intervals), a session's `Progress` decides what real
    players leave out:
    - startup: `msd` when it is plausible (sent in a state where a frame can be shown);
      otherwise the time from the first `sta=s` report to the first `sta=p` report;
    - the first frame: no stall, and no played time, before it (that is startup);
    - a stall answered by playing within a frame (`MIN_STALL_MS`) is played time;
    - a session that never sends `sta` (Shaka Player's compiled build) counts the time
      between its reports as played from its first frame (request + `msd`) on, up to the
      content's duration in the catalogue (non-live), which completes the view;
    - the bitrate: `pb` (on screen) at once, a `br` (requested) once its `bl` has played
      out (ingestion_api/cmcd_bitrate.py), else the session's last one; played time is
      credited at the bitrate on screen meanwhile;
    - `sta=f`: a playback error at once; the playback failed (a fatal `playback_error`
      and `playback_ended` with reason `error`) only if the session's next report is still
      `f`. A player that plays on after it (dash.js recovers from a decode error) has no
      failed view, and its end report stays its one `playback_ended`;
    - the platform: the report's platform key, else the User-Agent of the request;
    - the attempt: a session that starts without having sent `sta=s` gets its
      `play_requested` at its first report.
    """

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
        self._scrubber = ViewerScrubber(viewer_key)

    def map_line(
        self, line: str, app_id: str, received_at_ms: int, user_agent: str | None = None
    ) -> MappedReport:
        try:
            members = parse_dictionary(line)
        except CmcdSyntaxError as exc:
            raise ReportRejected("malformed_report", str(exc)) from None
        report = read_report(members, received_at_ms, self.viewer_key, self.platform_key)
        if report.event not in MAPPED_EVENTS:
            return MappedReport([], app_id, report.sid, report.sn, None, ignored=True)
        # Checked here as the contract would check the fields: an interval is credited at
        # the previous bitrate, and only a view's first msd starts it, so no event need
        # carry these values.
        for value, bound, name in (
            (report.bitrate_kbps, MAX_BITRATE_KBPS, "bitrate_kbps"),
            (report.startup_ms, MAX_STARTUP_MS, "startup_ms"),
            (report.live_latency_ms, MAX_LIVE_LATENCY_MS, "live_latency_ms"),
        ):
            if value is not None and value > bound:
                raise ReportRejected("out_of_range", f"`$.{name}`: {value} > {bound}")
        session = self.memory.get(app_id, report.sid)
        content = self._content(report, session)
        original = None
        if session is not None:
            original = next((s for s in session.history if s.order == report.order), None)
        retried = original is not None
        # A retry is mapped as its original was, with the progress of then: the same events.
        if original is not None and original.before is not None:
            before = original.before
        else:
            before = session.progress if session is not None else Progress()
        after = self._progress(report, before)
        deltas, interval_content, remember = self._deltas(report, content, session, before, after)
        completes = original.completes if original is not None else False
        if not retried and not after.sends_state and deltas.played_ms:
            deltas, after, completes = self._cap_stateless(deltas, interval_content, before, after)
        platform = report.platform or platform_of(user_agent) or "other"
        events = self._events(
            report, app_id, content, interval_content, deltas, before, after, platform, completes
        )
        if not retried and any(event["type"] == "playback_ended" for event in events):
            after = replace(after, ended=True)
        seen = None
        if remember:
            seen = Seen(
                report.order,
                report.ts_ms,
                report.state,
                content,
                deltas,
                interval_content,
                before,
                completes,
            )
        progress = None if retried or after == before else after
        return MappedReport(events, app_id, report.sid, report.sn, seen, progress=progress)

    def remember(self, mapped: MappedReport) -> None:
        """Called once the report's events are accepted."""
        self.memory.remember(mapped.app_id, mapped.sid, mapped.sn, mapped.seen, mapped.progress)

    def scrub(self, line: str, app_id: str, pseudonymise: Pseudonymiser) -> str:
        """The report with the raw viewer id replaced by its pseudonym (for the quarantine)."""
        return self._scrubber.text(line, app_id, pseudonymise)

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
        return Content(report.cid, info.creator_id, info.content_type, info.duration_ms)

    @staticmethod
    def _plausible_msd(report: Report) -> bool:
        return report.startup_ms is not None and report.state not in PRE_FRAME_STATES

    def _progress(self, report: Report, before: Progress) -> Progress:
        """The session's progress once this report is accepted."""
        requested = before.requested_ts
        if report.state == "s":
            requested = _earliest(requested, report.ts_ms)
        first_frame = before.first_frame_ts
        if report.state == "p":
            first_frame = _earliest(first_frame, report.ts_ms)
        if first_frame is None and self._plausible_msd(report):
            assert report.startup_ms is not None
            opened = before.opened_ts if before.opened_ts is not None else report.ts_ms
            base = requested if requested is not None else opened
            first_frame = min(base + report.startup_ms, report.ts_ms)
        started = (
            before.started or self._startup_ms(report, before, requested, first_frame) is not None
        )
        return Progress(
            opened_ts=_earliest(before.opened_ts, report.ts_ms),
            requested_ts=requested,
            first_frame_ts=first_frame,
            started=started,
            sends_state=before.sends_state or report.state is not None,
            screen=before.screen.reported(
                report.ts_ms, report.bitrate_kbps, report.bitrate_on_screen, report.buffer_ms
            ),
            fatal_pending=report.state == "f",
        )

    @staticmethod
    def _cap_stateless(
        deltas: Deltas, content: Content, before: Progress, after: Progress
    ) -> tuple[Deltas, Progress, bool]:
        """A stateless session's played time, capped at the content's duration (non-live);
        reaching it completes the view, as no end report will come."""
        if content.duration_ms is None or content.content_type == "live":
            return deltas, after, False
        left = max(content.duration_ms - before.stateless_played_ms, 0)
        played = min(deltas.played_ms, left)
        total = before.stateless_played_ms + played
        completes = left > 0 and total >= content.duration_ms
        capped = Deltas(played, deltas.stalled_ms, deltas.stall_count, deltas.seek_ms)
        return capped, replace(after, stateless_played_ms=total), completes

    def _startup_ms(
        self, report: Report, before: Progress, requested: int | None, first_frame: int | None
    ) -> int | None:
        """The startup this report gives a session not started yet, else None: its `msd`,
        or the first `sta=p` report's time less the first `sta=s` report's, once both
        arrived (in either order: a player's POSTs may overtake each other)."""
        if before.started:
            return None
        if self._plausible_msd(report):
            return report.startup_ms
        if report.state in ("p", "s") and requested is not None and first_frame is not None:
            return max(first_frame - requested, 0)
        return None

    def _deltas(
        self,
        report: Report,
        content: Content,
        session: Session | None,
        before: Progress,
        after: Progress,
    ) -> tuple[Deltas, Content, bool]:
        """The report's deltas, the content they belong to, and whether it is a new base.

        Time since the previous report counts only when that report is this one's direct
        predecessor (no `sn` in between that this worker did not see), so two workers
        that each saw part of a session never count the same time; otherwise the report
        counts only what it carries itself.
        """
        shown = before.first_frame_ts is not None or report.state == "p"
        carried = (
            Deltas(stalled_ms=min(report.stall_ms, MAX_DELTA_MS), stall_count=1)
            if report.stall_ms and shown
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
        played = interval if state == "p" else 0
        if state is None and not after.sends_state and after.first_frame_ts is not None:
            played = min(max(report.ts_ms - max(previous.ts_ms, after.first_frame_ts), 0), interval)
        framed = before.first_frame_ts is not None and before.first_frame_ts <= previous.ts_ms
        stalled = state in STALL_STATES and framed
        if stalled and self._within_a_frame(report, session, interval):
            played, stalled = interval, False
        deltas = Deltas(
            played_ms=played,
            stalled_ms=interval if stalled else 0,
            stall_count=1 if stalled and report.state not in STALL_STATES else 0,
            seek_ms=interval if state == "k" else 0,
        )
        return deltas, previous.content, True

    @staticmethod
    def _within_a_frame(report: Report, session: Session, interval: int) -> bool:
        """Whether this report ends, within `MIN_STALL_MS`, a stall its predecessor began."""
        if report.state in STALL_STATES or interval >= MIN_STALL_MS:
            return False
        return len(session.history) < 2 or session.history[-2].state not in STALL_STATES

    def _events(
        self,
        report: Report,
        app_id: str,
        content: Content,
        interval_content: Content,
        deltas: Deltas,
        before: Progress,
        after: Progress,
        platform: str,
        completes: bool = False,
    ) -> list[dict[str, Any]]:
        def event(kind: str, event_id: str, on: Content = content) -> dict[str, Any]:
            return {
                "event_id": event_id,
                "type": kind,
                "ts": report.ts_ms,
                "viewer_id": report.viewer_id or report.sid,
                "platform": platform,
                "creator_id": on.creator_id,
                "content_id": on.content_id,
                "content_type": on.content_type,
                "session_id": report.sid,
            }

        quality: dict[str, int] = {}
        own_bitrate = after.screen.kbps
        if report.buffer_ms is not None:
            quality["buffer_ms"] = report.buffer_ms
        if report.playhead_ms is not None and report.playhead_ms <= MAX_PLAYHEAD_MS:
            quality["playhead_ms"] = report.playhead_ms

        def with_quality(fields: dict[str, Any], counted: Deltas) -> dict[str, Any]:
            bitrate = own_bitrate
            if counted.played_ms:
                # Played up to this report: credited at what was on screen meanwhile.
                played_from = report.ts_ms - counted.played_ms
                bitrate = before.screen.average(played_from, report.ts_ms) or own_bitrate
            extra = {"bitrate_kbps": bitrate} if bitrate is not None else {}
            return fields | counted.fields() | quality | extra

        events: list[dict[str, Any]] = []
        if report.state == "s":
            events.append(
                event("play_requested", session_event_id(app_id, report.sid, "play_requested"))
            )
        startup = self._startup_ms(report, before, after.requested_ts, after.first_frame_ts)
        if startup is not None and after.requested_ts is None:
            # A player that sends no `sta=s` (Shaka Player) still made a request: at the
            # session's first report, so that every start has its attempt.
            requested = event(
                "play_requested", session_event_id(app_id, report.sid, "play_requested")
            )
            requested["ts"] = after.opened_ts
            events.append(requested)
        if startup is not None:
            started = event(
                "playback_started", session_event_id(app_id, report.sid, "playback_started")
            )
            started["startup_ms"] = startup
            events.append(started)
        if deltas and interval_content != content:
            # The time since the previous report was spent on the previous content (`e=c`).
            moved = event(
                "heartbeat", report_event_id(app_id, report, "interval"), interval_content
            )
            events.append(moved | deltas.fields())
            deltas = NO_DELTAS

        ended_reason = ENDED_REASONS.get(report.state or "")
        if completes:
            ended_reason = "completed"
        failed = report.state == "f" and before.fatal_pending
        if report.event == "e" or (report.state == "f" and not failed):
            error = event("playback_error", report_event_id(app_id, report, "playback_error"))
            error["fatal"] = False
            if report.error_codes:
                error["code"] = report.error_codes[0][:256]
                error["message"] = " ".join(report.error_codes)[:2048]
            events.append(error)
        if failed:
            fatal = event("playback_error", session_event_id(app_id, report.sid, "fatal_error"))
            fatal["fatal"] = True
            if report.error_codes:
                fatal["code"] = report.error_codes[0][:256]
            events.append(fatal)
        elif report.state == "f":
            ended_reason = None  # the next report says whether the playback failed
        if ended_reason is not None and before.ended:
            return events
        if ended_reason is not None:
            ended = event("playback_ended", session_event_id(app_id, report.sid, "playback_ended"))
            ended["reason"] = ended_reason
            events.append(with_quality(ended, deltas))
            return events
        if report.event == "bc" and report.bitrate_kbps is not None:
            changed = event("quality_changed", report_event_id(app_id, report, "quality_changed"))
            changed["bitrate_kbps"] = report.bitrate_kbps
            events.append(changed)
        if deltas or report.state not in PRE_START_STATES:
            heartbeat = event("heartbeat", report_event_id(app_id, report, "heartbeat"))
            state = HEARTBEAT_STATES.get(report.state or "")
            if report.state in STALL_STATES and after.first_frame_ts is not None:
                state = "stalled"
            if state is not None:
                heartbeat["state"] = state
            if report.live_latency_ms is not None and content.content_type == "live":
                heartbeat["live_latency_ms"] = report.live_latency_ms
            events.append(with_quality(heartbeat, deltas))
        return events
