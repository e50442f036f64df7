"""The administrators' audit page (filters, cursor pages) and its CSV export, itself audited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from crm.core import access
from crm.core.api import paginate
from crm.core.audit_log import AuditFilters, export_csv_rows, list_audit_entries, parse_filters
from crm.core.errors import DomainError
from crm.core.models import AuditEntry

PAGE_SIZE = 50


def _filters_or_errors(request: HttpRequest) -> tuple[AuditFilters, dict[str, list[str]]]:
    try:
        return parse_filters(request.GET), {}
    except DomainError as exc:
        return AuditFilters(), exc.errors


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    if not access.has_verb(request.user, "view", AuditEntry):
        raise Http404
    filters, errors = _filters_or_errors(request)
    try:
        rows, next_cursor = paginate(
            list_audit_entries(request.user, filters),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
            ordering=["-seq"],
        )
    except DomainError as exc:
        rows, next_cursor = [], None
        errors = {**errors, **exc.errors}
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "entries": rows,
        "filters": filters,
        "errors": errors,
        "next_cursor": next_cursor,
        "query": query.urlencode(),
        "can_export": access.has_verb(request.user, "export", AuditEntry),
    }
    template = "core/audit_log.html#rows" if request.headers.get("HX-Request") else "core/audit_log.html"
    return render(request, template, context, status=422 if errors else 200)


@login_required
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if not access.has_verb(request.user, "export", AuditEntry):
        raise Http404
    filters, errors = _filters_or_errors(request)
    if errors:
        return HttpResponse("; ".join(m for ms in errors.values() for m in ms), status=422)
    response = StreamingHttpResponse(export_csv_rows(request.user, filters), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


def audit_panel(request: HttpRequest) -> SafeString | None:
    """The audit card on the Administration landing page (administrators only)."""
    if not access.has_verb(request.user, "view", AuditEntry):
        return None
    count = access.visible_to(request.user, "view", AuditEntry).count()
    html = render_to_string("core/_audit_panel.html", {"count": count}, request=request)
    return mark_safe(html)  # noqa: S308 - our own template, autoescaped
