"""Every read of customers and their records; each starts from the access layer's `visible_to`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, FloatField, Prefetch, Q, QuerySet, Value, Window
from django.db.models.functions import Coalesce

from crm.core.access import check_pk, get_for, visible_to
from crm.core.batched_reads import fetch_values_together
from crm.core.errors import NotFound
from crm.core.models import CustomFieldDefinition, TimelineEvent
from crm.customers.filters import customer_filter_q, definition_from_params, order_filter_q
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
from crm.identity.models import USER_LABEL_FIELDS

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


def survivor_of_merged(user: Any, pk: Any, *, max_hops: int = 20) -> int | None:
    """The active customer a merged-away customer `pk` ended up in, if the user may see it; else None.

    Old links and bookmarks to a merged customer lead to the survivor (following later merges too),
    but only for someone who may see the survivor: for anyone else it stays "not found".
    """
    try:
        check_pk(pk)
    except NotFound:
        return None
    current = pk
    for _hop in range(max_hops):
        row = Customer.objects.filter(pk=current).values_list("is_active", "merged_into_id").first()
        if row is None:
            return None
        is_active, merged_into = row
        if is_active:
            break
        if merged_into is None:
            return None
        current = merged_into
    else:
        return None
    if current == pk or not customers_for(user).filter(pk=current).exists():
        return None
    return int(current)


def _matching_customers(
    user: Any,
    *,
    definition: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    query: str,
    sort: str,
) -> tuple[QuerySet[Customer], tuple[str, ...]]:
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
    return qs, ordering


def list_customers(
    user: Any,
    *,
    definition: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    query: str = "",
    sort: str = DEFAULT_SORT,
) -> tuple[QuerySet[Customer], tuple[str, ...]]:
    """Visible customers matching a filter definition and/or simple params and/or a search; with ordering."""
    qs, ordering = _matching_customers(user, definition=definition, params=params, query=query, sort=sort)
    qs = (
        qs.defer("address", "id_number")
        .select_related("owner", "score")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    )
    return qs, ordering


# Columns the API serialises (`.values()` names): the list leaves out the address and ID number.
CUSTOMER_LIST_FIELDS = (
    "id",
    "kind",
    "name",
    "gender",
    "birth_date",
    "company_name",
    "industry",
    "source",
    "region",
    "city",
    "country",
    "lifecycle_stage",
    "owner_id",
    "email",
    "phone",
    "email_opt_in",
    "sms_opt_in",
    "phone_opt_in",
    "custom",
    "external_id",
    "version",
    "created_at",
    "updated_at",
)
CUSTOMER_DETAIL_FIELDS = (*CUSTOMER_LIST_FIELDS, "address", "id_number")
SCORE_FIELDS = (
    "rfm_segment",
    "value_tier",
    "priority_score",
    "priority_reasons",
    "recency_days",
    "frequency",
    "monetary",
    "p_alive",
    "expected_value_12m",
    "computed_at",
)
OWNER_FIELDS = tuple(f"owner__{name}" for name in USER_LABEL_FIELDS)
CUSTOMER_JOINED_FIELDS = (*OWNER_FIELDS, *(f"score__{name}" for name in SCORE_FIELDS))


def _readable(fields: tuple[str, ...], hidden: Collection[str]) -> list[str]:
    # Columns the role hides are never read: encrypted ones are then not even decrypted.
    return [name for name in fields if name not in hidden]


def list_customer_rows(
    user: Any,
    *,
    definition: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    query: str = "",
    sort: str = DEFAULT_SORT,
    hidden: Collection[str] = (),
) -> tuple[QuerySet[Customer, dict[str, Any]], tuple[str, ...]]:
    """`list_customers` as rows for the API: one query with owner and score joined, no model instances.

    Tags come from `customer_tag_names` for the page's ids (one more query, whatever the page size).
    """
    qs, ordering = _matching_customers(user, definition=definition, params=params, query=query, sort=sort)
    # Annotations the ordering uses (priority; a search's search_updated_at) ride along for the cursor.
    extra = tuple(name.lstrip("-") for name in ordering if name.lstrip("-") in qs.query.annotations)
    return qs.values(*_readable(CUSTOMER_LIST_FIELDS, hidden), *CUSTOMER_JOINED_FIELDS, *extra), ordering


def _tag_links(customer_ids: Collection[int]) -> QuerySet[Any, Any]:
    return (
        Customer.tags.through.objects.filter(customer_id__in=customer_ids)
        .order_by("tag__name")
        .values("customer_id", "tag__name")
    )


def customer_tag_names(customer_ids: Collection[int]) -> dict[int, list[str]]:
    """Tag names (A–Z) of each customer, in one query."""
    found: dict[int, list[str]] = {}
    if customer_ids:
        for link in _tag_links(customer_ids):
            found.setdefault(link["customer_id"], []).append(link["tag__name"])
    return found


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


# The 360's parts, scoped once here for both the page (model instances) and the API (rows).


def _contacts_of(user: Any, customer_id: int) -> QuerySet[Contact]:
    return visible_to(user, "view", Contact).filter(customer_id=customer_id).order_by("-is_primary", "name")


def _channels_of(user: Any, customer_id: int) -> QuerySet[CustomerChannel]:
    return visible_to(user, "view", CustomerChannel).filter(customer_id=customer_id).order_by("kind", "id")


def _needs_of(user: Any, customer_id: int) -> QuerySet[Need]:
    return visible_to(user, "view", Need).filter(customer_id=customer_id).order_by("-raised_at", "-id")


def _orders_of(user: Any, customer_id: int) -> QuerySet[Order]:
    return visible_to(user, "view", Order).filter(customer_id=customer_id)


def _recent_events_of(customer_id: int) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(customer_id=customer_id).order_by("-occurred_at", "-id")


def customer_360(user: Any, pk: Any, *, with_panels: bool = False) -> Customer360:
    """Everything the 360 page shows, in a fixed number of queries."""
    customer = get_for(
        user,
        "view",
        Customer.objects.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        ),
        pk,
    )
    contacts = list(_contacts_of(user, customer.pk)[:100])
    channels = list(_channels_of(user, customer.pk)[:50])
    needs = list(_needs_of(user, customer.pk).select_related("need_type", "owner")[:50])
    order_qs = _orders_of(user, customer.pk)
    orders = list(
        order_qs.order_by("-ordered_at", "-id").prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
        )[:RECENT_ORDERS]
    )
    order_count = order_qs.count() if len(orders) == RECENT_ORDERS else len(orders)
    score = CustomerScore.objects.filter(customer=customer).first()
    timeline = list(_recent_events_of(customer.pk).select_related("actor")[:RECENT_EVENTS])
    result = Customer360(customer, contacts, channels, needs, orders, order_count, score, timeline)
    if with_panels:
        for panel in sorted(PANELS.values(), key=lambda p: (p.order, p.key)):
            context = panel.context(user, customer)
            if context is not None:
                result.panels.append((panel, context))
    return result


CONTACT_FIELDS = (
    "id",
    "customer_id",
    "name",
    "title",
    "email",
    "phone",
    "is_primary",
    "custom",
    "external_id",
    "version",
    "created_at",
    "updated_at",
)
CHANNEL_FIELDS = ("id", "kind", "label", "value")
NEED_FIELDS = (
    "id",
    "customer_id",
    "need_type_id",
    "need_type__code",
    "need_type__name",
    "level",
    "status",
    "title",
    "description",
    "raised_at",
    "needed_by",
    "owner_id",
    *OWNER_FIELDS,
    "converted_object_type",
    "converted_object_id",
    "custom",
    "version",
    "created_at",
    "updated_at",
)
ORDER_FIELDS = (
    "id",
    "customer_id",
    "number",
    "ordered_at",
    "channel",
    "status",
    "currency",
    "total_amount",
    "refunded_amount",
    "external_id",
    "custom",
    "version",
)
ORDER_LINE_FIELDS = ("id", "order_id", "sku", "name", "category", "quantity", "unit_price", "amount")
EVENT_FIELDS = (
    "id",
    "kind",
    "occurred_at",
    "actor_id",
    *(f"actor__{name}" for name in USER_LABEL_FIELDS),
    "subject",
    "payload",
    "object_type",
    "object_id",
)


@dataclass
class Customer360Rows:
    """The 360 as plain rows (`.values()` dicts) for the API; `orders` rows carry their `lines`."""

    customer: dict[str, Any]
    tags: list[str]
    contacts: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    needs: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    order_count: int
    events: list[dict[str, Any]]


def customer_360_rows(
    user: Any,
    pk: Any,
    *,
    customer_hidden: Collection[str] = (),
    contact_hidden: Collection[str] = (),
    events: int = RECENT_EVENTS,
) -> Customer360Rows:
    """What `customer_360` loads, under the same access rules, as rows: no model instances.

    The customer row joins its owner and score; the order count rides on the orders query as a
    window over all visible orders of the customer; lines follow the same recent orders through a
    subquery; columns the role hides are not read. The eight reads depend only on `pk`, so they go
    to the database together (one round trip on PostgreSQL). When the customer is missing or not
    visible the other rows are discarded and the answer is NotFound, as for `get_for`.
    """
    check_pk(pk)
    try:
        customer_qs = visible_to(user, "view", Customer).filter(pk=pk)
    except (ValueError, TypeError) as exc:
        raise NotFound() from exc
    recent_orders = _orders_of(user, pk).order_by("-ordered_at", "-id")
    found = fetch_values_together(
        customer_qs.values(*_readable(CUSTOMER_DETAIL_FIELDS, customer_hidden), *CUSTOMER_JOINED_FIELDS),
        _tag_links([pk]),
        _contacts_of(user, pk).values(*_readable(CONTACT_FIELDS, contact_hidden))[:100],
        _channels_of(user, pk).values(*CHANNEL_FIELDS)[:50],
        _needs_of(user, pk).values(*NEED_FIELDS)[:50],
        recent_orders.annotate(visible_orders=Window(Count("id"))).values(*ORDER_FIELDS, "visible_orders")[
            :RECENT_ORDERS
        ],
        OrderLine.objects.filter(order_id__in=recent_orders.values("id")[:RECENT_ORDERS])
        .order_by("id")
        .values(*ORDER_LINE_FIELDS),
        _recent_events_of(pk).values(*EVENT_FIELDS)[:events],
    )
    customers, tag_links, contacts, channels, needs, orders, lines, recent = found
    if not customers:
        raise NotFound()
    by_order: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in orders}
    for line in lines:
        by_order[line["order_id"]].append(line)
    for row in orders:
        row["lines"] = by_order[row["id"]]
    return Customer360Rows(
        customer=customers[0],
        tags=[link["tag__name"] for link in tag_links],
        contacts=contacts,
        channels=channels,
        needs=needs,
        orders=orders,
        order_count=orders[0]["visible_orders"] if orders else 0,
        events=recent,
    )


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


def orders_for(
    user: Any,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    definition: Mapping[str, Any] | None = None,
) -> QuerySet[Order]:
    """Visible orders; `definition` is an order filter (order fields, `custom.<key>`; crm.customers.filters)."""
    qs = visible_to(user, "view", Order).select_related("customer")
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    if definition:
        qs = qs.filter(order_filter_q(definition))
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
