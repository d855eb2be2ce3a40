"""Open the event log a URL names (MARQUEE_EVENT_LOG_URL, MARQUEE_QUARANTINE_LOG_URL).

- `segments://` (the default; an empty URL means the same): the segment log in this log's
  default local directory (`<data dir>/log` for events, `<data dir>/quarantine` for the
  quarantine);
- `file:///abs/dir`: the segment log in that directory;
- `kafka://host:port[,host:port]/topic[?options]`: `kafka.KafkaEventLog`;
- `pubsub://projects/P/topics/T[?options]`: `pubsub.PubSubEventLog`.

docs/event-log.md lists the options and what each backend guarantees. A URL naming no
backend, or a bad option, raises EventLogURLError when the API starts, never later.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from marquee.eventlog.base import EventLog, EventLogURLError, redacted
from marquee.eventlog.group_commit import GroupCommitLog

ACCEPTED = (
    "segments:// (the default local log)",
    "file:///absolute/dir",
    "kafka://host:port[,host:port]/topic[?options]",
    "pubsub://projects/<project>/topics/<topic>[?options]",
)


def local_directory(url: str, default_dir: Path) -> Path | None:
    """The directory of a segment-log URL; None when the URL names a broker."""
    parts = urlsplit(url.strip())
    if not url.strip():
        return default_dir
    if parts.scheme == "segments":
        if parts.netloc or parts.path or parts.query:
            raise _error(url, "segments:// takes no path; use file:///absolute/dir")
        return default_dir
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise _error(url, "a file URL needs an absolute path: file:///absolute/dir")
        if parts.query:
            raise _error(url, "file URLs take no options")
        return Path(parts.path)
    if parts.scheme in ("kafka", "pubsub"):
        return None
    raise _error(url, f"unsupported scheme {parts.scheme!r}" if parts.scheme else "no scheme")


def open_event_log(
    url: str,
    *,
    default_dir: Path,
    segment_max_bytes: int,
    segment_max_age_s: float,
) -> EventLog:
    """The event log `url` names; `default_dir` is where `segments://` keeps its files.

    The broker clients are imported only when chosen: the Pub/Sub client alone takes
    over a second to import.
    """
    directory = local_directory(url, default_dir)
    if directory is not None:
        return GroupCommitLog(directory, segment_max_bytes, segment_max_age_s)
    parts = urlsplit(url.strip())
    if parts.scheme == "kafka":
        from marquee.eventlog import kafka

        return kafka.KafkaEventLog(kafka.parse_kafka_url(parts))
    from marquee.eventlog import pubsub

    return pubsub.PubSubEventLog(pubsub.parse_pubsub_url(parts))


def _error(url: str, problem: str) -> EventLogURLError:
    where = redacted(urlsplit(url)) if "://" in url else repr(url)
    return EventLogURLError(
        f"event log URL {where}: {problem}. Accepted forms: {'; '.join(ACCEPTED)}"
    )


__all__ = ["ACCEPTED", "EventLogURLError", "local_directory", "open_event_log"]
