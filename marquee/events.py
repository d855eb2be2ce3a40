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
import typing
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Platform = Literal["web", "ios", "android", "tv", "other"]
ContentType = Literal["live", "vod", "clip", "story"]
PlayerState = Literal["playing", "paused", "stalled", "seeking"]
Time = datetime | int
"""RFC 3339 UTC string or integer epoch milliseconds."""

NonNegative = Annotated[int, Meta(ge=0)]
ShortText = Annotated[str, Meta(min_length=1, max_length=256)]
ViewerId = Annotated[str, Meta(min_length=1, max_length=128)]
CountryCode = Annotated[str, Meta(pattern="^[A-Z]{2}$")]
EventId = Annotated[
    str,
    Meta(
        pattern="^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="A UUID in its hyphenated form; stored lower-cased.",
    ),
]
"""Checked as a string pattern: building uuid.UUID objects cost a third of decode time."""


class RejectReason(enum.StrEnum):
    """Stable, documented reason codes for a rejected event (see docs/api.md)."""

    MALFORMED_EVENT = "malformed_event"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    MISSING_CONTENT_TYPE = "missing_content_type"
    EVENT_TOO_LARGE = "event_too_large"
    EVENT_IN_FUTURE = "event_in_future"
    EVENT_TOO_OLD = "event_too_old"


class EventBase(msgspec.Struct, kw_only=True, tag_field="type", omit_defaults=True):
    """The envelope every event carries."""

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
    seq: NonNegative | None = None


class ContentEvent(EventBase, kw_only=True):
    """Events about one piece of content: creator, content and its type are required."""

    creator_id: ShortText
    content_id: ShortText
    content_type: ContentType


class SessionEvent(ContentEvent, kw_only=True):
    """Player and ad events: they belong to one playback session (one view)."""

    session_id: ShortText


class DeltaEvent(SessionEvent, kw_only=True):
    """Durations since the previous player event of the session, so they add up."""

    played_ms: NonNegative = 0
    stalled_ms: NonNegative = 0
    stall_count: NonNegative = 0
    seek_ms: NonNegative = 0
    bitrate_kbps: NonNegative | None = None
    playhead_ms: NonNegative | None = None
    buffer_ms: NonNegative | None = None
    dropped_frames: NonNegative | None = None


class PlayRequested(SessionEvent, tag="play_requested", kw_only=True):
    autoplay: bool | None = None


class PlaybackStarted(SessionEvent, tag="playback_started", kw_only=True):
    startup_ms: NonNegative


class Heartbeat(DeltaEvent, tag="heartbeat", kw_only=True):
    state: PlayerState | None = None


class PlaybackError(SessionEvent, tag="playback_error", kw_only=True):
    code: ShortText | None = None
    fatal: bool = False
    message: Annotated[str, Meta(max_length=2048)] | None = None


class QualityChanged(SessionEvent, tag="quality_changed", kw_only=True):
    bitrate_kbps: NonNegative | None = None
    height: NonNegative | None = None


class PlaybackEnded(DeltaEvent, tag="playback_ended", kw_only=True):
    reason: Literal["completed", "user_exit", "error", "replaced"]


class AdEvent(SessionEvent, kw_only=True):
    ad_id: ShortText | None = None
    ad_break_id: ShortText | None = None
    position: Literal["pre", "mid", "post"] | None = None
    ad_duration_ms: NonNegative | None = None


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
    position: NonNegative | None = None


class StoryNavigated(ContentEvent, tag="story_navigated", kw_only=True):
    action: Literal["tap_forward", "tap_back", "tap_exit", "swipe_forward"]


class StoryCompleted(ContentEvent, tag="story_completed", kw_only=True):
    pass


class ReactionAdded(EventBase, tag="reaction_added", kw_only=True):
    target_id: ShortText
    target_type: Literal["story", "live", "clip", "vod"]
    reaction: Annotated[str, Meta(min_length=1, max_length=32)]


class ChatMessage(ContentEvent, tag="chat_message", kw_only=True):
    live_id: ShortText | None = None
    length: NonNegative | None = None


class Follow(EventBase, tag="follow", kw_only=True):
    creator_id: ShortText


class Unfollow(EventBase, tag="unfollow", kw_only=True):
    creator_id: ShortText


class Share(EventBase, tag="share", kw_only=True):
    content_id: ShortText
    channel: ShortText | None = None


class Tip(EventBase, tag="tip", kw_only=True):
    creator_id: ShortText
    amount_minor: NonNegative
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
    return RejectReason.INVALID_FIELD


def decode_event(raw: bytes) -> Event:
    """Decode and validate one JSON-encoded event, raising EventRejected with a reason."""
    try:
        event = _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise EventRejected(classify_validation_error(str(exc)), str(exc)) from None
    except msgspec.DecodeError as exc:
        raise EventRejected(RejectReason.MALFORMED_EVENT, str(exc)) from None
    _check_cross_field_rules(event)
    return event


_batch_decoder = msgspec.json.Decoder(list[Event])


def decode_events(raw_events: list[bytes]) -> list[Event | EventRejected]:
    """Decode a request's events, each to its event or the reason it was rejected.

    A decoder call costs about three times more per event when made once per event, so
    the whole batch is decoded in one call first; only a batch holding a bad event falls
    back to one call per event, to tell which events fail and why.
    """
    try:
        events = decode_event_array(b"[" + b",".join(raw_events) + b"]")
    except (msgspec.ValidationError, msgspec.DecodeError):
        return [_decode_or_rejection(raw) for raw in raw_events]
    if len(events) != len(raw_events):
        return [_decode_or_rejection(raw) for raw in raw_events]
    return events


def decode_event_array(json_array: bytes) -> list[Event | EventRejected]:
    """A JSON array of events decoded in one call, each then checked by the cross-field rules.

    Raises msgspec.ValidationError or DecodeError when any event does not decode.
    """
    return [checked_event(event) for event in _batch_decoder.decode(json_array)]


def _decode_or_rejection(raw: bytes) -> Event | EventRejected:
    try:
        return decode_event(raw)
    except EventRejected as rejection:
        return rejection


def checked_event(event: Event) -> Event | EventRejected:
    """A decoded event, or its rejection if it breaks a rule across fields."""
    try:
        _check_cross_field_rules(event)
    except EventRejected as rejection:
        return rejection
    return event


def _check_cross_field_rules(event: EventBase) -> None:
    if event.content_id is not None and event.content_type is None:
        raise EventRejected(
            RejectReason.MISSING_CONTENT_TYPE, "content_type is required where content_id is"
        )


@functools.cache
def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one event, generated from the structs above (once per process)."""
    return msgspec.json.schema(Event)
