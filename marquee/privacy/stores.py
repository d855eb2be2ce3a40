"""Re-key an erased viewer's rows in each store: every pseudonym becomes the job's token.

Every rewrite is atomic per file (a new file under a temporary name, fsync, rename over
the old one) or per database (one transaction), so a reader sees a store either before or
after, and a rewrite interrupted by a crash leaves the old file whole to be redone. A
second pass finds nothing to change, which makes each step idempotent.

Why re-key rather than delete: every row still counts (views, minutes played, unique
viewers of a creator and day) as the rows of one unknown viewer, so every aggregate and
mart stays as it was, while nothing links them to the person or to their pseudonym any
more (the token is random and recorded nowhere but in the job file).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from marquee.durable import fsync_path, replace_durably
from marquee.lake import write_table_atomically

EXACT_COLUMNS = ("viewer_key",)
"""Lake columns that hold a pseudonym as their whole value."""
TEXT_COLUMNS = ("payload",)
"""Lake columns that hold log records as text (dead letters), pseudonyms inside."""


def file_stamp(path: Path) -> int:
    """When the file last changed, its name included (a rename sets ctime)."""
    return os.stat(path).st_ctime_ns // 1_000_000


def rewrite_text_file(path: Path, pseudonyms: Iterable[str], token: str) -> int:
    """Replace every pseudonym in a text file (a sealed segment); returns the lines changed.

    The new file is written beside it under a name no reader lists (`.<name>.erasing`)
    and renamed over it.
    """
    data = path.read_bytes()
    found = [p.encode() for p in pseudonyms if p.encode() in data]
    if not found:
        return 0
    changed = 0
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        new = line
        for pseudonym in found:
            new = new.replace(pseudonym, token.encode())
        if new is not line and new != line:
            lines[index] = new
            changed += 1
    tmp = path.with_name(f".{path.name}.erasing")
    with tmp.open("wb") as handle:
        handle.write(b"\n".join(lines))
        handle.flush()
        os.fsync(handle.fileno())
    replace_durably(tmp, path)
    return changed


def rewrite_segments(
    paths: Iterable[Path], pseudonyms: list[str], token: str, pause: Callable[[], None]
) -> int:
    """`rewrite_text_file` over text files (sealed segments, reports); one that is gone
    since it was listed is skipped."""
    changed = 0
    for path in paths:
        try:
            changed += rewrite_text_file(path, pseudonyms, token)
        except FileNotFoundError:
            continue
        pause()
    return changed


def lake_run_files(lake_dir: Path) -> list[Path]:
    """Every Parquet file below the lake (run files, compacted files), but schema files."""
    if not lake_dir.exists():
        return []
    return sorted(
        path
        for path in lake_dir.rglob("*.parquet")
        if path.name != "_schema.parquet" and not path.name.startswith(".")
    )


def rewrite_parquet_file(path: Path, pseudonyms: list[str], token: str) -> int:
    """Re-key one lake file; returns the rows changed (0: the file is left untouched).

    Only the columns that can hold a pseudonym are read to decide; the file is read whole
    and rewritten only when one of them does.
    """
    schema = pq.read_schema(path)
    exact = [name for name in EXACT_COLUMNS if name in schema.names]
    text = [name for name in TEXT_COLUMNS if name in schema.names]
    if not exact and not text:
        return 0
    probe = pq.read_table(path, columns=exact + text)
    values = pa.array(pseudonyms, pa.string())
    hits = {name: pc.is_in(probe[name], value_set=values) for name in exact}
    for name in text:
        column = probe[name]
        hit = pc.match_substring(column, pseudonyms[0])
        for pseudonym in pseudonyms[1:]:
            hit = pc.or_(hit, pc.match_substring(column, pseudonym))
        hits[name] = hit
    counts = {name: pc.sum(pc.cast(hit, pa.int64())).as_py() or 0 for name, hit in hits.items()}
    if not any(counts.values()):
        return 0
    table = pq.read_table(path)
    for name in exact:
        if counts[name]:
            column = table[name]
            index = table.schema.get_field_index(name)
            replaced = pc.if_else(hits[name], pa.scalar(token, column.type), column)
            table = table.set_column(index, table.schema.field(name), replaced)
    for name in text:
        if counts[name]:
            column = table[name]
            for pseudonym in pseudonyms:
                column = pc.replace_substring(column, pseudonym, token)
            index = table.schema.get_field_index(name)
            table = table.set_column(index, table.schema.field(name), column)
    write_table_atomically(table, path)
    return max(counts.values())


def rewrite_lake(
    paths: Iterable[Path], pseudonyms: list[str], token: str, pause: Callable[[], None]
) -> int:
    changed = 0
    for path in paths:
        try:
            changed += rewrite_parquet_file(path, pseudonyms, token)
        except FileNotFoundError:
            continue
        pause()
    return changed


def rekey_database(connection: duckdb.DuckDBPyConnection, pseudonyms: list[str], token: str) -> int:
    """Re-key every text column of every table in one transaction; returns rows changed.

    Every VARCHAR column of every base table is searched, so a model added later that
    carries a viewer key (or a record holding one) is covered without a list to keep.
    """
    columns = connection.execute(
        "select c.table_catalog, c.table_schema, c.table_name, c.column_name "
        "from information_schema.columns c join information_schema.tables t "
        "using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR' "
        "and c.table_catalog = current_database()"
    ).fetchall()
    changed = 0
    connection.execute("begin transaction")
    try:
        for catalog, schema, table, column in columns:
            target = f'"{catalog}"."{schema}"."{table}"'
            name = f'"{column}"'
            for pseudonym in pseudonyms:
                row = connection.execute(
                    f"update {target} set {name} = replace({name}, $p, $t) "
                    f"where contains({name}, $p)",
                    {"p": pseudonym, "t": token},
                ).fetchone()
                changed += int(row[0]) if row else 0
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return changed


def connect_when_free(
    path: Path, attempts: int = 600, pause_s: float = 0.5
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file read-write, waiting while another process holds its lock."""
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or attempt == attempts - 1:
                raise
            time.sleep(pause_s)
    raise AssertionError("unreachable")


