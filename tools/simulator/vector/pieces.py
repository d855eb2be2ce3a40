"""Events as columns: each behaviour adds a piece (one event type, many events) at a time.

A piece holds, per event: its time, the viewer, the title, the playback session (or -1),
a tie-break order for events at the same millisecond, and the type's own fields. The pieces
of a stretch of traffic become one polars frame (`Pieces.frame`), where missing fields of a
type are null and are left out of the JSON (`records`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

CREATOR_ONLY_TYPES = frozenset({"follow", "unfollow"})
"""Events about the viewer and a creator: their envelope names no title."""


def randint(
    rng: np.random.Generator, low: Any, high: Any, size: int | tuple[int, ...] | None = None
) -> np.ndarray:
    """Like `random.randint`: both ends included; bounds may be arrays."""
    return rng.integers(low, np.asarray(high) + 1, size=size, dtype=np.int64)


def lognormal_ms(rng: np.random.Generator, median: Any, sigma: Any, size: int) -> np.ndarray:
    """`sampling.lognormal_ms` for arrays of medians and sigmas."""
    values = np.asarray(median) * np.exp(rng.normal(0.0, 1.0, size) * np.asarray(sigma))
    return np.maximum(1, values.astype(np.int64))


def segment_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Inclusive running sums of `values` restarting where `group_start` is True."""
    total = np.cumsum(values)
    starts = np.flatnonzero(group_start)
    before = np.zeros(len(values), dtype=total.dtype)
    if len(starts):
        offsets = total[starts] - values[starts]
        which = np.cumsum(group_start) - 1
        before = offsets[np.maximum(which, 0)]
    return total - before


class Pieces:
    def __init__(self) -> None:
        self._pieces: list[dict[str, Any]] = []

    def add(
        self,
        type_: str,
        t: np.ndarray,
        viewer: np.ndarray,
        title: np.ndarray,
        session: np.ndarray | None = None,
        order: int = 0,
        **fields: Any,
    ) -> None:
        n = len(t)
        if n == 0:
            return
        piece: dict[str, Any] = {
            "t": np.asarray(t, dtype=np.int64),
            "type": np.full(n, type_, dtype=object),
            "viewer": np.asarray(viewer, dtype=np.int64),
            "title": np.asarray(title, dtype=np.int64),
            "session": np.full(n, -1, dtype=np.int64)
            if session is None
            else np.asarray(session, dtype=np.int64),
            "order": np.full(n, order, dtype=np.int8),
        }
        for name, value in fields.items():
            array = np.asarray(value)
            piece[name] = np.full(n, array) if array.ndim == 0 else array
        self._pieces.append(piece)

    def shift(self, since: int, by_session: int, offset: np.ndarray) -> None:
        """Add `offset[session - by_session]` to the time of the pieces added since index
        `since` (story views are planned from time 0, then placed in their tray)."""
        for piece in self._pieces[since:]:
            piece["t"] = piece["t"] + offset[piece["session"] - by_session]

    def set_per_session(
        self, since: int, type_: str, name: str, values: np.ndarray, session0: int
    ) -> None:
        """Give the `type_` pieces added since index `since` the field `name`:
        `values[session - session0]` for each event (a play's surface, decided per view)."""
        for piece in self._pieces[since:]:
            if len(piece["type"]) and piece["type"][0] == type_:
                piece[name] = values[piece["session"] - session0]

    def __len__(self) -> int:
        return len(self._pieces)

    def frame(self) -> pl.DataFrame:
        frames = [
            pl.DataFrame(
                {
                    name: _text(name, value)
                    if value.dtype == object or value.dtype.kind == "U"
                    else value
                    for name, value in piece.items()
                }
            )
            for piece in self._pieces
        ]
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed")


def _text(name: str, value: np.ndarray) -> pl.Series:
    """A text column; an object array whose first value is None (a play without a surface)
    is read by polars as objects, which it cannot cast, so it goes through a list."""
    try:
        return pl.Series(name, value, dtype=pl.String)
    except pl.exceptions.ComputeError:
        return pl.Series(name, value.tolist(), dtype=pl.String)
