"""Skip rebuilding the catalogue's staging tables while the catalogue files are unchanged.

`stg_catalog__content` and `stg_catalog__creators` are tables rebuilt whole from the
catalogue's JSON files (`catalog/*.json`): with a month of content that is the costliest
model of an incremental cycle, and it usually rebuilds the same rows. The files are only
ever replaced whole (written to a temporary name and renamed, `marquee.catalog`), so their
size, modification time and inode tell whether they changed.

The watch lives in one refresh process: its first build always rebuilds the catalogue (the
project's code may have changed since the last process), and so does any build after a
model pass that did not succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from marquee.layout import DataLayout

CATALOGUE_MODELS = ("stg_catalog__content", "stg_catalog__creators")

Fingerprint = tuple[tuple[int, int, int] | None, ...]


@dataclass
class CatalogueWatch:
    layout: DataLayout
    built_from: Fingerprint | None = None
    """The files' fingerprint when the last successful model pass started."""

    def fingerprint(self) -> Fingerprint:
        """(size, mtime in ns, inode) of each catalogue file; None for a missing file."""
        files = (self.layout.catalog_content_file, self.layout.catalog_dir / "creators.json")
        stats: list[tuple[int, int, int] | None] = []
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                stats.append(None)
            else:
                stats.append((stat.st_size, stat.st_mtime_ns, stat.st_ino))
        return tuple(stats)

    def exclude_args(self, fingerprint: Fingerprint) -> list[str]:
        """`--exclude` of the catalogue models when their tables were built from these very
        files and the warehouse still holds them; nothing otherwise."""
        if self.built_from == fingerprint and self.layout.dbt_db.exists():
            return ["--exclude", *CATALOGUE_MODELS]
        return []

    def record(self, fingerprint: Fingerprint, pass_succeeded: bool) -> None:
        """After a model pass that started with `fingerprint`: a successful one built (or
        kept) the catalogue tables from those files; after any other, rebuild next time."""
        self.built_from = fingerprint if pass_succeeded else None
