"""Backups with a manifest of per-table row counts; restores that refuse data not matching it.

SQLite: the online backup API copies a consistent snapshot while the CRM keeps serving.
PostgreSQL: pg_dump (custom format) runs on an exported snapshot, and the row counts are taken
in that same snapshot, so the manifest describes exactly what the dump holds. Before touching
the live database, `restore` re-counts the rows in the backup itself and refuses a mismatch;
after restoring, it counts the live tables again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connections

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "db.sqlite3"
PG_FILE = "db.dump"


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    engine: str
    created_at: str
    file: str
    sha256: str
    tables: dict[str, int]
    migrations: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "engine": self.engine,
                "created_at": self.created_at,
                "file": self.file,
                "sha256": self.sha256,
                "tables": self.tables,
                "migrations": self.migrations,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        try:
            data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackupError(f"{directory / MANIFEST} is missing or not JSON: {exc}") from exc
        if data.get("format") != FORMAT:
            raise BackupError(f"Unknown backup format {data.get('format')!r}")
        return cls(
            engine=data["engine"],
            created_at=data["created_at"],
            file=data["file"],
            sha256=data["sha256"],
            tables={str(k): int(v) for k, v in data["tables"].items()},
            migrations=dict(data.get("migrations", {})),
        )


def engine_of(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}")
    return vendor


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def count_rows(cursor: Any, tables: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 - names from introspection
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _latest_migrations(cursor: Any) -> dict[str, str]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    latest: dict[str, str] = {}
    for app, name in cursor.fetchall():
        latest[app] = name
    return latest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_directory(base: Path) -> Path:
    return base / "backups" / datetime.now(tz=UTC).strftime("crm-%Y%m%dT%H%M%SZ")


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
    ).fetchall()
    return [row[0] for row in rows]


def _sqlite_live(alias: str) -> sqlite3.Connection:
    connection = connections[alias]
    connection.ensure_connection()
    raw = connection.connection
    assert isinstance(raw, sqlite3.Connection)
    return raw


def backup_sqlite(directory: Path, alias: str = "default") -> Manifest:
    target = directory / SQLITE_FILE
    source = _sqlite_live(alias)
    with sqlite3.connect(target) as dest:
        source.backup(dest, pages=4096)
        dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        tables = _sqlite_tables(dest)
        counts = count_rows(dest.cursor(), tables)
        migrations = _latest_migrations(dest.cursor())
    dest.close()
    return Manifest("sqlite", _now(), SQLITE_FILE, sha256_of(target), counts, migrations)


def restore_sqlite(directory: Path, manifest: Manifest, alias: str = "default") -> dict[str, int]:
    source_path = directory / manifest.file
    with tempfile.TemporaryDirectory() as scratch:
        # Work on a copy so a check never changes the backup itself.
        copy = Path(scratch) / SQLITE_FILE
        shutil.copyfile(source_path, copy)
        with sqlite3.connect(copy) as source:
            found = count_rows(source.cursor(), list(manifest.tables))
            _refuse_mismatch(manifest.tables, found, where="in the backup file")
            live = _sqlite_live(alias)
            connections[alias].close_if_unusable_or_obsolete()
            source.backup(live, pages=4096)
        source.close()
    return count_live(alias, list(manifest.tables))


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_env(alias: str) -> tuple[list[str], dict[str, str]]:
    params = connections[alias].get_connection_params()
    args = ["--dbname", str(params.get("dbname") or params.get("database") or connections[alias].settings_dict["NAME"])]
    if params.get("host"):
        args += ["--host", str(params["host"])]
    if params.get("port"):
        args += ["--port", str(params["port"])]
    if params.get("user"):
        args += ["--username", str(params["user"])]
    env = {**os.environ}
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    return args, env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return path


@contextmanager
def _pg_snapshot(alias: str) -> Iterator[tuple[str, Any]]:
    """A second connection holding a REPEATABLE READ snapshot that pg_dump can share."""
    import psycopg

    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None and k != "prepare_threshold"}) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        yield str(row[0]), conn
        conn.rollback()


def _pg_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def backup_postgresql(directory: Path, alias: str = "default") -> Manifest:
    target = directory / PG_FILE
    args, env = _pg_env(alias)
    with _pg_snapshot(alias) as (snapshot, conn):
        cursor = conn.cursor()
        tables = _pg_tables(cursor)
        counts = count_rows(cursor, tables)
        migrations = _latest_migrations(cursor)
        result = subprocess.run(  # noqa: S603 - fixed tool, arguments from settings
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
             "--file", str(target), *args],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return Manifest("postgresql", _now(), PG_FILE, sha256_of(target), counts, migrations)


_COPY_RE = re.compile(r'^COPY (?:"?[\w$]+"?\.)?"?([^"\s]+)"? \(.*\) FROM stdin;$')


def count_rows_in_dump(path: Path) -> dict[str, int]:
    """Counts the data rows of a custom-format dump by streaming its COPY sections."""
    process = subprocess.Popen(  # noqa: S603
        [_pg_tool("pg_restore"), "--data-only", "--file", "-", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )  # fmt: skip
    assert process.stdout is not None
    counts: dict[str, int] = {}
    table: str | None = None
    for line in process.stdout:
        if table is None:
            match = _COPY_RE.match(line.rstrip("\n"))
            if match:
                table = match.group(1)
                counts[table] = 0
        elif line == "\\.\n":
            table = None
        else:
            counts[table] += 1
    stderr = process.stderr.read() if process.stderr else ""
    if process.wait() != 0:
        raise BackupError(f"pg_restore cannot read {path}: {stderr.strip()}")
    return counts


def restore_postgresql(directory: Path, manifest: Manifest, alias: str = "default") -> dict[str, int]:
    dump = directory / manifest.file
    in_dump = count_rows_in_dump(dump)
    found = {table: in_dump.get(table, 0) for table in manifest.tables}
    _refuse_mismatch(manifest.tables, found, where="in the dump")
    args, env = _pg_env(alias)
    connections[alias].close()
    result = subprocess.run(  # noqa: S603
        [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
         "--exit-on-error", *args, str(dump)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was changed): {result.stderr.strip()}")
    return count_live(alias, list(manifest.tables))


# --- both -------------------------------------------------------------------------------------


def count_live(alias: str, tables: list[str]) -> dict[str, int]:
    with connections[alias].cursor() as cursor:
        return count_rows(cursor, tables)


def _refuse_mismatch(expected: dict[str, int], found: dict[str, int], *, where: str) -> None:
    wrong = {t: (n, found.get(t)) for t, n in expected.items() if found.get(t) != n}
    if wrong:
        lines = ", ".join(f"{t}: manifest {n}, found {m}" for t, (n, m) in sorted(wrong.items())[:10])
        raise BackupError(f"Row counts {where} do not match the manifest ({len(wrong)} table(s): {lines})")


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


def make_backup(directory: Path, alias: str = "default") -> Manifest:
    engine = engine_of(alias)
    directory.mkdir(parents=True, exist_ok=False)
    manifest = backup_sqlite(directory, alias) if engine == "sqlite" else backup_postgresql(directory, alias)
    (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def verify_backup(directory: Path) -> Manifest:
    manifest = Manifest.read(directory)
    data = directory / manifest.file
    if not data.exists():
        raise BackupError(f"{data} is missing")
    if sha256_of(data) != manifest.sha256:
        raise BackupError(f"{data} does not match the checksum in the manifest: damaged or altered")
    return manifest


def restore_backup(directory: Path, alias: str = "default") -> dict[str, int]:
    manifest = verify_backup(directory)
    engine = engine_of(alias)
    if manifest.engine != engine:
        raise BackupError(f"This is a {manifest.engine} backup; the configured database is {engine}")
    if engine == "sqlite":
        live = restore_sqlite(directory, manifest, alias)
    else:
        live = restore_postgresql(directory, manifest, alias)
    _refuse_mismatch(manifest.tables, live, where="after restoring")
    return live
