"""Event construction: the envelope, `seq` numbering and event ids in one place.

Behaviour modules say *what* happens and when (`emit.session("heartbeat", t, ...)`); this
module makes every event a well-formed EVENTS.md envelope, so the contract is followed by
construction rather than by each behaviour remembering every field. Events are planned, not
sent: each is paired with its event time in ms, and the engine decides when it is delivered.
"""

from __future__ import annotations

import random
from typing import Any

from tools.simulator.audience import Viewer
from tools.simulator.clock import rfc3339_ms
from tools.simulator.model import Content
from tools.simulator.sampling import uuid4

Planned = tuple[int, dict[str, Any]]
"""(event time in epoch ms, event) - the event as the client will send it."""


class Emitter:
    """Builds one viewer's events about one title, optionally inside one playback session.

    `seq` counts every event that carries the session id (player and ad events), starting
    at 0 with `play_requested`, so a gap in `seq` downstream means a lost event.
    """

    __slots__ = ("_base", "_rng", "content", "out", "seq", "session_id", "viewer")

    def __init__(
        self,
        rng: random.Random,
        viewer: Viewer,
        content: Content,
        out: list[Planned],
        *,
        session: bool = True,
    ) -> None:
        self._rng = rng
        self.viewer = viewer
        self.content = content
        self.out = out
        self.seq = 0
        self.session_id = uuid4(rng) if session else None
        self._base = {
            "viewer_id": viewer.viewer_id,
            **viewer.envelope,
            "creator_id": content.creator_id,
            "content_id": content.content_id,
            "content_type": content.content_type,
        }

    def _event(self, type_: str, at_ms: int) -> dict[str, Any]:
        return {
            "event_id": uuid4(self._rng),
            "type": type_,
            "ts": at_ms if self.viewer.epoch_ts else rfc3339_ms(at_ms),
            **self._base,
        }

    def session(self, type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
        """A player or ad event of this session (with `session_id` and the next `seq`)."""
        if self.session_id is None:
            raise ValueError("this emitter has no playback session")
        event = self._event(type_, at_ms)
        event["session_id"] = self.session_id
        event["seq"] = self.seq
        self.seq += 1
        event.update(fields)
        self.out.append((at_ms, event))
        return event

    def engagement(self, type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
        """An engagement event about this title (no session: it is not part of the view)."""
        event = self._event(type_, at_ms)
        event.update(fields)
        self.out.append((at_ms, event))
        return event

    def viewer_event(self, type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
        """An event about the viewer and creator only (follow, unfollow)."""
        event = {
            "event_id": uuid4(self._rng),
            "type": type_,
            "ts": at_ms if self.viewer.epoch_ts else rfc3339_ms(at_ms),
            "viewer_id": self.viewer.viewer_id,
            **self.viewer.envelope,
            "creator_id": self.content.creator_id,
        }
        event.update(fields)
        self.out.append((at_ms, event))
        return event
