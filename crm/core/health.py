"""Liveness and readiness: is the process up, and can it do its work right now?"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.utils import timezone

from crm.core.models import WorkerHeartbeat


def queue_depths() -> dict[tuple[str, str], int]:
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
        .values("queue_name", "status")
        .annotate(n=Count("id"))
    )
    return {(row["queue_name"], row["status"].lower()): row["n"] for row in rows}


def check_database() -> tuple[bool, str]:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - report any failure as "not ready"
        return False, f"database unreachable: {type(exc).__name__}"
    return True, "ok"


def check_migrations() -> tuple[bool, str]:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return False, f"cannot read migrations: {type(exc).__name__}"
    if plan:
        return False, f"{len(plan)} migration(s) not applied"
    return True, "ok"


def check_worker() -> tuple[bool, str]:
    if settings.TASK_BACKEND != "database":
        return True, "tasks run in-process"
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE)
    try:
        alive = WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).count()
    except Exception as exc:  # noqa: BLE001
        return False, f"cannot read heartbeats: {type(exc).__name__}"
    if not alive:
        return False, f"no worker heartbeat in the last {settings.WORKER_HEARTBEAT_MAX_AGE}s (start `crm worker`)"
    return True, f"{alive} worker(s) alive"


def readiness() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    ok = True
    for name, check in (("database", check_database), ("migrations", check_migrations), ("worker", check_worker)):
        passed, detail = check()
        checks[name] = {"ok": passed, "detail": detail}
        ok = ok and passed
        if name == "database" and not passed:
            break
    return ok, checks
