"""Customer pages: list, search, 360, forms for customers, contacts, needs, orders, products and admin lists.

Thin: each view parses the request, calls one selector or service, and renders. Every page works
without JavaScript; htmx requests get the named partial of the same template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.access import can, field_policy, get_for, has_verb
from crm.core.api import paginate
from crm.core.errors import DomainError, NotFound
from crm.core.models import CustomFieldDefinition
from crm.customers import choices, selectors, services
from crm.customers.models import Contact, Customer, NeedType, Order, Product
from crm.customers.search import search_customers

LIST_PARAMS = (
    "lifecycle_stage",
    "kind",
    "owner",
    "region",
    "city",
    "industry",
    "source",
    "tag",
    "rfm_segment",
    "value_tier",
    "created_after",
    "created_before",
    "bought_category",
    "bought_days",
)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _guard(fn: Callable[[], HttpResponse]) -> HttpResponse:
    try:
        return fn()
    except NotFound as exc:
        raise Http404 from exc


def _flat_errors(exc: DomainError) -> dict[str, str]:
    return {field: " ".join(messages_) for field, messages_ in exc.errors.items()}


def _form_data(post: QueryDict, names: tuple[str, ...], *, booleans: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fields present in the form → service data; custom.<key> inputs become one `custom` dict."""
    data: dict[str, Any] = {}
    for name in names:
        if name in booleans:
            data[name] = post.get(name) in {"on", "true", "1"}
        elif name in post:
            data[name] = post.get(name, "")
    custom: dict[str, Any] = {}
    for key in post:
        if key.startswith("custom."):
            values = [v for v in post.getlist(key) if v != ""]
            custom[key.removeprefix("custom.")] = values if len(values) > 1 or key.endswith("[]") else post.get(key)
    clean_custom = {k.removesuffix("[]"): v for k, v in custom.items()}
    if clean_custom:
        data["custom"] = clean_custom
    return data


def _custom_fields(object_type: str) -> list[CustomFieldDefinition]:
    return list(selectors.custom_field_definitions(object_type, active_only=True))


def _export_url(query: str) -> str | None:
    for name in ("customers:transfer:export", "customers:export", "transfer:export"):
        try:
            return f"{reverse(name)}?{query}"
        except NoReverseMatch:
            continue
    return None


# --- list and search ---------------------------------------------------------------------------


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    params = {k: v for k, v in request.GET.items() if k in LIST_PARAMS and v}
    sort = request.GET.get("sort") or selectors.DEFAULT_SORT
    query = request.GET.get("q", "")
    errors: dict[str, str] = {}
    rows: list[Customer] = []
    next_cursor = None
    try:
        qs, ordering = selectors.list_customers(request.user, params=params, query=query, sort=sort)
        rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor"), limit=50, ordering=ordering)
    except DomainError as exc:
        errors = _flat_errors(exc) or {"form": str(exc.detail)}
    keep = {**params, "sort": sort, **({"q": query} if query else {})}
    context = {
        "rows": rows,
        "next_url": f"?{urlencode({**keep, 'cursor': next_cursor})}" if next_cursor else None,
        "params": params,
        "query": query,
        "sort": sort,
        "sorts": [
            ("-updated_at", _("Recently updated")),
            ("-created_at", _("Newest")),
            ("name", _("Name A–Z")),
            ("-priority", _("Priority")),
        ],
        "errors": errors,
        "stages": choices.LifecycleStage.choices,
        "kinds": choices.CustomerKind.choices,
        "segments": choices.RfmSegment.choices,
        "tiers": choices.ValueTier.choices,
        "owners": selectors.assignable_owners(),
        "tags": selectors.tags()[:200],
        "saved_views": selectors.saved_views_for(request.user),
        "current_query": urlencode(keep),
        "export_url": _export_url(urlencode(keep)),
        "can_assign": has_verb(request.user, "assign", Customer),
        "can_create": has_verb(request.user, "create", Customer),
        "can_configure": has_verb(request.user, "change", NeedType),
    }
    template = "customers/list.html#results" if _is_htmx(request) else "customers/list.html"
    return render(request, template, context)


