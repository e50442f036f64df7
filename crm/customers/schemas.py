"""API shapes: lenient input schemas (services do the real validation) and output serialisers.

Inputs forbid unknown fields and keep types loose (text for dates and amounts) so the service
can answer every problem with a field-level message in the user's language. Outputs drop the
fields a role may not read (access.field_policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from ninja import Schema
from pydantic import ConfigDict

from crm.core.access import FieldPolicy
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.customers.models import (
    Contact,
    Customer,
    CustomerChannel,
    Need,
    NeedType,
    Order,
    Product,
    Refund,
)
from crm.customers.selectors import (
    CHANNEL_FIELDS,
    CONTACT_FIELDS,
    CUSTOMER_DETAIL_FIELDS,
    CUSTOMER_LIST_FIELDS,
    EVENT_FIELDS,
    NEED_FIELDS,
    ORDER_FIELDS,
    ORDER_LINE_FIELDS,
    OWNER_FIELDS,
    SCORE_FIELDS,
)
from crm.identity.models import USER_LABEL_FIELDS, user_label

Scalar = str | int | float | bool | None


class _In(Schema):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    name: str | None = None
    kind: str | None = None
    gender: str | None = None
    birth_date: str | None = None
    company_name: str | None = None
    industry: str | None = None
    source: str | None = None
    region: str | None = None
    city: str | None = None
    country: str | None = None
    lifecycle_stage: str | None = None
    owner: int | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    id_number: str | None = None
    email_opt_in: bool | None = None
    sms_opt_in: bool | None = None
    phone_opt_in: bool | None = None
    external_id: str | None = None
    custom: dict[str, Any] | None = None
    tags: list[str] | None = None
    version: int | None = None


class ContactIn(_In):
    customer_id: int | None = None
    name: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    is_primary: bool | None = None
    external_id: str | None = None
    custom: dict[str, Any] | None = None
    version: int | None = None


class ChannelIn(_In):
    kind: str
    value: str
    label: str = ""


class NoteIn(_In):
    text: str


class NeedIn(_In):
    customer_id: int | None = None
    need_type: str | int | None = None
    level: str | None = None
    status: str | None = None
    title: str | None = None
    description: str | None = None
    raised_at: str | None = None
    needed_by: str | None = None
    owner: int | None = None
    custom: dict[str, Any] | None = None
    version: int | None = None


class ConvertIn(_In):
    target: str
    version: int | None = None


class NeedTypeIn(_In):
    code: str | None = None
    name: str | None = None
    name_en: str | None = None
    is_active: bool | None = None


class ProductIn(_In):
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    list_price: str | float | int | None = None
    currency: str | None = None
    is_active: bool | None = None
    version: int | None = None


class OrderLineIn(_In):
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    quantity: str | float | int | None = None
    unit_price: str | float | int | None = None


class OrderIn(_In):
    customer_id: int
    number: str | None = None
    ordered_at: str | None = None
    channel: str | None = None
    status: str | None = None
    currency: str | None = None
    total_amount: str | float | int | None = None
    external_id: str | None = None
    owner: int | None = None
    lines: list[OrderLineIn] = []
    custom: dict[str, Any] | None = None


class OrderUpdateIn(_In):
    """Only the custom values change this way: amounts move through refunds and cancels."""

    custom: dict[str, Any] | None = None
    version: int | None = None


class BulkOrdersIn(_In):
    orders: list[dict[str, Any]]


class RefundIn(_In):
    amount: str | float | int
    reason: str = ""
    refunded_at: str | None = None


class VersionIn(_In):
    version: int | None = None


class BulkTagIn(_In):
    customer_ids: list[int]
    add: list[str] = []
    remove: list[str] = []


class BulkAssignIn(_In):
    customer_ids: list[int]
    owner: int | None


class CustomFieldIn(_In):
    object_type: str | None = None
    key: str | None = None
    label: str | None = None
    label_en: str | None = None
    field_type: str | None = None
    choices: list[str] | str | None = None
    required: bool | None = None
    position: int | None = None
    is_active: bool | None = None


class SavedViewIn(_In):
    name: str
    query: dict[str, Any]


# --- outputs (plain dicts: fast, and hidden fields are simply absent) ----------------------------
#
# Each serialiser works on a row: the `.values()` dict a selector returns (the list and the 360
# read no model instances) or `model_row(obj, names)` of an instance (every other endpoint), so one
# function decides each JSON shape whichever way the data was read.


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


PERSONAL = ("email", "phone", "address", "id_number")
LIST_OMITS = ("address", "id_number")


def model_row(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    """`names` (`.values()` spelling, `owner__username`) read from an instance; a missing relation gives None."""
    row: dict[str, Any] = {}
    for name in names:
        value = obj
        for part in name.split("__"):
            try:
                value = getattr(value, part) if value is not None else None
            except ObjectDoesNotExist:  # a reverse one-to-one without a row (no score yet)
                value = None
        row[name] = value
    return row


def _user(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    user_id = row.get(f"{prefix}_id")
    if not user_id:
        return None
    return {"id": user_id, "name": _user_name(row, prefix)}


def _user_name(row: Mapping[str, Any], prefix: str) -> str:
    return user_label(*(row[f"{prefix}__{name}"] for name in USER_LABEL_FIELDS))


def score_row_out(row: Mapping[str, Any], prefix: str = "score__") -> dict[str, Any] | None:
    if row.get(f"{prefix}computed_at") is None:  # computed_at is never null: no score row
        return None
    return {
        "rfm_segment": row[f"{prefix}rfm_segment"] or None,
        "value_tier": row[f"{prefix}value_tier"] or None,
        "priority_score": row[f"{prefix}priority_score"],
        "priority_reasons": row[f"{prefix}priority_reasons"],
        "recency_days": row[f"{prefix}recency_days"],
        "frequency": row[f"{prefix}frequency"],
        "monetary": _money(row[f"{prefix}monetary"]),
        "p_alive": row[f"{prefix}p_alive"],
        "expected_value_12m": _money(row[f"{prefix}expected_value_12m"]),
        "computed_at": _iso(row[f"{prefix}computed_at"]),
    }


def customer_row_out(
    row: Mapping[str, Any],
    tags: list[str],
    policy: FieldPolicy,
    *,
    in_list: bool = False,
) -> dict[str, Any]:
    """One customer from a row of `CUSTOMER_*_FIELDS` + `CUSTOMER_JOINED_FIELDS` (hidden columns may be absent).

    `in_list` leaves out the address and ID number (not read in lists, shown in detail).
    """
    data: dict[str, Any] = {
        "id": row["id"],
        "kind": row.get("kind"),
        "name": row.get("name"),
        "gender": row.get("gender"),
        "birth_date": _iso(row.get("birth_date")),
        "company_name": row.get("company_name"),
        "industry": row.get("industry"),
        "source": row.get("source"),
        "region": row.get("region"),
        "city": row.get("city"),
        "country": row.get("country"),
        "lifecycle_stage": row.get("lifecycle_stage"),
        "owner": _user(row, "owner"),
        "email": row.get("email"),
        "phone": row.get("phone"),
        "address": None if in_list else row.get("address"),
        "id_number": None if in_list else row.get("id_number"),
        "email_opt_in": row.get("email_opt_in"),
        "sms_opt_in": row.get("sms_opt_in"),
        "phone_opt_in": row.get("phone_opt_in"),
        "custom": row.get("custom"),
        "tags": tags,
        "external_id": row.get("external_id"),
        "version": row.get("version"),
        "created_at": _iso(row.get("created_at")),
        "updated_at": _iso(row.get("updated_at")),
    }
    data["score"] = score_row_out(row)
    for name in (*policy.hidden, *(LIST_OMITS if in_list else ())):
        data.pop(name, None)
    return data


def customer_out(customer: Customer, policy: FieldPolicy, *, in_list: bool = False) -> dict[str, Any]:
    """One customer instance (writes answer with it); same shape as `customer_row_out`."""
    names = [
        *(CUSTOMER_LIST_FIELDS if in_list else CUSTOMER_DETAIL_FIELDS),
        *OWNER_FIELDS,
        *(f"score__{name}" for name in SCORE_FIELDS),
    ]
    tags = [t.name for t in customer.tags.all()]
    return customer_row_out(model_row(customer, names), tags, policy, in_list=in_list)


def contact_row_out(row: Mapping[str, Any], policy: FieldPolicy) -> dict[str, Any]:
    data = {name: row.get(name) for name in CONTACT_FIELDS}
    data["created_at"] = _iso(data["created_at"])
    data["updated_at"] = _iso(data["updated_at"])
    for name in policy.hidden:
        data.pop(name, None)
    return data


def contact_out(contact: Contact, policy: FieldPolicy) -> dict[str, Any]:
    return contact_row_out(model_row(contact, CONTACT_FIELDS), policy)


def channel_row_out(row: Mapping[str, Any], policy: FieldPolicy) -> dict[str, Any]:
    hidden = not policy.can_read({"email": "email", "phone": "phone"}.get(row["kind"], "address"))
    data = {"id": row["id"], "kind": row["kind"], "label": row["label"], "value": row["value"]}
    if hidden:
        data.pop("value")
    return data


def channel_out(channel: CustomerChannel, policy: FieldPolicy) -> dict[str, Any]:
    return channel_row_out(model_row(channel, CHANNEL_FIELDS), policy)


def need_type_out(need_type: NeedType) -> dict[str, Any]:
    return {
        "id": need_type.pk,
        "code": need_type.code,
        "name": need_type.name,
        "name_en": need_type.name_en,
        "is_active": need_type.is_active,
    }


def need_row_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "need_type": {"id": row["need_type_id"], "code": row["need_type__code"], "name": row["need_type__name"]},
        "level": row["level"],
        "status": row["status"],
        "title": row["title"],
        "description": row["description"],
        "raised_at": _iso(row["raised_at"]),
        "needed_by": _iso(row["needed_by"]),
        "owner": _user(row, "owner"),
        "converted_to": (
            {"object_type": row["converted_object_type"], "object_id": row["converted_object_id"]}
            if row["converted_object_type"]
            else None
        ),
        "custom": row["custom"],
        "version": row["version"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def need_out(need: Need) -> dict[str, Any]:
    return need_row_out(model_row(need, NEED_FIELDS))


def product_out(product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "list_price": _money(product.list_price),
        "currency": product.currency,
        "is_active": product.is_active,
        "version": product.version,
    }


def refund_out(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "amount": _money(refund.amount),
        "reason": refund.reason,
        "refunded_at": _iso(refund.refunded_at),
    }


def order_line_row_out(row: Mapping[str, Any]) -> dict[str, Any]:
    quantity = row["quantity"]
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "category": row["category"],
        "quantity": str(quantity.normalize()) if quantity is not None else None,
        "unit_price": _money(row["unit_price"]),
        "amount": _money(row["amount"]),
    }


def order_row_out(row: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "number": row["number"],
        "ordered_at": _iso(row["ordered_at"]),
        "channel": row["channel"],
        "status": row["status"],
        "currency": row["currency"],
        "total_amount": _money(row["total_amount"]),
        "refunded_amount": _money(row["refunded_amount"]),
        "external_id": row["external_id"],
        "custom": row["custom"],
        "version": row["version"],
        "lines": [order_line_row_out(line) for line in lines],
    }


def order_out(order: Order, *, with_refunds: bool = False) -> dict[str, Any]:
    lines = (model_row(line, ORDER_LINE_FIELDS) for line in order.lines.all())
    data = order_row_out(model_row(order, ORDER_FIELDS), lines)
    if with_refunds:
        data["refunds"] = [refund_out(r) for r in order.refunds.all()]
    return data


def event_row_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "occurred_at": _iso(row["occurred_at"]),
        "actor": _user_name(row, "actor") if row["actor_id"] else None,
        "subject": row["subject"],
        "payload": row["payload"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
    }


def event_out(event: TimelineEvent) -> dict[str, Any]:
    return event_row_out(model_row(event, EVENT_FIELDS))


def custom_field_out(definition: CustomFieldDefinition) -> dict[str, Any]:
    return {
        "id": definition.pk,
        "object_type": definition.object_type,
        "key": definition.key,
        "label": definition.label,
        "label_en": definition.label_en,
        "field_type": definition.field_type,
        "choices": definition.choices,
        "required": definition.required,
        "position": definition.position,
        "is_active": definition.is_active,
    }
