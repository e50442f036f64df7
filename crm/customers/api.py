"""REST endpoints: customers, contacts, needs, need types, products, orders, search, custom fields, saved views."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from crm.core.access import check_writable, field_policy, get_for, visible_to
from crm.core.api import paginate
from crm.core.errors import NotFound, ValidationFailed
from crm.core.models import CustomFieldDefinition
from crm.customers import schemas as s
from crm.customers import selectors, services
from crm.customers.models import Contact, Customer, CustomerChannel, Need, NeedType, Order, SavedView
from crm.customers.search import search_customers

customers = Router(tags=["customers"])
contacts = Router(tags=["contacts"])
needs = Router(tags=["needs"])
products = Router(tags=["products"])
orders = Router(tags=["orders"])
misc = Router(tags=["customers"])


def _version(request: HttpRequest, body_version: int | None) -> int | None:
    if body_version is not None:
        return body_version
    header = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    if not header:
        return None
    try:
        return int(header)
    except ValueError as exc:
        raise ValidationFailed(
            _("If-Match must hold the record version."), errors={"version": [_("Enter a whole number.")]}
        ) from exc


def _data(payload: Any) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    return data


RECENT_EVENTS = 10  # the 360 answer carries the latest events; /timeline pages through the rest


def _page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


# --- customers ---------------------------------------------------------------------------------


class CustomerListParams(Schema):
    q: str = ""
    sort: str = selectors.DEFAULT_SORT
    cursor: str | None = None
    limit: int = 50
    filter: str | None = None
    lifecycle_stage: str | None = None
    kind: str | None = None
    owner: str | None = None
    region: str | None = None
    city: str | None = None
    industry: str | None = None
    source: str | None = None
    tag: str | None = None
    rfm_segment: str | None = None
    value_tier: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    updated_after: str | None = None
    bought_category: str | None = None
    bought_days: str | None = None


def _definition(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed(
            _("The filter is not valid JSON."), errors={"filter": [_("The body is not valid JSON.")]}
        ) from exc
    if not isinstance(value, dict):
        raise ValidationFailed(_("The filter is not valid."), errors={"filter": [_("Send a JSON object.")]})
    return value


@customers.get("", summary="List customers (filters, search, sort, cursor pagination)")
def list_customers(request: HttpRequest, params: Query[CustomerListParams]) -> dict[str, Any]:
    if params.sort not in selectors.CUSTOMER_SORTS:
        raise ValidationFailed(
            _("Unknown sort."),
            errors={"sort": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(selectors.CUSTOMER_SORTS)}]},
        )
    policy = field_policy(request.user, Customer)
    qs, ordering = selectors.list_customer_rows(
        request.user,
        definition=_definition(params.filter),
        params=params.dict(exclude={"q", "sort", "cursor", "limit", "filter"}, exclude_none=True),
        query=params.q,
        sort=params.sort,
        hidden=policy.hidden,
    )
    rows, next_cursor = paginate(qs, cursor=params.cursor, limit=params.limit, ordering=ordering)
    tags = selectors.customer_tag_names([row["id"] for row in rows])
    return _page([s.customer_row_out(row, tags.get(row["id"], []), policy, in_list=True) for row in rows], next_cursor)


@customers.post("", summary="Create a customer", response={201: dict})
def create_customer(request: HttpRequest, payload: s.CustomerIn) -> Status[dict[str, Any]]:
    customer = services.create_customer(actor=request.user, data=_data(payload))
    customer = selectors.get_customer_for(request.user, customer.pk)
    return Status(201, s.customer_out(customer, field_policy(request.user, Customer)))


@customers.get("/{int:customer_id}", summary="Customer 360: profile, contacts, needs, recent orders, score")
def get_customer(request: HttpRequest, customer_id: int) -> dict[str, Any] | HttpResponsePermanentRedirect:
    policy = field_policy(request.user, Customer)
    contact_policy = field_policy(request.user, Contact)
    try:
        view = selectors.customer_360_rows(
            request.user,
            customer_id,
            customer_hidden=policy.hidden,
            contact_hidden=contact_policy.hidden,
            events=RECENT_EVENTS,
        )
    except NotFound:
        # A customer merged into another: 301 to the survivor, for those who may see it.
        survivor = selectors.survivor_of_merged(request.user, customer_id)
        if survivor is None:
            raise
        return HttpResponsePermanentRedirect(f"{request.path.rsplit('/', 1)[0]}/{survivor}")
    data = s.customer_row_out(view.customer, view.tags, policy)
    data["contacts"] = [s.contact_row_out(c, contact_policy) for c in view.contacts]
    data["channels"] = [s.channel_row_out(c, policy) for c in view.channels]
    need_policy, order_policy = field_policy(request.user, Need), field_policy(request.user, Order)
    data["needs"] = [need_policy.strip(s.need_row_out(n)) for n in view.needs]
    data["recent_orders"] = [order_policy.strip(s.order_row_out(o, o["lines"])) for o in view.orders]
    data["order_count"] = view.order_count
    data["recent_events"] = [s.event_row_out(e) for e in view.events]
    return data


@customers.patch("/{int:customer_id}", summary="Change a customer (send its version, or If-Match)")
def update_customer(request: HttpRequest, customer_id: int, payload: s.CustomerIn) -> dict[str, Any]:
    customer = selectors.get_customer_for(request.user, customer_id, verb="change")
    services.update_customer(
        customer, actor=request.user, data=_data(payload), expected_version=_version(request, payload.version)
    )
    fresh = selectors.get_customer_for(request.user, customer_id)
    return s.customer_out(fresh, field_policy(request.user, Customer))


@customers.delete("/{int:customer_id}", summary="Delete a customer without orders", response={204: None})
def delete_customer(request: HttpRequest, customer_id: int) -> Status[None]:
    customer = selectors.get_customer_for(request.user, customer_id, verb="delete")
    services.delete_customer(customer, actor=request.user)
    return Status(204, None)


@customers.get("/{int:customer_id}/timeline", summary="The customer's timeline, newest first")
def customer_timeline(
    request: HttpRequest, customer_id: int, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    customer = selectors.get_customer_for(request.user, customer_id)
    rows, next_cursor = paginate(
        selectors.timeline_for(customer), cursor=cursor, limit=limit, ordering=("-occurred_at", "-id")
    )
    return _page([s.event_out(e) for e in rows], next_cursor)


@customers.post("/{int:customer_id}/notes", summary="Add a note to the timeline", response={201: dict})
def add_note(request: HttpRequest, customer_id: int, payload: s.NoteIn) -> Status[dict[str, Any]]:
    customer = selectors.get_customer_for(request.user, customer_id, verb="change")
    return Status(201, s.event_out(services.add_note(customer, actor=request.user, text=payload.text)))


@customers.post(
    "/{int:customer_id}/channels", summary="Add a further phone, e-mail, address or WeChat", response={201: dict}
)
def add_channel(request: HttpRequest, customer_id: int, payload: s.ChannelIn) -> Status[dict[str, Any]]:
    customer = selectors.get_customer_for(request.user, customer_id, verb="view")
    channel = services.add_channel(
        customer, actor=request.user, kind=payload.kind, value=payload.value, label=payload.label
    )
    return Status(201, s.channel_out(channel, field_policy(request.user, Customer)))


@customers.delete("/{int:customer_id}/channels/{int:channel_id}", summary="Remove a channel", response={204: None})
def delete_channel(request: HttpRequest, customer_id: int, channel_id: int) -> Status[None]:
    selectors.get_customer_for(request.user, customer_id, verb="view")
    channel = get_for(request.user, "delete", CustomerChannel.objects.filter(customer_id=customer_id), channel_id)
    services.delete_channel(channel, actor=request.user)
    return Status(204, None)


@customers.post("/bulk-tag", summary="Add or remove tags on many customers")
def bulk_tag(request: HttpRequest, payload: s.BulkTagIn) -> dict[str, Any]:
    found = list(selectors.customers_for(request.user, "change").filter(pk__in=payload.customer_ids[:5000]))
    count = services.bulk_tag_customers(found, actor=request.user, add=payload.add, remove=payload.remove)
    return {"updated": count}


@customers.post("/bulk-assign", summary="Give many customers a new owner")
def bulk_assign(request: HttpRequest, payload: s.BulkAssignIn) -> dict[str, Any]:
    found = list(selectors.customers_for(request.user, "assign").filter(pk__in=payload.customer_ids[:5000]))
    return {"updated": services.bulk_assign_customers(found, actor=request.user, owner=payload.owner)}


# --- contacts ----------------------------------------------------------------------------------


@contacts.get("", summary="List contacts (of one customer with ?customer_id=)")
def list_contacts(
    request: HttpRequest, customer_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    rows, next_cursor = paginate(
        selectors.contacts_for(request.user, customer_id=customer_id), cursor=cursor, limit=limit, ordering=("-id",)
    )
    policy = field_policy(request.user, Contact)
    return _page([s.contact_out(c, policy) for c in rows], next_cursor)


@contacts.post("", summary="Add a contact to a customer", response={201: dict})
def create_contact(request: HttpRequest, payload: s.ContactIn) -> Status[dict[str, Any]]:
    if payload.customer_id is None:
        raise ValidationFailed(_("Some fields are not valid."), errors={"customer_id": [_("This field is required.")]})
    customer = selectors.get_customer_for(request.user, payload.customer_id, verb="view")
    data = _data(payload)
    data.pop("customer_id", None)
    contact = services.create_contact(customer, actor=request.user, data=data)
    return Status(201, s.contact_out(contact, field_policy(request.user, Contact)))


@contacts.get("/{int:contact_id}", summary="One contact")
def get_contact(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    return s.contact_out(selectors.get_contact_for(request.user, contact_id), field_policy(request.user, Contact))


@contacts.patch("/{int:contact_id}", summary="Change a contact")
def update_contact(request: HttpRequest, contact_id: int, payload: s.ContactIn) -> dict[str, Any]:
    contact = selectors.get_contact_for(request.user, contact_id, verb="change")
    data = _data(payload)
    if "customer_id" in data:
        raise ValidationFailed(_("Some fields are not valid."), errors={"customer_id": [_("This cannot be changed.")]})
    updated = services.update_contact(
        contact, actor=request.user, data=data, expected_version=_version(request, payload.version)
    )
    return s.contact_out(updated, field_policy(request.user, Contact))


@contacts.delete("/{int:contact_id}", summary="Delete a contact", response={204: None})
def delete_contact(request: HttpRequest, contact_id: int) -> Status[None]:
    services.delete_contact(selectors.get_contact_for(request.user, contact_id, verb="delete"), actor=request.user)
    return Status(204, None)


# --- needs and need types ----------------------------------------------------------------------


def _need(request: HttpRequest, need_id: int) -> dict[str, Any]:
    """One need as the API shows it: fields hidden from the user's role left out."""
    return field_policy(request.user, Need).strip(s.need_out(selectors.get_need_for(request.user, need_id)))


