"""Erasure jobs: one durable JSON file per erasure, the steps it has done, its audit trail.

`POST /v1/privacy/erasure` writes `state/erasures/<id>.json` before it answers, and the
worker (`marquee.privacy.worker`) moves it through `STEPS`, rewriting the file atomically
(temporary name, fsync, rename) after each step. A kill -9 at any instant leaves the file
as it was before the step that was running, so a restart redoes that step; every step is
idempotent (it replaces what is still there and finds nothing the second time).

The raw viewer id never reaches this module: a job holds the viewer's pseudonyms, one per
app (the pseudonymisation is keyed by app), and the random `token` that replaces them.
The pseudonyms stay in the file, as the tombstone that drops later events of the viewer
at ingest, until the lateness horizon has passed; the worker then removes them.
The audit log (`state/privacy_audit.jsonl`) gets one line per finished erasure: its id,
times and counts, never an id or pseudonym of the viewer.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import msgspec

from marquee.durable import fsync_path, replace_durably
from marquee.layout import DataLayout

STEPS: tuple[str, ...] = (
    "wait_open_segments",
    "log",
    "quarantine",
    "lake",
    "settle",
    "warehouse",
    "serving",
    "reports",
    "audit",
)
"""What the worker does, in order (docs/privacy.md says what each one rewrites)."""


class ErasureJob(msgspec.Struct, omit_defaults=True):
    erasure_id: str
    requested_at_ms: int
    pseudonyms: list[str]
    """The viewer's pseudonym in each app; emptied once the tombstone has expired."""
    token: str
    """The random key that replaces the pseudonyms: rows keep counting, as nobody's."""
    apps: int
    status: str = "pending"
    """`pending`, `running` or `completed`."""
    done: list[str] = msgspec.field(default_factory=list)
    scan_started_ms: int | None = None
    """When the first scanning step listed its files; `settle` re-checks newer files."""
    rows: dict[str, int] = msgspec.field(default_factory=dict)
    """Rows (or records) re-keyed per store."""
    seconds: dict[str, float] = msgspec.field(default_factory=dict)
    """Time each step took (its last attempt)."""
    completed_at_ms: int | None = None
    tombstone_expired: bool = False


_decoder = msgspec.json.Decoder(ErasureJob)
_encoder = msgspec.json.Encoder()


def erasures_dir(layout: DataLayout) -> Path:
    return layout.state_db.parent / "erasures"


def audit_log(layout: DataLayout) -> Path:
    return layout.state_db.parent / "privacy_audit.jsonl"


def job_path(layout: DataLayout, erasure_id: str) -> Path:
    return erasures_dir(layout) / f"{erasure_id}.json"


def is_erasure_id(value: str) -> bool:
    """An id as `new_job` makes them (32 hex digits), so a path built from it stays put."""
    return len(value) == 32 and all(char in "0123456789abcdef" for char in value)


def save_job(layout: DataLayout, job: ErasureJob) -> None:
    """Replace the job's file whole and durably."""
    path = job_path(layout, job.erasure_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(_encoder.encode(job))
        handle.flush()
        os.fsync(handle.fileno())
    replace_durably(tmp, path)


def new_job(layout: DataLayout, pseudonyms: list[str]) -> ErasureJob:
    """Record a new erasure of these pseudonyms (durable before this returns)."""
    job = ErasureJob(
        erasure_id=uuid.uuid4().hex,
        requested_at_ms=int(time.time() * 1000),
        pseudonyms=sorted(set(pseudonyms)),
        token=uuid.uuid4().hex,
        apps=len(set(pseudonyms)),
    )
    save_job(layout, job)
    return job


def read_job(layout: DataLayout, erasure_id: str) -> ErasureJob | None:
    if not is_erasure_id(erasure_id):
        return None
    try:
        return _decoder.decode(job_path(layout, erasure_id).read_bytes())
    except (FileNotFoundError, msgspec.DecodeError):
        return None


def all_jobs(layout: DataLayout) -> list[ErasureJob]:
    """Every erasure on record, oldest request first."""
    directory = erasures_dir(layout)
    if not directory.exists():
        return []
    jobs = [read_job(layout, path.stem) for path in directory.glob("*.json")]
    return sorted((job for job in jobs if job is not None), key=lambda job: job.requested_at_ms)


def public_view(job: ErasureJob) -> dict[str, object]:
    """What `GET /v1/privacy/erasure/{id}` answers: no pseudonym, no token."""
    view: dict[str, object] = {
        "erasure_id": job.erasure_id,
        "status": job.status,
        "requested_at_ms": job.requested_at_ms,
        "steps_done": list(job.done),
        "steps": list(STEPS),
        "rows": dict(job.rows),
        "seconds": dict(job.seconds),
    }
    if job.completed_at_ms is not None:
        view["completed_at_ms"] = job.completed_at_ms
    return view


def append_audit(layout: DataLayout, job: ErasureJob) -> None:
    """One audit line for a finished erasure; a redo after a crash does not add a second,
    and a line a crash tore is cut off first."""
    path = audit_log(layout)
    line = _encoder.encode(
        {
            "erasure_id": job.erasure_id,
            "requested_at_ms": job.requested_at_ms,
            "completed_at_ms": job.completed_at_ms,
            "apps": job.apps,
            "rows": job.rows,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_bytes() if path.exists() else b""
    whole = existing[: existing.rfind(b"\n") + 1]
    if b'"erasure_id":"%b"' % job.erasure_id.encode() in whole:
        return
    with path.open("ab") as handle:
        if len(whole) < len(existing):  # a line torn by a crash: cut it off
            handle.truncate(len(whole))
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    fsync_path(path.parent)
