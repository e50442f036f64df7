"""Customer filter definitions (JSON) → Q: used by the customer list, saved views and segments.

A definition is a group::

    {"match": "all" | "any",
     "conditions": [{"field": "lifecycle_stage", "op": "in", "value": ["customer", "vip"]},
                    {"field": "custom.plan", "op": "eq", "value": "gold"},
                    {"field": "tags", "op": "has_any", "value": ["VIP"]},
                    {"field": "score.rfm_segment", "op": "in", "value": ["champions"]},
                    {"field": "purchase", "op": "bought", "value": {"category": "Tea", "days": 90}},
                    {"match": "any", "conditions": [...]}]}

`validate_definition` returns a cleaned copy or raises ValidationFailed with errors keyed by the
condition's path ("conditions.2.value"); `customer_filter_q` turns a cleaned definition into a Q
over Customer. Encrypted fields (email, phone, id_number) only support exact match (blind index).

Orders speak the same language over their own fields and custom fields (`order_filter_q`, used by
`GET /api/v1/orders?filter=`): `{"field": "custom.source", "op": "eq", "value": "门店"}`,
`{"field": "status", "op": "eq", "value": "paid"}`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.crypto import blind_index
from crm.core.errors import ValidationFailed
from crm.core.models import CustomFieldDefinition
from crm.customers import choices
from crm.customers.models import Customer, Need, OrderLine

OBJECT_TYPE = "customers.customer"
ORDER_OBJECT_TYPE = "customers.order"
MAX_DEPTH = 4
MAX_CONDITIONS = 100


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # text | choice | date | datetime | number | bool | fk | blind
    lookup: str
    choices: tuple[str, ...] = ()
    blind_kind: str = ""


def _choice(lookup: str, enum: Any) -> FieldSpec:
    return FieldSpec("choice", lookup, tuple(str(v) for v in enum.values))


FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec("text", "name"),
    "kind": _choice("kind", choices.CustomerKind),
    "gender": _choice("gender", choices.Gender),
    "birth_date": FieldSpec("date", "birth_date"),
    "company_name": FieldSpec("text", "company_name"),
    "industry": FieldSpec("text", "industry"),
    "source": FieldSpec("text", "source"),
    "region": FieldSpec("text", "region"),
    "city": FieldSpec("text", "city"),
    "country": FieldSpec("text", "country"),
    "lifecycle_stage": _choice("lifecycle_stage", choices.LifecycleStage),
    "owner": FieldSpec("fk", "owner_id"),
    "email_opt_in": FieldSpec("bool", "email_opt_in"),
    "sms_opt_in": FieldSpec("bool", "sms_opt_in"),
    "phone_opt_in": FieldSpec("bool", "phone_opt_in"),
    "external_id": FieldSpec("text", "external_id"),
    "created_at": FieldSpec("datetime", "created_at"),
    "updated_at": FieldSpec("datetime", "updated_at"),
    "email": FieldSpec("blind", "email_bidx", blind_kind="email"),
    "phone": FieldSpec("blind", "phone_bidx", blind_kind="phone"),
    "id_number": FieldSpec("blind", "id_number_bidx", blind_kind="identifier"),
    "score.rfm_segment": _choice("score__rfm_segment", choices.RfmSegment),
    "score.value_tier": _choice("score__value_tier", choices.ValueTier),
    "score.priority_score": FieldSpec("number", "score__priority_score"),
    "score.recency_days": FieldSpec("number", "score__recency_days"),
    "score.frequency": FieldSpec("number", "score__frequency"),
    "score.monetary": FieldSpec("number", "score__monetary"),
    "score.p_alive": FieldSpec("number", "score__p_alive"),
    "score.expected_value_12m": FieldSpec("number", "score__expected_value_12m"),
    "score.last_order_at": FieldSpec("datetime", "score__last_order_at"),
}
# Accept Django-style "score__x" spellings too.
FIELDS.update({name.replace(".", "__"): spec for name, spec in list(FIELDS.items()) if name.startswith("score.")})

ORDER_FIELDS: dict[str, FieldSpec] = {
    "number": FieldSpec("text", "number"),
    "external_id": FieldSpec("text", "external_id"),
    "channel": _choice("channel", choices.OrderChannel),
    "status": _choice("status", choices.OrderStatus),
    "currency": FieldSpec("text", "currency"),
    "total_amount": FieldSpec("number", "total_amount"),
    "refunded_amount": FieldSpec("number", "refunded_amount"),
    "ordered_at": FieldSpec("datetime", "ordered_at"),
    "owner": FieldSpec("fk", "owner_id"),
    "created_at": FieldSpec("datetime", "created_at"),
    "updated_at": FieldSpec("datetime", "updated_at"),
}


@dataclass(frozen=True)
class Language:
    """What one object type's filters may name: its fields, its custom fields, and special conditions."""

    object_type: str
    fields: Mapping[str, FieldSpec]
    specials: frozenset[str] = frozenset()


