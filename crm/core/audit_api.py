"""`/api/v1/audit-log`: the audit trail, read-only, for administrators (cursor pagination)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from crm.core import access
from crm.core.api import Page, paginate
from crm.core.audit_log import AuditFilters, list_audit_entries
from crm.core.errors import NotFound
from crm.core.models import AuditEntry

router = Router(tags=["audit"])


class AuditEntryOut(Schema):
    seq: int
    occurred_at: datetime
    actor_id: int | None
    actor_label: str
    channel: str
    request_id: str
    ip: str | None
    verb: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any]
    extra: dict[str, Any]
    prev_hash: str
    hash: str


class AuditQuery(Schema):
    actor: str = ""
    verb: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    cursor: str | None = None
    limit: int = 50


@router.get("/audit-log", response=Page[AuditEntryOut], summary="Audit trail (administrators)")
def audit_log(request: HttpRequest, query: Query[AuditQuery]) -> Page[AuditEntryOut]:
    if not access.has_verb(request.user, "view", AuditEntry):
        raise NotFound()
    filters = AuditFilters(
        actor=query.actor,
        verb=query.verb,
        object_type=query.object_type,
        object_id=query.object_id,
        date_from=query.date_from,
        date_to=query.date_to,
    )
    rows, next_cursor = paginate(
        list_audit_entries(request.user, filters), cursor=query.cursor, limit=query.limit, ordering=["-seq"]
    )
    return Page[AuditEntryOut](items=[AuditEntryOut.from_orm(row) for row in rows], next_cursor=next_cursor)


@router.get("/audit-log/{seq}", response=AuditEntryOut, summary="One audit entry (administrators)")
def audit_entry(request: HttpRequest, seq: int) -> AuditEntryOut:
    entry = access.visible_to(request.user, "view", AuditEntry).filter(seq=seq).first()
    if entry is None:
        raise NotFound()
    return AuditEntryOut.from_orm(entry)


ROUTERS = [("", router)]
