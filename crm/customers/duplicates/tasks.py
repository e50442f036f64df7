"""Background duplicate detection: after imports (for the new ids) and on demand (for everyone)."""

from __future__ import annotations

from django.tasks import task

from crm.customers.duplicates.services import detect_duplicates


@task()
def detect_duplicates_task(low: int | None = None, high: int | None = None) -> int:
    return detect_duplicates(low=low, high=high)