def _order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """One order with lines and refunds as the API shows it: fields hidden from the user's role left out."""
    order = selectors.get_order_for(request.user, order_id)
    return field_policy(request.user, Order).strip(s.order_out(order, with_refunds=True))


@needs.get("", summary="List needs (filter by customer_id, status, level)")
def list_needs(
    request: HttpRequest,
    customer_id: int | None = None,
    status: str | None = None,
    level: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    qs = selectors.needs_for(request.user, customer_id=customer_id, status=status, level=level)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, ordering=("-id",))
    policy = field_policy(request.user, Need)
    return _page([policy.strip(s.need_out(n)) for n in rows], next_cursor)


@needs.post("", summary="Record a customer need", response={201: dict})
def create_need(request: HttpRequest, payload: s.NeedIn) -> Status[dict[str, Any]]:
    if payload.customer_id is None:
        raise ValidationFailed(_("Some fields are not valid."), errors={"customer_id": [_("This field is required.")]})
    customer = selectors.get_customer_for(request.user, payload.customer_id, verb="view")
    data = _data(payload)
    data.pop("customer_id", None)
    check_writable(request.user, Need, data)
    need = services.create_need(customer, actor=request.user, data=data)
    return Status(201, _need(request, need.pk))


@needs.get("/{int:need_id}", summary="One need")
def get_need(request: HttpRequest, need_id: int) -> dict[str, Any]:
    return _need(request, need_id)


