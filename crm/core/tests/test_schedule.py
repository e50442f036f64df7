"""Periodic jobs: one enqueue per slot however many workers ask, nothing on first sight, housekeeping."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.utils import timezone

from crm.core import housekeeping, schedule
from crm.core.models import AuditEntry, IdempotencyRecord, ScheduledJob, WorkerHeartbeat

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLS: list[str] = []


class FakeTask:
    def enqueue(self) -> None:
        CALLS.append("run")


fake_task = FakeTask()


@pytest.fixture
def nightly() -> Any:
    saved = dict(schedule._JOBS)
    schedule._JOBS.clear()
    schedule.register("test.nightly", f"{__name__}.fake_task", daily_at="02:30")
    CALLS.clear()
    yield
    schedule._JOBS.clear()
    schedule._JOBS.update(saved)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_daily_job_runs_once_per_slot_and_not_on_first_sight(nightly: Any) -> None:
    assert schedule.enqueue_due(at(24, 10)) == []  # first sight: stamped only
    assert schedule.enqueue_due(at(25, 2, 29)) == []
    assert schedule.enqueue_due(at(25, 2, 31)) == ["test.nightly"]
    assert schedule.enqueue_due(at(25, 2, 32)) == []  # the same slot again: nothing
    assert schedule.enqueue_due(at(25, 23)) == []
    assert schedule.enqueue_due(at(26, 9)) == ["test.nightly"]  # a worker down at 02:30 catches up
    assert CALLS == ["run", "run"]


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_a_worker_with_a_stale_view_loses_the_slot(nightly: Any, monkeypatch: Any) -> None:
    schedule.enqueue_due(at(24, 10))
    stale = ScheduledJob.objects.get(name="test.nightly")
    assert schedule.enqueue_due(at(25, 3)) == ["test.nightly"]
    # A second worker read the row before the first stamped it: its compare-and-set finds nothing.
    monkeypatch.setattr(ScheduledJob.objects, "get_or_create", lambda **kwargs: (stale, False))
    assert schedule.enqueue_due(at(25, 3, 1)) == []
    assert CALLS == ["run"]


def test_off_disables_and_bad_times_are_refused() -> None:
    saved = dict(schedule._JOBS)
    try:
        schedule.register("test.off", f"{__name__}.fake_task", daily_at="off")
        assert "test.off" not in {job.name for job in schedule.jobs()}
        with pytest.raises(ValueError, match="hour"):
            schedule.register("test.bad", f"{__name__}.fake_task", daily_at="25:99")
    finally:
        schedule._JOBS.clear()
        schedule._JOBS.update(saved)


def test_builtin_jobs_are_registered() -> None:
    names = {job.name for job in schedule.jobs()}
    assert {"scores.full_recompute", "core.housekeeping"} <= names


def test_housekeeping_deletes_only_expired_rows_and_is_audited() -> None:
    from crm.identity.models import LoginAttempt

    now = timezone.now()
    old = LoginAttempt.objects.create(username="x", attempted_at=now - dt.timedelta(days=400))
    fresh = LoginAttempt.objects.create(username="x", attempted_at=now - dt.timedelta(minutes=5))
    IdempotencyRecord.objects.create(owner_key="u", key="old", method="POST", path="/", body_hash="h")
    IdempotencyRecord.objects.filter(key="old").update(created_at=now - dt.timedelta(days=3))
    IdempotencyRecord.objects.create(owner_key="u", key="new", method="POST", path="/", body_hash="h")
    WorkerHeartbeat.objects.create(
        worker_id="dead", hostname="h", pid=1, started_at=now, beat_at=now - dt.timedelta(days=2)
    )
    counts = housekeeping.run()
    assert counts == {"idempotency_records": 1, "login_attempts": 1, "worker_heartbeats": 1}
    assert not LoginAttempt.objects.filter(pk=old.pk).exists()
    assert LoginAttempt.objects.filter(pk=fresh.pk).exists()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert AuditEntry.objects.get(verb="housekeeping").extra["login_attempts"] == 1
