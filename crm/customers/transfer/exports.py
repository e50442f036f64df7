"""Exports of customers, contacts and orders as CSV or XLSX: access scope, field rules, no formula injection.

Rows are read in chunks from the database and written as they come, so memory stays constant.
CSV is streamed to the client while it is produced; XLSX is written by openpyxl's write-only
workbook into a temporary file (a zip cannot be finished before its last row) and then streamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any

from django.db import models, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.access import field_policy, has_verb, visible_to
from crm.core.audit import record_audit
from crm.core.errors import Forbidden, ValidationFailed
from crm.core.models import CustomFieldDefinition
from crm.customers.choices import ImportKind, JobStatus
from crm.customers.models import Contact, Customer, ExportJob, Order, OrderLine
from crm.customers.transfer import engine

FORMATS = ("csv", "xlsx")
CHUNK = 2000
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
MODEL_OF: dict[str, type[models.Model]] = {"customers": Customer, "contacts": Contact, "orders": Order}


def safe_cell(value: Any) -> Any:
    """A value a spreadsheet will show, never evaluate: text that could start a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if text.startswith(_DANGEROUS_START):
        return "'" + text
    return text


@dataclass(frozen=True)
class Column:
    key: str  # field name the field rules speak of
    label: Any
    get: Callable[[Any], Any]


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda obj: getattr(obj, name)


def _customer_columns() -> list[Column]:
    columns = [
        Column("id", gettext_lazy("id"), _attr("pk")),
        Column("external_id", gettext_lazy("external id"), _attr("external_id")),
        Column("name", Customer._meta.get_field("name").verbose_name, _attr("name")),
        Column("kind", Customer._meta.get_field("kind").verbose_name, _attr("kind")),
        Column("gender", Customer._meta.get_field("gender").verbose_name, _attr("gender")),
        Column("birth_date", Customer._meta.get_field("birth_date").verbose_name, _attr("birth_date")),
        Column("company_name", Customer._meta.get_field("company_name").verbose_name, _attr("company_name")),
        Column("industry", Customer._meta.get_field("industry").verbose_name, _attr("industry")),
        Column("source", Customer._meta.get_field("source").verbose_name, _attr("source")),
        Column("email", Customer._meta.get_field("email").verbose_name, _attr("email")),
        Column("phone", Customer._meta.get_field("phone").verbose_name, _attr("phone")),
        Column("address", Customer._meta.get_field("address").verbose_name, _attr("address")),
        Column("region", Customer._meta.get_field("region").verbose_name, _attr("region")),
        Column("city", Customer._meta.get_field("city").verbose_name, _attr("city")),
        Column("country", Customer._meta.get_field("country").verbose_name, _attr("country")),
        Column("id_number", Customer._meta.get_field("id_number").verbose_name, _attr("id_number")),
        Column("lifecycle_stage", Customer._meta.get_field("lifecycle_stage").verbose_name, _attr("lifecycle_stage")),
        Column("owner", Customer._meta.get_field("owner").verbose_name, lambda c: c.owner.username if c.owner else ""),
        Column("tags", Customer._meta.get_field("tags").verbose_name, lambda c: ",".join(t.name for t in c.tags.all())),
        Column("email_opt_in", Customer._meta.get_field("email_opt_in").verbose_name, _attr("email_opt_in")),
        Column("sms_opt_in", Customer._meta.get_field("sms_opt_in").verbose_name, _attr("sms_opt_in")),
        Column("created_at", gettext_lazy("created at"), _attr("created_at")),
        Column("updated_at", gettext_lazy("updated at"), _attr("updated_at")),
    ]
    return columns + _custom_columns("customers.customer", lambda customer: customer)


def _custom_columns(object_type: str, record: Callable[[Any], Any]) -> list[Column]:
    """One column per active custom field of `object_type`, headed by its label (imports map it back);
    `record` picks the object holding `custom` out of an exported row. Field rules speak of `custom`."""
    definitions = CustomFieldDefinition.objects.filter(object_type=object_type, is_active=True)
    return [Column("custom", d.label, _custom_getter(d.key, record)) for d in definitions.order_by("position", "key")]


