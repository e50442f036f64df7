"""Nightly housekeeping: delete rows that only ever serve a short window, and say how many went.

- idempotency records older than CRM_IDEMPOTENCY_TTL_HOURS (replays are refused after that anyway);
- login attempts older than CRM_LOGIN_ATTEMPT_RETENTION_DAYS (lock-out looks back minutes, not months);
- heartbeats of workers silent for a day (crashed processes that could not remove their own row).
The audit trail is never touched here. The run itself is audited (counts only).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.core.audit import record_audit
from crm.core.models import IdempotencyRecord, WorkerHeartbeat


def run() -> dict[str, int]:
    from crm.identity.models import LoginAttempt

    now = timezone.now()
    with transaction.atomic():
        counts = {
            "idempotency_records": IdempotencyRecord.objects.filter(
                created_at__lt=now - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
            ).delete()[0],
            "login_attempts": LoginAttempt.objects.filter(
                attempted_at__lt=now - timedelta(days=settings.LOGIN_ATTEMPT_RETENTION_DAYS)
            ).delete()[0],
            "worker_heartbeats": WorkerHeartbeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()[0],
        }
        record_audit(actor=None, verb="housekeeping", object_type="core.housekeeping", extra=counts)
    return counts
