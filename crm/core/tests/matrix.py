"""How the permission matrix reaches core's models over HTTP (see crm/testing/matrix.py)."""

from __future__ import annotations

from typing import Any

from crm.core.audit import record_audit
from crm.core.models import AuditEntry
from crm.testing import matrix


def make_audit_entry(owner: Any) -> AuditEntry:
    return record_audit(actor=owner, verb="change", object_type="matrix.thing", object_id=str(owner.pk))


def _shown_on_page(response: Any, entry: Any) -> bool:
    return f'data-seq="{entry.seq}"'.encode() in response.content


def _in_export(response: Any, entry: Any) -> bool:
    text = b"".join(response.streaming_content).decode("utf-8")
    return any(line.split(",", 1)[0] == str(entry.seq) for line in text.splitlines()[1:])


matrix.register(
    matrix.Reach(
        "core.auditentry",
        make=make_audit_entry,
        probes={
            "view": [
                matrix.api_detail("/api/v1/audit-log/{obj.seq}"),
                matrix.api_list(
                    "/api/v1/audit-log?object_type=matrix.thing&object_id={obj.object_id}",
                    matches=lambda row, obj: row.get("seq") == obj.seq,
                ),
                matrix.page("/audit/?object_id={obj.object_id}", contains=_shown_on_page),
            ],
            "export": [matrix.page("/audit/export.csv?object_id={obj.object_id}", contains=_in_export)],
        },
    )
)