@needs.patch("/{int:need_id}", summary="Change a need (status, level, …)")
def update_need(request: HttpRequest, need_id: int, payload: s.NeedIn) -> dict[str, Any]:
    need = selectors.get_need_for(request.user, need_id, verb="change")
    data = _data(payload)
    if "customer_id" in data:
        raise ValidationFailed(_("Some fields are not valid."), errors={"customer_id": [_("This cannot be changed.")]})
    check_writable(request.user, Need, data)
    services.update_need(need, actor=request.user, data=data, expected_version=_version(request, payload.version))
    return _need(request, need_id)


@needs.post("/{int:need_id}/convert", summary="Turn a need into a deal or a ticket")
def convert_need(request: HttpRequest, need_id: int, payload: s.ConvertIn) -> dict[str, Any]:
    need = selectors.get_need_for(request.user, need_id, verb="change")
    services.convert_need(
        need, actor=request.user, target=payload.target, expected_version=_version(request, payload.version)
    )
    return _need(request, need_id)


@misc.get("/need-types", summary="The configurable list of need types", tags=["needs"])
def list_need_types(request: HttpRequest, include_inactive: bool = False) -> list[dict[str, Any]]:
    return [s.need_type_out(t) for t in selectors.need_types(active_only=not include_inactive, user=request.user)]


