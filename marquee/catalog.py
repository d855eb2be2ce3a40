"""The catalogue: creators and content from the app's system of record.

The store *is* the file drop (EVENTS.md, "Catalogue"): `$MARQUEE_DATA_DIR/catalog/`
holds `creators.json` and `content.json`, JSON arrays with one record per line, the format
the simulator writes (`marquee.catalog_files`). dbt reads these files; the API's
`PUT /v1/catalog/...` upserts into them, and anyone may instead drop whole files there.

Upserts must be safe with several API worker processes, so each one runs under an
exclusive `flock` on `catalog/.lock`: read the current file, merge the new records by id,
write a temporary file, fsync it and rename it over the old one (then fsync the
directory). Readers never take the lock: a rename is atomic, so they see the old file or
the new one, never half of one.

Each worker keeps an in-memory index of content (id -> creator, type) for the CMCD
endpoint, and reloads it when the file's identity (inode, mtime, size) changes, which
catches the API's own upserts, other workers' and file drops alike.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from marquee.catalog_files import CONTENT_FILE, CREATORS_FILE, write_json_array_atomic
from marquee.durable import fsync_path
from marquee.events import (
    NESTED_TOO_DEEP,
    UNDECODABLE,
    ContentType,
    NonNegative,
    RejectReason,
    ShortText,
)
from marquee.events import classify_validation_error as _classify_event_error
from marquee.intake.enrich import iso_ms, to_epoch_ms
from marquee.intake.json_split import Unsplittable, split_deep

log = logging.getLogger("ingestion_api")

CatalogKind = Literal["creators", "content"]

LOCK_FILE = ".lock"
"""Taken with flock by every writer that merges into the catalogue files."""

FILES: dict[CatalogKind, str] = {"creators": CREATORS_FILE, "content": CONTENT_FILE}
ID_FIELDS: dict[CatalogKind, str] = {"creators": "creator_id", "content": "content_id"}
TIME_FIELDS = ("created_at", "published_at", "expires_at", "deleted_at")

CatalogTime = datetime | Annotated[int, Meta(ge=0, le=253_402_300_799_999)]
"""RFC 3339, or epoch milliseconds up to the end of year 9999."""
Name = Annotated[str, Meta(min_length=1, max_length=512)]
Title = Annotated[str, Meta(max_length=1024)]


class CreatorRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One creator. Upserted whole by `creator_id`: a field left out becomes null."""

    creator_id: ShortText
    name: Name
    created_at: CatalogTime | None = None


class ContentRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One title. Upserted whole by `content_id`: a field left out becomes null."""

    content_id: ShortText
    creator_id: ShortText
    content_type: ContentType
    title: Title | None = None
    duration_ms: NonNegative | None = None
    published_at: CatalogTime | None = None
    expires_at: CatalogTime | None = None
    deleted_at: CatalogTime | None = None
    announces_live_id: ShortText | None = None
    """For a story that announces a live session: that live's content_id."""
    source_live_id: ShortText | None = None
    """For a clip cut from a live session: that live's content_id (see `live_source_problems`)."""


RECORD_TYPES: dict[CatalogKind, type[CreatorRecord] | type[ContentRecord]] = {
    "creators": CreatorRecord,
    "content": ContentRecord,
}
_decoders = {kind: msgspec.json.Decoder(cls) for kind, cls in RECORD_TYPES.items()}
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])


class CatalogBodyError(Exception):
    """The request body is not a JSON array of records."""


class CatalogFileInvalid(Exception):
    """A catalogue file on disk cannot be read as a JSON array; it is left untouched."""


@dataclass
class ValidatedRecords:
    records: list[dict[str, Any]] = field(default_factory=list)
    """Valid records, normalised for storage (times as RFC 3339 UTC with milliseconds)."""
    rejected: list[dict[str, object]] = field(default_factory=list)
    """`{"index", "reason", "detail"}` per invalid record."""
    indices: list[int] = field(default_factory=list)
    """The request index of each valid record (parallel to `records`)."""


def _reason(message: str) -> str:
    if "unknown field" in message:
        return "unknown_field"
    reason = _classify_event_error(message)
    if reason is RejectReason.MALFORMED_EVENT:
        return "malformed_record"
    return reason.value


def _normalise(record: CreatorRecord | ContentRecord) -> dict[str, Any]:
    stored: dict[str, Any] = msgspec.structs.asdict(record)
    for name in TIME_FIELDS:
        value = stored.get(name)
        if value is not None:
            stored[name] = iso_ms(to_epoch_ms(value))
    return stored


