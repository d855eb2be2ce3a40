"""Small sampling helpers on `random.Random`, shared by the behaviour modules.

The simulator draws everything from seeded `random.Random` instances (not numpy): it makes
many scalar draws per event, where the stdlib generator is several times faster than a numpy
Generator called one value at a time, and its output is stable across platforms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import accumulate


def lognormal_ms(rng: random.Random, median_ms: float, sigma: float) -> int:
    """A duration whose logarithm is normal: the usual shape of startup and stall times."""
    return max(1, int(median_ms * math.exp(rng.gauss(0.0, sigma))))


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small means (a few per day) it is used for."""
    if mean <= 0:
        return 0
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def zipf_weights(n: int, exponent: float) -> list[float]:
    """Weights 1/rank^s for ranks 1..n, normalised to sum to 1 (a long-tailed popularity)."""
    raw = [1.0 / (rank**exponent) for rank in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative weights for `random.choices(..., cum_weights=...)`, which then bisects."""
    return list(accumulate(weights))


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng`, so event and session ids repeat with the seed.

    Same result as `str(uuid.UUID(int=..., version=4))`, formatted directly because it runs
    for every event and `uuid.UUID` is most of the cost of building one.
    """
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
