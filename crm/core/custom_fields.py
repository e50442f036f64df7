"""Custom fields any model can carry: definitions per object type, values validated into JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from crm.core.errors import ValidationFailed
from crm.core.models import CustomFieldDefinition


def definitions_for(object_type: str) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(object_type=object_type, is_active=True))


def coerce_value(definition: CustomFieldDefinition, raw: Any) -> Any:
    """The JSON value to store for `raw`, or ValueError with a user-facing message."""
    if raw is None or raw == "" or raw == []:
        if definition.required:
            raise ValueError(_("This field is required."))
        return None
    kind = definition.field_type
    if kind == CustomFieldDefinition.TEXT:
        text = str(raw).strip()
        if len(text) > 2000:
            raise ValueError(_("Use at most %(n)s characters.") % {"n": 2000})
        return text
    if kind == CustomFieldDefinition.NUMBER:
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise ValueError(_("Enter a number.")) from exc
        if not number.is_finite():
            raise ValueError(_("Enter a number."))
        return float(number) if number != number.to_integral_value() else int(number)
    if kind == CustomFieldDefinition.DATE:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip()[:10]).isoformat()
        except ValueError as exc:
            raise ValueError(_("Enter a valid date (YYYY-MM-DD).")) from exc
    if kind == CustomFieldDefinition.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "是", "对", "真"}:
            return True
        if text in {"0", "false", "no", "n", "否", "不", "假"}:
            return False
        raise ValueError(_("Enter yes or no."))
    allowed = [str(c) for c in definition.choices]
    if kind == CustomFieldDefinition.CHOICE:
        value = str(raw).strip()
        if value not in allowed:
            raise ValueError(
                _("Unknown choice %(value)s; choose one of: %(choices)s.")
                % {"value": value, "choices": ", ".join(allowed)}
            )
        return value
    if kind == CustomFieldDefinition.MULTI_CHOICE:
        items = (
            raw if isinstance(raw, (list, tuple)) else list(str(raw).replace("；", ";").replace(",", ";").split(";"))
        )
        values = [str(i).strip() for i in items if str(i).strip()]
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ValueError(
                _("Unknown choice %(value)s; choose from: %(choices)s.")
                % {"value": ", ".join(unknown), "choices": ", ".join(allowed)}
            )
        return values
    raise ValueError(_("Unsupported field type."))


def clean_custom_values(
    object_type: str,
    data: Mapping[str, Any],
    *,
    existing: Mapping[str, Any] | None = None,
    definitions: list[CustomFieldDefinition] | None = None,
    partial: bool = False,
    prefix: str = "custom.",
) -> dict[str, Any]:
    """Validate `data` against the active definitions; returns the merged JSON or raises ValidationFailed."""
    defs = {d.key: d for d in (definitions if definitions is not None else definitions_for(object_type))}
    result = dict(existing or {})
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in defs:
            errors[f"{prefix}{key}"] = [_("Unknown custom field.")]
    for key, definition in defs.items():
        if key not in data:
            if not partial and definition.required and result.get(key) in (None, "", []):
                errors[f"{prefix}{key}"] = [_("This field is required.")]
            continue
        try:
            value = coerce_value(definition, data[key])
        except ValueError as exc:
            errors[f"{prefix}{key}"] = [str(exc)]
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if errors:
        raise ValidationFailed(_("Some custom fields are not valid."), errors=errors)
    return result
