"""Bulk writes for imports: ids allocated up front, rows sent with COPY (PostgreSQL) or executemany (SQLite).

Every column of the table is written, so columns that other areas add later get their model
default without this module knowing about them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
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


# COPY text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = frozenset("\\\t\n\r")
# COPY text goes out in chunks of this size: PostgreSQL works on one while the next is made.
_COPY_CHUNK = 1 << 17
NULL_TEXT = "\\N"  # NULL in COPY text format
_UNSET = object()


def _copy_str(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if not _COPY_SPECIAL.isdisjoint(value) else value


def _copy_aware(value: dt.datetime) -> str:
    # Naive moments are read in the connection's zone (UTC), as psycopg would send them.
    return value.isoformat() if value.tzinfo is not None else value.isoformat() + "+00:00"


_COPY_TEXT: dict[type, Callable[[Any], str]] = {
    str: _copy_str,
    int: str,
    bool: lambda v: "t" if v else "f",
    Decimal: str,
    dt.datetime: _copy_aware,
    dt.date: dt.date.isoformat,
    type(None): lambda v: "\\N",
}


def copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (the same text psycopg's `write_row` sends)."""
    render = _COPY_TEXT.get(type(value))
    if render is None:
        if isinstance(value, (dict, list)):
            return _copy_str(_json_dump(value))
        return _copy_str(str(value))
    return render(value)


class Table:
    """One model's table: column order, defaults for columns the caller does not set, inserts."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.name = model._meta.db_table
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.columns = ["id", *[str(f.column) for f in self.fields]]
        self.attnames = ["id", *[f.attname for f in self.fields]]
        self.json_columns = {f.attname for f in self.fields if isinstance(f, models.JSONField)}
        self._sequence: str | None = None
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
                if self._sequence is None:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.name])
                    self._sequence = str(cursor.fetchone()[0])
                # The sequence is named by a constant: `pg_get_serial_sequence` in the select list would
                # be evaluated (a catalogue lookup) once per id.
                cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self._sequence, count])
                return [row[0] for row in cursor.fetchall()]
            # SQLite: writers are serialised by the IMMEDIATE transaction the import runs in.
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{self.name}"')  # noqa: S608 — table name from the model
            top = int(cursor.fetchone()[0])
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [self.name])
            top = max(top, int(cursor.fetchone()[0]))
            return list(range(top + 1, top + 1 + count))

    def insert(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert full rows (dicts keyed by attname); returns the count.

        Rows carry their `id` (from `allocate_ids`) when the caller needs to know it; rows without one
        get the column's own default (the table's sequence, resp. SQLite's rowid)."""
        if is_postgres():
            return self._copy(rows)
        defaults = self.defaults()
        template = [_json_dump(defaults[a]) if a in self.json_columns else defaults.get(a) for a in self.attnames]
        position = {a: i for i, a in enumerate(self.attnames)}
        json_positions = {position[a] for a in self.json_columns}
        tuples = []
        # JSON values shared by many rows (one payload for every timeline row, empty custom
        # values) are dumped once; ids are stable while `rows` holds the objects.
        dumped: dict[int, tuple[Any, str]] = {}
        for row in rows:
            values = template.copy()
            for attname, value in row.items():
                index = position[attname]
                if index in json_positions:
                    if isinstance(value, dict) and not value:
                        value = "{}"
                    else:
                        known = dumped.get(id(value))
                        if known is None or known[0] is not value:
                            known = (value, _json_dump(value))
                            if len(dumped) < 64:  # the cache holds the object: its id is not reused
                                dumped[id(value)] = known
                        value = known[1]
                values[index] = value
            tuples.append(values)
        if not tuples:
            return 0
        insert_tuples(self.name, self.columns, tuples)
        return len(tuples)

    def _copy(self, rows: Iterable[dict[str, Any]]) -> int:
        """PostgreSQL: rows rendered straight to COPY text (about 10x cheaper than `write_row`, which
        dumps every value through psycopg's adapters), sent in chunks of about a megabyte."""
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        # Rows without an id get the column default (the sequence).
        lead = () if "id" in first else ("id",)
        renderer = self.renderer(skip=lead)
        return self.copy_text(renderer.columns, map(renderer.render, itertools.chain((first,), iterator)))

    def renderer(self, *, skip: Sequence[str] = (), lead: Sequence[str] = ()) -> RowRenderer:
        """Renders rows to COPY text over every column but `skip` and `lead` (see `RowRenderer`)."""
        return RowRenderer(self, skip=skip, lead=lead)

    def copy_lines(self, rows: Iterable[dict[str, Any]], *, with_id: bool = True) -> Iterator[str]:
        """Each row as one line of COPY text over every column (but `id` unless `with_id`)."""
        renderer = self.renderer(skip=() if with_id else ("id",))
        return map(renderer.render, rows)

    def copy_text(self, columns: Sequence[str], lines: Iterable[str]) -> int:
        """COPY lines already in COPY text format (columns in the order of `columns`) into the table."""
        count = size = 0
        chunk: list[str] = []
        cols = ", ".join(f'"{c}"' for c in columns)
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(f'COPY "{self.name}" ({cols}) FROM STDIN') as copy:
            for line in lines:
                chunk.append(line)
                count += 1
                size += len(line)
                if size >= _COPY_CHUNK:
                    chunk.append("")
                    copy.write("\n".join(chunk).encode())
                    chunk, size = [], 0
            if chunk:
                chunk.append("")
                copy.write("\n".join(chunk).encode())
        return count


