"""Building import files in tests and running a job to the end, the way the worker does."""

from __future__ import annotations

import io
from typing import Any

from crm.customers.models import ImportJob
from crm.customers.transfer import services


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(",".join(rows_cell(c) for c in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def rows_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def run_import(
    actor: Any,
    data: bytes,
    *,
    name: str = "customers.csv",
    kind: str = "customers",
    dry_run: bool = False,
    **options: Any,
) -> ImportJob:
    job = services.create_import_job(actor=actor, upload=io.BytesIO(data), file_name=name, kind=kind, **options)
    services.start_import(job, actor=actor, dry_run=dry_run)
    services.execute_import(job.pk)
    job.refresh_from_db()
    return job
