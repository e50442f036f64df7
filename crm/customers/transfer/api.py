"""/api/v1/imports and /api/v1/exports: upload, map, dry run, run, progress, errors, cancel; exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from crm.core.api import Page, paginate
from crm.core.errors import NotFound, ValidationFailed
from crm.customers.models import ExportJob
from crm.customers.transfer import engine, exports, selectors, services
from crm.customers.transfer.schemas import (
    ErrorPage,
    ExportIn,
    ExportJobOut,
    ImportJobOut,
    MappingIn,
    PreviewOut,
    RowErrorOut,
    RunIn,
)

imports_router = Router(tags=["imports"])
exports_router = Router(tags=["exports"])


def _job_out(job: Any) -> ImportJobOut:
    return ImportJobOut(**services.progress(job))


@imports_router.post("", response={201: ImportJobOut}, summary="Upload a file and start an import (or a dry run)")
def create_import(
    request: HttpRequest,
    file: File[UploadedFile],
    kind: Form[str],
    mode: Form[str] = "all_or_nothing",
    upsert_by: Form[str] = "",
    encoding: Form[str] = "",
    dry_run: Form[bool] = False,
    start: Form[bool] = True,
    mapping: Form[str] = "",
) -> Status[ImportJobOut]:
    """`mapping` (optional) is a JSON object {column index: field}; without it headers are mapped
    automatically (English and Chinese). With `start=false` the job waits for `POST /{id}/run`."""
    columns = None
    if mapping:
        try:
            columns = json.loads(mapping)
        except ValueError as exc:
            raise ValidationFailed(
                _("The mapping is not valid JSON."), errors={"mapping": [_("Send a JSON object.")]}
            ) from exc
        if not isinstance(columns, dict):
            raise ValidationFailed(_("The mapping is not valid."), errors={"mapping": [_("Send a JSON object.")]})
        columns = {str(k): str(v) for k, v in columns.items()}
    job = services.create_import_job(
        actor=request.user,
        upload=file,
        file_name=file.name or "upload.csv",
        kind=kind,
        mode=mode,
        upsert_by=upsert_by,
        encoding=encoding,
        dry_run=dry_run,
        columns=columns,
    )
    if start:
        job = services.start_import(job, actor=request.user, dry_run=dry_run)
    job.refresh_from_db()
    return Status(201, _job_out(job))


@imports_router.get("", response=Page[ImportJobOut], summary="Import jobs (yours; all for administrators)")
def list_imports(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> Page[ImportJobOut]:
    items, next_cursor = paginate(
        selectors.list_import_jobs(request.user), cursor=cursor, limit=limit, ordering=["-id"]
    )
    return Page[ImportJobOut](items=[_job_out(job) for job in items], next_cursor=next_cursor)


@imports_router.get("/{int:job_id}", response=ImportJobOut, summary="Status and progress of an import")
def get_import(request: HttpRequest, job_id: int) -> ImportJobOut:
    return _job_out(selectors.get_import_job(request.user, job_id))


@imports_router.get("/{int:job_id}/preview", response=PreviewOut, summary="Header, first rows and column mapping")
def preview_import(request: HttpRequest, job_id: int) -> PreviewOut:
    found = services.preview(selectors.get_import_job(request.user, job_id))
    return PreviewOut(
        header=found.header,
        rows=found.rows,
        mapping=found.columns,
        fields=[{"key": key, "label": label} for key, label in found.choices],
        encoding=found.encoding,
    )


@imports_router.put("/{int:job_id}/mapping", response=ImportJobOut, summary="Change the column mapping and options")
def set_mapping(request: HttpRequest, job_id: int, data: MappingIn) -> ImportJobOut:
    job = selectors.get_import_job(request.user, job_id)
    options = {k: v for k, v in {"mode": data.mode, "upsert_by": data.upsert_by}.items() if v is not None}
    return _job_out(services.set_mapping(job, actor=request.user, columns=data.mapping, options=options))


@imports_router.post("/{int:job_id}/run", response={202: ImportJobOut}, summary="Run the job (again), or dry-run it")
def run_import(request: HttpRequest, job_id: int, data: RunIn) -> Status[ImportJobOut]:
    job = services.start_import(
        selectors.get_import_job(request.user, job_id), actor=request.user, dry_run=data.dry_run
    )
    job.refresh_from_db()
    return Status(202, _job_out(job))


@imports_router.post(
    "/{int:job_id}/cancel", response={202: ImportJobOut}, summary="Cancel: everything written is rolled back"
)
def cancel_import(request: HttpRequest, job_id: int) -> Status[ImportJobOut]:
    job = services.cancel_import(selectors.get_import_job(request.user, job_id), actor=request.user)
    return Status(202, _job_out(job))


@imports_router.get("/{int:job_id}/errors", response=ErrorPage, summary="Every bad row: row number, field, reason")
def list_errors(request: HttpRequest, job_id: int, cursor: str | None = None, limit: int = 100) -> ErrorPage:
    job = selectors.get_import_job(request.user, job_id)
    try:
        offset = int(cursor or 0)
    except ValueError as exc:
        raise ValidationFailed(_("The cursor is not valid."), errors={"cursor": [_("Invalid cursor.")]}) from exc
    items, next_offset = services.read_errors(job, offset=max(offset, 0), limit=max(1, min(limit, 1000)))
    return ErrorPage(
        items=[RowErrorOut(**item) for item in items], next_cursor=str(next_offset) if next_offset is not None else None
    )


def _export_out(job: ExportJob) -> ExportJobOut:
    url = reverse("api:export_file", kwargs={"job_id": job.pk}) if job.file_path else None
    return ExportJobOut(
        id=job.pk,
        kind=job.kind,
        format=job.file_format,
        status=job.status,
        row_count=job.row_count,
        filters=job.filters,
        created_at=job.created_at,
        finished_at=job.finished_at,
        download_url=url,
    )


@exports_router.post("", response={201: ExportJobOut}, summary="Export customers, contacts or orders to CSV/XLSX")
def create_export(request: HttpRequest, data: ExportIn) -> Status[ExportJobOut]:
    """Rows are those you may export (access scope), columns those your field rules let you see;
    `filters` is a customer filter definition (the one saved views and segments use)."""
    job = exports.create_export_job(actor=request.user, kind=data.kind, file_format=data.format, filters=data.filters)
    return Status(201, _export_out(job))


@exports_router.get("", response=Page[ExportJobOut], summary="Your exports")
def list_exports(request: HttpRequest, cursor: str | None = None, limit: int = 50) -> Page[ExportJobOut]:
    items, next_cursor = paginate(
        selectors.list_export_jobs(request.user), cursor=cursor, limit=limit, ordering=["-id"]
    )
    return Page[ExportJobOut](items=[_export_out(job) for job in items], next_cursor=next_cursor)


@exports_router.get("/{int:job_id}", response=ExportJobOut, summary="One export")
def get_export(request: HttpRequest, job_id: int) -> ExportJobOut:
    return _export_out(selectors.get_export_job(request.user, job_id))


@exports_router.get("/{int:job_id}/file", url_name="export_file", summary="Download the exported file")
def export_file(request: HttpRequest, job_id: int) -> FileResponse:
    job = selectors.get_export_job(request.user, job_id)
    path = engine.media_path(job.file_path) if job.file_path else None
    if path is None or not Path(path).exists():
        raise NotFound(_("The file is no longer available."))
    content_type = (
        "text/csv; charset=utf-8"
        if job.file_format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=Path(job.file_path).name, content_type=content_type
    )


ROUTERS = [("/imports", imports_router), ("/exports", exports_router)]
