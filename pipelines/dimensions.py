"""The QoE dimensions a view carries besides platform and country: app version, OS, device.

Players send `app_version`, `os` and `device` as free text (EVENTS.md: optional, up to 256
characters): "iOS 17.6.1", "iPhone OS 17_5", "android 14", "5.4.1 (5567)". Kept raw, every
patch release, build number and spelling would be a value of its own in every QoE mart.
The view merge (`pipelines.views`) compares them normalised when a view's first events tie
and keeps them normalised, so the lake holds few values per dimension by construction and
every run gives a partial the value every other run would. Normalising twice changes
nothing, so partials already normalised merge alike:

- absent, blank or a placeholder ("unknown", "null", "n/a", ...) -> `unknown`;
- `os`: a known family, matched case-folded, and its major version ("iOS 17", "Android 14",
  "macOS 10", "Windows 11"); a known family without a version (or Linux) -> the family;
  anything else -> `other`;
- `app_version`: the first two numeric components as `major.minor` ("5.4.1 (5567)" -> "5.4",
  "v6" -> "6.0"); text that does not start with a number -> `other`;
- `device`: whitespace trimmed and collapsed, case-folded, at most 64 characters.

The marts bound what is left (many device models) with the top values per day and `other`
(dbt/models/docs/qoe_dimensions.md; docs/decisions/0002-qoe-dimensions.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import polars as pl

UNKNOWN = "unknown"
"""The value of a dimension the events did not give."""
OTHER = "other"
"""An OS outside the known families, an app version that is not a number."""

DIMENSIONS = ("app_version", "os", "device")
"""The view attributes normalised here, in the order views carry them."""

DEVICE_MAX_CHARS = 64

_PLACEHOLDERS = frozenset({"unknown", "undefined", "null", "none", "n/a", "na", "-", "?"})
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_OS_FAMILIES: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (re.compile(rf"^(?:{pattern})(?![a-z])"), family, versioned)
    for pattern, family, versioned in (
        # More specific before less: "android tv" before "android", "ipados" before "ios".
        (r"ipad ?os", "iPadOS", True),
        (r"iphone ?os|ios", "iOS", True),
        (r"mac ?os ?x|mac ?os|os ?x", "macOS", True),
        (r"windows(?: nt)?", "Windows", True),
        (r"android ?tv|google ?tv", "Android TV", True),
        (r"android", "Android", True),
        (r"chrome ?os|cros", "ChromeOS", True),
        (r"tv ?os", "tvOS", True),
        (r"watch ?os", "watchOS", True),
        (r"vision ?os", "visionOS", True),
        (r"tizen", "Tizen", True),
        (r"web ?os", "webOS", True),
        (r"roku(?: ?os)?", "Roku OS", True),
        (r"fire ?os", "Fire OS", True),
        (r"harmony ?os", "HarmonyOS", True),
        (r"linux|ubuntu|debian|fedora", "Linux", False),
    )
)
"""(pattern over the case-folded text, family, whether a major version follows)."""

_OS_MAJOR = re.compile(r"[\s._/-]*v?(\d{1,3})(?!\d)")
"""The major version right after the family: "17" of " 17.6.1", "10" of " 10_15_7"."""

_APP_VERSION = re.compile(r"^(?:v|version)?[\s._-]*(\d{1,9})(?:[._](\d{1,9}))?")


def _cleaned(raw: str | None) -> str | None:
    """Trimmed, control characters dropped, whitespace collapsed; None when nothing is left
    or the text is a placeholder for "not known"."""
    if raw is None:
        return None
    text = _WHITESPACE.sub(" ", _CONTROL.sub(" ", raw)).strip()
    if not text or text.casefold() in _PLACEHOLDERS:
        return None
    return text


@functools.lru_cache(maxsize=8192)
def normalise_os(raw: str | None) -> str:
    """`iOS 17`, `Android 14`, a family alone, `other` or `unknown` (see the module)."""
    text = _cleaned(raw)
    if text is None:
        return UNKNOWN
    folded = text.casefold()
    for pattern, family, versioned in _OS_FAMILIES:
        match = pattern.match(folded)
        if match is None:
            continue
        major = _OS_MAJOR.match(folded, match.end()) if versioned else None
        return f"{family} {int(major.group(1))}" if major else family
    return OTHER


@functools.lru_cache(maxsize=8192)
def normalise_app_version(raw: str | None) -> str:
    """`major.minor` of the leading numbers, `other` or `unknown` (see the module)."""
    text = _cleaned(raw)
    if text is None:
        return UNKNOWN
    match = _APP_VERSION.match(text.casefold())
    if match is None:
        return OTHER
    major, minor = match.groups()
    return f"{int(major)}.{int(minor or 0)}"


@functools.lru_cache(maxsize=8192)
def normalise_device(raw: str | None) -> str:
    """Trimmed, collapsed, case-folded and capped at 64 characters, or `unknown`."""
    text = _cleaned(raw)
    if text is None:
        return UNKNOWN
    return text.casefold()[:DEVICE_MAX_CHARS].rstrip()


NORMALISERS: dict[str, Callable[[str | None], str]] = {
    "app_version": normalise_app_version,
    "os": normalise_os,
    "device": normalise_device,
}


def normalised(values: pl.Series) -> pl.Series:
    """A log column of `DIMENSIONS` (named by the series) with every value normalised.

    Only its distinct values go through Python (a run of a million events holds a few
    hundred), and a vectorised replace maps the rest; nulls are `unknown`.
    """
    normalise = NORMALISERS[values.name]
    distinct = values.drop_nulls().unique()
    return (
        values.replace_strict(
            distinct, [normalise(value) for value in distinct], default=None, return_dtype=pl.Utf8
        )
        .fill_null(UNKNOWN)
        .alias(values.name)
    )