@login_required
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    params = {k: v for k, v in QueryDict(query).items() if v}
    try:
        services.save_saved_view(actor=request.user, name=request.POST.get("name", ""), query={"params": params})
        messages.success(request, _("View saved."))
    except DomainError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()) or str(exc.detail))
    return redirect(f"{reverse('customers:list')}?{query}")


@login_required
def open_view(request: HttpRequest, view_id: int) -> HttpResponse:
    view = selectors.saved_views_for(request.user).filter(pk=view_id).first()
    if view is None:
        raise Http404
    return redirect(f"{reverse('customers:list')}?{urlencode(view.query.get('params', {}))}")


@login_required
@require_POST
def delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    view = selectors.saved_views_for(request.user).filter(pk=view_id).first()
    if view is None:
        raise Http404
    services.delete_saved_view(view, actor=request.user)
    messages.success(request, _("View deleted."))
    return redirect("customers:list")


@login_required
@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()][:5000]
    action = request.POST.get("action")
    back = f"{reverse('customers:list')}?{request.POST.get('query', '')}"
    if not ids:
        messages.error(request, _("Select at least one customer."))
        return redirect(back)
    if action == "export":
        url = _export_url(urlencode([("ids", i) for i in ids]))
        if url:
            return redirect(url)
    try:
        if action == "tag":
            found = list(selectors.customers_for(request.user, "change").filter(pk__in=ids))
            tag_names = [t.strip() for t in request.POST.get("tag", "").replace("，", ",").split(",") if t.strip()]
            if not tag_names:
                messages.error(request, _("Enter a tag."))
                return redirect(back)
            count = services.bulk_tag_customers(found, actor=request.user, add=tag_names)
        elif action == "untag":
            found = list(selectors.customers_for(request.user, "change").filter(pk__in=ids))
            count = services.bulk_tag_customers(found, actor=request.user, remove=[request.POST.get("tag", "")])
        elif action == "assign":
            found = list(selectors.customers_for(request.user, "assign").filter(pk__in=ids))
            count = services.bulk_assign_customers(found, actor=request.user, owner=request.POST.get("owner"))
        else:
            messages.error(request, _("Choose an action."))
            return redirect(back)
    except DomainError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()) or str(exc.detail))
        return redirect(back)
    messages.success(request, _("%(n)s customers updated.") % {"n": count})
    return redirect(back)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    results = search_customers(request.user, query, limit=8 if _is_htmx(request) else 50) if query.strip() else []
    context = {"query": query, "results": results}
    if _is_htmx(request):
        return render(request, "customers/search.html#suggestions", context)
    return render(request, "customers/search.html", context)


# --- the customer 360 ---------------------------------------------------------------------------


@login_required
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        try:
            view = selectors.customer_360(request.user, customer_id, with_panels=True)
        except NotFound:
            survivor = selectors.survivor_of_merged(request.user, customer_id)
            if survivor is None:
                raise
            return redirect("customers:detail", customer_id=survivor)
        policy = field_policy(request.user, Customer)
        customer = view.customer
        definitions = _custom_fields("customers.customer")
        custom_rows = [(d, customer.custom.get(d.key)) for d in definitions if d.key in customer.custom]
        return render(
            request,
            "customers/detail.html",
            {
                "view": view,
                "customer": customer,
                "policy": policy,
                "show": {f: policy.can_read(f) for f in ("email", "phone", "address", "id_number")},
                "custom_rows": custom_rows,
                "can_change": get_for_or_none(request.user, "change", customer_id) is not None,
                "need_types": selectors.need_types(),
                "levels": choices.NeedLevel.choices,
            },
        )

    return _guard(page)


