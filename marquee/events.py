"""The event contract (shared/spec/EVENTS.md, version 1), defined once in code.

The ingestion API validates with these msgspec structs, the pipeline reads what the API
wrote, and the JSON Schema the API publishes is generated from them. msgspec is used
because it validates about five times faster than pydantic here, which matters on the
collector's hot path.

Each event is decoded on its own so that one bad event in a batch is rejected with a
typed reason while the others are accepted.
"""

from __future__ import annotations

import enum
import functools
import re
import typing
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Platform = Literal["web", "ios", "android", "tv", "other"]
ContentType = Literal["live", "vod", "clip", "story"]
PlayerState = Literal["playing", "paused", "stalled", "seeking"]
Surface = Literal["feed", "profile", "search", "tray", "share", "other"]
"""Where in the app content was shown or a play was asked for (EVENTS.md, `surface`)."""

# Upper bounds of the numeric fields, each physically plausible; why each value is what it
# is: docs/api.md, "Numeric bounds". Every measure's bound, and bitrate_kbps * played_ms
# (the pipeline's bitrate weight), is at most 2**63 / 10**7, so a 64-bit sum of ten million
# events at the bound in one row still fits (times are compared, never summed). An event
# over a bound is rejected as `out_of_range` by msgspec's check while decoding.
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
MAX_EPOCH_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z, the last time an RFC 3339 string can give."""
MAX_DELTA_MS = HOUR_MS
MAX_STALL_COUNT = 3_600
MAX_STARTUP_MS = 10 * MINUTE_MS
MAX_BITRATE_KBPS = 200_000
MAX_PLAYHEAD_MS = 10 * 366 * DAY_MS
MAX_BUFFER_MS = DAY_MS
MAX_DROPPED_FRAMES = 240 * DAY_MS // 1_000
MAX_LIVE_LATENCY_MS = DAY_MS
MAX_HEIGHT = 16_384
MAX_AD_DURATION_MS = HOUR_MS
MAX_STORY_POSITION = 10_000
MAX_CHAT_LENGTH = 10_000
MAX_LIST_POSITION = 10_000
MAX_AMOUNT_MINOR = 10**11
MAX_SEQ = 10**9

_YEAR = r"([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"
)
RFC3339_PATTERN = (
    rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)
"""Exactly the RFC 3339 times msgspec reads (years 0001 to 9999, leap days of leap years
only; no offset: UTC). Published in the JSON Schema, where msgspec writes a bare string for
a datetime, so the schema says which text is a time and tools generating requests send one."""

Time = (
    Annotated[datetime, Meta(extra_json_schema={"format": "date-time", "pattern": RFC3339_PATTERN})]
    | Annotated[int, Meta(ge=0, le=MAX_EPOCH_MS)]
)
"""RFC 3339 UTC string or integer epoch milliseconds (within the RFC 3339 range)."""

NonNegative = Annotated[int, Meta(ge=0)]
DeltaMs = Annotated[int, Meta(ge=0, le=MAX_DELTA_MS)]
BitrateKbps = Annotated[int, Meta(ge=0, le=MAX_BITRATE_KBPS)]
ShortText = Annotated[str, Meta(min_length=1, max_length=256)]
ViewerId = Annotated[str, Meta(min_length=1, max_length=128)]
COUNTRY_PATTERN = "^[A-Z]{2}$"
EVENT_ID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CountryCode = Annotated[str, Meta(extra_json_schema={"pattern": COUNTRY_PATTERN})]
EventId = Annotated[
    str,
    Meta(
        description="A UUID in its hyphenated form; stored lower-cased.",
        extra_json_schema={"pattern": EVENT_ID_PATTERN},
    ),
]
"""These two patterns are published in the schema but checked after decoding, a whole batch
at a time (`checked_events`): msgspec runs a `re` search per string, which cost half of the
decode time of a batch (two per event), and building uuid.UUID objects cost even more."""


class RejectReason(enum.StrEnum):
    """Stable, documented reason codes for a rejected event (see docs/api.md)."""

    MALFORMED_EVENT = "malformed_event"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    OUT_OF_RANGE = "out_of_range"
    MISSING_CONTENT_TYPE = "missing_content_type"
    EVENT_TOO_LARGE = "event_too_large"
    EVENT_IN_FUTURE = "event_in_future"
    EVENT_TOO_OLD = "event_too_old"


class EventBase(msgspec.Struct, kw_only=True, tag_field="type", omit_defaults=True, gc=False):
    """The envelope every event carries.

    `gc=False`: an event holds only strings, numbers and times, so it can never be part of a
    reference cycle, and the garbage collector need not track the thousands a second the
    API decodes.
    """

    event_id: EventId
    ts: Time
    viewer_id: ViewerId
    platform: Platform
    app_version: ShortText | None = None
    os: ShortText | None = None
    device: ShortText | None = None
    country: CountryCode | None = None
    creator_id: ShortText | None = None
    content_id: ShortText | None = None
    content_type: ContentType | None = None
    session_id: ShortText | None = None
    seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)] | None = None


class ContentEvent(EventBase, kw_only=True):
    """Events about one piece of content (player, ad, story, chat, share): creator, content
    and its type are required (EVENTS.md, envelope)."""

    creator_id: ShortText
    content_id: ShortText
    content_type: ContentType


class SessionEvent(ContentEvent, kw_only=True):
    """Player and ad events: they belong to one playback session (one view)."""

    session_id: ShortText


class DeltaEvent(SessionEvent, kw_only=True):
    """Durations since the previous player event of the session, so they add up."""

    played_ms: DeltaMs = 0
    stalled_ms: DeltaMs = 0
    stall_count: Annotated[int, Meta(ge=0, le=MAX_STALL_COUNT)] = 0
    seek_ms: DeltaMs = 0
    bitrate_kbps: BitrateKbps | None = None
    playhead_ms: Annotated[int, Meta(ge=0, le=MAX_PLAYHEAD_MS)] | None = None
    buffer_ms: Annotated[int, Meta(ge=0, le=MAX_BUFFER_MS)] | None = None
    dropped_frames: Annotated[int, Meta(ge=0, le=MAX_DROPPED_FRAMES)] | None = None


class PlayRequested(SessionEvent, tag="play_requested", kw_only=True):
    autoplay: bool | None = None
    surface: Surface | None = None
    """Where the play was asked for; a view without one counts in no click-through rate."""


class PlaybackStarted(SessionEvent, tag="playback_started", kw_only=True):
    startup_ms: Annotated[int, Meta(ge=0, le=MAX_STARTUP_MS)]


class Heartbeat(DeltaEvent, tag="heartbeat", kw_only=True):
    state: PlayerState | None = None
    live_latency_ms: Annotated[int, Meta(ge=0, le=MAX_LIVE_LATENCY_MS)] | None = None
    """How far behind the live edge the viewer plays (CMCD v2 `ltc`). Live content only:
    on another content type it is accepted and ignored (no metric reads it), so a player
    that sends it everywhere loses none of its heartbeats' other fields."""


