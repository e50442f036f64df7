"""Reading the audit trail: filters shared by the administrators' page, its CSV export and the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core import access
from crm.core.audit import record_audit
from crm.core.errors import ValidationFailed
from crm.core.models import AuditEntry

EXPORT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "channel",
    "request_id",
    "ip",
    "verb",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "extra",
    "hash",
)


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    verb: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v not in ("", None)}


def parse_filters(params: Mapping[str, Any]) -> AuditFilters:
    """Filters from query parameters; field-level errors (422) for malformed dates."""
    errors: dict[str, list[str]] = {}
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        raw = str(params.get(name) or "").strip()
        dates[name] = None
        if raw:
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = [_("Enter a valid date (YYYY-MM-DD).")]
    if not errors and dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
        errors["date_to"] = [_("The end date is before the start date.")]
    if errors:
        raise ValidationFailed(_("The data is not valid"), errors=errors)

    def text(name: str, limit: int) -> str:
        return str(params.get(name) or "").strip()[:limit]

    return AuditFilters(
        actor=text("actor", 150),
        verb=text("verb", 40),
        object_type=text("object_type", 100),
        object_id=text("object_id", 64),
        date_from=dates["date_from"],
        date_to=dates["date_to"],
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def list_audit_entries(user: Any, filters: AuditFilters, *, verb: str = "view") -> QuerySet[AuditEntry]:
    """Audit rows the user may see (administrators only by default), newest first."""
    qs = access.visible_to(user, verb, AuditEntry)
    if filters.actor:
        condition = Q(actor_label=filters.actor)
        if filters.actor.isdigit():
            condition |= Q(actor_id=int(filters.actor))
        qs = qs.filter(condition)
    if filters.verb:
        qs = qs.filter(verb=filters.verb)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.date_from:
        qs = qs.filter(occurred_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(occurred_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return qs.order_by("-seq")


def _safe_cell(value: Any) -> str:
    """Spreadsheet-safe text: a leading = + - @ (formula) is neutralised with a quote."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def export_csv_rows(user: Any, filters: AuditFilters) -> Iterator[str]:
    """Audit the export itself, then stream the CSV lines (header first)."""
    from crm.core.audit import _canonical

    qs = list_audit_entries(user, filters, verb="export")
    record_audit(
        actor=user,
        verb="export",
        object_type="core.auditentry",
        extra={"rows": qs.count(), "fields": list(EXPORT_COLUMNS), "format": "csv", "filters": filters.as_dict()},
    )

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        for entry in qs.iterator(chunk_size=2000):
            values = {
                **{c: getattr(entry, c) for c in EXPORT_COLUMNS},
                "occurred_at": entry.occurred_at.isoformat(),
                "changes": _canonical(entry.changes),
                "extra": _canonical(entry.extra),
            }
            writer.writerow([_safe_cell(values[c]) for c in EXPORT_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)

    return lines()