def rewrite_database_in_place(path: Path, pseudonyms: list[str], token: str) -> int:
    """Re-key a DuckDB file that one process builds (the warehouse), holding its lock.

    The rows are re-keyed in one transaction, then the database is copied into a fresh
    file renamed over the old one before the lock is let go: an UPDATE leaves the old
    values' bytes in the file's free blocks, the copy holds live rows only. A crash
    before the rename leaves the old file (re-keyed or not) for the redo.
    """
    if not path.exists():
        return 0
    fresh = _fresh_name(path)
    with connect_when_free(path) as connection:
        changed = rekey_database(connection, pseudonyms, token)
        connection.execute("checkpoint")
        (name,) = connection.execute("select current_database()").fetchone() or ("",)
        _copy_database(connection, name, fresh)
        replace_durably(fresh, path)
    return changed


def rewrite_database_copy(path: Path, pseudonyms: list[str], token: str) -> int:
    """Re-key a DuckDB file that readers hold open (the published copy) without its lock.

    It is copied, the copy re-keyed and compacted into a fresh file (see
    `rewrite_database_in_place`), which is renamed over the old one; a reader that has the
    old file open keeps reading it.
    """
    if not path.exists():
        return 0
    tmp = path.with_name(f".{path.name}.erasing")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    fresh = _fresh_name(path)
    shutil.copyfile(path, tmp)
    with duckdb.connect(str(tmp)) as connection:
        changed = rekey_database(connection, pseudonyms, token)
        connection.execute("checkpoint")
        (name,) = connection.execute("select current_database()").fetchone() or ("",)
        _copy_database(connection, name, fresh)
    tmp.unlink()
    replace_durably(fresh, path)
    return changed


def _fresh_name(path: Path) -> Path:
    """A fresh file's name beside `path`, any leftover of a crashed attempt removed."""
    fresh = path.with_name(f".{path.name}.fresh")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    return fresh


def _copy_database(connection: duckdb.DuckDBPyConnection, name: str, target: Path) -> None:
    """Copy the connection's database into a new file (live rows only), fsynced."""
    connection.execute(f"attach '{target}' as erasure_fresh")
    try:
        connection.execute(f'copy from database "{name}" to erasure_fresh')
    finally:
        connection.execute("detach erasure_fresh")
    fsync_path(target)
