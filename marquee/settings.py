"""Settings for every Marquee process, read from the environment (prefix MARQUEE_).

Built by a cached function, not at import time, so tests can set the environment first and
call `get_settings.cache_clear()`. Outside local mode the validators refuse unsafe values
(no admin token, no pseudonymisation key), because a production collector must never fall
back to a key it made up.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from marquee.layout import DataLayout

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARQUEE_", extra="ignore")

    environment: Literal["local", "production"] = "local"
    data_dir: Path = PROJECT_ROOT / "data"
    write_keys: str = Field(
        default="", description="Comma-separated app_id:write_key pairs, e.g. 'app1:wk_abc'."
    )
    admin_token: str | None = None
    pseudonym_key: str | None = Field(
        default=None,
        description="Key of the keyed hash that pseudonymises viewer ids. Local mode makes "
        "one and keeps it in the data directory when unset.",
    )
    trusted_country_header: str | None = Field(
        default=None, description="Header a trusted CDN sets to the client's country."
    )
    catalog_max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest catalogue upsert body, on the wire and after gzip.",
    )
    cmcd_viewer_id_key: str = Field(
        default="com.marquee-vid",
        pattern=r"^[a-z][a-z0-9_.*]*-[a-z0-9_.*-]+$",
        description="CMCD custom key (reverse-DNS, hyphenated) carrying the viewer id.",
    )
    cmcd_platform_key: str = Field(
        default="com.marquee-pf",
        pattern=r"^[a-z][a-z0-9_.*]*-[a-z0-9_.*-]+$",
        description="CMCD custom key carrying the platform (web, ios, android, tv, other).",
    )
    cmcd_max_sessions: int = Field(
        default=50_000,
        gt=0,
        description="CMCD sessions whose last reports one API worker remembers (LRU).",
    )
    cmcd_max_interval_s: float = Field(
        default=120.0,
        gt=0,
        description="Longest time between two CMCD reports of a session counted as "
        "played, stalled or seeking time; longer gaps count this much.",
    )
    segment_max_bytes: int = 64 * 1024 * 1024
    segment_max_age_s: float = 2.0
    event_log_url: str = Field(
        default="segments://",
        description="Where accepted events go: segments:// (segment files in <data_dir>/log), "
        "file:///abs/dir, kafka://host:port[,host:port]/topic?options or "
        "pubsub://projects/P/topics/T?options (docs/event-log.md).",
    )
    quarantine_log_url: str = Field(
        default="segments://",
        description="Where rejected events go; same forms, segments:// = <data_dir>/quarantine.",
    )
    lateness_horizon_s: int = 7 * 24 * 3600
    future_horizon_s: int = 300
    max_body_bytes: int = 1024 * 1024
    max_decompressed_bytes: int = 8 * 1024 * 1024
    max_events_per_request: int = 500
    max_event_bytes: int = 32 * 1024
    http_max_header_bytes: int = Field(
        default=32 * 1024,
        gt=0,
        description="Largest request line and headers together; over it: 431, closed.",
    )
    http_max_headers: int = Field(
        default=100, gt=0, description="Most headers in one request; over it: 431, closed."
    )
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Time a new connection (or a request head after a keep-alive answer) "
        "has to send a complete request head; then 408 and closed.",
    )
    http_body_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Time a request body has to arrive whole after its head; then 408 "
        "(nothing acknowledged) and closed.",
    )
    http_keep_alive_timeout_s: int = Field(
        default=5,
        gt=0,
        description="An idle keep-alive connection is closed this long after its last answer.",
    )
    http_max_connections: int = Field(
        default=10_000,
        gt=0,
        description="Open connections (idle keep-alive ones too) or requests in flight one API "
        "worker takes; past it, requests get 503 (uvicorn's limit_concurrency).",
    )
    rate_limit_key_events_per_s: float = Field(
        default=250_000,
        ge=0,
        description="Events per second one write key may send to one API worker; 0 = off.",
    )
    rate_limit_client_requests_per_s: float = Field(
        default=5_000,
        ge=0,
        description="Requests per second one client address may send to /v1/ on one API "
        "worker; 0 = off.",
    )
    rate_limit_burst_s: float = Field(
        default=2.0, gt=0, description="A rate-limit bucket holds this many seconds of its rate."
    )
    cors_allow_origins: str = Field(
        default="*",
        description="Comma-separated origins browsers may call the collector endpoints from; "
        "'*' for any (write keys are public).",
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="Where alert notifications are POSTed as JSON (Slack-compatible `text`); "
        "unset: they are logged instead (docs/alerts.md).",
    )
    alert_rules: Path | None = Field(
        default=None,
        description="The alert rules YAML file; unset: the rules shipped in alerts/rules.yml.",
    )

    log_retention_s: int = Field(
        default=24 * 3600,
        ge=0,
        description="A sealed event-log segment is deleted once a committed pipeline run has "
        "consumed it and it was sealed longer ago than the lateness horizon plus this "
        "(docs/reliability.md).",
    )
    quarantine_retention_s: int = Field(
        default=30 * 24 * 3600,
        ge=0,
        description="A sealed quarantine segment is deleted once it was sealed longer ago "
        "than the lateness horizon plus this; until then `replay --quarantine` can count it.",
    )
    alert_history_max_entries: int = Field(
        default=10_000,
        gt=0,
        description="Notifications alerts/history.jsonl keeps (the newest); older ones are "
        "dropped when it grows a tenth past this.",
    )
    compaction_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="How often local mode's loop compacts the lake's run files and applies "
        "retention (between runs); 0 = never (then `python -m pipelines compact`).",
    )
    compaction_min_age_s: int = Field(
        default=3600,
        ge=0,
        description="Runs started this recently keep their own run files (the Live now page "
        "and the alert evaluator read the newest runs' files).",
    )
    compaction_min_files: int = Field(
        default=100,
        ge=2,
        description="Run files of an hour that is not over yet that are compacted together "
        "(with the hour's compacted file so far); a finished hour is compacted whole.",
    )
    compaction_grace_s: float = Field(
        default=600.0,
        ge=0,
        description="Run files a compacted file replaces are deleted this long after it "
        "appeared, so a reader that listed them just before can still open them.",
    )
    retry_initial_s: float = Field(
        default=1.0,
        gt=0,
        description="First wait of the pipeline and refresh loops after a transient fault "
        "(disk full, a lock held); doubled on each further fault.",
    )
    retry_max_s: float = Field(
        default=60.0, gt=0, description="Longest wait between the loops' retries."
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if not self.pseudonym_key:
                raise ValueError("MARQUEE_PSEUDONYM_KEY must be set in production")
            if not self.admin_token:
                raise ValueError("MARQUEE_ADMIN_TOKEN must be set in production")
            if not self.write_keys:
                raise ValueError("MARQUEE_WRITE_KEYS must be set in production")
        return self

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

    def app_for_write_key(self) -> dict[str, str]:
        """Map each write key to its app id."""
        keys: dict[str, str] = {}
        for pair in self.write_keys.split(","):
            pair = pair.strip()
            if not pair:
                continue
            app_id, sep, key = pair.partition(":")
            if not sep or not app_id or not key:
                raise ValueError(f"MARQUEE_WRITE_KEYS entry {pair!r} is not app_id:write_key")
            keys[key] = app_id
        return keys

    def resolved_pseudonym_key(self) -> bytes:
        """The pseudonymisation key; in local mode made once and kept in the data directory."""
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        key_file = self.data_dir / ".pseudonym_key"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return key_file.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        return key_file.read_bytes().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
