"""Every read of customers and their records; each starts from the access layer's `visible_to`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import FloatField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from crm.core.access import get_for, visible_to
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.customers.filters import customer_filter_q, definition_from_params
from crm.customers.models import (
    Contact,
    Customer,
    CustomerChannel,
    CustomerScore,
    Need,
    NeedType,
    Order,
    OrderLine,
    Product,
    Refund,
    SavedView,
    Tag,
)
from crm.customers.search import search_ordering, search_queryset

# Sort keys the list offers → ordering (last field unique, for keyset pagination).
CUSTOMER_SORTS: dict[str, tuple[str, ...]] = {
    "-updated_at": ("-updated_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "-priority": ("-priority", "-id"),
}
DEFAULT_SORT = "-updated_at"


def customers_for(user: Any, verb: str = "view") -> QuerySet[Customer]:
    return visible_to(user, verb, Customer)


def get_customer_for(user: Any, pk: Any, verb: str = "view") -> Customer:
    return get_for(user, verb, Customer.objects.select_related("owner"), pk)


def list_customers(
    user: Any,
    *,
    definition: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    query: str = "",
    sort: str = DEFAULT_SORT,
) -> tuple[QuerySet[Customer], tuple[str, ...]]:
    """Visible customers matching a filter definition and/or simple params and/or a search; with ordering."""
    qs = search_queryset(user, query) if query.strip() else customers_for(user)
    if definition:
        qs = qs.filter(customer_filter_q(definition))
    if params:
        simple = definition_from_params(params)
        if simple["conditions"]:
            qs = qs.filter(customer_filter_q(simple))
    ordering = search_ordering(qs, CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS[DEFAULT_SORT]))
    if "-priority" in ordering:
        qs = qs.annotate(priority=Coalesce("score__priority_score", Value(0.0), output_field=FloatField()))
    qs = (
        qs.defer("address", "id_number")
        .select_related("owner", "score")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    )
    return qs, ordering


# --- the customer 360 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A block another module adds to the customer 360 page (deals, tickets, campaign touches…)."""

    key: str
    title: Any
    template: str
    context: Callable[[Any, Customer], Mapping[str, Any] | None]
    order: int = 100


PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    """Add (or replace) a panel on the customer 360 page. `context` returns None to hide it."""
    PANELS[panel.key] = panel


@dataclass
class Customer360:
    customer: Customer
    contacts: list[Contact]
    channels: list[CustomerChannel]
    needs: list[Need]
    orders: list[Order]
    order_count: int
    score: CustomerScore | None
    timeline: list[TimelineEvent]
    panels: list[tuple[Panel, Mapping[str, Any]]] = field(default_factory=list)


RECENT_ORDERS = 20
RECENT_EVENTS = 30


def customer_360(user: Any, pk: Any, *, with_panels: bool = False) -> Customer360:
    """Everything the 360 page and API show, in a fixed number of queries."""
    customer = get_for(
        user,
        "view",
        Customer.objects.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        ),
        pk,
    )
    contacts = list(visible_to(user, "view", Contact).filter(customer=customer).order_by("-is_primary", "name")[:100])
    channels = list(visible_to(user, "view", CustomerChannel).filter(customer=customer).order_by("kind", "id")[:50])
    needs = list(
        visible_to(user, "view", Need)
        .filter(customer=customer)
        .select_related("need_type", "owner")
        .order_by("-raised_at", "-id")[:50]
    )
    order_qs = visible_to(user, "view", Order).filter(customer=customer)
    orders = list(
        order_qs.order_by("-ordered_at", "-id").prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
        )[:RECENT_ORDERS]
    )
    order_count = order_qs.count() if len(orders) == RECENT_ORDERS else len(orders)
    score = CustomerScore.objects.filter(customer=customer).first()
    timeline = list(
        TimelineEvent.objects.filter(customer_id=customer.pk)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:RECENT_EVENTS]
    )
    result = Customer360(customer, contacts, channels, needs, orders, order_count, score, timeline)
    if with_panels:
        for panel in sorted(PANELS.values(), key=lambda p: (p.order, p.key)):
            context = panel.context(user, customer)
            if context is not None:
                result.panels.append((panel, context))
    return result


def timeline_for(customer: Customer) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(customer_id=customer.pk).select_related("actor")


# --- contacts, needs, products, orders ---------------------------------------------------------


def contacts_for(user: Any, *, customer_id: int | None = None) -> QuerySet[Contact]:
    qs = visible_to(user, "view", Contact).select_related("customer")
    return qs.filter(customer_id=customer_id) if customer_id else qs


def get_contact_for(user: Any, pk: Any, verb: str = "view") -> Contact:
    return get_for(user, verb, Contact.objects.select_related("customer"), pk)


def needs_for(
    user: Any, *, customer_id: int | None = None, status: str | None = None, level: str | None = None
) -> QuerySet[Need]:
    qs = visible_to(user, "view", Need).select_related("need_type", "owner", "customer")
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    if level:
        qs = qs.filter(level=level)
    return qs


def get_need_for(user: Any, pk: Any, verb: str = "view") -> Need:
    return get_for(user, verb, Need.objects.select_related("need_type", "customer", "owner"), pk)


def assignable_owners(limit: int = 200) -> QuerySet[Any]:
    """Active users a customer can be assigned to (names only are shown; ordered for pickers)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).order_by("username")[:limit]


def need_types(*, active_only: bool = True, user: Any = None) -> QuerySet[NeedType]:
    """Need types; pass `user` to apply the access layer (the API does; forms list the choices)."""
    qs = (visible_to(user, "view", NeedType) if user is not None else NeedType.objects.all()).order_by("name")
    return qs.filter(is_active=True) if active_only else qs


def products_for(user: Any, *, query: str = "", category: str = "", active_only: bool = False) -> QuerySet[Product]:
    qs = visible_to(user, "view", Product)
    if query:
        qs = qs.filter(Q(sku__icontains=query) | Q(name__icontains=query))
    if category:
        qs = qs.filter(category=category)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def product_categories() -> list[str]:
    return list(Product.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct())


def get_product_for(user: Any, pk: Any, verb: str = "view") -> Product:
    return get_for(user, verb, Product, pk)


def orders_for(user: Any, *, customer_id: int | None = None, status: str | None = None) -> QuerySet[Order]:
    qs = visible_to(user, "view", Order).select_related("customer")
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))


def get_order_for(user: Any, pk: Any, verb: str = "view") -> Order:
    return get_for(
        user,
        verb,
        Order.objects.select_related("customer").prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("refunded_at", "id")),
        ),
        pk,
    )


def customers_by_id(user: Any, ids: list[int], verb: str = "view") -> dict[int, Customer]:
    """The visible customers among `ids`, in one query (bulk endpoints)."""
    return {c.pk: c for c in visible_to(user, verb, Customer).filter(pk__in=set(ids))}


def custom_field_definitions(
    object_type: str | None = None, *, active_only: bool = False, user: Any = None
) -> QuerySet[CustomFieldDefinition]:
    """Definitions; pass `user` to apply the access layer (the API does; forms need them all)."""
    base = visible_to(user, "view", CustomFieldDefinition) if user is not None else CustomFieldDefinition.objects.all()
    qs = base.order_by("object_type", "position", "key")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def saved_views_for(user: Any) -> QuerySet[SavedView]:
    return SavedView.objects.filter(user_id=getattr(user, "pk", None) or 0).order_by("name")


def tags(*, user: Any = None) -> QuerySet[Tag]:
    return (visible_to(user, "view", Tag) if user is not None else Tag.objects.all()).order_by("name")