@misc.post("/need-types", summary="Add a need type (administrators)", tags=["needs"], response={201: dict})
def create_need_type(request: HttpRequest, payload: s.NeedTypeIn) -> Status[dict[str, Any]]:
    return Status(201, s.need_type_out(services.save_need_type(actor=request.user, data=_data(payload))))


@misc.patch("/need-types/{int:type_id}", summary="Change a need type (administrators)", tags=["needs"])
def update_need_type(request: HttpRequest, type_id: int, payload: s.NeedTypeIn) -> dict[str, Any]:
    instance = get_for(request.user, "change", NeedType, type_id)
    return s.need_type_out(services.save_need_type(actor=request.user, data=_data(payload), instance=instance))


# --- products ----------------------------------------------------------------------------------


@products.get("", summary="The product catalogue")
def list_products(
    request: HttpRequest, q: str = "", category: str = "", cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    qs = selectors.products_for(request.user, query=q, category=category)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, ordering=("sku", "id"))
    return _page([s.product_out(p) for p in rows], next_cursor)


@products.post("", summary="Add a product", response={201: dict})
def create_product(request: HttpRequest, payload: s.ProductIn) -> Status[dict[str, Any]]:
    return Status(201, s.product_out(services.save_product(actor=request.user, data=_data(payload))))


@products.get("/{int:product_id}", summary="One product")
def get_product(request: HttpRequest, product_id: int) -> dict[str, Any]:
    return s.product_out(selectors.get_product_for(request.user, product_id))


@products.patch("/{int:product_id}", summary="Change a product")
def update_product(request: HttpRequest, product_id: int, payload: s.ProductIn) -> dict[str, Any]:
    product = selectors.get_product_for(request.user, product_id, verb="change")
    saved = services.save_product(
        actor=request.user, data=_data(payload), instance=product, expected_version=_version(request, payload.version)
    )
    return s.product_out(saved)


# --- orders ------------------------------------------------------------------------------------


class OrderListParams(Schema):
    customer_id: int | None = None
    status: str | None = None
    # JSON definition over order fields and `custom.<key>` (the customer filter language), e.g.
    # {"conditions": [{"field": "custom.source", "op": "eq", "value": "门店"}]}
    filter: str | None = None
    cursor: str | None = None
    limit: int = 50


@orders.get("", summary="List orders (?customer_id=, ?status=, ?filter= over order and custom fields)")
def list_orders(request: HttpRequest, params: Query[OrderListParams]) -> dict[str, Any]:
    qs = selectors.orders_for(
        request.user, customer_id=params.customer_id, status=params.status, definition=_definition(params.filter)
    )
    rows, next_cursor = paginate(qs, cursor=params.cursor, limit=params.limit, ordering=("-ordered_at", "-id"))
    policy = field_policy(request.user, Order)
    return _page([policy.strip(s.order_out(o)) for o in rows], next_cursor)


@orders.post("", summary="Record an order with its lines", response={201: dict})
def create_order(request: HttpRequest, payload: s.OrderIn) -> Status[dict[str, Any]]:
    customer = selectors.get_customer_for(request.user, payload.customer_id, verb="view")
    data = payload.dict(exclude_unset=True)
    data.pop("customer_id")
    if "lines" in data:
        data["lines"] = [{k: v for k, v in line.items() if v is not None} for line in data["lines"]]
    order = services.create_order(customer, actor=request.user, data=data)
    return Status(201, _order(request, order.pk))


@orders.post("/bulk", summary="Record up to 1,000 orders at once: all or nothing", response={201: dict})
def bulk_orders(request: HttpRequest, payload: s.BulkOrdersIn) -> Status[dict[str, Any]]:
    ids: list[int] = []
    for data in payload.orders:
        try:
            ids.append(int(data.get("customer_id") or 0))
        except (TypeError, ValueError):
            continue
    if len(payload.orders) > services.MAX_BULK_ORDERS:
        raise ValidationFailed(
            _("Too many orders."),
            errors={"orders": [_("Send at most %(n)s orders per request.") % {"n": services.MAX_BULK_ORDERS}]},
        )
    visible = selectors.customers_by_id(request.user, ids)
    created = services.bulk_create_orders(actor=request.user, customers=visible, orders=payload.orders)
    return Status(201, {"created": len(created), "ids": [o.pk for o in created]})


@orders.get("/{int:order_id}", summary="One order with lines and refunds")
def get_order(request: HttpRequest, order_id: int) -> dict[str, Any]:
    return _order(request, order_id)