CUSTOMERS = Language(OBJECT_TYPE, FIELDS, frozenset({"tags", "purchase", "need"}))
ORDERS = Language(ORDER_OBJECT_TYPE, ORDER_FIELDS)

OPS_BY_KIND: dict[str, set[str]] = {
    "text": {"eq", "ne", "in", "not_in", "contains", "startswith", "is_set", "is_empty"},
    "choice": {"eq", "ne", "in", "not_in", "is_set", "is_empty"},
    "number": {"eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_empty"},
    "date": {"eq", "gt", "gte", "lt", "lte", "between", "last_days", "is_set", "is_empty"},
    "datetime": {"gt", "gte", "lt", "lte", "between", "last_days", "is_set", "is_empty"},
    "bool": {"eq"},
    "fk": {"eq", "ne", "in", "not_in", "is_set", "is_empty"},
    "blind": {"eq", "is_set", "is_empty"},
    "tags": {"has_any", "has_all", "has_none"},
    "purchase": {"bought", "not_bought"},
    "need": {"has_open", "has_none_open"},
}
NO_VALUE_OPS = {"is_set", "is_empty", "has_open", "has_none_open"}


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _custom_definitions(object_type: str = OBJECT_TYPE) -> dict[str, CustomFieldDefinition]:
    return {d.key: d for d in CustomFieldDefinition.objects.filter(object_type=object_type, is_active=True)}


class _CustomDefinitions(Mapping[str, CustomFieldDefinition]):
    """The active custom-field definitions, read on first use: most filters name no custom field,
    and the customer list should not pay a query for them on every page."""

    def __init__(self, object_type: str = OBJECT_TYPE) -> None:
        self._object_type = object_type
        self._found: dict[str, CustomFieldDefinition] | None = None

    def _load(self) -> dict[str, CustomFieldDefinition]:
        if self._found is None:
            self._found = _custom_definitions(self._object_type)
        return self._found

    def __getitem__(self, key: str) -> CustomFieldDefinition:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def _custom_kind(definition: CustomFieldDefinition) -> str:
    return {
        CustomFieldDefinition.TEXT: "text",
        CustomFieldDefinition.NUMBER: "number",
        CustomFieldDefinition.DATE: "date",
        CustomFieldDefinition.BOOLEAN: "bool",
        CustomFieldDefinition.CHOICE: "choice",
        CustomFieldDefinition.MULTI_CHOICE: "multi",
    }.get(definition.field_type, "text")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and "," in value:
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValueError(_("Enter a number."))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number.")) from exc
    if not number.is_finite():
        raise ValueError(_("Enter a number."))
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError as exc:
        raise ValueError(_("Enter a valid date (YYYY-MM-DD).")) from exc


def _datetime(value: Any) -> str:
    text = str(value).strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(_("Enter a valid date and time (ISO 8601).")) from exc
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.isoformat()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on", "是"}:
        return True
    if text in {"0", "false", "no", "off", "否"}:
        return False
    raise ValueError(_("Enter true or false."))