@login_required
def customer_timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The whole timeline, 50 events a page (the 360 page shows the latest 30)."""

    def page() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id)
        events, next_cursor = paginate(
            selectors.timeline_for(customer),
            cursor=request.GET.get("cursor"),
            limit=50,
            ordering=("-occurred_at", "-id"),
        )
        return render(
            request,
            "customers/timeline.html",
            {
                "customer": customer,
                "events": events,
                "next_url": f"?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
            },
        )

    return _guard(page)


def get_for_or_none(user: Any, verb: str, customer_id: int) -> Customer | None:
    try:
        return get_for(user, verb, Customer, customer_id)
    except NotFound:
        return None


@login_required
@require_POST
def add_note(request: HttpRequest, customer_id: int) -> HttpResponse:
    def act() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id, verb="change")
        try:
            services.add_note(customer, actor=request.user, text=request.POST.get("text", ""))
            messages.success(request, _("Note added."))
        except DomainError as exc:
            messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
        return redirect("customers:detail", customer_id=customer_id)

    return _guard(act)


# --- customer form ------------------------------------------------------------------------------

FORM_FIELDS = (
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
    "owner",
    "email",
    "phone",
    "address",
    "id_number",
    "email_opt_in",
    "sms_opt_in",
    "phone_opt_in",
    "tags",
)
BOOLEAN_FIELDS = ("email_opt_in", "sms_opt_in", "phone_opt_in")


def _customer_form_context(
    request: HttpRequest, values: Mapping[str, Any], errors: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    policy = field_policy(request.user, Customer)
    return {
        "values": values,
        "errors": errors,
        "kinds": choices.CustomerKind.choices,
        "genders": choices.Gender.choices,
        "stages": choices.LifecycleStage.choices,
        "owners": selectors.assignable_owners(),
        "custom_fields": _custom_fields("customers.customer"),
        "writable": {f: policy.can_write(f) for f in FORM_FIELDS},
        "readable": {f: policy.can_read(f) for f in FORM_FIELDS},
        **extra,
    }


def _customer_values(customer: Customer) -> dict[str, Any]:
    values = {f: getattr(customer, f) for f in FORM_FIELDS if f not in {"owner", "tags"}}
    values["owner"] = customer.owner_id or ""
    values["birth_date"] = customer.birth_date.isoformat() if customer.birth_date else ""
    values["tags"] = ", ".join(t.name for t in customer.tags.all())
    values["custom"] = customer.custom
    values["version"] = customer.version
    return values


def _posted_customer(request: HttpRequest, policy_fields: Mapping[str, bool]) -> dict[str, Any]:
    names = tuple(f for f in FORM_FIELDS if policy_fields.get(f, True))
    data = _form_data(request.POST, names, booleans=tuple(b for b in BOOLEAN_FIELDS if b in names))
    return data


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        policy = field_policy(request.user, Customer)
        data = _posted_customer(request, {f: policy.can_write(f) for f in FORM_FIELDS})
        try:
            customer = services.create_customer(actor=request.user, data=data)
        except DomainError as exc:
            values = {**request.POST.dict(), "custom": data.get("custom", {})}
            context = _customer_form_context(request, values, _flat_errors(exc), detail=str(exc.detail))
            return render(request, "customers/customer_form.html", context, status=422)
        messages.success(request, _("Customer created."))
        return redirect("customers:detail", customer_id=customer.pk)
    context = _customer_form_context(request, {"kind": "person", "lifecycle_stage": "prospect", "country": "CN"}, {})
    return render(request, "customers/customer_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id, verb="change")
        if request.method == "POST":
            policy = field_policy(request.user, Customer)
            data = _posted_customer(request, {f: policy.can_write(f) for f in FORM_FIELDS})
            version = request.POST.get("version")
            try:
                services.update_customer(
                    customer,
                    actor=request.user,
                    data=data,
                    expected_version=int(version) if version and version.isdigit() else None,
                )
            except DomainError as exc:
                values = {**request.POST.dict(), "custom": data.get("custom", {})}
                context = _customer_form_context(
                    request, values, _flat_errors(exc), customer=customer, detail=str(exc.detail)
                )
                return render(request, "customers/customer_form.html", context, status=exc.status)
            messages.success(request, _("Customer saved."))
            return redirect("customers:detail", customer_id=customer.pk)
        context = _customer_form_context(request, _customer_values(customer), {}, customer=customer)
        return render(request, "customers/customer_form.html", context)

    return _guard(page)


@login_required
@require_POST
def validate_field(request: HttpRequest) -> HttpResponse:
    """Inline validation (htmx): check the one field that just changed, return its error or nothing."""
    name = request.POST.get("_field", "")
    object_type = request.POST.get("_object", "customer")
    message = ""
    if name:
        value = request.POST.getlist(name) if name.startswith("custom.") else request.POST.get(name, "")
        try:
            if name.startswith("custom.") and object_type in {"customer", "contact", "need", "order"}:
                from crm.core.custom_fields import clean_custom_values

                clean_custom_values(
                    f"customers.{object_type}",
                    {name.removeprefix("custom."): value[0] if len(value) == 1 else value},
                    partial=True,
                )
            elif object_type == "customer" and name in FORM_FIELDS:
                data: dict[str, Any] = {name: value}
                if name == "phone":
                    data["country"] = request.POST.get("country", "CN") or "CN"
                services.clean_customer_data(data, partial=True)
            elif object_type == "contact" and name in services.CONTACT_FIELDS:
                services.clean_contact_data({name: value}, instance=Contact(name="x"))
        except DomainError as exc:
            message = " ".join(exc.errors.get(name, []))
    return render(request, "customers/_field_error.html", {"message": message, "name": name})


# --- contacts, needs, orders ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest, customer_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id, verb="change")
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = _form_data(request.POST, CONTACT_FORM_FIELDS, booleans=("is_primary",))
            try:
                services.create_contact(customer, actor=request.user, data=data)
                messages.success(request, _("Contact added."))
                return redirect("customers:detail", customer_id=customer.pk)
            except DomainError as exc:
                values, errors = request.POST.dict(), _flat_errors(exc)
        return render(
            request,
            "customers/contact_form.html",
            {
                "customer": customer,
                "values": values,
                "errors": errors,
                "custom_fields": _custom_fields("customers.contact"),
            },
            status=422 if errors else 200,
        )

    return _guard(page)


CONTACT_FORM_FIELDS = ("name", "title", "email", "phone")


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        contact = selectors.get_contact_for(request.user, contact_id, verb="change")
        values: dict[str, Any] = {
            "name": contact.name,
            "title": contact.title,
            "email": contact.email,
            "phone": contact.phone,
            "is_primary": contact.is_primary,
            "version": contact.version,
            "custom": contact.custom,
        }
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = _form_data(request.POST, CONTACT_FORM_FIELDS, booleans=("is_primary",))
            version = request.POST.get("version", "")
            try:
                services.update_contact(
                    contact, actor=request.user, data=data, expected_version=int(version) if version.isdigit() else None
                )
                messages.success(request, _("Contact saved."))
                return redirect("customers:detail", customer_id=contact.customer_id)
            except DomainError as exc:
                values = {**request.POST.dict(), "custom": data.get("custom", {})}
                errors = _flat_errors(exc) or {"form": str(exc.detail)}
        return render(
            request,
            "customers/contact_form.html",
            {
                "customer": contact.customer,
                "contact": contact,
                "values": values,
                "errors": errors,
                "custom_fields": _custom_fields("customers.contact"),
                "can_delete": has_verb(request.user, "delete", Contact),
            },
            status=422 if errors else 200,
        )

    return _guard(page)


@login_required
@require_POST
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    def act() -> HttpResponse:
        contact = selectors.get_contact_for(request.user, contact_id, verb="delete")
        customer_id = contact.customer_id
        services.delete_contact(contact, actor=request.user)
        messages.success(request, _("Contact removed."))
        return redirect("customers:detail", customer_id=customer_id)

    return _guard(act)


NEED_FORM_FIELDS = ("need_type", "level", "status", "title", "description", "needed_by", "owner")


@login_required
@require_http_methods(["GET", "POST"])
def need_create(request: HttpRequest, customer_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id)
        values: dict[str, Any] = {"level": "normal", "status": "open"}
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = _form_data(request.POST, NEED_FORM_FIELDS)
            data = {k: v for k, v in data.items() if v != "" or k in {"title", "need_type"}}
            try:
                services.create_need(customer, actor=request.user, data=data)
                messages.success(request, _("Need recorded."))
                return redirect("customers:detail", customer_id=customer.pk)
            except DomainError as exc:
                values, errors = request.POST.dict(), _flat_errors(exc)
        return render(
            request, "customers/need_form.html", _need_context(customer, values, errors), status=422 if errors else 200
        )

    return _guard(page)


@login_required
@require_http_methods(["GET", "POST"])
def need_edit(request: HttpRequest, need_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        need = selectors.get_need_for(request.user, need_id, verb="change")
        values: dict[str, Any] = {
            "need_type": need.need_type.code,
            "level": need.level,
            "status": need.status,
            "title": need.title,
            "description": need.description,
            "needed_by": need.needed_by.isoformat() if need.needed_by else "",
            "owner": need.owner_id or "",
            "version": need.version,
            "custom": need.custom,
        }
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = _form_data(request.POST, NEED_FORM_FIELDS)
            version = request.POST.get("version", "")
            try:
                services.update_need(
                    need, actor=request.user, data=data, expected_version=int(version) if version.isdigit() else None
                )
                messages.success(request, _("Need saved."))
                return redirect("customers:detail", customer_id=need.customer_id)
            except DomainError as exc:
                values = {**request.POST.dict(), "custom": data.get("custom", {})}
                errors = _flat_errors(exc) or {"form": str(exc.detail)}
        context = _need_context(need.customer, values, errors, need=need)
        return render(request, "customers/need_form.html", context, status=422 if errors else 200)

    return _guard(page)


def _need_context(
    customer: Customer, values: Mapping[str, Any], errors: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "customer": customer,
        "values": values,
        "errors": errors,
        "need_types": selectors.need_types(),
        "levels": choices.NeedLevel.choices,
        "statuses": choices.NeedStatus.choices,
        "owners": selectors.assignable_owners(),
        "custom_fields": _custom_fields("customers.need"),
        **extra,
    }


ORDER_LINE_ROWS = 5


@login_required
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest, customer_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        customer = selectors.get_customer_for(request.user, customer_id)
        errors: dict[str, str] = {}
        values: dict[str, Any] = {"currency": "CNY", "channel": "online"}
        lines: list[dict[str, str]] = [{} for _ in range(ORDER_LINE_ROWS)]
        if request.method == "POST":
            values = request.POST.dict()
            lines = [
                {f: request.POST.get(f"lines-{i}-{f}", "") for f in ("sku", "name", "quantity", "unit_price")}
                for i in range(ORDER_LINE_ROWS)
            ]
            filled = [
                {k: v for k, v in line.items() if v != ""} for line in lines if any(v.strip() for v in line.values())
            ]
            data = {
                "ordered_at": request.POST.get("ordered_at", ""),
                "channel": request.POST.get("channel", ""),
                "currency": request.POST.get("currency", ""),
                "number": request.POST.get("number", ""),
                "lines": filled,
                **_form_data(request.POST, ()),  # custom.<key> inputs → "custom"
            }
            values["custom"] = data.get("custom", {})
            try:
                services.create_order(customer, actor=request.user, data=data)
                messages.success(request, _("Order recorded."))
                return redirect("customers:detail", customer_id=customer.pk)
            except DomainError as exc:
                errors = _flat_errors(exc)
                # Line errors refer to the filled lines; map them back to the form rows.
                row_of = [i for i, line in enumerate(lines) if any(v.strip() for v in line.values())]
                for key in list(errors):
                    if key.startswith("lines."):
                        _prefix, index, *rest = key.split(".")
                        if index.isdigit() and int(index) < len(row_of):
                            errors[f"lines-{row_of[int(index)]}-{'.'.join(rest)}"] = errors.pop(key)
        return render(
            request,
            "customers/order_form.html",
            {
                "customer": customer,
                "values": values,
                "errors": errors,
                "lines": [
                    (i, line, [m for k, m in errors.items() if k.startswith(f"lines-{i}-")])
                    for i, line in enumerate(lines)
                ],
                "channels": choices.OrderChannel.choices,
                "products": selectors.products_for(request.user, active_only=True)[:500],
                "custom_fields": _custom_fields(services.ORDER_TYPE),
            },
            status=422 if errors else 200,
        )

    return _guard(page)


@login_required
@require_POST
def order_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    def act() -> HttpResponse:
        order = selectors.get_order_for(request.user, order_id, verb="change")
        try:
            services.refund_order(
                order, actor=request.user, amount=request.POST.get("amount", ""), reason=request.POST.get("reason", "")
            )
            messages.success(request, _("Refund recorded."))
        except DomainError as exc:
            messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()) or str(exc.detail))
        return redirect("customers:detail", customer_id=order.customer_id)

    return _guard(act)


@login_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    def act() -> HttpResponse:
        order = selectors.get_order_for(request.user, order_id, verb="change")
        version = request.POST.get("version", "")
        try:
            services.cancel_order(
                order, actor=request.user, expected_version=int(version) if version.isdigit() else None
            )
            messages.success(request, _("Order cancelled."))
        except DomainError as exc:
            messages.error(request, str(exc.detail))
        return redirect("customers:order", order_id=order.pk)

    return _guard(act)


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return _guard(lambda: _order_page(request, selectors.get_order_for(request.user, order_id)))


def _order_page(
    request: HttpRequest, order: Order, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None
) -> HttpResponse:
    """The order page: facts, lines, refunds, and its custom values with a form to change them."""
    definitions = _custom_fields(services.ORDER_TYPE)
    return render(
        request,
        "customers/order_detail.html",
        {
            "order": order,
            "custom_rows": [(d, order.custom[d.key]) for d in definitions if d.key in order.custom],
            "custom_fields": definitions,
            "can_change": bool(definitions)
            and field_policy(request.user, Order).can_write("custom")
            and can(request.user, "change", order),
            "values": values if values is not None else {"custom": order.custom, "version": order.version},
            "errors": errors or {},
        },
        status=422 if errors else 200,
    )


@login_required
@require_POST
def order_edit(request: HttpRequest, order_id: int) -> HttpResponse:
    """Change the order's custom values (the only part of an order that is edited in place)."""

    def act() -> HttpResponse:
        order = selectors.get_order_for(request.user, order_id, verb="change")
        data = _form_data(request.POST, ())
        version = request.POST.get("version", "")
        try:
            services.update_order(
                order,
                actor=request.user,
                data={"custom": data.get("custom", {})},
                expected_version=int(version) if version.isdigit() else None,
            )
        except DomainError as exc:
            values = {"custom": data.get("custom", {}), "version": version}
            return _order_page(request, order, values, _flat_errors(exc) or {"form": str(exc.detail)})
        messages.success(request, _("Order saved."))
        return redirect("customers:order", order_id=order.pk)

    return _guard(act)