class PlaybackError(SessionEvent, tag="playback_error", kw_only=True):
    code: ShortText | None = None
    fatal: bool = False
    message: Annotated[str, Meta(max_length=2048)] | None = None


class QualityChanged(SessionEvent, tag="quality_changed", kw_only=True):
    bitrate_kbps: BitrateKbps | None = None
    height: Annotated[int, Meta(ge=0, le=MAX_HEIGHT)] | None = None


class PlaybackEnded(DeltaEvent, tag="playback_ended", kw_only=True):
    reason: Literal["completed", "user_exit", "error", "replaced"]


class AdEvent(SessionEvent, kw_only=True):
    ad_id: ShortText | None = None
    ad_break_id: ShortText | None = None
    position: Literal["pre", "mid", "post"] | None = None
    ad_duration_ms: Annotated[int, Meta(ge=0, le=MAX_AD_DURATION_MS)] | None = None
    ad_format: Literal["linear", "squeezeback", "overlay"] | None = None
    """None means `linear` (EVENTS.md: optional, default linear)."""


class AdBreakStarted(AdEvent, tag="ad_break_started", kw_only=True):
    pass


class AdImpression(AdEvent, tag="ad_impression", kw_only=True):
    pass


class AdQuartile(AdEvent, tag="ad_quartile", kw_only=True):
    quartile: Literal[25, 50, 75, 100]


class AdSkipped(AdEvent, tag="ad_skipped", kw_only=True):
    pass


class AdClicked(AdEvent, tag="ad_clicked", kw_only=True):
    pass


class AdBreakEnded(AdEvent, tag="ad_break_ended", kw_only=True):
    pass