def _custom_getter(key: str, record: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get(row: Any) -> Any:
        value = (record(row).custom or {}).get(key)
        return ";".join(str(v) for v in value) if isinstance(value, list) else value

    return get


def _contact_columns() -> list[Column]:
    return [
        Column("id", gettext_lazy("id"), _attr("pk")),
        Column("external_id", gettext_lazy("external id"), _attr("external_id")),
        Column("customer", gettext_lazy("customer external id"), lambda c: c.customer.external_id),
        Column("customer", gettext_lazy("customer"), lambda c: c.customer.name),
        Column("name", Contact._meta.get_field("name").verbose_name, _attr("name")),
        Column("title", Contact._meta.get_field("title").verbose_name, _attr("title")),
        Column("email", Contact._meta.get_field("email").verbose_name, _attr("email")),
        Column("phone", Contact._meta.get_field("phone").verbose_name, _attr("phone")),
        Column("is_primary", Contact._meta.get_field("is_primary").verbose_name, _attr("is_primary")),
        *_custom_columns("customers.contact", lambda contact: contact),
    ]


def _order_columns() -> list[Column]:
    def line(name: str) -> Callable[[Any], Any]:
        return lambda pair: getattr(pair[1], name) if pair[1] is not None else ""

    def order(name: str) -> Callable[[Any], Any]:
        return lambda pair: getattr(pair[0], name)

    return [
        Column("number", Order._meta.get_field("number").verbose_name, order("number")),
        Column("customer", gettext_lazy("customer external id"), lambda p: p[0].customer.external_id),
        Column("customer", gettext_lazy("customer"), lambda p: p[0].customer.name),
        Column("ordered_at", Order._meta.get_field("ordered_at").verbose_name, order("ordered_at")),
        Column("channel", Order._meta.get_field("channel").verbose_name, order("channel")),
        Column("status", Order._meta.get_field("status").verbose_name, order("status")),
        Column("currency", Order._meta.get_field("currency").verbose_name, order("currency")),
        Column("total_amount", Order._meta.get_field("total_amount").verbose_name, order("total_amount")),
        Column("refunded_amount", Order._meta.get_field("refunded_amount").verbose_name, order("refunded_amount")),
        Column("lines", gettext_lazy("SKU"), line("sku")),
        Column("lines", gettext_lazy("product"), line("name")),
        Column("lines", gettext_lazy("category"), line("category")),
        Column("lines", gettext_lazy("quantity"), line("quantity")),
        Column("lines", gettext_lazy("unit price"), line("unit_price")),
        # Per order: every line of the order repeats them, as it repeats the order's other columns.
        *_custom_columns("customers.order", lambda pair: pair[0]),
    ]


def _filtered(
    actor: Any, kind: str, filters: Mapping[str, Any] | None, ids: list[int] | None, query: str = ""
) -> QuerySet[Any]:
    model = MODEL_OF[kind]
    qs: QuerySet[Any] = visible_to(actor, "export", model)
    customer_q = None
    if query.strip():
        # The list's search box: the same matches as the list shows (search is itself access-scoped).
        from crm.customers.search import search_queryset

        matches = search_queryset(actor, query).values("pk")
        qs = qs.filter(pk__in=matches) if kind == "customers" else qs.filter(customer__in=matches)
    if filters:
        try:
            filters_module = import_module("crm.customers.filters")
        except ImportError as exc:  # the customers area provides the filter language
            raise ValidationFailed(_("Filters are not available."), errors={"filters": [_("Not supported.")]}) from exc
        customer_q = filters_module.customer_filter_q(dict(filters))
    if kind == "customers":
        qs = qs.filter(is_active=True)
        if customer_q is not None:
            qs = qs.filter(customer_q)
        if ids:
            qs = qs.filter(pk__in=ids)
    else:
        if customer_q is not None:
            qs = qs.filter(customer__in=Customer.objects.filter(customer_q).values("pk"))
        if ids:
            qs = qs.filter(customer_id__in=ids)
    return qs.order_by("pk")


def plan(
    actor: Any,
    kind: str,
    filters: Mapping[str, Any] | None = None,
    ids: list[int] | None = None,
    query: str = "",
) -> tuple[list[Column], QuerySet[Any]]:
    """The columns this actor may see and the rows they may export."""
    if kind not in MODEL_OF:
        raise ValidationFailed(
            _("Unknown export."), errors={"kind": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(MODEL_OF)}]}
        )
    model = MODEL_OF[kind]
    if not has_verb(actor, "export", model):
        raise Forbidden(_("You may not export %(kind)s.") % {"kind": ImportKind(kind).label})
    policy = field_policy(actor, model)
    columns = {"customers": _customer_columns, "contacts": _contact_columns, "orders": _order_columns}[kind]()
    visible = [c for c in columns if policy.can_read(c.key)]
    return visible, _filtered(actor, kind, filters, ids, query)


