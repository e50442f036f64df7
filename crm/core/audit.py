"""The audit trail: one hash-chained, append-only row per audited act."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from crm.core import context
from crm.core.models import AuditEntry

GENESIS_HASH = "0" * 64
MASK = "••••"
# Advisory-lock key that serialises appends to the chain on PostgreSQL ("audit" in ASCII).
_PG_LOCK_KEY = 0x61756469


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    payload = _canonical({"prev": prev_hash, **fields})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "channel": entry.channel,
        "request_id": entry.request_id,
        "ip": entry.ip,
        "verb": entry.verb,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "extra": entry.extra,
    }


def object_type_of(obj: models.Model | type[models.Model]) -> str:
    return obj._meta.label_lower


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    # SQLite: transactions are IMMEDIATE (see settings), so writers are already serialised.


def record_audit(
    *,
    actor: Any,
    verb: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    changes: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row inside the caller's transaction.

    `changes` maps field name to {"before": x, "after": y}; mask personal data before passing it
    (see `diff`). `actor` is a user, or None for the system.
    """
    ctx = context.current()
    if obj is not None:
        object_type = object_type or object_type_of(obj)
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
        prev_hash = last["hash"] if last else GENESIS_HASH
        entry = AuditEntry(
            seq=(last["seq"] + 1) if last else 1,
            occurred_at=timezone.now(),
            actor_id=getattr(actor, "pk", None)
            if actor is not None and getattr(actor, "is_authenticated", False)
            else None,
            actor_label=(getattr(actor, "get_username", lambda: "")() if actor is not None else "")[:150] or "system",
            channel=ctx.channel,
            request_id=ctx.request_id,
            ip=ctx.ip,
            verb=verb,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:200],
            changes=dict(changes or {}),
            extra=dict(extra or {}),
            prev_hash=prev_hash,
        )
        # Round-trip JSON so the hash covers exactly what the database will give back.
        entry.changes = json.loads(_canonical(entry.changes))
        entry.extra = json.loads(_canonical(entry.extra))
        entry.hash = entry_hash(prev_hash, _hashed_fields(entry))
        entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    entry_id: int | None
    reason: str


def verify_chain(entries: Iterable[AuditEntry] | None = None) -> Iterator[ChainBreak]:
    """Walk the chain in order and yield every place where it does not hold."""
    rows = entries if entries is not None else AuditEntry.objects.order_by("seq").iterator(chunk_size=2000)
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for entry in rows:
        if entry.seq != expected_seq:
            yield ChainBreak(entry.seq, entry.pk, f"sequence gap: expected #{expected_seq}, found #{entry.seq}")
        if entry.prev_hash != prev_hash:
            yield ChainBreak(entry.seq, entry.pk, "previous-hash link broken (row removed or reordered)")
        if entry_hash(entry.prev_hash, _hashed_fields(entry)) != entry.hash:
            yield ChainBreak(entry.seq, entry.pk, "content does not match its hash (row modified)")
        prev_hash = entry.hash
        expected_seq = entry.seq + 1


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, masked: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Changed fields as {"field": {"before": b, "after": a}}, personal data replaced by a mask."""
    masked_set = set(masked)
    changes: dict[str, dict[str, Any]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        if field in masked_set:
            changes[field] = {
                "before": MASK if old not in (None, "") else old,
                "after": MASK if new not in (None, "") else new,
            }
        else:
            changes[field] = {"before": old, "after": new}
    return changes


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """JSON-friendly values of `fields` on `obj` (foreign keys by id), for before/after diffs."""
    values: dict[str, Any] = {}
    for name in fields:
        field = obj._meta.get_field(name)
        attname = getattr(field, "attname", name)
        value = getattr(obj, attname)
        values[name] = json.loads(_canonical(value)) if value is not None else None
    return values


# --- named acts ------------------------------------------------------------------------------
# Verbs: create | change | delete | assign | export | import | reveal | merge | login |
# login.failed | lockout | logout | token.create | token.revoke | role.change (a user's role or
# access changed) | permission.change (a role's grants or field rules changed) | keys.rotate |
# audit.export. Keep them short; the object says what was acted on.


def _sensitive_fields_of(obj: models.Model | type[models.Model]) -> tuple[str, ...]:
    from crm.core import access

    model = obj if isinstance(obj, type) else type(obj)
    try:
        return access.spec_for(model).sensitive_fields
    except LookupError:
        return ()


def record_change(
    *,
    actor: Any,
    verb: str,
    obj: models.Model,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Audit a create/change/delete with the changed fields' before/after, personal data masked.

    The model's `sensitive_fields` (from its access registration) are masked automatically::

        before = snapshot(customer, FIELDS); ...; record_change(actor=actor, verb="change",
                 obj=customer, before=before, after=snapshot(customer, FIELDS))
    """
    changes = diff(before or {}, after or {}, masked=_sensitive_fields_of(obj))
    return record_audit(actor=actor, verb=verb, obj=obj, changes=changes, extra=extra)


def record_export(
    *,
    actor: Any,
    model: type[models.Model],
    rows: int,
    fields: Iterable[str],
    file_format: str,
    filters: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Audit an export: what, how many rows, which columns, in which format, with which filters."""
    return record_audit(
        actor=actor,
        verb="export",
        object_type=object_type_of(model),
        extra={"rows": rows, "fields": list(fields), "format": file_format, "filters": dict(filters or {})},
    )


def record_import(
    *,
    actor: Any,
    model: type[models.Model],
    created: int,
    updated: int,
    failed: int,
    job: models.Model | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Audit an import run (one row per run, not per imported record)."""
    return record_audit(
        actor=actor,
        verb="import",
        object_type=object_type_of(model),
        object_id=str(job.pk) if job is not None else "",
        object_repr=str(job)[:200] if job is not None else "",
        extra={"created": created, "updated": updated, "failed": failed, **dict(extra or {})},
    )


def record_reveal(*, actor: Any, obj: models.Model, fields: Iterable[str], reason: str = "") -> AuditEntry:
    """Audit that a masked or hidden value was shown on purpose (the value itself is not logged)."""
    return record_audit(actor=actor, verb="reveal", obj=obj, extra={"fields": sorted(fields), "reason": reason})


def record_permission_change(
    *, actor: Any, role: models.Model, before: Mapping[str, Any], after: Mapping[str, Any]
) -> AuditEntry:
    """Audit a change to a role's grants or field rules, e.g. {"customers.customer:change": "own"}."""
    return record_audit(actor=actor, verb="permission.change", obj=role, changes=diff(before, after))


def record_role_change(
    *, actor: Any, user: models.Model, before: Mapping[str, Any], after: Mapping[str, Any]
) -> AuditEntry:
    """Audit a change to what a user may do: role, team, department, managed team, superuser flag."""
    return record_audit(actor=actor, verb="role.change", obj=user, changes=diff(before, after))


def first_break() -> ChainBreak | None:
    """The first place the chain does not hold, or None when it is intact."""
    return next(verify_chain(), None)