class StoryViewed(ContentEvent, tag="story_viewed", kw_only=True):
    story_id: ShortText | None = None
    position: Annotated[int, Meta(ge=0, le=MAX_STORY_POSITION)] | None = None


class StoryNavigated(ContentEvent, tag="story_navigated", kw_only=True):
    action: Literal["tap_forward", "tap_back", "tap_exit", "swipe_forward"]


class StoryCompleted(ContentEvent, tag="story_completed", kw_only=True):
    pass


class ReactionAdded(EventBase, tag="reaction_added", kw_only=True):
    """Its content is `target_id` (of type `target_type`); `creator_id` is the content's."""

    creator_id: ShortText
    target_id: ShortText
    target_type: Literal["story", "live", "clip", "vod"]
    reaction: Annotated[str, Meta(min_length=1, max_length=32)]


class ChatMessage(ContentEvent, tag="chat_message", kw_only=True):
    live_id: ShortText | None = None
    length: Annotated[int, Meta(ge=0, le=MAX_CHAT_LENGTH)] | None = None


class Follow(EventBase, tag="follow", kw_only=True):
    creator_id: ShortText


class Unfollow(EventBase, tag="unfollow", kw_only=True):
    creator_id: ShortText


class Share(ContentEvent, tag="share", kw_only=True):
    channel: ShortText | None = None


class ContentImpression(ContentEvent, tag="content_impression", kw_only=True):
    """The content was shown on a surface (a thumbnail on screen), not played."""

    surface: Surface
    list_position: Annotated[int, Meta(ge=0, le=MAX_LIST_POSITION)] | None = None


class Tip(EventBase, tag="tip", kw_only=True):
    creator_id: ShortText
    amount_minor: Annotated[int, Meta(ge=0, le=MAX_AMOUNT_MINOR)]
    currency: Annotated[str, Meta(pattern="^[A-Z]{3}$")]


Event = (
    PlayRequested
    | PlaybackStarted
    | Heartbeat
    | PlaybackError
    | QualityChanged
    | PlaybackEnded
    | AdBreakStarted
    | AdImpression
    | AdQuartile
    | AdSkipped
    | AdClicked
    | AdBreakEnded
    | StoryViewed
    | StoryNavigated
    | StoryCompleted
    | ReactionAdded
    | ChatMessage
    | Follow
    | Unfollow
    | Share
    | ContentImpression
    | Tip
)

EVENT_TYPES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag) for cls in typing.get_args(Event)
)

_event_decoder = msgspec.json.Decoder(Event)


class EventRejected(Exception):
    """An event that breaks the contract, with its typed reason and a human-readable detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def classify_validation_error(message: str) -> RejectReason:
    """Turn a msgspec error message into one of the stable reason codes."""
    if "missing required field" in message:
        return RejectReason.MISSING_FIELD
    if "`$.type`" in message:
        return RejectReason.UNKNOWN_TYPE
    if " - at `" not in message:
        return RejectReason.MALFORMED_EVENT
    if message.startswith("Expected `int` <= "):
        return RejectReason.OUT_OF_RANGE
    return RejectReason.INVALID_FIELD


def decode_event(raw: bytes) -> Event:
    """Decode and validate one JSON-encoded event, raising EventRejected with a reason."""
    try:
        event = _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise EventRejected(classify_validation_error(str(exc)), str(exc)) from None
    except msgspec.DecodeError as exc:
        raise EventRejected(RejectReason.MALFORMED_EVENT, str(exc)) from None
    except UnicodeDecodeError as exc:
        detail = f"not valid UTF-8: {exc.reason}"
        raise EventRejected(RejectReason.MALFORMED_EVENT, detail) from None
    except RecursionError:
        raise EventRejected(RejectReason.MALFORMED_EVENT, NESTED_TOO_DEEP) from None
    _check_after_decoding(event)
    return event


_batch_decoder = msgspec.json.Decoder(list[Event])

UNDECODABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What msgspec raises on JSON it cannot take: it reports invalid UTF-8 in a string as
UnicodeDecodeError and nesting past the interpreter's recursion limit as RecursionError."""
NESTED_TOO_DEEP = "JSON nested too deeply"


def decode_events(raw_events: list[bytes]) -> list[Event | EventRejected]:
    """Decode a request's events, each to its event or the reason it was rejected.

    A decoder call costs about three times more per event when made once per event, so
    the whole batch is decoded in one call first; only a batch holding a bad event falls
    back to one call per event, to tell which events fail and why.
    """
    try:
        events = decode_event_array(b"[" + b",".join(raw_events) + b"]")
    except UNDECODABLE:
        return [_decode_or_rejection(raw) for raw in raw_events]
    if len(events) != len(raw_events):
        return [_decode_or_rejection(raw) for raw in raw_events]
    return events


