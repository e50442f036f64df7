"""Lets transactional tests (live server, concurrency) flush a database whose audit table refuses DELETE.

The audit table's triggers (core migration 0003) make Django's test flush fail once a transactional
test wrote audit rows. This autouse fixture empties the table just before that flush, with the
triggers lifted for that one statement and put back straight after. Ordinary (rolled-back) tests
are untouched and keep the triggers in force.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections


def clear_audit_table(alias: str = "default") -> None:
    migration = importlib.import_module("crm.core.migrations.0003_audit_append_only")
    connection = connections[alias]
    with connection.cursor() as cursor:
        for sql in migration.statements(connection.vendor, forward=False):
            cursor.execute(sql)
        cursor.execute("DELETE FROM core_auditentry")
        for sql in migration.statements(connection.vendor, forward=True):
            cursor.execute(sql)


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return True
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (len(marker.args) > 0 and marker.args[0])))


@pytest.fixture(autouse=True)
def _audit_rows_cleared_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    if not _is_transactional(request):
        yield
        return
    # Set up after the database fixture, so this teardown runs before its flush.
    request.getfixturevalue("transactional_db")
    yield
    blocker: Any = request.getfixturevalue("django_db_blocker")
    with blocker.unblock():
        for alias in connections:
            if connections[alias].settings_dict.get("NAME"):
                clear_audit_table(alias)