def _cross_field_problem(record: CreatorRecord | ContentRecord) -> str | None:
    if not isinstance(record, ContentRecord):
        return None
    if record.announces_live_id is not None and record.content_type != "story":
        return "announces_live_id is only for stories"
    if record.source_live_id is not None and record.content_type != "clip":
        return "source_live_id is only for clips"
    if record.source_live_id is not None and record.source_live_id == record.content_id:
        return "source_live_id names the clip itself"
    if (
        record.published_at is not None
        and record.expires_at is not None
        and to_epoch_ms(record.expires_at) < to_epoch_ms(record.published_at)
    ):
        return "expires_at is before published_at"
    return None


def validate_records(kind: CatalogKind, body: bytes) -> ValidatedRecords:
    """Split a request body (a JSON array) into valid, normalised records and rejections.

    Raises CatalogBodyError when the body is not a JSON array at all.
    """
    raws: list[msgspec.Raw] | list[bytes]
    try:
        raws = _array_decoder.decode(body)
    except RecursionError:
        raws = _split_deep_array(body)  # one record nested too deep: rejected alone below
    except UNDECODABLE as exc:
        raise CatalogBodyError(f"the body must be a JSON array of records: {exc}") from None
    result = ValidatedRecords()
    decoder = _decoders[kind]
    for index, raw in enumerate(raws):
        try:
            record = decoder.decode(raw)
        except UNDECODABLE as exc:
            message = _decode_error_message(exc)
            result.rejected.append({"index": index, "reason": _reason(message), "detail": message})
            continue
        try:
            problem = _cross_field_problem(record)
            normalised = _normalise(record)
        except (ValueError, OverflowError, OSError):
            problem = "a time is out of range"
        if problem is not None:
            result.rejected.append(
                {"index": index, "reason": RejectReason.INVALID_FIELD.value, "detail": problem}
            )
            continue
        result.records.append(normalised)
        result.indices.append(index)
    return result


def live_source_problems(current: list[Any], validated: ValidatedRecords) -> None:
    """Move clips whose `source_live_id` names content that is not live to `rejected`.

    The content a clip names is looked up in the catalogue as it will be after this
    upsert (`current` merged with the request's valid records), so a live and its clips
    may arrive in one request. A `source_live_id` the catalogue does not know yet is
    accepted: content may be upserted in any order (as content before its creator), and
    the clips-per-live mart counts a clip only once a live session with that id exists;
    dbt reports such ids with a warning (a relationships test on stg_catalog__content).
    """
    types: dict[str, object] = {}
    for record in merge_by_id(current, validated.records, ID_FIELDS["content"]):
        if isinstance(record, dict) and isinstance(record.get("content_id"), str):
            types[record["content_id"]] = record.get("content_type")
    kept: list[dict[str, Any]] = []
    kept_indices: list[int] = []
    for record, index in zip(validated.records, validated.indices, strict=True):
        source = record.get("source_live_id")
        if source is not None and source in types and types[source] != "live":
            validated.rejected.append(
                {
                    "index": index,
                    "reason": RejectReason.INVALID_FIELD.value,
                    "detail": f"source_live_id {source!r} names {types[source]} content, not live",
                }
            )
            continue
        kept.append(record)
        kept_indices.append(index)
    validated.records, validated.indices = kept, kept_indices
    validated.rejected.sort(key=lambda rejection: int(str(rejection["index"])))


def _split_deep_array(body: bytes) -> list[bytes]:
    try:
        parts, _ = split_deep(body)
    except Unsplittable as exc:
        raise CatalogBodyError(f"the body must be a JSON array of records: {exc}") from None
    if not body.lstrip().startswith(b"["):
        raise CatalogBodyError("the body must be a JSON array of records")
    return parts