def _records(kind: str, qs: QuerySet[Any]) -> Iterator[Any]:
    if kind == "customers":
        yield from qs.select_related("owner").prefetch_related("tags").iterator(chunk_size=CHUNK)
    elif kind == "contacts":
        yield from qs.select_related("customer").iterator(chunk_size=CHUNK)
    else:
        orders = qs.select_related("customer").prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))
        )
        for order in orders.iterator(chunk_size=CHUNK):
            lines = list(order.lines.all())
            if not lines:
                yield (order, None)
            for line in lines:
                yield (order, line)


def rows(kind: str, columns: list[Column], qs: QuerySet[Any]) -> Iterator[list[Any]]:
    for record in _records(kind, qs):
        yield [safe_cell(column.get(record)) for column in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


class Counter:
    def __init__(self) -> None:
        self.rows = 0


def stream_csv(header: list[str], body: Iterator[list[Any]], counter: Counter) -> Iterator[bytes]:
    """UTF-8 with BOM so Excel opens Chinese text correctly; one chunk per ~500 rows."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow(header).encode("utf-8")
    buffer = io.StringIO()
    chunk_writer = csv.writer(buffer)
    for row in body:
        chunk_writer.writerow([_csv_text(v) for v in row])
        counter.rows += 1
        if counter.rows % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def _csv_text(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return value


def write_xlsx(header: list[str], body: Iterator[list[Any]], target: Path, counter: Counter) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in body:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            cells.append(cell)
        sheet.append(cells)
        counter.rows += 1
    book.save(target)


def audit_export(
    actor: Any, kind: str, file_format: str, filters: Mapping[str, Any] | None, count: int, job: ExportJob | None = None
) -> None:
    with transaction.atomic():
        record_audit(
            actor=actor,
            verb="export",
            obj=job,
            object_type="" if job else MODEL_OF[kind]._meta.label_lower,
            extra={"kind": kind, "format": file_format, "filters": dict(filters or {}), "rows": count},
        )


def export_to_file(job: ExportJob, *, actor: Any, ids: list[int] | None = None) -> ExportJob:
    """Run an export job into a file under the data directory (API and background use)."""
    columns, qs = plan(actor, job.kind, job.filters, ids)
    header = [str(c.label) for c in columns]
    folder = engine.media_path("exports")
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"exports/export-{job.pk}-{job.kind}.{job.file_format}"
    target = engine.media_path(relative)
    counter = Counter()
    if job.file_format == "xlsx":
        write_xlsx(header, rows(job.kind, columns, qs), target, counter)
    else:
        with target.open("wb") as out:
            for chunk in stream_csv(header, rows(job.kind, columns, qs), counter):
                out.write(chunk)
    job.row_count = counter.rows
    job.file_path = relative
    job.status = JobStatus.SUCCEEDED
    job.finished_at = timezone.now()
    job.save(update_fields=["row_count", "file_path", "status", "finished_at"])
    audit_export(actor, job.kind, job.file_format, job.filters, counter.rows, job)
    return job


def create_export_job(*, actor: Any, kind: str, file_format: str, filters: Mapping[str, Any] | None) -> ExportJob:
    if file_format not in FORMATS:
        raise ValidationFailed(_("Unknown format."), errors={"format": [_("Choose csv or xlsx.")]})
    plan(actor, kind, filters)  # checks permission and filters before anything is stored
    job = ExportJob.objects.create(
        kind=kind, file_format=file_format, filters=dict(filters or {}), created_by=actor, status=JobStatus.RUNNING
    )
    return export_to_file(job, actor=actor)


def temporary_xlsx() -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115 — streamed, then removed
    handle.close()
    return Path(handle.name)
