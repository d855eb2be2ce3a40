"""What a traffic engine has handed out so far, for progress lines and summaries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class SimStats:
    """What the simulator has handed out so far (counted at delivery, not at planning)."""

    events: int = 0
    duplicates: int = 0
    late: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    arrivals: Counter[str] = field(default_factory=Counter)

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())