def _decode_error_message(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8: {exc.reason}"
    if isinstance(exc, RecursionError):
        return NESTED_TOO_DEEP
    return str(exc)


def merge_by_id(current: list[Any], incoming: list[dict[str, Any]], id_field: str) -> list[Any]:
    """Upsert: an incoming record replaces the current one with its id, in its place.

    New ids are appended in request order; entries of the current file without an id
    (someone else's data) are kept as they are, at the end.
    """
    by_id: dict[str, Any] = {}
    others: list[Any] = []
    for record in current:
        if isinstance(record, dict) and isinstance(record.get(id_field), str):
            by_id[record[id_field]] = record
        else:
            others.append(record)
    for record in incoming:
        by_id[record[id_field]] = record
    return [*by_id.values(), *others]


def read_array(path: Path) -> list[Any]:
    """The JSON array in `path`; [] when there is no such file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        parsed = msgspec.json.decode(data)
    except UNDECODABLE as exc:
        detail = _decode_error_message(exc)
        raise CatalogFileInvalid(f"{path.name} is not valid JSON: {detail}") from None
    if not isinstance(parsed, list):
        raise CatalogFileInvalid(f"{path.name} does not hold a JSON array")
    return parsed


class CatalogStore:
    """Read-merge-write of the catalogue files under an exclusive lock (one per directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, kind: CatalogKind) -> Path:
        return self.directory / FILES[kind]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def upsert(self, kind: CatalogKind, records: list[dict[str, Any]]) -> int:
        """Merge `records` into the kind's file by id; returns how many records it holds.
        A merge that changes nothing leaves the file as it is (readers such as the refresh
        loop tell a changed catalogue by its file's stat)."""
        path = self.path(kind)
        with self._locked():
            current = read_array(path)
            merged = merge_by_id(current, records, ID_FIELDS[kind])
            if merged != current or not path.exists():
                write_json_array_atomic(path, merged)
                fsync_path(self.directory)
        return len(merged)

    def upsert_validated(self, kind: CatalogKind, validated: ValidatedRecords) -> int:
        """Upsert a request's valid records; returns how many records the file holds.

        For content, first rejects (in `validated`) clips whose source is not live content,
        judged under the lock against the file being merged into (`live_source_problems`).
        As `upsert`, a merge that changes nothing leaves the file as it is.
        """
        path = self.path(kind)
        with self._locked():
            current = read_array(path)
            if kind == "content":
                live_source_problems(current, validated)
            if not validated.records:
                return len(current)
            merged = merge_by_id(current, validated.records, ID_FIELDS[kind])
            if merged != current or not path.exists():
                write_json_array_atomic(path, merged)
                fsync_path(self.directory)
        return len(merged)

    def read(self, kind: CatalogKind) -> list[Any]:
        return read_array(self.path(kind))


@dataclass(frozen=True, slots=True)
class ContentInfo:
    """What CMCD reports lack and the catalogue knows about a content id."""

    creator_id: str
    content_type: str
    duration_ms: int | None = None
    """The catalogue's duration, when known: the most a stateless CMCD session can play."""


_CONTENT_TYPES = frozenset(("live", "vod", "clip", "story"))


class CatalogIndex:
    """Per-worker index of `content.json`, reloaded when the file changes.

    `stale()` costs one stat; call it once per request and `refresh()` when it is true,
    then `content()` per lookup.
    Records a reader cannot use (no id, creator or known content type) are left out, so
    their ids count as unknown.
    """

    def __init__(self, content_file: Path) -> None:
        self.content_file = content_file
        self._signature: tuple[int, int, int] | None = None
        self._unreadable: tuple[int, int, int] | None = None
        self._content: dict[str, ContentInfo] = {}

    def _current_signature(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.content_file)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _known(self, signature: tuple[int, int, int] | None) -> bool:
        return signature == self._signature or (
            signature is not None and signature == self._unreadable
        )

    def stale(self) -> bool:
        """Whether the file changed since the last load (one stat)."""
        return not self._known(self._current_signature())

    def refresh(self) -> None:
        """Reload if the file changed; parsing a large file is best done off the event loop."""
        signature = self._current_signature()
        if self._known(signature):
            return
        if signature is None:
            self._signature = None
            self._content = {}
            return
        try:
            records = read_array(self.content_file)
        except CatalogFileInvalid:
            # A dropper writing in place may be half-way through: keep the index we had
            # until the file changes again.
            log.warning(
                "catalogue file %s unreadable; keeping the previous index", self.content_file
            )
            self._unreadable = signature
            return
        content: dict[str, ContentInfo] = {}
        for record in records:
            if not isinstance(record, dict):
                continue
            content_id = record.get("content_id")
            creator_id = record.get("creator_id")
            content_type = record.get("content_type")
            if (
                isinstance(content_id, str)
                and isinstance(creator_id, str)
                and content_type in _CONTENT_TYPES
            ):
                duration = record.get("duration_ms")
                if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
                    duration = None
                content[content_id] = ContentInfo(creator_id, content_type, duration)
        self._content = content
        self._signature = signature

    def content(self, content_id: str) -> ContentInfo | None:
        return self._content.get(content_id)

    def __len__(self) -> int:
        return len(self._content)
