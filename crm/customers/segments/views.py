"""Segment pages: list, builder with a live count (htmx), detail with members, static-list editing."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core.access import has_verb
from crm.core.errors import DomainError, NotFound, ValidationFailed
from crm.customers.choices import SegmentKind
from crm.customers.models import Segment
from crm.customers.segments import forms, selectors, services

MEMBER_PAGE = 50


def _segment(request: HttpRequest, segment_id: int, verb: str = "view") -> Segment:
    try:
        return selectors.get_segment_for(request.user, segment_id, verb=verb)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = list(selectors.segments_for(request.user, query=request.GET.get("q", "")).order_by("name", "id")[:200])
    return render(
        request,
        "segments/list.html",
        {"segments": segments, "can_create": has_verb(request.user, "create", Segment), "q": request.GET.get("q", "")},
    )


def _builder_context(
    request: HttpRequest,
    *,
    segment: Segment | None,
    values: dict[str, Any],
    rows: list[dict[str, Any]],
    errors: dict[str, list[str]] | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    while len(rows) < 3:
        rows.append(
            {
                "field": "",
                "op": "eq",
                "value": "",
                "index": max((int(r.get("index", -1)) for r in rows), default=-1) + 1,
            }
        )
    errors = errors or {}
    indexed = []
    for position, row in enumerate(rows):
        i = int(row.get("index", position))
        found = [m for k in ("field", "op", "value") for m in errors.get(f"{k}_{i}", [])]
        indexed.append({**row, "index": i, "errors": found})
    return {
        "segment": segment,
        "values": values,
        "rows": indexed,
        "next_index": max((r["index"] for r in indexed), default=-1) + 1,
        "fields": selectors.builder_fields(),
        "ops": OPS,
        "errors": errors,
        "count": count,
        "kinds": SegmentKind.choices,
    }


OPS = [
    ("eq", "="),
    ("ne", "≠"),
    ("in", "∈"),
    ("not_in", "∉"),
    ("contains", "⊃"),
    ("startswith", "^"),
    ("gt", ">"),
    ("gte", "≥"),
    ("lt", "<"),
    ("lte", "≤"),
    ("between", "[ , ]"),
    ("last_days", "≤ N days"),
    ("is_set", "✓"),
    ("is_empty", "∅"),
    ("has_any", "∃"),
    ("has_all", "∀"),
    ("has_none", "∄"),
    ("bought", "bought"),
    ("not_bought", "not bought"),
    ("has_open", "open"),
    ("has_none_open", "none open"),
]


def _form_rows(data: Any) -> list[dict[str, Any]]:
    return [
        {
            "field": data.get(f"field_{i}", ""),
            "op": data.get(f"op_{i}", "eq"),
            "value": data.get(f"value_{i}", ""),
            "index": i,
        }
        for i in forms.row_indexes(data)
    ]


@login_required
def segment_builder(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    segment = _segment(request, segment_id, "change") if segment_id else None
    if segment is None and not has_verb(request.user, "create", Segment):
        raise Http404
    if request.method != "POST":
        definition = segment.definition if segment else {"match": "all", "conditions": []}
        values = {
            "name": segment.name if segment else "",
            "kind": segment.kind if segment else SegmentKind.DYNAMIC,
            "description": segment.description if segment else "",
            "match": definition.get("match", "all"),
            "version": segment.version if segment else "",
            "definition_json": ""
            if forms.is_flat(definition)
            else json.dumps(definition, ensure_ascii=False, indent=2),
        }
        count = selectors.members_of(request.user, segment).count() if segment else None
        context = _builder_context(
            request, segment=segment, values=values, rows=forms.rows_from_definition(definition), count=count
        )
        return render(request, "segments/builder.html", context)

    data = request.POST
    values = {k: data.get(k, "") for k in ("name", "kind", "description", "match", "version", "definition_json")}
    rows = _form_rows(data)
    cond_rows: list[int] = []
    try:
        definition, cond_rows = forms.definition_from_form(data)
        payload: dict[str, Any] = {"name": values["name"], "description": values["description"], "kind": values["kind"]}
        if (segment.kind if segment else values["kind"]) != SegmentKind.STATIC:
            payload["definition"] = definition
        if data.get("action") == "preview":
            count, _sample = selectors.preview(request.user, definition)
            return render(
                request,
                "segments/builder.html",
                _builder_context(request, segment=segment, values=values, rows=rows, count=count),
            )
        if segment is None:
            segment = services.create_segment(actor=request.user, data=payload)
        else:
            raw_version = str(values["version"])
            version = int(raw_version) if raw_version.isdigit() else None
            segment = services.update_segment(segment, actor=request.user, data=payload, expected_version=version)
    except ValidationFailed as exc:
        errors = forms.form_errors(exc, cond_rows)
        context = _builder_context(request, segment=segment, values=values, rows=rows, errors=errors)
        return render(request, "segments/builder.html", context, status=422)
    except DomainError as exc:
        context = _builder_context(
            request, segment=segment, values=values, rows=rows, errors={"form": [str(exc.detail)]}
        )
        return render(request, "segments/builder.html", context, status=exc.status)
    messages.success(request, _("Segment saved."))
    return redirect("customers:segments-detail", segment_id=segment.pk)


@login_required
@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the live count of the filter in the builder form, re-rendered as you edit."""
    try:
        definition, _rows = forms.definition_from_form(request.POST)
        count, sample = selectors.preview(request.user, definition)
        error = ""
    except ValidationFailed as exc:
        count, sample, error = None, [], "; ".join(m for messages_ in exc.errors.values() for m in messages_)
    return render(request, "segments/builder.html#count", {"count": count, "sample": sample, "error": error})


@login_required
def condition_row(request: HttpRequest) -> HttpResponse:
    """htmx: one more empty condition row."""
    index = int(request.GET.get("index", "0")) if request.GET.get("index", "0").isdigit() else 0
    row = {"field": "", "op": "eq", "value": "", "index": index}
    return render(
        request,
        "segments/builder.html#row",
        {"row": row, "fields": selectors.builder_fields(), "ops": OPS, "errors": {}, "next_index": index + 1},
    )


@login_required
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment(request, segment_id)
    members = selectors.members_of(request.user, segment)
    return render(
        request,
        "segments/detail.html",
        {
            "segment": segment,
            "count": members.count(),
            "members": list(members.order_by("id")[:MEMBER_PAGE]),
            "definition": json.dumps(segment.definition, ensure_ascii=False, indent=2),
            "is_static": segment.kind == SegmentKind.STATIC,
        },
    )


def _ids(text: str) -> list[str]:
    return [part for part in text.replace("，", ",").replace("\n", ",").replace(" ", ",").split(",") if part.strip()]


@login_required
@require_POST
def segment_members(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment(request, segment_id, "change")
    ids = _ids(request.POST.get("customer_ids", ""))
    try:
        if request.POST.get("action") == "remove":
            removed = services.remove_members(segment, ids, actor=request.user)
            messages.success(request, _("%(n)s removed from the list.") % {"n": removed})
        else:
            added = services.add_members(segment, ids, actor=request.user)
            messages.success(request, _("%(n)s added to the list.") % {"n": added})
    except DomainError as exc:
        text = "; ".join(m for ms in exc.errors.values() for m in ms) or str(exc.detail)
        messages.error(request, text)
    return redirect("customers:segments-detail", segment_id=segment.pk)


@login_required
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment(request, segment_id, "delete")
    services.delete_segment(segment, actor=request.user)
    messages.success(request, _("Segment deleted."))
    return redirect("customers:segments-list")