class RowRenderer:
    """Rows (dicts keyed by attname) to lines of COPY text, defaults filled in for missing columns.

    `skip` columns are left out (the table's default applies, e.g. the id sequence). `lead` columns are
    left out of the rendered text too, but come first in `columns`: whoever sends the line puts their
    values in front (``f"{pk}\t{text}"``). That lets the import's cleaning thread render everything that
    does not depend on the database (ids, looked-up references), and the writing thread add only that.
    Not thread-safe: one renderer per thread.
    """

    def __init__(self, table: Table, *, skip: Sequence[str] = (), lead: Sequence[str] = ()) -> None:
        defaults = table.defaults()
        left_out = {*skip, *lead}
        attnames = [a for a in table.attnames if a not in left_out]
        column_of = dict(zip(table.attnames, table.columns, strict=True))
        self.columns = [column_of[a] for a in lead] + [column_of[a] for a in attnames]
        self._template = [
            _copy_str(_json_dump(defaults[a])) if a in table.json_columns else copy_text(defaults.get(a))
            for a in attnames
        ]
        self._position = {a: i for i, a in enumerate(attnames)}
        self._json_positions = {self._position[a] for a in table.json_columns if a in self._position}
        self._left_out = left_out
        # Rows built by one piece of code have the same keys in the same order: their column
        # positions are looked up once per shape, not once per value.
        self._layouts: dict[tuple[str, ...], list[int]] = {}
        # JSON values shared by many rows (one payload for every timeline row) are rendered once, and so
        # is a column's value when it is the very object of the row before (the batch's moment, a currency).
        self._rendered: dict[int, tuple[Any, str]] = {}
        self._last_value: list[Any] = [_UNSET] * len(attnames)
        self._last_text = [""] * len(attnames)

    def render(self, row: dict[str, Any]) -> str:
        keys = tuple(row)
        layout = self._layouts.get(keys)
        if layout is None:
            # -1: a key this renderer leaves out (a lead or skipped column).
            layout = self._layouts[keys] = [self._position[a] if a not in self._left_out else -1 for a in keys]
        values = self._template.copy()
        last_value, last_text = self._last_value, self._last_text
        json_positions, render = self._json_positions, _COPY_TEXT
        for index, value in zip(layout, row.values(), strict=True):
            if index < 0:
                continue
            if value is last_value[index]:
                values[index] = last_text[index]
                continue
            if index in json_positions:
                if isinstance(value, dict) and not value:
                    text = "{}"
                else:
                    known = self._rendered.get(id(value))
                    if known is None or known[0] is not value:
                        known = (value, _copy_str(_json_dump(value)))
                        if len(self._rendered) < 64:  # the cache holds the object: its id is not reused
                            self._rendered[id(value)] = known
                    text = known[1]
            else:
                fn = render.get(type(value))
                text = fn(value) if fn is not None else copy_text(value)
            values[index] = last_text[index] = text
            last_value[index] = value
        return "\t".join(values)


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


class TextArray(str):
    """A set of text keys as one PostgreSQL array literal (``{"a","b"}``), with its size.

    Built where the keys are (the import's cleaning thread) and sent as a single text parameter: psycopg
    would otherwise adapt every element (about 1 µs per key in the writing thread)."""

    size: int

    def __new__(cls, keys: Iterable[str]) -> TextArray:
        unique = set(keys)
        quoted = ('"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in unique)
        made = super().__new__(cls, "{" + ",".join(quoted) + "}")
        made.size = len(unique)
        return made

    def __len__(self) -> int:
        return self.size


def rows_in(
    model: type[models.Model], key: str, fields: Sequence[str], keys: Collection[Any], **equal: Any
) -> list[tuple[Any, ...]]:
    """`fields` of the rows whose `key` is one of `keys` (and whose fields equal `equal`), in id order.

    The same as ``filter(key__in=keys, **equal).order_by("pk").values_list(*fields)``, but on
    PostgreSQL the keys travel as one array parameter (``= ANY(%s)``): with thousands of keys per
    batch, the driver no longer parses a query with thousands of placeholders. `keys` may be a
    `TextArray` (text keys already rendered as one array literal).
    """
    if not keys:
        return []
    if isinstance(keys, TextArray):
        if not is_postgres():
            raise TypeError("TextArray keys are for PostgreSQL")
        return _rows_in_pg(model, key, fields, str(keys), "::text[]", equal)
    if not is_postgres():
        return list(
            model._default_manager.filter(**{f"{key}__in": list(keys)}, **equal).order_by("pk").values_list(*fields)
        )
    return _rows_in_pg(model, key, fields, list(keys), "", equal)


def _rows_in_pg(
    model: type[models.Model], key: str, fields: Sequence[str], keys: Any, cast: str, equal: dict[str, Any]
) -> list[tuple[Any, ...]]:
    meta = model._meta

    def column(name: str) -> str:
        field = meta.pk if name == "pk" else meta.get_field(name)
        return str(getattr(field, "column", name))

    columns = ", ".join(f'"{column(name)}"' for name in fields)
    where = [f'"{column(key)}" = ANY(%s{cast})']
    params: list[Any] = [keys]
    for name, value in equal.items():
        where.append(f'"{column(name)}" = %s')
        params.append(value)
    sql = f'SELECT {columns} FROM "{meta.db_table}" WHERE {" AND ".join(where)} ORDER BY "id"'  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def now() -> dt.datetime:
    return timezone.now()
