"""Custom fields on orders: definitions, API create/bulk/update, filters, pages, access scope."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.core.access import Scope
from crm.core.models import AuditEntry, CustomFieldDefinition, TimelineEvent
from crm.customers import services
from crm.customers.models import Customer, Order
from crm.identity.models import Role, RoleFieldRule, RolePermission
from crm.testing.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json", headers=headers)


def errors_of(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


def yesterday() -> str:
    return (timezone.now() - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def order_fields(admin_user: Any) -> None:
    """Three order fields defined through the service, as the admin page and API do."""
    for data in (
        {"key": "source", "label": "来源", "label_en": "Source", "field_type": "choice", "choices": ["门店", "电商"]},
        {"key": "gifts", "label": "赠品", "field_type": "multi_choice", "choices": ["茶杯", "茶盒", "礼袋"]},
        {"key": "rating", "label": "评分", "field_type": "number"},
    ):
        services.save_custom_field(actor=admin_user, data={"object_type": "customers.order", **data})


@pytest.fixture
def buyer(admin_user: Any) -> Customer:
    return services.create_customer(actor=admin_user, data={"name": "王五"})


def test_definitions_accept_the_order_object_type(api_client: Client) -> None:
    # when an administrator defines an order field through the API
    response = post(
        api_client,
        "/api/v1/custom-fields",
        {"object_type": "customers.order", "key": "invoice", "label": "发票", "field_type": "boolean"},
    )
    # then it exists and is listed for orders only
    assert response.status_code == 201, response.content
    listed = api_client.get("/api/v1/custom-fields", {"object_type": "customers.order"}).json()
    assert [d["key"] for d in listed] == ["invoice"]
    assert api_client.get("/api/v1/custom-fields", {"object_type": "customers.customer"}).json() == []


def test_create_order_with_custom_values_returns_them(api_client: Client, order_fields: None, buyer: Customer) -> None:
    # when an order is posted with custom values in loose shapes
    body = {
        "customer_id": buyer.pk,
        "ordered_at": yesterday(),
        "total_amount": "88",
        "custom": {"source": "门店", "gifts": ["茶杯", "礼袋"], "rating": "4.5"},
    }
    response = post(api_client, "/api/v1/orders", body)
    # then they are stored normalised and returned by create, detail and list
    assert response.status_code == 201, response.content
    expected = {"source": "门店", "gifts": ["茶杯", "礼袋"], "rating": 4.5}
    assert response.json()["custom"] == expected
    order = Order.objects.get()
    assert order.custom == expected
    assert api_client.get(f"/api/v1/orders/{order.pk}").json()["custom"] == expected
    assert api_client.get("/api/v1/orders", {"customer_id": buyer.pk}).json()["items"][0]["custom"] == expected
    assert api_client.get(f"/api/v1/customers/{buyer.pk}").json()["recent_orders"][0]["custom"] == expected
    audit = AuditEntry.objects.get(verb="create", object_type="customers.order")
    assert audit.changes["custom"]["after"] == expected


def test_bad_custom_values_are_field_errors_and_nothing_is_written(
    api_client: Client, order_fields: None, buyer: Customer
) -> None:
    body = {
        "customer_id": buyer.pk,
        "ordered_at": yesterday(),
        "total_amount": "88",
        "custom": {"source": "地摊", "gifts": ["茶杯", "金条"], "rating": "很多", "colour": "红"},
    }
    # when posted in Chinese
    response = post(api_client, "/api/v1/orders", body, **{"Accept-Language": "zh-hans"})
    # then every bad value has its own error, in Chinese, and no order exists
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    errors = errors_of(response)
    assert set(errors) == {"custom.source", "custom.gifts", "custom.rating", "custom.colour"}
    assert "地摊" in errors["custom.source"]
    assert errors["custom.rating"] == "输入一个数字。"
    assert Order.objects.count() == 0
    # and custom must be an object
    wrong_shape = post(api_client, "/api/v1/orders", {**body, "custom": ["门店"]})
    assert wrong_shape.status_code == 422
    assert Order.objects.count() == 0


def test_required_order_field_is_enforced_on_create(api_client: Client, admin_user: Any, buyer: Customer) -> None:
    services.save_custom_field(
        actor=admin_user,
        data={
            "object_type": "customers.order",
            "key": "po",
            "label": "采购单号",
            "field_type": "text",
            "required": True,
        },
    )
    body = {"customer_id": buyer.pk, "ordered_at": yesterday(), "total_amount": "1"}
    missing = post(api_client, "/api/v1/orders", body)
    assert missing.status_code == 422
    assert set(errors_of(missing)) == {"custom.po"}
    ok = post(api_client, "/api/v1/orders", {**body, "custom": {"po": "PO-7"}})
    assert ok.status_code == 201, ok.content
    assert ok.json()["custom"] == {"po": "PO-7"}


def test_bulk_orders_validate_custom_values_per_order(api_client: Client, order_fields: None, buyer: Customer) -> None:
    good = {"customer_id": buyer.pk, "ordered_at": yesterday(), "total_amount": "5", "custom": {"source": "电商"}}
    bad = {**good, "custom": {"source": "地摊"}}
    # when the second order of a batch has a bad choice
    response = post(api_client, "/api/v1/orders/bulk", {"orders": [good, bad]})
    # then the error names that order's field and nothing is written
    assert response.status_code == 422
    assert set(errors_of(response)) == {"orders.1.custom.source"}
    assert Order.objects.count() == 0
    # and a clean batch stores each order's values
    created = post(api_client, "/api/v1/orders/bulk", {"orders": [good, {**good, "custom": {"rating": 3}}]})
    assert created.status_code == 201, created.content
    stored = [o.custom for o in Order.objects.order_by("pk")]
    assert stored == [{"source": "电商"}, {"rating": 3}]


def _order(customer: Customer, actor: Any, **custom: Any) -> Order:
    data: dict[str, Any] = {"ordered_at": yesterday(), "total_amount": "10"}
    if custom:
        data["custom"] = custom
    return services.create_order(customer, actor=actor, data=data)


def test_update_changes_only_the_custom_values_sent(
    api_client: Client, order_fields: None, buyer: Customer, admin_user: Any
) -> None:
    order = _order(buyer, admin_user, source="门店", rating=2)
    # when one value is changed and another removed with null
    response = patch(api_client, f"/api/v1/orders/{order.pk}", {"custom": {"rating": 5, "source": None}, "version": 1})
    # then the rest is kept, the version moves on, and audit and timeline record it
    assert response.status_code == 200, response.content
    assert response.json()["custom"] == {"rating": 5}
    assert response.json()["version"] == 2
    order.refresh_from_db()
    assert order.custom == {"rating": 5}
    change = AuditEntry.objects.get(verb="change", object_type="customers.order")
    assert change.changes == {"custom": {"before": {"source": "门店", "rating": 2}, "after": {"rating": 5}}}
    assert TimelineEvent.objects.filter(customer_id=buyer.pk, kind="order.updated").count() == 1
    # a stale version is refused
    stale = patch(api_client, f"/api/v1/orders/{order.pk}", {"custom": {"rating": 1}}, **{"If-Match": "1"})
    assert stale.status_code == 412
    assert Order.objects.get().custom == {"rating": 5}


def test_update_with_bad_values_writes_nothing(
    api_client: Client, order_fields: None, buyer: Customer, admin_user: Any
) -> None:
    order = _order(buyer, admin_user, source="门店")
    response = patch(api_client, f"/api/v1/orders/{order.pk}", {"custom": {"source": "地摊", "rating": "x", "nope": 1}})
    assert response.status_code == 422
    assert set(errors_of(response)) == {"custom.source", "custom.rating", "custom.nope"}
    order.refresh_from_db()
    assert (order.custom, order.version) == ({"source": "门店"}, 1)
    assert not AuditEntry.objects.filter(verb="change", object_type="customers.order").exists()
    # only custom values may be changed this way; the amounts go through refunds and cancels
    amounts = patch(api_client, f"/api/v1/orders/{order.pk}", {"total_amount": "1"})
    assert amounts.status_code == 422
    assert Order.objects.get().total_amount == 10


def test_filter_orders_by_custom_fields(
    api_client: Client, order_fields: None, buyer: Customer, admin_user: Any
) -> None:
    shop = _order(buyer, admin_user, source="门店", gifts=["茶杯"], rating=5)
    online = _order(buyer, admin_user, source="电商", gifts=["茶盒", "礼袋"], rating=3)
    bare = _order(buyer, admin_user)

    def ids(*conditions: dict[str, Any], match: str = "all") -> list[int]:
        definition = {"match": match, "conditions": list(conditions)}
        response = api_client.get("/api/v1/orders", {"filter": json.dumps(definition)})
        assert response.status_code == 200, response.content
        return sorted(item["id"] for item in response.json()["items"])

    assert ids({"field": "custom.source", "op": "eq", "value": "门店"}) == [shop.pk]
    assert ids({"field": "custom.gifts", "op": "has_any", "value": ["礼袋"]}) == [online.pk]
    assert ids({"field": "custom.rating", "op": "gte", "value": 4}) == [shop.pk]
    assert ids({"field": "custom.source", "op": "is_empty"}) == [bare.pk]
    assert ids(
        {"field": "custom.source", "op": "eq", "value": "门店"},
        {"field": "custom.rating", "op": "lt", "value": 4},
        match="any",
    ) == sorted([shop.pk, online.pk])
    # order fields combine with custom ones
    assert ids(
        {"field": "status", "op": "eq", "value": "paid"}, {"field": "custom.rating", "op": "eq", "value": 3}
    ) == [online.pk]
    # bad filters are field errors keyed by their path
    for definition, field in (
        ({"conditions": [{"field": "custom.source", "op": "eq", "value": "地摊"}]}, "conditions.0.value"),
        ({"conditions": [{"field": "custom.nope", "op": "eq", "value": 1}]}, "conditions.0.field"),
        ({"conditions": [{"field": "tags", "op": "has_any", "value": ["VIP"]}]}, "conditions.0.field"),
    ):
        bad = api_client.get("/api/v1/orders", {"filter": json.dumps(definition)})
        assert bad.status_code == 422
        assert field in errors_of(bad)
    assert api_client.get("/api/v1/orders", {"filter": "{not json"}).status_code == 422


def _role_client(*, view: Scope, change: Scope | None = None, read_only: tuple[str, ...] = ()) -> tuple[Any, Client]:
    role = Role.objects.create(name="Order clerk", code="order_clerk")
    RolePermission.objects.create(role=role, object_type="customers.customer", verb="view", scope=int(view))
    RolePermission.objects.create(role=role, object_type="customers.order", verb="view", scope=int(view))
    if change is not None:
        RolePermission.objects.create(role=role, object_type="customers.order", verb="change", scope=int(change))
    for field in read_only:
        RoleFieldRule.objects.create(
            role=role, object_type="customers.order", field=field, mode=RoleFieldRule.READ_ONLY
        )
    user = make_user(username="clerk", role=role)
    return user, Client(headers={"Authorization": f"Bearer {make_token(user)}"})


def test_access_scope_is_unchanged_for_filters_and_updates(order_fields: None, admin_user: Any) -> None:
    # given a clerk who sees and changes only the orders of their own customers
    clerk, client = _role_client(view=Scope.OWN, change=Scope.OWN)
    mine = services.create_customer(actor=admin_user, data={"name": "自己的", "owner": clerk.pk})
    theirs = services.create_customer(actor=admin_user, data={"name": "别人的", "owner": admin_user.pk})
    own_order = _order(mine, admin_user, source="门店")
    other_order = _order(theirs, admin_user, source="门店")
    # when they filter by a custom value both orders share
    definition = {"conditions": [{"field": "custom.source", "op": "eq", "value": "门店"}]}
    listed = client.get("/api/v1/orders", {"filter": json.dumps(definition)}).json()["items"]
    # then only their own order comes back
    assert [item["id"] for item in listed] == [own_order.pk]
    # and another's order is "not found" for reads and updates, and stays unchanged
    assert client.get(f"/api/v1/orders/{other_order.pk}").status_code == 404
    refused = patch(client, f"/api/v1/orders/{other_order.pk}", {"custom": {"source": "电商"}})
    assert refused.status_code == 404
    assert Order.objects.get(pk=other_order.pk).custom == {"source": "门店"}
    allowed = patch(client, f"/api/v1/orders/{own_order.pk}", {"custom": {"source": "电商"}})
    assert allowed.status_code == 200, allowed.content


def test_read_only_field_rule_protects_custom_values(order_fields: None, admin_user: Any) -> None:
    clerk, client = _role_client(view=Scope.ALL, change=Scope.ALL, read_only=("custom",))
    order = _order(services.create_customer(actor=admin_user, data={"name": "客户"}), admin_user, source="门店")
    refused = patch(client, f"/api/v1/orders/{order.pk}", {"custom": {"source": "电商"}})
    assert refused.status_code == 403
    assert Order.objects.get().custom == {"source": "门店"}
    # the order page shows the values but offers no form to change them
    browser = Client()
    browser.force_login(clerk)
    page = browser.get(f"/customers/orders/{order.pk}/").content.decode()
    assert "门店" in page
    assert f"/customers/orders/{order.pk}/edit/" not in page


# --- pages -------------------------------------------------------------------------------------


def test_order_form_shows_and_validates_order_custom_fields(
    admin_client: Client, order_fields: None, buyer: Customer
) -> None:
    url = f"/customers/{buyer.pk}/orders/new/"
    form = admin_client.get(url).content.decode()
    assert 'name="custom.source"' in form
    assert 'name="custom.gifts[]"' in form
    base = {
        "ordered_at": (timezone.localtime() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "channel": "store",
        "currency": "CNY",
        "lines-0-name": "龙井",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "100",
    }
    # a bad value: the form comes back with the message next to the field, nothing saved
    wrong = admin_client.post(url, {**base, "custom.rating": "很多"}, headers={"Accept-Language": "zh-hans"})
    assert wrong.status_code == 422
    assert "输入一个数字。" in wrong.content.decode()
    assert 'value="很多"' in wrong.content.decode()
    assert Order.objects.count() == 0
    # good values are saved
    ok = admin_client.post(url, {**base, "custom.source": "门店", "custom.gifts[]": ["茶杯", "茶盒"]})
    assert ok.status_code == 302
    assert Order.objects.get().custom == {"source": "门店", "gifts": ["茶杯", "茶盒"]}
    # inline validation knows order fields
    inline = admin_client.post(
        "/customers/validate/", {"_field": "custom.rating", "_object": "order", "custom.rating": "abc"}
    ).content.decode()
    assert "field-error" in inline


def test_order_page_shows_and_edits_custom_values(
    admin_client: Client, order_fields: None, buyer: Customer, admin_user: Any
) -> None:
    order = _order(buyer, admin_user, source="门店", gifts=["茶杯", "礼袋"])
    page = admin_client.get(f"/customers/orders/{order.pk}/", headers={"Accept-Language": "en"}).content.decode()
    assert "<dt>Source</dt><dd>门店</dd>" in page
    assert "茶杯, 礼袋" in page
    edit_url = f"/customers/orders/{order.pk}/edit/"
    assert edit_url in page
    # a bad value: 422 with the error, nothing saved
    wrong = admin_client.post(edit_url, {"version": "1", "custom.source": "地摊"})
    assert wrong.status_code == 422
    assert "field-error" in wrong.content.decode()
    order.refresh_from_db()
    assert order.custom == {"source": "门店", "gifts": ["茶杯", "礼袋"]}
    # a good edit is saved and leads back to the order
    ok = admin_client.post(
        edit_url, {"version": "1", "custom.source": "电商", "custom.gifts[]": ["茶盒"], "custom.rating": "4"}
    )
    assert ok.status_code == 302
    assert ok["Location"] == f"/customers/orders/{order.pk}/"
    order.refresh_from_db()
    assert order.custom == {"source": "电商", "gifts": ["茶盒"], "rating": 4}
    # unticking every box of a multi-choice (the form still sends its empty marker) and emptying a
    # value remove them
    cleared = admin_client.post(
        edit_url, {"version": "2", "custom.source": "电商", "custom.gifts[]": "", "custom.rating": ""}
    )
    assert cleared.status_code == 302
    order.refresh_from_db()
    assert order.custom == {"source": "电商"}


def test_order_edit_page_is_not_found_outside_the_scope(order_fields: None, admin_user: Any) -> None:
    clerk, _client = _role_client(view=Scope.OWN, change=Scope.OWN)
    theirs = services.create_customer(actor=admin_user, data={"name": "别人的"})
    order = _order(theirs, admin_user, source="门店")
    browser = Client()
    browser.force_login(clerk)
    assert browser.get(f"/customers/orders/{order.pk}/").status_code == 404
    assert browser.post(f"/customers/orders/{order.pk}/edit/", {"custom.source": "电商"}).status_code == 404
    assert Order.objects.get().custom == {"source": "门店"}


def test_custom_fields_page_offers_orders(admin_client: Client) -> None:
    page = admin_client.get("/customers/custom-fields/").content.decode()
    assert 'value="customers.order"' in page
    created = admin_client.post(
        "/customers/custom-fields/",
        {"object_type": "customers.order", "key": "po", "label": "采购单号", "field_type": "text"},
    )
    assert created.status_code == 302
    assert CustomFieldDefinition.objects.get().object_type == "customers.order"
