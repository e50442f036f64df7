"""Reads of segments. Members are always the customers the reader may see (fail closed)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm.core.access import get_for, visible_to
from crm.core.models import CustomFieldDefinition
from crm.customers import filters
from crm.customers.choices import SegmentKind
from crm.customers.models import Customer, Segment


def segments_for(user: Any, *, query: str = "", kind: str = "") -> QuerySet[Segment]:
    qs = visible_to(user, "view", Segment).select_related("owner")
    if query:
        qs = qs.filter(name__icontains=query)
    if kind in SegmentKind.values:
        qs = qs.filter(kind=kind)
    return qs


def get_segment_for(user: Any, segment_id: Any, *, verb: str = "view") -> Segment:
    return get_for(user, verb, Segment, segment_id)


def members_of(user: Any, segment: Segment) -> QuerySet[Customer]:
    """The segment's customers that `user` may see: the saved filter, or the static list."""
    visible = visible_to(user, "view", Customer).filter(is_active=True)
    if segment.kind == SegmentKind.STATIC:
        return visible.filter(static_segments=segment)
    return visible.filter(filters.customer_filter_q(segment.definition))


def preview(user: Any, definition: Any, *, sample: int = 10) -> tuple[int, list[Customer]]:
    """Live count and a few example customers for a filter being edited (validated first)."""
    qs = visible_to(user, "view", Customer).filter(is_active=True).filter(filters.customer_filter_q(definition))
    return qs.count(), list(qs.order_by("-updated_at", "-id")[:sample])


def builder_fields() -> list[dict[str, Any]]:
    """Fields and operators the segment builder offers, custom fields included."""
    fields: list[dict[str, Any]] = []
    for name, spec in filters.FIELDS.items():
        if "__" in name:
            continue
        fields.append(
            {
                "field": name,
                "kind": spec.kind,
                "ops": sorted(filters.OPS_BY_KIND[spec.kind]),
                "choices": list(spec.choices),
            }
        )
    for special in ("tags", "purchase", "need"):
        fields.append({"field": special, "kind": special, "ops": sorted(filters.OPS_BY_KIND[special]), "choices": []})
    for definition in CustomFieldDefinition.objects.filter(object_type=filters.OBJECT_TYPE, is_active=True):
        kind = {
            CustomFieldDefinition.NUMBER: "number",
            CustomFieldDefinition.DATE: "date",
            CustomFieldDefinition.BOOLEAN: "bool",
            CustomFieldDefinition.CHOICE: "choice",
        }.get(definition.field_type, "text")
        ops = filters.OPS_BY_KIND[kind]
        if definition.field_type == CustomFieldDefinition.MULTI_CHOICE:
            ops = {"has_any", "has_all", "has_none", "is_set", "is_empty"}
        fields.append(
            {
                "field": f"custom.{definition.key}",
                "kind": kind,
                "label": definition.label,
                "ops": sorted(ops),
                "choices": [str(c) for c in definition.choices],
            }
        )
    return fields
