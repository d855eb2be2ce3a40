"""The CMCD viewer key's value replaced by its pseudonym in text bound for the quarantine.

A CMCD report or CDN log line carries the viewer id in a custom key (`cmcd_viewer_id_key`,
e.g. `com.example-vid="v1"`). A refused one is kept in the quarantine, where no raw viewer id
may be, and where erasure finds the pseudonym. The value is found whatever the encoding a
report or log line gives it: quoted, bare, URL-encoded (`%3D%22v1%22`) or inside a JSON
string (`=\\"v1\\"`); a JSON log line is also scrubbed string by string after decoding, so
escapes (`\\u002d`) hide nothing. The pseudonym keeps the quoting the value had.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import msgspec

from marquee.intake.enrich import Pseudonymiser

_QUOTES = ("%22", '\\"', '"')


class ViewerScrubber:
    """Replaces the raw values of one viewer key in CMCD text of any encoding."""

    def __init__(self, viewer_key: str) -> None:
        self.viewer_key = viewer_key
        self._value = re.compile(
            r"(?:(?<=%2[Cc])|(?<![A-Za-z0-9_.*-]))(" + re.escape(viewer_key) + r")(=|%3[Dd])"
            r'(%22.*?%22|\\".*?\\"|"(?:[^"\\]|\\.)*"'
            r'|(?:%22|\\?")?(?:[^,;&\s"\\%]|%(?!2[Cc]|22))*)'
        )

    def text(self, text: str, app_id: str, pseudonymise: Pseudonymiser) -> str:
        """`text` with every value of the key replaced by its pseudonym (quoted as it was)."""

        def replace(match: re.Match[str]) -> str:
            key, separator, value = match.groups()
            opening = next((q for q in _QUOTES if value.startswith(q)), "")
            inner = value[len(opening) :]
            closing = opening if opening and inner.endswith(opening) else ""
            inner = inner[: len(inner) - len(closing)]
            if separator != "=" or opening == "%22":
                inner = urllib.parse.unquote(inner)
            raw = inner.replace('\\"', '"').replace("\\\\", "\\")
            if not raw:
                return match.group(0)
            return f"{key}{separator}{opening}{pseudonymise(app_id, raw)}{closing}"

        return self._value.sub(replace, text)

    def log_line(self, line: str, app_id: str, pseudonymise: Pseudonymiser) -> str:
        """A CDN log line scrubbed: each JSON string decoded (and URL-decoded where it names
        the key only so), or the text as it came when it is not JSON."""
        try:
            decoded = msgspec.json.decode(line)
        except msgspec.DecodeError:
            return self.text(line, app_id, pseudonymise)

        def walk(value: Any) -> Any:
            if isinstance(value, str):
                scrubbed = self.text(value, app_id, pseudonymise)
                unquoted = urllib.parse.unquote(value)
                if scrubbed == value and unquoted != value:
                    again = self.text(unquoted, app_id, pseudonymise)
                    return again if again != unquoted else value
                return scrubbed
            if isinstance(value, list):
                return [walk(item) for item in value]
            if isinstance(value, dict):
                return {key: walk(item) for key, item in value.items()}
            return value

        scrubbed = walk(decoded)
        return line if scrubbed == decoded else msgspec.json.encode(scrubbed).decode()
