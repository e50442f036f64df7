"""Writes of segments: create, change, delete, and static-list membership. Audited, atomic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.access import has_verb, visible_to
from crm.core.audit import diff, record_audit, snapshot
from crm.core.errors import Forbidden, ValidationFailed, check_version
from crm.customers.choices import SegmentKind
from crm.customers.filters import validate_definition
from crm.customers.models import Customer, Segment, SegmentMember

AUDITED_FIELDS = ("name", "kind", "definition", "description")
MAX_MEMBERS_PER_CALL = 10_000


def clean_segment_data(data: Mapping[str, Any], *, instance: Segment | None = None) -> dict[str, Any]:
    """Validated name, kind, description and definition; ValidationFailed names every bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if "name" in data or instance is None:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = [_("This field is required.")]
        elif len(name) > 100:
            errors["name"] = [_("Use at most %(n)s characters.") % {"n": 100}]
        cleaned["name"] = name
    if "description" in data:
        description = str(data.get("description") or "").strip()
        if len(description) > 300:
            errors["description"] = [_("Use at most %(n)s characters.") % {"n": 300}]
        cleaned["description"] = description
    kind = str(data.get("kind") or (instance.kind if instance else SegmentKind.DYNAMIC))
    if kind not in SegmentKind.values:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(SegmentKind.values)}]
    elif instance is not None and kind != instance.kind:
        errors["kind"] = [_("A segment's kind cannot be changed; create a new segment instead.")]
    cleaned["kind"] = kind
    if "definition" in data or instance is None:
        definition = data.get("definition")
        if kind == SegmentKind.STATIC:
            if definition not in (None, {}, {"match": "all", "conditions": []}):
                errors["definition"] = [_("A static list has members, not a filter.")]
            cleaned["definition"] = {}
        else:
            try:
                cleaned["definition"] = validate_definition(definition)
            except ValidationFailed as exc:
                for field, messages in exc.errors.items():
                    errors[f"definition.{field}" if field != "definition" else field] = messages
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), errors=errors)
    return cleaned


def create_segment(*, actor: Any, data: Mapping[str, Any]) -> Segment:
    if not has_verb(actor, "create", Segment):
        raise Forbidden(_("You may not create segments."))
    cleaned = clean_segment_data(data)
    with transaction.atomic():
        segment = Segment.objects.create(owner=actor, **cleaned)
        record_audit(actor=actor, verb="create", obj=segment, changes=diff({}, snapshot(segment, AUDITED_FIELDS)))
    return segment


def update_segment(segment: Segment, *, actor: Any, data: Mapping[str, Any], expected_version: int | None) -> Segment:
    cleaned = clean_segment_data(data, instance=segment)
    cleaned.pop("kind", None)
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        check_version(locked.version, expected_version)
        before = snapshot(locked, AUDITED_FIELDS)
        for field, value in cleaned.items():
            setattr(locked, field, value)
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        changes = diff(before, snapshot(locked, AUDITED_FIELDS))
        record_audit(actor=actor, verb="change", obj=locked, changes=changes)
    return locked


def delete_segment(segment: Segment, *, actor: Any, expected_version: int | None = None) -> None:
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        check_version(locked.version, expected_version)
        record_audit(
            actor=actor,
            verb="delete",
            obj=locked,
            changes=diff(snapshot(locked, AUDITED_FIELDS), {}),
            extra={"members": SegmentMember.objects.filter(segment=locked).count()},
        )
        locked.delete()


def _member_ids(actor: Any, customer_ids: Iterable[Any]) -> list[int]:
    try:
        ids = sorted({int(c) for c in customer_ids})
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            _("Some fields are not valid."), errors={"customer_ids": [_("Send a list of customer ids.")]}
        ) from exc
    if not ids:
        raise ValidationFailed(_("Some fields are not valid."), errors={"customer_ids": [_("This field is required.")]})
    if len(ids) > MAX_MEMBERS_PER_CALL:
        raise ValidationFailed(
            _("Some fields are not valid."),
            errors={"customer_ids": [_("Send at most %(n)s ids at a time.") % {"n": MAX_MEMBERS_PER_CALL}]},
        )
    visible = set(visible_to(actor, "view", Customer).filter(pk__in=ids).values_list("pk", flat=True))
    unknown = [i for i in ids if i not in visible]
    if unknown:
        shown = ", ".join(str(i) for i in unknown[:10])
        raise ValidationFailed(
            _("Some fields are not valid."),
            errors={"customer_ids": [_("No such customer, or you may not see it: %(ids)s.") % {"ids": shown}]},
        )
    return ids


def _static(segment: Segment) -> None:
    if segment.kind != SegmentKind.STATIC:
        raise ValidationFailed(
            _("Only a static list has members you add by hand."),
            errors={"kind": [_("This segment is a saved filter; change its filter instead.")]},
        )


def add_members(segment: Segment, customer_ids: Iterable[Any], *, actor: Any) -> int:
    """Add customers the actor may see to a static list; returns how many were new."""
    _static(segment)
    ids = _member_ids(actor, customer_ids)
    with transaction.atomic():
        existing = set(
            SegmentMember.objects.filter(segment=segment, customer_id__in=ids).values_list("customer_id", flat=True)
        )
        new = [SegmentMember(segment=segment, customer_id=i) for i in ids if i not in existing]
        SegmentMember.objects.bulk_create(new, ignore_conflicts=True)
        Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
        record_audit(actor=actor, verb="change", obj=segment, extra={"members_added": [m.customer_id for m in new]})
    return len(new)


def remove_members(segment: Segment, customer_ids: Iterable[Any], *, actor: Any) -> int:
    _static(segment)
    ids = _member_ids(actor, customer_ids)
    with transaction.atomic():
        removed, _detail = SegmentMember.objects.filter(segment=segment, customer_id__in=ids).delete()
        Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
        record_audit(actor=actor, verb="change", obj=segment, extra={"members_removed": ids, "removed": removed})
    return int(removed)
