"""The segment builder's form: rows of (field, operator, value) or a JSON definition → a filter definition."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from crm.core.errors import ValidationFailed

NO_VALUE_OPS = {"is_set", "is_empty", "has_open", "has_none_open"}
ROW = re.compile(r"^field_(\d+)$")


def _pairs(text: str) -> dict[str, str]:
    """ "category=茶叶; days=90" → {"category": "茶叶", "days": "90"} (also accepts "," and "，" between pairs)."""
    result: dict[str, str] = {}
    for part in re.split(r"[;；,，]", text):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, sep, value = part.partition("：") if "：" in part else part.partition(":")
        if not sep:
            raise ValueError(_("Write key=value pairs, e.g. category=Tea; days=90."))
        result[key.strip()] = value.strip()
    return result


def row_indexes(data: Mapping[str, Any]) -> list[int]:
    return sorted({int(m.group(1)) for key in data if (m := ROW.match(key))})


def definition_from_form(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The definition, and for each of its conditions the form row it came from (to place errors)."""
    raw = str(data.get("definition_json") or "").strip()
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise ValidationFailed(
                _("Some fields are not valid."), errors={"definition_json": [_("The filter is not valid JSON.")]}
            ) from exc
        if not isinstance(parsed, dict):
            raise ValidationFailed(
                _("Some fields are not valid."), errors={"definition_json": [_("Send a JSON object.")]}
            )
        return parsed, []
    conditions: list[dict[str, Any]] = []
    rows: list[int] = []
    errors: dict[str, list[str]] = {}
    for i in row_indexes(data):
        field = str(data.get(f"field_{i}") or "").strip()
        if not field:
            continue
        op = str(data.get(f"op_{i}") or "eq").strip()
        text = str(data.get(f"value_{i}") or "").strip()
        value: Any = text
        if op in NO_VALUE_OPS:
            value = None
        elif field in {"purchase", "need"}:
            try:
                value = _pairs(text)
            except ValueError as exc:
                errors[f"value_{i}"] = [str(exc)]
                continue
        conditions.append({"field": field, "op": op, "value": value})
        rows.append(i)
    if errors:
        raise ValidationFailed(_("Some fields are not valid."), errors=errors)
    match = "any" if data.get("match") == "any" else "all"
    return {"match": match, "conditions": conditions}, rows


def form_errors(exc: ValidationFailed, rows: list[int]) -> dict[str, list[str]]:
    """Errors keyed by form input name: "definition.conditions.2.value" → "value_<row of condition 2>"."""
    result: dict[str, list[str]] = {}
    for key, messages in exc.errors.items():
        match = re.match(r"^definition\.conditions\.(\d+)\.(field|op|value)$", key)
        if match and int(match.group(1)) < len(rows):
            name = f"{match.group(2)}_{rows[int(match.group(1))]}"
        elif key.startswith("definition") and not rows:
            name = "definition_json"
        else:
            name = key
        result.setdefault(name, []).extend(messages)
    return result


def rows_from_definition(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Form rows for a stored definition (flat groups only; nested ones are edited as JSON)."""
    rows = []
    for cond in definition.get("conditions", []):
        if "conditions" in cond:
            return []
        value = cond.get("value")
        if isinstance(value, dict):
            text = "; ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        rows.append({"field": cond.get("field", ""), "op": cond.get("op", "eq"), "value": text})
    return rows


def is_flat(definition: Mapping[str, Any]) -> bool:
    return all("conditions" not in cond for cond in definition.get("conditions", []))