# --- products, need types, custom fields ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def product_list(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"currency": "CNY"}
    if request.method == "POST":
        data = _form_data(request.POST, ("sku", "name", "category", "list_price", "currency"))
        try:
            services.save_product(actor=request.user, data=data)
            messages.success(request, _("Product added."))
            return redirect("customers:products")
        except DomainError as exc:
            values, errors = request.POST.dict(), _flat_errors(exc) or {"form": str(exc.detail)}
    query = request.GET.get("q", "")
    category = request.GET.get("category", "")
    qs = selectors.products_for(request.user, query=query, category=category)
    rows, next_cursor = paginate(qs, cursor=request.GET.get("cursor"), limit=50, ordering=("sku", "id"))
    return render(
        request,
        "customers/products.html",
        {
            "rows": rows,
            "next_url": f"?{urlencode({'q': query, 'category': category, 'cursor': next_cursor})}"
            if next_cursor
            else None,
            "query": query,
            "category": category,
            "categories": selectors.product_categories(),
            "values": values,
            "errors": errors,
            "can_create": has_verb(request.user, "create", Product),
        },
        status=422 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    def page() -> HttpResponse:
        product = selectors.get_product_for(request.user, product_id, verb="change")
        errors: dict[str, str] = {}
        values: dict[str, Any] = {
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "list_price": product.list_price,
            "currency": product.currency,
            "is_active": product.is_active,
            "version": product.version,
        }
        if request.method == "POST":
            data = _form_data(
                request.POST, ("sku", "name", "category", "list_price", "currency"), booleans=("is_active",)
            )
            version = request.POST.get("version", "")
            try:
                services.save_product(
                    actor=request.user,
                    data=data,
                    instance=product,
                    expected_version=int(version) if version.isdigit() else None,
                )
                messages.success(request, _("Product saved."))
                return redirect("customers:products")
            except DomainError as exc:
                values, errors = request.POST.dict(), _flat_errors(exc) or {"form": str(exc.detail)}
        return render(
            request,
            "customers/product_form.html",
            {"product": product, "values": values, "errors": errors},
            status=422 if errors else 200,
        )

    return _guard(page)


def _may_configure(request: HttpRequest, model: type[Any]) -> None:
    """Configuration pages (need types, custom fields) are for roles that may change that model."""
    if not has_verb(request.user, "change", model):
        raise Http404


def _configurable(request: HttpRequest, model: type[Any], pk: str) -> Any:
    """The configuration row being edited, read through the access layer (404 when not reachable)."""
    try:
        return get_for(request.user, "change", model, int(pk))
    except NotFound as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET", "POST"])
def need_type_list(request: HttpRequest) -> HttpResponse:
    _may_configure(request, NeedType)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        instance = None
        if request.POST.get("id", "").isdigit():
            instance = _configurable(request, NeedType, request.POST["id"])
        data = _form_data(request.POST, ("code", "name", "name_en"), booleans=("is_active",))
        if instance is None:
            data["is_active"] = True
        try:
            services.save_need_type(actor=request.user, data=data, instance=instance)
            messages.success(request, _("Need type saved."))
            return redirect("customers:need-types")
        except DomainError as exc:
            values, errors = request.POST.dict(), _flat_errors(exc)
    return render(
        request,
        "customers/need_types.html",
        {"rows": selectors.need_types(active_only=False), "values": values, "errors": errors},
        status=422 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def custom_field_list(request: HttpRequest) -> HttpResponse:
    _may_configure(request, CustomFieldDefinition)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"object_type": "customers.customer"}
    if request.method == "POST":
        instance = None
        if request.POST.get("id", "").isdigit():
            instance = _configurable(request, CustomFieldDefinition, request.POST["id"])
        if instance is not None:
            data = _form_data(request.POST, ("label", "label_en", "choices"), booleans=("is_active", "required"))
            if instance.field_type not in {CustomFieldDefinition.CHOICE, CustomFieldDefinition.MULTI_CHOICE}:
                data.pop("choices", None)
        else:
            data = _form_data(
                request.POST,
                ("object_type", "key", "label", "label_en", "field_type", "choices", "position"),
                booleans=("required",),
            )
            if not data.get("choices"):
                data.pop("choices", None)
            if not data.get("position"):
                data.pop("position", None)
        try:
            services.save_custom_field(actor=request.user, data=data, instance=instance)
            messages.success(request, _("Custom field saved."))
            return redirect("customers:custom-fields")
        except DomainError as exc:
            values, errors = request.POST.dict(), _flat_errors(exc)
    return render(
        request,
        "customers/custom_fields.html",
        {
            "rows": selectors.custom_field_definitions(),
            "values": values,
            "errors": errors,
            "object_types": [(t, t.split(".")[1]) for t in services.CUSTOM_FIELD_OBJECT_TYPES],
            "field_types": CustomFieldDefinition.TYPE_CHOICES,
        },
        status=422 if errors else 200,
    )