def decode_event_array(json_array: bytes) -> list[Event | EventRejected]:
    """A JSON array of events decoded in one call, then checked (`checked_events`).

    Raises one of `UNDECODABLE` when any event does not decode.
    """
    return checked_events(_batch_decoder.decode(json_array))


def _decode_or_rejection(raw: bytes) -> Event | EventRejected:
    try:
        return decode_event(raw)
    except EventRejected as rejection:
        return rejection


def checked_events(events: list[Event]) -> list[Event | EventRejected]:
    """Decoded events, each kept or replaced by its rejection (`checked_event`).

    The checks run on the whole batch at once, in C string operations, and only a batch
    that fails them is checked event by event, to tell which events fail and why.
    """
    if (
        _event_ids_valid([event.event_id for event in events])
        and _countries_valid([event.country for event in events])
        and _content_types_given(events)
    ):
        return typing.cast(list[Event | EventRejected], events)
    return [checked_event(event) for event in events]


def checked_event(event: Event) -> Event | EventRejected:
    """A decoded event, or its rejection if it breaks a pattern or a rule across fields."""
    try:
        _check_after_decoding(event)
    except EventRejected as rejection:
        return rejection
    return event


_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_COUNTRY = re.compile(COUNTRY_PATTERN)
_HEX_DIGITS = b"0123456789abcdefABCDEF"


def _check_after_decoding(event: EventBase) -> None:
    """The checks msgspec does not make, with the reasons and details it would give.

    `fullmatch`, as the published JSON Schema means it: a Python `$` also matches before a
    final newline, so msgspec's own pattern check let an id ending in a newline through.
    """
    if not _EVENT_ID.fullmatch(event.event_id):
        raise _pattern_rejection(EVENT_ID_PATTERN, "event_id")
    if event.country is not None and not _COUNTRY.fullmatch(event.country):
        raise _pattern_rejection(COUNTRY_PATTERN, "country")
    if event.content_id is not None and event.content_type is None:
        raise EventRejected(
            RejectReason.MISSING_CONTENT_TYPE, "content_type is required where content_id is"
        )


def _pattern_rejection(pattern: str, field: str) -> EventRejected:
    return EventRejected(
        RejectReason.INVALID_FIELD, f"Expected `str` matching regex {pattern!r} - at `$.{field}`"
    )


def _event_ids_valid(event_ids: list[str]) -> bool:
    """Whether every id matches EVENT_ID_PATTERN, in a few C calls for the whole list.

    The ids are joined, each followed by a newline, so each valid one takes exactly 37
    bytes: hyphens at offsets 8, 13, 18, 23 and the newline at 36 of each. Those are 5 of
    every 37 bytes; if no other byte survives deleting the hex digits, every other byte is
    a hex digit, no id holds a newline of its own, and so each id is exactly one slot.
    """
    count = len(event_ids)
    joined = ("\n".join(event_ids) + "\n").encode("utf-8", "replace")
    if len(joined) != 37 * count or len(joined.translate(None, _HEX_DIGITS)) != 5 * count:
        return False
    hyphens = b"-" * count
    return (
        joined[8::37] == hyphens
        and joined[13::37] == hyphens
        and joined[18::37] == hyphens
        and joined[23::37] == hyphens
        and joined[36::37] == b"\n" * count
    )


def _content_types_given(events: list[Event]) -> bool:
    """Whether every event with a content id has a content type (the cheap test first:
    player events, most of the traffic, always carry a content type)."""
    if None not in [event.content_type for event in events]:
        return True
    return None not in [event.content_type for event in events if event.content_id is not None]


def _countries_valid(countries: list[str | None]) -> bool:
    """Whether every country given matches COUNTRY_PATTERN (two ASCII capitals)."""
    given = typing.cast(list[str], countries)
    if None in countries:
        given = [country for country in countries if country is not None]
    if not given:
        return True
    joined = "".join(given)
    return (
        set(map(len, given)) == {2} and joined.isascii() and joined.isalpha() and joined.isupper()
    )


@functools.cache
def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one event, generated from the structs above (once per process)."""
    return msgspec.json.schema(Event)
