"""Background work of imports: runs on the "imports" queue so long imports do not hold up other tasks."""

from __future__ import annotations

from django.tasks import task

from crm.customers.transfer.services import execute_import


@task(queue_name="imports")
def run_import_task(job_id: int) -> None:
    execute_import(job_id)
