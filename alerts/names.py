"""Names for the subjects of notifications: creator names and content titles from the
catalogue files the API writes (`catalog/creators.json`, `catalog/content.json`).

Read only when a notification is built (rare), and parsed again only when a file changed;
a missing or unreadable file gives no name, never an error: the id alone still names the
subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from marquee.catalog_files import CONTENT_FILE, CREATORS_FILE
from marquee.layout import DataLayout


class _Named(msgspec.Struct):
    creator_id: Any = None
    content_id: Any = None
    name: Any = None
    title: Any = None


_DECODER = msgspec.json.Decoder(list[_Named])
_FILES = {
    "creator": (CREATORS_FILE, "creator_id", "name"),
    "content": (CONTENT_FILE, "content_id", "title"),
}


@dataclass
class CatalogueNames:
    layout: DataLayout
    _held: dict[str, tuple[tuple[int, int] | None, dict[str, str]]] = field(default_factory=dict)

    def _names(self, scope: str) -> dict[str, str]:
        file_name, id_field, name_field = _FILES[scope]
        path: Path = self.layout.catalog_dir / file_name
        try:
            stat = path.stat()
            version: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            version = None
        held = self._held.get(scope)
        if held is not None and held[0] == version:
            return held[1]
        try:
            records = _DECODER.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError):
            records = []
        names = {
            str(getattr(r, id_field)): str(getattr(r, name_field))
            for r in records
            if getattr(r, id_field) and getattr(r, name_field)
        }
        self._held[scope] = (version, names)
        return names

    def __call__(self, scope: str, value: str) -> str | None:
        """The catalogue's name of a creator or title of a content; None for other scopes
        and for ids the catalogue does not know."""
        if scope not in _FILES:
            return None
        return self._names(scope).get(value)