@orders.patch("/{int:order_id}", summary="Change an order's custom values (send its version, or If-Match)")
def update_order(request: HttpRequest, order_id: int, payload: s.OrderUpdateIn) -> dict[str, Any]:
    order = selectors.get_order_for(request.user, order_id, verb="change")
    services.update_order(
        order, actor=request.user, data=_data(payload), expected_version=_version(request, payload.version)
    )
    return _order(request, order_id)


@orders.post("/{int:order_id}/refunds", summary="Refund part or all of an order", response={201: dict})
def refund_order(request: HttpRequest, order_id: int, payload: s.RefundIn) -> Status[dict[str, Any]]:
    order = selectors.get_order_for(request.user, order_id, verb="change")
    services.refund_order(
        order, actor=request.user, amount=payload.amount, reason=payload.reason, refunded_at=payload.refunded_at
    )
    return Status(201, _order(request, order_id))


@orders.post("/{int:order_id}/cancel", summary="Cancel an order without refunds")
def cancel_order(request: HttpRequest, order_id: int, payload: s.VersionIn) -> dict[str, Any]:
    order = selectors.get_order_for(request.user, order_id, verb="change")
    services.cancel_order(order, actor=request.user, expected_version=_version(request, payload.version))
    return _order(request, order_id)


# --- search, custom fields, saved views, tags ---------------------------------------------------


@misc.get("/search", summary="One-box search: name or company substring, exact e-mail or phone")
def search(request: HttpRequest, q: str = "", limit: int = 20) -> dict[str, Any]:
    found = search_customers(request.user, q, limit=limit)
    policy = field_policy(request.user, Customer)
    items = []
    for customer in found:
        item = {
            "id": customer.pk,
            "name": customer.name,
            "company_name": customer.company_name,
            "city": customer.city,
            "lifecycle_stage": customer.lifecycle_stage,
            "owner": str(customer.owner) if customer.owner_id else None,
        }
        if policy.can_read("company_name") is False:
            item.pop("company_name")
        items.append(item)
    return {"query": q, "items": items}


@misc.get("/custom-fields", summary="Custom-field definitions", tags=["custom fields"])
def list_custom_fields(request: HttpRequest, object_type: str | None = None) -> list[dict[str, Any]]:
    return [s.custom_field_out(d) for d in selectors.custom_field_definitions(object_type, user=request.user)]


@misc.post(
    "/custom-fields", summary="Define a custom field (administrators)", tags=["custom fields"], response={201: dict}
)
def create_custom_field(request: HttpRequest, payload: s.CustomFieldIn) -> Status[dict[str, Any]]:
    return Status(201, s.custom_field_out(services.save_custom_field(actor=request.user, data=_data(payload))))


@misc.patch("/custom-fields/{int:field_id}", summary="Change a custom field (administrators)", tags=["custom fields"])
def update_custom_field(request: HttpRequest, field_id: int, payload: s.CustomFieldIn) -> dict[str, Any]:
    instance = get_for(request.user, "change", CustomFieldDefinition, field_id)
    return s.custom_field_out(services.save_custom_field(actor=request.user, data=_data(payload), instance=instance))


@misc.get("/saved-views", summary="Saved list views (own; wider by role)", tags=["customers"])
def list_saved_views(request: HttpRequest) -> list[dict[str, Any]]:
    views = visible_to(request.user, "view", SavedView).order_by("name", "id")[:500]
    return [{"id": v.pk, "name": v.name, "query": v.query, "user_id": v.user_id} for v in views]


@misc.post("/saved-views", summary="Save the current list filters and sort", tags=["customers"], response={201: dict})
def create_saved_view(request: HttpRequest, payload: s.SavedViewIn) -> Status[dict[str, Any]]:
    view = services.save_saved_view(actor=request.user, name=payload.name, query=payload.query)
    return Status(201, {"id": view.pk, "name": view.name, "query": view.query})


@misc.delete(
    "/saved-views/{int:view_id}", summary="Delete one of my saved views", tags=["customers"], response={204: None}
)
def delete_saved_view(request: HttpRequest, view_id: int) -> Status[None]:
    view = get_for(request.user, "delete", SavedView, view_id)
    services.delete_saved_view(view, actor=request.user)
    return Status(204, None)


@misc.get("/tags", summary="All tags", tags=["customers"])
def list_tags(request: HttpRequest) -> list[dict[str, Any]]:
    return [{"id": t.pk, "name": t.name, "color": t.color} for t in selectors.tags(user=request.user)]


ROUTERS = [
    ("/customers", customers),
    ("/contacts", contacts),
    ("/needs", needs),
    ("/products", products),
    ("/orders", orders),
    ("", misc),
]
