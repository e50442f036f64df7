"""Bulk writes for imports: ids allocated up front, rows sent with COPY (PostgreSQL) or executemany (SQLite).

Every column of the table is written, so columns that other areas add later get their model
default without this module knowing about them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _json_dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Table:
    """One model's table: column order, defaults for columns the caller does not set, inserts."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.name = model._meta.db_table
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.columns = ["id", *[str(f.column) for f in self.fields]]
        self.attnames = ["id", *[f.attname for f in self.fields]]
        self.json_columns = {f.attname for f in self.fields if isinstance(f, models.JSONField)}
        self._static_defaults: dict[str, Any] = {}
        self._dynamic_defaults: dict[str, Callable[[], Any]] = {}
        for field in self.fields:
            if field.has_default() and callable(field.default):
                self._dynamic_defaults[field.attname] = field.default
            elif field.has_default():
                self._static_defaults[field.attname] = field.default
            elif field.null:
                self._static_defaults[field.attname] = None
            else:
                self._static_defaults[field.attname] = ""

    def defaults(self) -> dict[str, Any]:
        values = dict(self._static_defaults)
        for attname, make in self._dynamic_defaults.items():
            values[attname] = make()
        return values

    def allocate_ids(self, count: int) -> list[int]:
        if count <= 0:
            return []
        with connection.cursor() as cursor:
            if is_postgres():
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [self.name, count]
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: writers are serialised by the IMMEDIATE transaction the import runs in.
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{self.name}"')  # noqa: S608 — table name from the model
            top = int(cursor.fetchone()[0])
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [self.name])
            top = max(top, int(cursor.fetchone()[0]))
            return list(range(top + 1, top + 1 + count))

    def insert(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert full rows (dicts keyed by attname, 'id' included); returns the count."""
        defaults = self.defaults()
        template = [_json_dump(defaults[a]) if a in self.json_columns else defaults.get(a) for a in self.attnames]
        position = {a: i for i, a in enumerate(self.attnames)}
        json_positions = {position[a] for a in self.json_columns}
        tuples = []
        for row in rows:
            values = template.copy()
            for attname, value in row.items():
                index = position[attname]
                values[index] = _json_dump(value) if index in json_positions else value
            tuples.append(values)
        if not tuples:
            return 0
        insert_tuples(self.name, self.columns, tuples)
        return len(tuples)


def insert_tuples(table: str, columns: Sequence[str], tuples: Sequence[Sequence[Any]]) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    if is_postgres():
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for values in tuples:
                copy.write_row(values)
        return
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{table}" ({cols}) VALUES ({marks})',  # noqa: S608 — names come from models
            [[_sqlite_value(v) for v in values] for values in tuples],
        )


def insert_ignore(table: str, columns: Sequence[str], tuples: Sequence[Sequence[Any]]) -> None:
    """Insert rows, skipping those that clash with a unique constraint (link tables)."""
    if not tuples:
        return
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    verb = "INSERT" if is_postgres() else "INSERT OR IGNORE"
    tail = " ON CONFLICT DO NOTHING" if is_postgres() else ""
    with connection.cursor() as cursor:
        cursor.executemany(f'{verb} INTO "{table}" ({cols}) VALUES ({marks}){tail}', [list(t) for t in tuples])


def update_rows(table: str, rows: Sequence[tuple[int, dict[str, Any]]], *, json_columns: Iterable[str] = ()) -> None:
    """UPDATE by id; rows with the same set of columns go in one executemany."""
    json_set = set(json_columns)
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for pk, values in rows:
        keys = tuple(sorted(values))
        params = [_json_dump(values[k]) if k in json_set else values[k] for k in keys]
        if not is_postgres():
            params = [_sqlite_value(v) for v in params]
        groups.setdefault(keys, []).append([*params, pk])
    with connection.cursor() as cursor:
        for keys, param_rows in groups.items():
            sets = ", ".join(f'"{k}" = %s' for k in keys)
            cursor.executemany(
                f'UPDATE "{table}" SET {sets}, "version" = "version" + 1 WHERE "id" = %s',  # noqa: S608
                param_rows,
            )


def now() -> dt.datetime:
    return timezone.now()
