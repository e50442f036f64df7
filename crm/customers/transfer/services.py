"""Import jobs: upload, map columns, dry run or run in the background, progress, cancel, errors.

Progress and the cancel request travel through small files next to the upload rather than the
job row: the import holds one long transaction (so that a failed or cancelled run leaves
nothing), and on SQLite no other connection may write while it runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.access import check_writable, has_verb
from crm.core.audit import record_audit
from crm.core.errors import Conflict, Forbidden, ValidationFailed
from crm.core.models import CustomFieldDefinition
from crm.customers.choices import ImportKind, ImportMode, JobStatus
from crm.customers.models import Contact, Customer, ImportJob, Order
from crm.customers.scoring.services import schedule_rescore
from crm.customers.transfer import engine, mapping, readers

logger = logging.getLogger(__name__)

MODEL_OF: dict[str, type[models.Model]] = {"customers": Customer, "contacts": Contact, "orders": Order}
UPSERT_KEYS = {
    "customers": ("", "external_id", "email", "phone"),
    "contacts": ("", "external_id"),
    "orders": ("", "external_id"),
}
PREVIEW_ROWS = 5
# Mapped import fields that are not model fields of the same name (they name other records).
_REFERENCE_FIELDS = {
    "customer_external_id",
    "customer_email",
    "customer_phone",
    "tags",
    "product_name",
    "sku",
    "quantity",
    "unit_price",
    "category",
    "owner",
}


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Preview:
    header: list[str]
    rows: list[list[str]]
    columns: dict[str, str]
    choices: list[tuple[str, str]]
    encoding: str


def _custom_definitions(kind: str) -> list[CustomFieldDefinition]:
    object_type = mapping.CUSTOM_OBJECT_TYPE[kind]
    if not object_type:
        return []
    return list(CustomFieldDefinition.objects.filter(object_type=object_type, is_active=True).order_by("position"))


def job_dir(job: ImportJob) -> Path:
    return engine.media_path(job.file_path).parent


def _check_options(kind: str, mode: str, upsert_by: str, encoding: str) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in ImportKind.values:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ImportKind.values)}]
    if mode not in ImportMode.values:
        errors["mode"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ImportMode.values)}]
    if kind in UPSERT_KEYS and upsert_by not in UPSERT_KEYS[kind]:
        errors["upsert_by"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(k or '""' for k in UPSERT_KEYS[kind])}
        ]
    if encoding and encoding not in readers.ENCODINGS:
        errors["encoding"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(readers.ENCODINGS)}]
    if errors:
        raise ValidationFailed(_("The import options are not valid."), errors=errors)


def _check_permission(actor: Any, kind: str) -> None:
    if not has_verb(actor, "import", MODEL_OF[kind]):
        raise Forbidden(_("You may not import %(kind)s.") % {"kind": ImportKind(kind).label})


def _check_fields(actor: Any, kind: str, columns: Iterable[str]) -> None:
    model = MODEL_OF[kind]
    names = [c for c in columns if not c.startswith(mapping.CUSTOM_PREFIX) and c not in _REFERENCE_FIELDS]
    if any(c.startswith(mapping.CUSTOM_PREFIX) for c in columns):
        names.append("custom")
    if any(c == "owner" for c in columns):
        names.append("owner")
    check_writable(actor, model, names)


def create_import_job(
    *,
    actor: Any,
    upload: Readable,
    file_name: str,
    kind: str,
    mode: str = ImportMode.ALL_OR_NOTHING,
    upsert_by: str = "",
    encoding: str = "",
    dry_run: bool = True,
    columns: dict[str, str] | None = None,
) -> ImportJob:
    """Store the upload, read its header, map columns (automatically unless given); nothing runs yet."""
    _check_options(kind, mode, upsert_by, encoding)
    _check_permission(actor, kind)
    readers.file_format(file_name)
    folder = f"imports/{uuid.uuid4().hex}"
    target_dir = engine.media_path(folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    safe_name = Path(file_name).name.replace("/", "_")[:120] or "upload"
    target = target_dir / safe_name
    size = 0
    with target.open("wb") as out:
        while chunk := upload.read(1024 * 1024):
            size += len(chunk)
            if size > settings.CRM_MAX_UPLOAD_BYTES:
                out.close()
                shutil.rmtree(target_dir, ignore_errors=True)
                raise ValidationFailed(
                    _("The file is too large."),
                    errors={"file": [_("Upload at most %(n)s MB.") % {"n": settings.CRM_MAX_UPLOAD_BYTES // 2**20}]},
                )
            out.write(chunk)
    try:
        header, rows, used = readers.open_rows(target, name=safe_name, encoding=encoding)
        sample = [[_cell_text(v) for v in row.values] for _i, row in zip(range(PREVIEW_ROWS), rows, strict=False)]
    except readers.FileUnreadable:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    custom = _custom_definitions(kind)
    auto = mapping.auto_map(kind, header, custom)
    chosen = auto if columns is None else columns
    _cleaned, errors = mapping.clean_mapping(kind, header, chosen, custom)
    if columns is not None and errors:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise ValidationFailed(_("The column mapping is not valid."), errors=errors)
    _check_fields(actor, kind, chosen.values())
    return ImportJob.objects.create(
        kind=kind,
        mode=mode,
        dry_run=dry_run,
        upsert_by=upsert_by,
        file_name=safe_name,
        file_path=f"{folder}/{safe_name}",
        encoding=used,
        mapping={
            "columns": chosen,
            "header": header,
            "sample": sample,
            "language": translation.get_language() or settings.LANGUAGE_CODE,
        },
        total_rows=readers.count_rows(target, name=safe_name),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)[:200]


def preview(job: ImportJob) -> Preview:
    custom = _custom_definitions(job.kind)
    return Preview(
        header=list(job.mapping.get("header", [])),
        rows=list(job.mapping.get("sample", [])),
        columns=dict(job.mapping.get("columns", {})),
        choices=mapping.field_choices(job.kind, custom),
        encoding=job.encoding,
    )


def set_mapping(
    job: ImportJob, *, actor: Any, columns: dict[str, str], options: dict[str, Any] | None = None
) -> ImportJob:
    """Change the column mapping (and mode/upsert) before a run."""
    if is_in_progress(job):
        raise Conflict(_("The import is running; wait for it to finish or cancel it."))
    options = options or {}
    mode = options.get("mode", job.mode)
    upsert_by = options.get("upsert_by", job.upsert_by)
    _check_options(job.kind, mode, upsert_by, job.encoding)
    header = list(job.mapping.get("header", []))
    _cleaned, errors = mapping.clean_mapping(job.kind, header, columns, _custom_definitions(job.kind))
    if errors:
        raise ValidationFailed(_("The column mapping is not valid."), errors=errors)
    _check_fields(actor, job.kind, columns.values())
    job.mapping = {**job.mapping, "columns": {str(k): v for k, v in columns.items() if v}}
    job.mode = mode
    job.upsert_by = upsert_by
    job.save(update_fields=["mapping", "mode", "upsert_by"])
    return job


def is_in_progress(job: ImportJob) -> bool:
    """Queued or running (an uploaded job that was never started is neither)."""
    return job.status == JobStatus.RUNNING or (job.status == JobStatus.PENDING and bool(job.mapping.get("queued_at")))


def start_import(job: ImportJob, *, actor: Any, dry_run: bool, enqueue: bool = True) -> ImportJob:
    """Queue a (dry) run of the job; a finished job may be run again, e.g. for real after a dry run."""
    _check_permission(actor, job.kind)
    if is_in_progress(job):
        raise Conflict(_("The import is already running."))
    header = list(job.mapping.get("header", []))
    _cleaned, errors = mapping.clean_mapping(
        job.kind, header, dict(job.mapping.get("columns", {})), _custom_definitions(job.kind)
    )
    if errors:
        raise ValidationFailed(_("The column mapping is not valid."), errors=errors)
    _check_fields(actor, job.kind, job.mapping.get("columns", {}).values())
    (job_dir(job) / "cancel").unlink(missing_ok=True)
    (job_dir(job) / "progress.json").unlink(missing_ok=True)
    job.dry_run = dry_run
    job.status = JobStatus.PENDING
    job.cancel_requested = False
    job.processed_rows = job.created_count = job.updated_count = job.error_count = 0
    job.errors = []
    job.message = ""
    job.started_at = job.finished_at = None
    job.mapping = {
        **job.mapping,
        "language": translation.get_language() or settings.LANGUAGE_CODE,
        "queued_at": timezone.now().isoformat(),
    }
    job.save()
    if enqueue:
        from crm.customers.transfer.tasks import run_import_task

        transaction.on_commit(lambda: run_import_task.enqueue(job.pk))
    return job


def cancel_import(job: ImportJob, *, actor: Any) -> ImportJob:
    """Ask a pending or running import to stop; it rolls back everything it wrote."""
    if not is_in_progress(job):
        raise Conflict(_("Only a queued or running import can be cancelled."))
    (job_dir(job) / "cancel").write_text(str(getattr(actor, "pk", "")), encoding="utf-8")
    if job.status == JobStatus.PENDING:
        job.status = JobStatus.CANCELLED
        job.cancel_requested = True
        job.finished_at = timezone.now()
        job.message = _("Cancelled before it started; nothing was imported.")
        job.save(update_fields=["status", "cancel_requested", "finished_at", "message"])
    return job


def progress(job: ImportJob) -> dict[str, Any]:
    """Status for the page and the API: the job row, plus live progress while it runs."""
    processed = job.processed_rows
    if job.status == JobStatus.RUNNING:
        processed = progress_from_file(job) or job.processed_rows
    total = job.total_rows or 0
    percent = 100 if job.status == JobStatus.SUCCEEDED else (min(99, int(processed * 100 / total)) if total else 0)
    return {
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "dry_run": job.dry_run,
        "mode": job.mode,
        "upsert_by": job.upsert_by,
        "file_name": job.file_name,
        "encoding": job.encoding,
        "total_rows": job.total_rows,
        "processed_rows": processed,
        "percent": percent,
        "created_count": job.created_count,
        "updated_count": job.updated_count,
        "error_count": job.error_count,
        "message": job.message,
        "cancel_requested": job.cancel_requested or (job_dir(job) / "cancel").exists(),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def progress_from_file(job: ImportJob) -> int | None:
    """Rows processed so far by a running import, from its progress file."""
    try:
        return int(json.loads((job_dir(job) / "progress.json").read_text(encoding="utf-8"))["processed"])
    except (OSError, ValueError, KeyError):
        return None


def read_errors(job: ImportJob, *, offset: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """Bad rows from the error file, in file order: (items, next offset or None)."""
    path = engine.error_file_for(job_dir(job))
    items: list[dict[str, Any]] = []
    if not path.exists():
        return list(job.errors)[offset : offset + limit], None
    with path.open(encoding="utf-8") as fh:
        for index, line in enumerate(fh):
            if index < offset:
                continue
            if len(items) == limit:
                return items, offset + limit
            items.append(json.loads(line))
    return items, None


class _Control:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def cancelled(self) -> bool:
        return (self.folder / "cancel").exists()

    def report(self, processed: int) -> None:
        tmp = self.folder / "progress.tmp"
        tmp.write_text(json.dumps({"processed": processed}), encoding="utf-8")
        tmp.replace(self.folder / "progress.json")


def execute_import(job_id: int) -> ImportJob | None:
    """Run one queued job to the end (the background task and `crm import` call this)."""
    job = ImportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or job.status != JobStatus.PENDING:
        return job
    folder = job_dir(job)
    control = _Control(folder)
    if control.cancelled():
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        return job
    job.status = JobStatus.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    with translation.override(job.mapping.get("language") or settings.LANGUAGE_CODE):
        _run(job, control)
    return job


def _run(job: ImportJob, control: _Control) -> None:
    actor = job.created_by
    sink = engine.ErrorSink(engine.error_file_for(job_dir(job)))
    outcome = engine.Outcome()
    committed = False
    try:
        header, rows, _used = readers.open_rows(
            engine.media_path(job.file_path), name=job.file_name, encoding=job.encoding
        )
        custom = {d.key: d for d in _custom_definitions(job.kind)}
        columns, errors = mapping.clean_mapping(
            job.kind, header, dict(job.mapping.get("columns", {})), list(custom.values())
        )
        if errors:
            raise ValidationFailed(_("The column mapping is not valid."), errors=errors)
        ctx = engine.Context(
            kind=job.kind,
            # A dry run writes every good row (then rolls back) so it can say what would be imported.
            mode=ImportMode.VALID_ROWS if job.dry_run else job.mode,
            upsert_by=job.upsert_by,
            columns=columns,
            actor=actor,
            job_id=job.pk,
            custom=custom,
            check_cancel=control.cancelled,
            report_progress=control.report,
        )
        importer = engine.IMPORTERS[job.kind](ctx, sink, outcome)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Foreign keys are checked as each COPY runs, while the reading thread prepares the next
                # batch, instead of all at the commit with nothing to overlap (and no queue of millions
                # of deferred trigger events in the backend's memory). Same checks, same guarantee.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            importer.run(rows)
            failed = bool(outcome.error_rows) and job.mode == ImportMode.ALL_OR_NOTHING
            if job.dry_run or failed:
                transaction.set_rollback(True)
            else:
                record_audit(actor=actor, verb="import", obj=job, extra=_audit_extra(job, outcome))
                _after_import(job, outcome)
                committed = True
        if job.dry_run:
            job.status = JobStatus.SUCCEEDED
            job.message = _("Dry run: %(ok)s rows can be imported, %(bad)s rows have errors. Nothing was saved.") % {
                "ok": outcome.created + outcome.updated,
                "bad": outcome.error_rows,
            }
        elif failed:
            job.status = JobStatus.FAILED
            job.message = _("%(bad)s rows have errors, so nothing was imported (all or nothing).") % {
                "bad": outcome.error_rows
            }
        else:
            job.status = JobStatus.SUCCEEDED
            job.message = _("Imported: %(created)s created, %(updated)s updated, %(bad)s rows skipped.") % {
                "created": outcome.created,
                "updated": outcome.updated,
                "bad": outcome.error_rows,
            }
    except engine.Cancelled:
        job.status = JobStatus.CANCELLED
        job.cancel_requested = True
        job.message = _("Cancelled: everything this import had written was rolled back.")
    except readers.FileUnreadable as exc:
        job.status = JobStatus.FAILED
        job.message = str(exc.detail)[:500]
        sink.add(engine.RowError(0, next(iter(exc.errors), "file"), str(exc.detail)))
        outcome.error_rows = max(outcome.error_rows, 1)
    except ValidationFailed as exc:
        job.status = JobStatus.FAILED
        job.message = str(exc.detail)[:500]
        for name, messages in exc.errors.items():
            sink.add(engine.RowError(0, name, "; ".join(messages)))
    except DatabaseError:
        logger.exception("import %s failed in the database", job.pk)
        job.status = JobStatus.FAILED
        job.message = _("The database refused the import; nothing was imported. The error has been logged.")
    finally:
        sink.close()
    job.processed_rows = outcome.total
    job.error_count = (
        sink.count_rows if job.status != JobStatus.FAILED or not outcome.error_rows else outcome.error_rows
    )
    job.errors = sink.first
    job.created_count = outcome.created if (committed or job.dry_run) else 0
    job.updated_count = outcome.updated if (committed or job.dry_run) else 0
    job.finished_at = timezone.now()
    job.save()
    if not committed and not job.dry_run:
        # The attempt itself is on record even though its data was rolled back.
        record_audit(actor=actor, verb="import", obj=job, extra=_audit_extra(job, outcome))


def _audit_extra(job: ImportJob, outcome: engine.Outcome) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "file": job.file_name,
        "mode": job.mode,
        "upsert_by": job.upsert_by,
        "status": job.status if job.status != JobStatus.RUNNING else JobStatus.SUCCEEDED,
        "rows": outcome.total,
        "created": outcome.created,
        "updated": outcome.updated,
        "error_rows": outcome.error_rows,
    }


def _after_import(job: ImportJob, outcome: engine.Outcome) -> None:
    """Side effects once the import is committed: re-scoring, duplicate detection."""
    if job.kind == ImportKind.ORDERS and outcome.touched_customer_ids:
        schedule_rescore(sorted(outcome.touched_customer_ids))
    if job.kind == ImportKind.CUSTOMERS:
        ids = list(outcome.created_range) + list(outcome.touched_customer_ids)
        if ids:
            low, high = min(ids), max(ids)
            from crm.customers.duplicates.tasks import detect_duplicates_task

            transaction.on_commit(lambda: detect_duplicates_task.enqueue(low, high))