def _positive_int(value: Any, *, maximum: int = 36500) -> int:
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ValueError(_("Enter a whole number.")) from exc
    if number < 1 or number > maximum:
        raise ValueError(_("Must be between 1 and %(n)s.") % {"n": maximum})
    return number


def _scalar(kind: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if kind in {"text", "blind"}:
        if isinstance(value, (dict, list)):
            raise ValueError(_("Enter text."))
        return str(value).strip()
    if kind in {"choice", "multi"}:
        text = str(value).strip()
        if allowed and text not in allowed:
            raise ValueError(
                _("Unknown choice %(value)s; choose one of: %(choices)s.")
                % {"value": text, "choices": ", ".join(c or "''" for c in allowed)}
            )
        return text
    if kind == "number":
        return _number(value)
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "bool":
        return _bool(value)
    if kind == "fk":
        return _positive_int(value, maximum=2**62)
    raise ValueError(_("Invalid value."))


def _clean_value(kind: str, op: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if op in NO_VALUE_OPS:
        return None
    if value is None or value == "" or value == []:
        raise ValueError(_("This field is required."))
    if op == "last_days":
        return _positive_int(value)
    if op in {"in", "not_in", "has_any", "has_all", "has_none"}:
        items = _as_list(value)
        return [_scalar(kind, item, allowed) for item in items]
    if op == "between":
        items = _as_list(value)
        if len(items) != 2:
            raise ValueError(_("Give two values: from and to."))
        return [_scalar(kind, items[0], allowed), _scalar(kind, items[1], allowed)]
    return _scalar(kind, value, allowed)


def _clean_purchase(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(_("Give the category or SKU and the number of days."))
    cleaned: dict[str, Any] = {}
    for key in ("category", "sku"):
        if value.get(key):
            cleaned[key] = str(value[key]).strip()
    if value.get("days") not in (None, ""):
        cleaned["days"] = _positive_int(value["days"])
    if value.get("min_count") not in (None, ""):
        cleaned["min_count"] = _positive_int(value["min_count"], maximum=100000)
    unknown = set(value) - {"category", "sku", "days", "min_count"}
    if unknown:
        raise ValueError(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
    return cleaned


def _clean_need(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(_("Send a JSON object."))
    cleaned: dict[str, Any] = {}
    if value.get("type"):
        cleaned["type"] = str(value["type"]).strip()
    if value.get("level"):
        level = str(value["level"]).strip()
        if level not in choices.NeedLevel.values:
            raise ValueError(
                _("Unknown choice %(value)s; choose one of: %(choices)s.")
                % {"value": level, "choices": ", ".join(choices.NeedLevel.values)}
            )
        cleaned["level"] = level
    return cleaned


def _clean_condition(
    cond: Any,
    path: str,
    errors: _Errors,
    custom: Mapping[str, CustomFieldDefinition],
    language: Language = CUSTOMERS,
) -> dict[str, Any] | None:
    if not isinstance(cond, Mapping):
        errors.add(path, _("Send a JSON object."))
        return None
    field = str(cond.get("field") or "").strip()
    op = str(cond.get("op") or "eq").strip()
    if not field:
        errors.add(f"{path}.field", _("This field is required."))
        return None
    kind: str
    allowed: tuple[str, ...] = ()
    if field.startswith("custom."):
        definition = custom.get(field.removeprefix("custom."))
        if definition is None:
            errors.add(f"{path}.field", _("Unknown custom field."))
            return None
        kind = _custom_kind(definition)
        allowed = tuple(str(c) for c in definition.choices)
        ops = {"multi": {"has_any", "has_all", "has_none", "is_set", "is_empty"}}.get(
            kind, OPS_BY_KIND.get(kind, set())
        )
        if kind == "datetime":
            ops = OPS_BY_KIND["date"]
    elif field in language.specials:
        kind = field
        ops = OPS_BY_KIND[field]
    elif field in language.fields:
        spec = language.fields[field]
        kind, allowed = spec.kind, spec.choices
        ops = OPS_BY_KIND[kind]
    else:
        errors.add(f"{path}.field", _("Unknown field %(field)s.") % {"field": field})
        return None
    if op not in ops:
        errors.add(
            f"{path}.op",
            _("Operator %(op)s does not apply to %(field)s; use one of: %(ops)s.")
            % {"op": op, "field": field, "ops": ", ".join(sorted(ops))},
        )
        return None
    try:
        if kind == "purchase":
            value: Any = _clean_purchase(cond.get("value"))
        elif kind == "need":
            value = _clean_need(cond.get("value"))
        elif kind == "tags":
            value = [str(v).strip() for v in _as_list(cond.get("value")) if str(v).strip()]
            if not value:
                raise ValueError(_("This field is required."))
        else:
            value = _clean_value(kind, op, cond.get("value"), allowed)
    except ValueError as exc:
        errors.add(f"{path}.value", str(exc))
        return None
    return {"field": field, "op": op, "value": value}


def _clean_group(
    group: Any,
    path: str,
    errors: _Errors,
    custom: Mapping[str, CustomFieldDefinition],
    depth: int,
    language: Language = CUSTOMERS,
) -> Any:
    if not isinstance(group, Mapping):
        errors.add(path or "definition", _("Send a JSON object."))
        return None
    if depth > MAX_DEPTH:
        errors.add(path or "definition", _("Groups are nested too deeply."))
        return None
    match = str(group.get("match") or "all")
    if match not in {"all", "any"}:
        errors.add(f"{path}match".lstrip("."), _("Choose one of: %(choices)s.") % {"choices": "all, any"})
    raw_conditions = group.get("conditions", [])
    if not isinstance(raw_conditions, list):
        errors.add(f"{path}conditions", _("Send a list."))
        return None
    if len(raw_conditions) > MAX_CONDITIONS:
        errors.add(f"{path}conditions", _("Use at most %(n)s conditions.") % {"n": MAX_CONDITIONS})
        return None
    cleaned = []
    for index, cond in enumerate(raw_conditions):
        cond_path = f"{path}conditions.{index}"
        if isinstance(cond, Mapping) and "conditions" in cond:
            sub = _clean_group(cond, f"{cond_path}.", errors, custom, depth + 1, language)
        else:
            sub = _clean_condition(cond, cond_path, errors, custom, language)
        if sub is not None:
            cleaned.append(sub)
    return {"match": match, "conditions": cleaned}


def validate_definition(definition: Any) -> dict[str, Any]:
    """A cleaned copy of `definition`, or ValidationFailed with field-level errors."""
    return _validate(definition, _CustomDefinitions())


def _validate(
    definition: Any, custom: Mapping[str, CustomFieldDefinition], language: Language = CUSTOMERS
) -> dict[str, Any]:
    if definition in (None, {}):
        return {"match": "all", "conditions": []}
    errors = _Errors()
    cleaned = _clean_group(definition, "", errors, custom, 1, language)
    if errors.errors:
        raise ValidationFailed(_("The filter is not valid."), errors=errors.errors)
    return dict(cleaned)


# --- definition → Q ----------------------------------------------------------------------------


def _since(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def _op_q(lookup: str, op: str, value: Any, *, kind: str = "") -> Q:
    if op == "eq":
        return Q(**{lookup: value})
    if op == "ne":
        return ~Q(**{lookup: value})
    if op == "in":
        return Q(**{f"{lookup}__in": value})
    if op == "not_in":
        return ~Q(**{f"{lookup}__in": value})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    if op == "startswith":
        return Q(**{f"{lookup}__istartswith": value})
    if op in {"gt", "gte", "lt", "lte"}:
        return Q(**{f"{lookup}__{op}": value})
    if op == "between":
        return Q(**{f"{lookup}__gte": value[0], f"{lookup}__lte": value[1]})
    if op == "last_days":
        if kind == "date":
            return Q(**{f"{lookup}__gte": (timezone.localdate() - dt.timedelta(days=value)).isoformat()})
        return Q(**{f"{lookup}__gte": _since(value)})
    if op == "is_set":
        if kind in {"text", "choice", "blind"}:
            return Q(**{f"{lookup}__isnull": False}) & ~Q(**{lookup: ""})
        return Q(**{f"{lookup}__isnull": False})
    if op == "is_empty":
        if kind in {"text", "choice", "blind"}:
            return Q(**{f"{lookup}__isnull": True}) | Q(**{lookup: ""})
        return Q(**{f"{lookup}__isnull": True})
    raise ValueError(op)


def _member_q(lookup: str, value: str) -> Q:
    """A JSON list at `lookup` holds the string `value`, on SQLite too (no JSON containment there).

    The list's text is searched for the quoted value. Django stores JSON with non-ASCII escaped
    ("\\u95e8") while imports write it as is; PostgreSQL's jsonb prints it unescaped either way, so
    both spellings are tried (for ASCII values they are the same).
    """
    plain, escaped = f'"{value}"', json.dumps(value)
    q = Q(**{f"{lookup}__icontains": plain})
    return q if escaped == plain else q | Q(**{f"{lookup}__icontains": escaped})


def _custom_q(key: str, op: str, value: Any, definition: CustomFieldDefinition | None) -> Q:
    lookup = f"custom__{key}"
    kind = _custom_kind(definition) if definition else "text"
    if kind == "multi":
        if op in {"is_set", "is_empty"}:
            q = Q(**{f"{lookup}__isnull": False})
            return q if op == "is_set" else ~q
        parts = [_member_q(lookup, v) for v in value]
        if op == "has_all":
            return _combine(parts, "all")
        if op == "has_none":
            return ~_combine(parts, "any") if parts else Q()
        return _combine(parts, "any")
    if op in {"is_set", "is_empty"}:
        q = Q(**{f"{lookup}__isnull": False})
        return q if op == "is_set" else ~q
    if kind == "date" and op == "last_days":
        return Q(**{f"{lookup}__gte": (timezone.localdate() - dt.timedelta(days=value)).isoformat()})
    return _op_q(lookup, op, value, kind=kind)


def _tags_q(op: str, names: list[str]) -> Q:
    ids = [int(v) for v in names if v.isdigit()]
    labels = [v for v in names if not v.isdigit()]

    def one(name: str | int) -> Q:
        if isinstance(name, int):
            return Q(Exists(Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag_id=name)))
        return Q(Exists(Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag__name=name)))

    parts = [one(i) for i in ids] + [one(n) for n in labels]
    if op == "has_all":
        return _combine(parts, "all")
    if op == "has_none":
        return ~_combine(parts, "any")
    return _combine(parts, "any")


def _purchase_q(op: str, value: Mapping[str, Any]) -> Q:
    lines = OrderLine.objects.filter(order__customer_id=OuterRef("pk")).exclude(order__status="cancelled")
    if value.get("category"):
        lines = lines.filter(category=value["category"])
    if value.get("sku"):
        lines = lines.filter(sku=value["sku"])
    if value.get("days"):
        lines = lines.filter(order__ordered_at__gte=_since(value["days"]))
    min_count = value.get("min_count", 1)
    if min_count > 1:
        from django.db.models import Count, Subquery

        counted = (
            lines.order_by()
            .values("order__customer_id")
            .annotate(n=Count("order_id", distinct=True))
            .filter(n__gte=min_count)
            .values("order__customer_id")
        )
        q = Q(pk__in=Subquery(counted))
    else:
        q = Q(Exists(lines))
    return q if op == "bought" else ~q


def _need_q(op: str, value: Mapping[str, Any]) -> Q:
    needs = Need.objects.filter(
        customer_id=OuterRef("pk"), status__in=[choices.NeedStatus.OPEN, choices.NeedStatus.IN_PROGRESS]
    )
    if value.get("type"):
        needs = needs.filter(need_type__code=value["type"])
    if value.get("level"):
        needs = needs.filter(level=value["level"])
    q = Q(Exists(needs))
    return q if op == "has_open" else ~q


def _combine(parts: list[Q], match: str) -> Q:
    result = Q()
    for part in parts:
        result = (result & part) if match == "all" else (result | part)
    return result


def _condition_q(
    cond: Mapping[str, Any], custom: Mapping[str, CustomFieldDefinition], language: Language = CUSTOMERS
) -> Q:
    field, op, value = cond["field"], cond["op"], cond["value"]
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        return _custom_q(key, op, value, custom.get(key))
    if field == "tags":
        return _tags_q(op, value)
    if field == "purchase":
        return _purchase_q(op, value)
    if field == "need":
        return _need_q(op, value)
    spec = language.fields[field]
    if spec.kind == "blind" and op == "eq":
        try:
            return Q(**{spec.lookup: blind_index(spec.blind_kind, value)})
        except ValueError:
            return Q(pk__in=[])
    return _op_q(spec.lookup, op, value, kind=spec.kind)


def _group_q(
    group: Mapping[str, Any], custom: Mapping[str, CustomFieldDefinition], language: Language = CUSTOMERS
) -> Q:
    parts = [
        _group_q(c, custom, language) if "conditions" in c else _condition_q(c, custom, language)
        for c in group.get("conditions", [])
    ]
    return _combine(parts, group.get("match", "all"))


def customer_filter_q(definition: Mapping[str, Any] | None) -> Q:
    """The Q over Customer for a definition (validated here, so callers may pass raw input)."""
    custom = _CustomDefinitions()  # validation and the Q share one read, made only if needed
    return _group_q(_validate(definition, custom), custom)


def order_filter_q(definition: Mapping[str, Any] | None) -> Q:
    """The Q over Order for a definition naming order fields and order custom fields (validated here)."""
    custom = _CustomDefinitions(ORDER_OBJECT_TYPE)
    return _group_q(_validate(definition, custom, ORDERS), custom, ORDERS)


def _one_or_many(field: str, raw: str) -> dict[str, Any]:
    # One value compares with "=", which lets PostgreSQL walk the (field, updated_at) index in order.
    values = [v for v in raw.split(",") if v]
    if len(values) == 1:
        return {"field": field, "op": "eq", "value": values[0]}
    return {"field": field, "op": "in", "value": values}


# Simple "?field=value" forms used by the list page: field name → op.
SIMPLE_PARAMS: dict[str, Callable[[str], dict[str, Any]]] = {
    "lifecycle_stage": lambda v: _one_or_many("lifecycle_stage", v),
    "kind": lambda v: {"field": "kind", "op": "eq", "value": v},
    "owner": lambda v: {"field": "owner", "op": "eq", "value": v},
    "region": lambda v: {"field": "region", "op": "eq", "value": v},
    "city": lambda v: {"field": "city", "op": "eq", "value": v},
    "industry": lambda v: {"field": "industry", "op": "eq", "value": v},
    "source": lambda v: {"field": "source", "op": "eq", "value": v},
    "tag": lambda v: {"field": "tags", "op": "has_any", "value": v.split(",")},
    "rfm_segment": lambda v: _one_or_many("score.rfm_segment", v),
    "value_tier": lambda v: _one_or_many("score.value_tier", v),
    "created_after": lambda v: {"field": "created_at", "op": "gte", "value": v},
    "created_before": lambda v: {"field": "created_at", "op": "lte", "value": v},
    "updated_after": lambda v: {"field": "updated_at", "op": "gte", "value": v},
    "bought_category": lambda v: {"field": "purchase", "op": "bought", "value": {"category": v}},
}


def definition_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A definition from simple query parameters (?lifecycle_stage=vip&city=上海&bought_days=90)."""
    conditions: list[dict[str, Any]] = []
    for name, make in SIMPLE_PARAMS.items():
        raw = params.get(name)
        if raw not in (None, ""):
            cond = make(str(raw))
            if name == "bought_category" and params.get("bought_days"):
                cond["value"]["days"] = params.get("bought_days")
            conditions.append(cond)
    return {"match": "all", "conditions": conditions}
