"""Several `.values()` reads in one database round trip, each still compiled and converted by Django.

A page such as the customer 360 reads eight small things (the customer, tags, contacts, channels,
needs, orders, lines, events). Each read is a sub-millisecond index lookup, so its cost is the round
trip and the process waking up for the answer — on a busy machine several milliseconds each. On
PostgreSQL, psycopg's client-side cursor (Django's default) runs a multi-statement query and returns
one result set per statement, so the reads share one round trip. The SQL, parameters and column
converters (decryption, JSON, decimals) are the ORM's own, and each queryset still starts from the
access layer: only the transport changes. Elsewhere (SQLite has no network hop) each queryset is
simply evaluated.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ValuesIterable


def _batches(alias: str) -> bool:
    connection = connections[alias]
    # Server-side binding (an opt-in option) uses the extended protocol: one statement per query.
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get("server_side_binding")


def fetch_values_together(*querysets: QuerySet[Any, Any]) -> list[list[dict[str, Any]]]:
    """The rows of each `.values()` queryset, exactly as `list(qs)` gives them, in one round trip."""
    for qs in querysets:
        # A private attribute, but the one Django itself uses to tell a values() queryset apart.
        if not issubclass(qs._iterable_class, ValuesIterable):
            raise TypeError("fetch_values_together takes .values() querysets")
    aliases = {qs.db for qs in querysets}
    if len(querysets) < 2 or len(aliases) != 1 or not _batches(next(iter(aliases))):
        return [list(qs) for qs in querysets]

    statements: list[str] = []
    params: list[Any] = []
    compiled = []
    for qs in querysets:
        compiler = qs.query.get_compiler(qs.db)
        try:
            sql, sql_params = compiler.as_sql()
        except EmptyResultSet:
            sql = ""
        if sql:
            statements.append(sql)
            params.extend(sql_params)
            compiled.append((qs, compiler))
        else:
            compiled.append((qs, None))  # matches nothing (e.g. the access layer's none())

    results: list[list[dict[str, Any]]] = []
    with connections[next(iter(aliases))].cursor() as cursor:
        cursor.execute("; ".join(statements), params)
        first = True
        for qs, compiler in compiled:
            if compiler is None:
                results.append([])
                continue
            if not first:
                cursor.nextset()
            first = False
            rows = cursor.fetchall()
            if compiler.has_extra_select:
                rows = [row[: compiler.col_count] for row in rows]
            # The column names ValuesIterable uses, and the compiler's own converters.
            query = qs.query
            names = (
                list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select]
            )
            indexes = range(len(names))
            results.append([{names[i]: row[i] for i in indexes} for row in compiler.results_iter(results=[rows])])
    return results
