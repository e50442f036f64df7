"""Background tasks of the kernel: housekeeping run nightly by the scheduler (crm.core.schedule)."""

from __future__ import annotations

from django.tasks import task

from crm.core import housekeeping


@task()
def housekeeping_task() -> dict[str, int]:
    return housekeeping.run()
