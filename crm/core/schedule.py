"""Periodic jobs run by `crm worker`: nightly score recomputation, housekeeping.

An app registers a job at start-up (`register("scores.full", "crm…tasks.recompute_all_scores",
daily_at="02:30")`); every worker's heartbeat thread calls `enqueue_due()`, which enqueues each job
whose slot has passed since it was last enqueued. A compare-and-set on `ScheduledJob.last_enqueued_at`
makes one worker win per slot, however many run, on SQLite and PostgreSQL alike; the enqueue and the
stamp commit together, so a failed enqueue is retried at the next beat. A job seen for the first time
is stamped, not run: installing or upgrading never fires a nightly job in the middle of the day.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted path of a django.tasks Task
    daily_at: dt.time | None = None  # local time (settings.TIME_ZONE)
    every: dt.timedelta | None = None

    def due(self, last: dt.datetime, now: dt.datetime) -> bool:
        if self.every is not None:
            return now - last >= self.every
        assert self.daily_at is not None
        local_now = timezone.localtime(now)
        slot = local_now.replace(hour=self.daily_at.hour, minute=self.daily_at.minute, second=0, microsecond=0)
        if local_now < slot:
            slot -= dt.timedelta(days=1)
        return last < slot


_JOBS: dict[str, Job] = {}


def parse_time(value: str) -> dt.time | None:
    """ "02:30" → 02:30; "" or "off" → None (job disabled). Raises ValueError on anything else."""
    value = value.strip().lower()
    if value in {"", "off", "none"}:
        return None
    hours, _, minutes = value.partition(":")
    return dt.time(int(hours), int(minutes or 0))


def register(name: str, task: str, *, daily_at: str | dt.time | None = None, every: dt.timedelta | None = None) -> None:
    """Register (or replace) a periodic job. `daily_at` "" / "off" leaves it unregistered (disabled)."""
    if isinstance(daily_at, str):
        daily_at = parse_time(daily_at)
        if daily_at is None:
            _JOBS.pop(name, None)
            return
    if (daily_at is None) == (every is None):
        raise ValueError("give exactly one of daily_at or every")
    _JOBS[name] = Job(name=name, task=task, daily_at=daily_at, every=every)


def jobs() -> list[Job]:
    return sorted(_JOBS.values(), key=lambda job: job.name)


def enqueue_due(now: dt.datetime | None = None) -> list[str]:
    """Enqueue every registered job whose slot has passed; returns the names enqueued by this caller."""
    from crm.core.models import ScheduledJob

    now = now or timezone.now()
    enqueued = []
    for job in jobs():
        row, created = ScheduledJob.objects.get_or_create(name=job.name, defaults={"last_enqueued_at": now})
        if created or not job.due(row.last_enqueued_at, now):
            continue
        with transaction.atomic():
            won = ScheduledJob.objects.filter(pk=row.pk, last_enqueued_at=row.last_enqueued_at).update(
                last_enqueued_at=now
            )
            if not won:
                continue  # another worker took this slot
            task: Any = import_string(job.task)
            task.enqueue()
        logger.info("periodic job enqueued", extra={"job": job.name})
        enqueued.append(job.name)
    return enqueued
