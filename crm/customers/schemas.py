"""API shapes: lenient input schemas (services do the real validation) and output serialisers.

Inputs forbid unknown fields and keep types loose (text for dates and amounts) so the service
can answer every problem with a field-level message in the user's language. Outputs drop the
fields a role may not read (access.field_policy).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict

from crm.core.access import FieldPolicy
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.customers.models import (
    Contact,
    Customer,
    CustomerChannel,
    CustomerScore,
    Need,
    NeedType,
    Order,
    Product,
    Refund,
)

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


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


PERSONAL = ("email", "phone", "address", "id_number")


def score_summary(score: CustomerScore | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "rfm_segment": score.rfm_segment or None,
        "value_tier": score.value_tier or None,
        "priority_score": score.priority_score,
        "priority_reasons": score.priority_reasons,
        "recency_days": score.recency_days,
        "frequency": score.frequency,
        "monetary": _money(score.monetary),
        "p_alive": score.p_alive,
        "expected_value_12m": _money(score.expected_value_12m),
        "computed_at": _iso(score.computed_at),
    }


LIST_OMITS = ("address", "id_number")


def customer_out(
    customer: Customer, policy: FieldPolicy, *, with_score: bool = True, in_list: bool = False
) -> dict[str, Any]:
    """One customer; `in_list` leaves out the address and ID number (deferred in lists, shown in detail)."""
    data: dict[str, Any] = {
        "id": customer.pk,
        "kind": customer.kind,
        "name": customer.name,
        "gender": customer.gender,
        "birth_date": _iso(customer.birth_date),
        "company_name": customer.company_name,
        "industry": customer.industry,
        "source": customer.source,
        "region": customer.region,
        "city": customer.city,
        "country": customer.country,
        "lifecycle_stage": customer.lifecycle_stage,
        "owner": {"id": customer.owner_id, "name": str(customer.owner)} if customer.owner_id else None,
        "email": customer.email,
        "phone": customer.phone,
        "address": None if in_list else customer.address,
        "id_number": None if in_list else customer.id_number,
        "email_opt_in": customer.email_opt_in,
        "sms_opt_in": customer.sms_opt_in,
        "phone_opt_in": customer.phone_opt_in,
        "custom": customer.custom,
        "tags": [t.name for t in customer.tags.all()],
        "external_id": customer.external_id,
        "version": customer.version,
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
    }
    if with_score:
        try:
            data["score"] = score_summary(customer.score)
        except CustomerScore.DoesNotExist:
            data["score"] = None
    for name in (*policy.hidden, *(LIST_OMITS if in_list else ())):
        data.pop(name, None)
    return data


def contact_out(contact: Contact, policy: FieldPolicy) -> dict[str, Any]:
    data = {
        "id": contact.pk,
        "customer_id": contact.customer_id,
        "name": contact.name,
        "title": contact.title,
        "email": contact.email,
        "phone": contact.phone,
        "is_primary": contact.is_primary,
        "custom": contact.custom,
        "external_id": contact.external_id,
        "version": contact.version,
        "created_at": _iso(contact.created_at),
        "updated_at": _iso(contact.updated_at),
    }
    for name in policy.hidden:
        data.pop(name, None)
    return data


def channel_out(channel: CustomerChannel, policy: FieldPolicy) -> dict[str, Any]:
    hidden = not policy.can_read({"email": "email", "phone": "phone"}.get(channel.kind, "address"))
    data = {"id": channel.pk, "kind": channel.kind, "label": channel.label, "value": channel.value}
    if hidden:
        data.pop("value")
    return data


def need_type_out(need_type: NeedType) -> dict[str, Any]:
    return {
        "id": need_type.pk,
        "code": need_type.code,
        "name": need_type.name,
        "name_en": need_type.name_en,
        "is_active": need_type.is_active,
    }


def need_out(need: Need) -> dict[str, Any]:
    return {
        "id": need.pk,
        "customer_id": need.customer_id,
        "need_type": {"id": need.need_type_id, "code": need.need_type.code, "name": need.need_type.name},
        "level": need.level,
        "status": need.status,
        "title": need.title,
        "description": need.description,
        "raised_at": _iso(need.raised_at),
        "needed_by": _iso(need.needed_by),
        "owner": {"id": need.owner_id, "name": str(need.owner)} if need.owner_id else None,
        "converted_to": (
            {"object_type": need.converted_object_type, "object_id": need.converted_object_id}
            if need.converted_object_type
            else None
        ),
        "custom": need.custom,
        "version": need.version,
        "created_at": _iso(need.created_at),
        "updated_at": _iso(need.updated_at),
    }


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


def order_out(order: Order, *, with_refunds: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.pk,
        "customer_id": order.customer_id,
        "number": order.number,
        "ordered_at": _iso(order.ordered_at),
        "channel": order.channel,
        "status": order.status,
        "currency": order.currency,
        "total_amount": _money(order.total_amount),
        "refunded_amount": _money(order.refunded_amount),
        "external_id": order.external_id,
        "version": order.version,
        "lines": [
            {
                "id": line.pk,
                "sku": line.sku,
                "name": line.name,
                "category": line.category,
                "quantity": str(line.quantity.normalize()) if line.quantity is not None else None,
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
            }
            for line in order.lines.all()
        ],
    }
    if with_refunds:
        data["refunds"] = [refund_out(r) for r in order.refunds.all()]
    return data


def event_out(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "kind": event.kind,
        "occurred_at": _iso(event.occurred_at),
        "actor": str(event.actor) if event.actor_id else None,
        "subject": event.subject,
        "payload": event.payload,
        "object_type": event.object_type,
        "object_id": event.object_id,
    }


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
