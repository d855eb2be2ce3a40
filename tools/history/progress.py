"""Progress lines for long work: done so far, rate, and time left at that rate."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints `<label>: done/total unit (pct), rate unit/s, ETA` at most every `every_s`."""

    def __init__(
        self, label: str, total: int, unit: str, every_s: float = 5.0, out: TextIO | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self.out = out or sys.stdout
        self.done = 0
        self.started = time.monotonic()
        self._last_print = self.started
        self._printed_done = -1

    def advance(self, amount: int) -> None:
        self.done += amount
        if time.monotonic() - self._last_print >= self.every_s:
            self._print()

    def finish(self) -> None:
        """The final line, unless the last one printed already says the same or there was
        nothing to do (resuming a history that is already complete)."""
        if self.done != self._printed_done and (self.done or self.total):
            self._print()

    def _print(self) -> None:
        now = time.monotonic()
        self._last_print, self._printed_done = now, self.done
        print(self.line(now), file=self.out, flush=True)

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.monotonic()) - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float) -> str:
        rate = self.rate(now)
        left = max(self.total - self.done, 0)
        eta = f"ETA {format_duration(left / rate)}" if rate > 0 and left else "ETA -"
        return (
            f"[{self.label}] {self.done:,}/{self.total:,} {self.unit} "
            f"({self._percent()}), {rate:,.0f} {self.unit}/s, {eta}"
        )

    def _percent(self) -> str:
        return f"{100 * self.done / self.total:.0f}%" if self.total else "-"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
