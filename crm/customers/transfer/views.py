"""Pages: the import wizard (upload → mapping → dry run → run → progress → result) and the export download."""

from __future__ import annotations

import csv
import io
from importlib import import_module
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.errors import DomainError
from crm.customers.choices import ImportKind, ImportMode
from crm.customers.transfer import exports, readers, selectors, services

UPSERT_LABELS = {
    "": gettext_lazy("no: always create new records"),
    "external_id": gettext_lazy("external id (order number for orders)"),
    "email": gettext_lazy("e-mail"),
    "phone": gettext_lazy("phone"),
}


def _upsert_choices(kind: str) -> list[tuple[str, str]]:
    return [(key, str(UPSERT_LABELS[key])) for key in services.UPSERT_KEYS.get(kind, ("",))]


@login_required
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest) -> HttpResponse:
    """Step 1: upload a file (and the recent jobs)."""
    errors: dict[str, list[str]] = {}
    detail = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors["file"] = [_("Choose a file.")]
        else:
            try:
                job = services.create_import_job(
                    actor=request.user,
                    upload=upload,
                    file_name=upload.name or "upload.csv",
                    kind=request.POST.get("kind", ""),
                    mode=request.POST.get("mode", ImportMode.ALL_OR_NOTHING),
                    upsert_by=request.POST.get("upsert_by", ""),
                    encoding=request.POST.get("encoding", ""),
                )
                return redirect("customers:transfer:job", job_id=job.pk)
            except DomainError as exc:
                errors, detail = exc.errors, str(exc.detail)
    jobs = selectors.list_import_jobs(request.user).order_by("-id")[:20]
    return render(
        request,
        "transfer/imports.html",
        {
            "jobs": jobs,
            "kinds": ImportKind.choices,
            "modes": ImportMode.choices,
            "encodings": readers.ENCODINGS,
            "errors": errors,
            "detail": detail,
            "posted": request.POST,
        },
        status=422 if errors else 200,
    )


def _job_context(request: HttpRequest, job: Any, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    found = services.preview(job)
    columns = []
    for index, title in enumerate(found.header):
        columns.append(
            {
                "index": str(index),
                "title": title,
                "field": found.columns.get(str(index), ""),
                "samples": [row[index] if index < len(row) else "" for row in found.rows[:3]],
            }
        )
    return {
        "job": job,
        "state": services.progress(job),
        "columns": columns,
        "choices": found.choices,
        "modes": ImportMode.choices,
        "upsert_choices": _upsert_choices(job.kind),
        "row_errors": job.errors[:200],
        "errors": errors or {},
        "running": services.is_in_progress(job),
    }


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """Steps 2–5: mapping preview, dry-run report, progress, result."""
    job = selectors.get_import_job(request.user, job_id)
    context = _job_context(request, job)
    if request.headers.get("HX-Request") and request.GET.get("part") == "progress":
        return render(request, "transfer/job.html#progress", context)
    return render(request, "transfer/job.html", context)


@login_required
@require_POST
def job_run(request: HttpRequest, job_id: int) -> HttpResponse:
    """Save the edited mapping and options, then dry-run or run."""
    job = selectors.get_import_job(request.user, job_id)
    header = job.mapping.get("header", [])
    columns = {str(i): request.POST.get(f"col_{i}", "") for i in range(len(header))}
    try:
        services.set_mapping(
            job,
            actor=request.user,
            columns={k: v for k, v in columns.items() if v},
            options={
                "mode": request.POST.get("mode", job.mode),
                "upsert_by": request.POST.get("upsert_by", job.upsert_by),
            },
        )
        services.start_import(job, actor=request.user, dry_run=request.POST.get("action") != "import")
    except DomainError as exc:
        job.refresh_from_db()
        context = _job_context(request, job, exc.errors)
        context["detail"] = str(exc.detail)
        return render(request, "transfer/job.html", context, status=422)
    return redirect("customers:transfer:job", job_id=job.pk)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.get_import_job(request.user, job_id)
    try:
        services.cancel_import(job, actor=request.user)
        messages.info(request, _("Cancelling: everything this import wrote will be rolled back."))
    except DomainError as exc:
        messages.error(request, str(exc.detail))
    return redirect("customers:transfer:job", job_id=job.pk)


@login_required
def job_errors(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """Every bad row as a CSV file (row, field, reason) to fix the file in a spreadsheet."""
    job = selectors.get_import_job(request.user, job_id)

    def lines() -> Any:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"
        writer.writerow([_("row"), _("field"), _("reason")])
        offset: int | None = 0
        while offset is not None:
            items, offset = services.read_errors(job, offset=offset, limit=1000)
            for item in items:
                writer.writerow([item["row"], item["field"], exports.safe_cell(item["message"])])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in lines()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


def _filters_from(request: HttpRequest) -> dict[str, Any]:
    try:
        filters_module = import_module("crm.customers.filters")
    except ImportError:
        return {}
    definition = filters_module.definition_from_params(request.GET)
    return dict(definition) if definition.get("conditions") else {}


def _audited_filters(filters: dict[str, Any], ids: list[int] | None, query: str) -> dict[str, Any]:
    recorded: dict[str, Any] = dict(filters) if filters else {"ids": ids or []}
    if query:
        recorded["q"] = query
    return recorded


@login_required
def export_download(request: HttpRequest) -> HttpResponseBase:
    """The export link of the customer list: same filters as the list (query string), or selected ids."""
    # `records`, not `kind`: the list's own filters (appended to this link) use `kind` for person/organisation.
    kind = request.GET.get("records", "customers")
    file_format = request.GET.get("format", "csv")
    ids = [int(i) for i in request.GET.getlist("ids") if i.isdigit()] or None
    try:
        if file_format not in exports.FORMATS:
            raise DomainError(_("Choose csv or xlsx."))
        filters = _filters_from(request)
        query = " ".join(request.GET.get("q", "").split())[:200]
        columns, qs = exports.plan(request.user, kind, filters, ids, query)
    except DomainError as exc:
        return render(
            request,
            "web/error.html",
            {"title": exc.title, "detail": exc.detail, "status": exc.status},
            status=exc.status,
        )
    header = [str(c.label) for c in columns]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"{kind}-{stamp}.{file_format}"
    counter = exports.Counter()
    actor = request.user
    if file_format == "xlsx":
        target = exports.temporary_xlsx()
        exports.write_xlsx(header, exports.rows(kind, columns, qs), target, counter)
        exports.audit_export(actor, kind, file_format, _audited_filters(filters, ids, query), counter.rows)
        handle = target.open("rb")
        target.unlink()  # the open handle keeps the data readable until the response is sent
        return FileResponse(
            handle,
            as_attachment=True,
            filename=name,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    def body() -> Any:
        try:
            yield from exports.stream_csv(header, exports.rows(kind, columns, qs), counter)
        finally:
            exports.audit_export(actor, kind, file_format, _audited_filters(filters, ids, query), counter.rows)

    response = StreamingHttpResponse(body(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def export_url(kind: str = "customers", file_format: str = "csv") -> str:
    """For the customer list's bulk actions: append the list's query string to this."""
    return f"{reverse('customers:transfer:export')}?records={kind}&format={file_format}"
