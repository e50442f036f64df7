"""HTTP API: CRUD, problem+json field errors in the user's language, versions, pagination, query counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm.core.models import AuditEntry
from crm.customers import services
from crm.customers.models import Customer, CustomerScore, Order, OrderLine, Tag

pytestmark = pytest.mark.django_db


def fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def post(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: Any, **headers: Any) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json", headers=headers)


def test_customer_crud_round_trip(api_client: Client) -> None:
    # given a new customer posted with Chinese text
    response = post(api_client, "/api/v1/customers", {"name": "王五", "phone": "13800138000", "tags": ["重点"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert "王五" in response.content.decode("utf-8")
    assert body["phone"] == "+8613800138000"
    assert body["tags"] == ["重点"]
    cid = body["id"]
    # when patched with the right version, then with a stale one
    ok = patch(api_client, f"/api/v1/customers/{cid}", {"city": "深圳", "version": 1})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = patch(api_client, f"/api/v1/customers/{cid}", {"city": "广州"}, **{"If-Match": "1"})
    assert stale.status_code == 412
    assert stale["Content-Type"].startswith("application/problem+json")
    assert Customer.objects.get(pk=cid).city == "深圳"
    # then the 360 and timeline show it
    detail = api_client.get(f"/api/v1/customers/{cid}").json()
    assert detail["city"] == "深圳"
    timeline = api_client.get(f"/api/v1/customers/{cid}/timeline").json()
    assert [e["kind"] for e in timeline["items"]] == ["customer.updated", "customer.created"]
    assert api_client.delete(f"/api/v1/customers/{cid}").status_code == 204
    assert api_client.get(f"/api/v1/customers/{cid}").status_code == 404


def test_bad_input_answers_field_errors_in_chinese(api_client: Client) -> None:
    response = post(
        api_client,
        "/api/v1/customers",
        {"name": "x", "email": "nope", "phone": "123", "lifecycle_stage": "king"},
        **{"Accept-Language": "zh-hans"},
    )
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    errors = fields(response)
    assert set(errors) >= {"email", "phone", "lifecycle_stage"}
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["email"] == "请输入有效的邮箱地址。"
    assert messages["phone"] == "请输入有效的电话号码。"
    english = post(api_client, "/api/v1/customers", {"name": "x", "email": "nope"}, **{"Accept-Language": "en"})
    assert {e["field"]: e["message"] for e in english.json()["errors"]}["email"] == "Enter a valid e-mail address."
    assert Customer.objects.count() == 0
    wrong_type = post(api_client, "/api/v1/customers", {"name": ["a"], "email_opt_in": "perhaps", "x": 1})
    assert wrong_type.status_code == 422
    assert set(fields(wrong_type)) >= {"name", "x"}


def test_list_filters_sorts_and_paginates(api_client: Client, admin_user: Any) -> None:
    for i in range(7):
        services.create_customer(actor=admin_user, data={"name": f"客户{i}", "city": "上海" if i % 2 else "北京"})
    first = api_client.get("/api/v1/customers", {"city": "上海", "limit": 2, "sort": "name"}).json()
    assert [c["name"] for c in first["items"]] == ["客户1", "客户3"]
    second = api_client.get(
        "/api/v1/customers", {"city": "上海", "limit": 2, "sort": "name", "cursor": first["next_cursor"]}
    )
    assert [c["name"] for c in second.json()["items"]] == ["客户5"]
    definition = {"conditions": [{"field": "city", "op": "eq", "value": "北京"}]}
    filtered = api_client.get("/api/v1/customers", {"filter": json.dumps(definition)}).json()
    assert len(filtered["items"]) == 4
    bad = api_client.get("/api/v1/customers", {"filter": json.dumps({"conditions": [{"field": "nope"}]})})
    assert bad.status_code == 422
    assert "conditions.0.field" in fields(bad)
    assert api_client.get("/api/v1/customers", {"sort": "password"}).status_code == 422
    assert api_client.get("/api/v1/customers", {"q": "客户3"}).json()["items"][0]["name"] == "客户3"


def _many_customers(admin_user: Any, n: int) -> list[Customer]:
    tag = Tag.objects.create(name="t")
    result = []
    for i in range(n):
        c = Customer.objects.create(name=f"c{i}", owner=admin_user)
        c.tags.add(tag)
        CustomerScore.objects.create(customer=c, rfm_segment="loyal")
        result.append(c)
    return result


def _member_client() -> Client:
    """A built-in member (not a superuser): the role's grants and field rules are read per request."""
    from crm.identity.models import Role, RoleFieldRule
    from crm.testing.factories import make_token, make_user

    role = Role.objects.get(code="member")
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="id_number", mode="hidden")
    return Client(headers={"Authorization": f"Bearer {make_token(make_user(role=role))}"})


# Token (+ its last-use stamp on a first request), customers with owner and score, tags.
LIST_QUERIES = 4
# Token (+ stamp), customer with owner and score, tags, contacts, channels, needs, orders with
# their count, lines, events; on PostgreSQL the eight reads share one round trip (batched_reads).
DETAIL_QUERIES = 3 if connection.vendor == "postgresql" else 10
# A role that is not a superuser adds one query for its grants and one for its field rules.
ROLE_QUERIES = 2


@pytest.mark.parametrize("size", [3, 30])
@pytest.mark.parametrize("sort", ["-priority", "-updated_at"])
def test_list_query_count_is_constant(
    api_client: Client, admin_user: Any, size: int, sort: str, django_assert_max_num_queries: Any
) -> None:
    _many_customers(admin_user, size)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = api_client.get("/api/v1/customers", {"limit": 50, "sort": sort, "lifecycle_stage": "prospect"})
    assert len(response.json()["items"]) == size
    assert all(row["tags"] == ["t"] for row in response.json()["items"])
    member = _member_client()
    with django_assert_max_num_queries(LIST_QUERIES + ROLE_QUERIES):
        response = member.get("/api/v1/customers", {"limit": 50, "sort": sort})
    assert len(response.json()["items"]) == size


@pytest.mark.parametrize("size", [2, 25])
def test_detail_query_count_is_constant(
    api_client: Client, admin_user: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    customer = services.create_customer(actor=admin_user, data={"name": "张三", "tags": ["甲", "乙"]})
    need_type = services.save_need_type(actor=admin_user, data={"code": "q", "name": "咨询"})
    for i in range(size):
        order = Order.objects.create(customer=customer, number=f"n{i}", ordered_at=timezone.now(), total_amount=1)
        OrderLine.objects.create(order=order, name="x", quantity=1, unit_price=1, amount=1)
        OrderLine.objects.create(order=order, name="y", quantity=2, unit_price=1, amount=2)
        services.create_contact(customer, actor=admin_user, data={"name": f"联系人{i}"})
        services.create_need(customer, actor=admin_user, data={"need_type": need_type.code, "title": f"t{i}"})
        services.add_channel(customer, actor=admin_user, kind="phone", value=f"+86138001380{i:02d}", label="")
    with django_assert_max_num_queries(DETAIL_QUERIES):
        response = api_client.get(f"/api/v1/customers/{customer.pk}")
    body = response.json()
    assert len(body["contacts"]) == size
    assert len(body["channels"]) == size
    assert len(body["recent_orders"]) == min(size, 20)
    assert all(len(order["lines"]) == 2 for order in body["recent_orders"])
    assert body["order_count"] == size
    assert body["tags"] == sorted(["甲", "乙"])
    member = _member_client()
    with django_assert_max_num_queries(DETAIL_QUERIES + ROLE_QUERIES):
        assert member.get(f"/api/v1/customers/{customer.pk}").json()["order_count"] == size
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/orders", {"customer_id": customer.pk}).json()["items"]) == size
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/needs", {"customer_id": customer.pk}).json()["items"]) == size


def test_list_and_360_rows_serialise_like_the_other_endpoints(api_client: Client, admin_user: Any) -> None:
    # given a customer with everything the 360 shows, read row-wise by the list and the 360
    customer = services.create_customer(
        actor=admin_user,
        data={"name": "赵七", "email": "z7@example.com", "phone": "13800138007", "address": "上海", "tags": ["VIP"]},
    )
    CustomerScore.objects.create(customer=customer, rfm_segment="loyal", monetary="12.50", priority_reasons=[{"a": 1}])
    need_type = services.save_need_type(actor=admin_user, data={"code": "q", "name": "咨询"})
    services.create_need(customer, actor=admin_user, data={"need_type": need_type.code, "title": "报价"})
    services.create_contact(customer, actor=admin_user, data={"name": "联系人", "email": "c@example.com"})
    order = Order.objects.create(customer=customer, number="R1", ordered_at=timezone.now(), total_amount="9.90")
    OrderLine.objects.create(order=order, name="茶", quantity="1.500", unit_price="6.60", amount="9.90")
    services.add_note(customer, actor=admin_user, text="回访")
    # when the 360, the list and the model-serialised endpoints answer
    detail = api_client.get(f"/api/v1/customers/{customer.pk}").json()
    listed = api_client.get("/api/v1/customers", {"q": "赵七"}).json()["items"][0]
    changed = patch(api_client, f"/api/v1/customers/{customer.pk}", {"version": detail["version"]}).json()
    # then every shape matches: customer fields, contacts, needs, orders with lines, events
    assert {k: v for k, v in detail.items() if k in changed} == changed
    assert listed == {k: v for k, v in changed.items() if k not in ("address", "id_number")}
    assert detail["score"]["monetary"] == "12.50"
    assert detail["contacts"] == api_client.get("/api/v1/contacts", {"customer_id": customer.pk}).json()["items"]
    assert detail["needs"] == api_client.get("/api/v1/needs", {"customer_id": customer.pk}).json()["items"]
    assert detail["recent_orders"] == api_client.get("/api/v1/orders", {"customer_id": customer.pk}).json()["items"]
    assert detail["recent_orders"][0]["lines"][0]["quantity"] == "1.5"
    timeline = api_client.get(f"/api/v1/customers/{customer.pk}/timeline").json()["items"]
    assert detail["recent_events"] == timeline[:10]
    assert detail["recent_events"][0]["actor"] == str(admin_user)


def test_hidden_columns_are_not_even_read(admin_user: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    from crm.identity.models import Role, RoleFieldRule
    from crm.testing.factories import make_token, make_user

    # given a role that hides the customer's phone and ID number and a contact's e-mail
    role = Role.objects.get(code="member")
    for object_type, field in [
        ("customers.customer", "phone"),
        ("customers.customer", "id_number"),
        ("customers.contact", "email"),
    ]:
        RoleFieldRule.objects.create(role=role, object_type=object_type, field=field, mode="hidden")
    client = Client(headers={"Authorization": f"Bearer {make_token(make_user(role=role))}"})
    customer = services.create_customer(
        actor=admin_user, data={"name": "隐藏", "phone": "13800138009", "id_number": "11010519491231002X"}
    )
    services.create_contact(customer, actor=admin_user, data={"name": "联系人", "email": "hidden@example.com"})
    # when the 360 and the list are read
    with CaptureQueriesContext(connection) as queries:
        detail = client.get(f"/api/v1/customers/{customer.pk}")
        listed = client.get("/api/v1/customers")
    # then the hidden fields are absent, and their encrypted columns were never selected
    assert detail.status_code == listed.status_code == 200
    assert "phone" not in detail.json()
    assert "id_number" not in detail.json()
    assert "email" not in detail.json()["contacts"][0]
    assert all("phone" not in row for row in listed.json()["items"])
    selected = " ".join(q["sql"] for q in queries.captured_queries)
    for column in ('"customers_customer"."phone"', '"customers_customer"."id_number"', '"customers_contact"."email"'):
        assert column not in selected


def test_orders_refunds_and_bulk(api_client: Client, admin_user: Any) -> None:
    customer = services.create_customer(actor=admin_user, data={"name": "李四"})
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    created = post(
        api_client,
        "/api/v1/orders",
        {
            "customer_id": customer.pk,
            "ordered_at": yesterday,
            "lines": [{"name": "茶", "quantity": 2, "unit_price": "9.90"}],
        },
    )
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["total_amount"] == "19.80"
    too_much = post(api_client, f"/api/v1/orders/{order['id']}/refunds", {"amount": "20"})
    assert too_much.status_code == 422
    assert "amount" in fields(too_much)
    assert post(api_client, f"/api/v1/orders/{order['id']}/refunds", {"amount": "19.80"}).json()["status"] == "refunded"
    future = (timezone.now() + dt.timedelta(days=3)).isoformat()
    bad = post(
        api_client,
        "/api/v1/orders",
        {
            "customer_id": customer.pk,
            "ordered_at": future,
            "currency": "ABC",
            "lines": [{"name": "x", "quantity": -1, "unit_price": 1}],
        },
    )
    assert bad.status_code == 422
    assert set(fields(bad)) >= {"ordered_at", "currency", "lines.0.quantity"}
    batch = [
        {"customer_id": customer.pk, "ordered_at": yesterday, "total_amount": "5.00", "number": f"B{i}"}
        for i in range(300)
    ]
    audit_before = AuditEntry.objects.count()
    response = post(api_client, "/api/v1/orders/bulk", {"orders": batch})
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 300
    assert AuditEntry.objects.count() == audit_before + 1
    again = post(api_client, "/api/v1/orders/bulk", {"orders": [*batch[:1], {**batch[1], "number": "NEW"}]})
    assert again.status_code == 422
    assert "orders.0.number" in fields(again)
    assert not Order.objects.filter(number="NEW").exists()
    hidden = post(api_client, "/api/v1/orders/bulk", {"orders": [{**batch[0], "customer_id": 10**9, "number": "Z"}]})
    assert "orders.0.customer_id" in fields(hidden)


def test_search_endpoint_and_custom_fields(api_client: Client, admin_user: Any) -> None:
    services.create_customer(actor=admin_user, data={"name": "张三", "email": "z@example.com"})
    assert [c["name"] for c in api_client.get("/api/v1/search", {"q": "张三"}).json()["items"]] == ["张三"]
    assert [c["name"] for c in api_client.get("/api/v1/search", {"q": "Z@example.com"}).json()["items"]] == ["张三"]
    created = post(
        api_client,
        "/api/v1/custom-fields",
        {"key": "plan", "label": "套餐", "field_type": "choice", "choices": ["gold"]},
    )
    assert created.status_code == 201
    bad = post(api_client, "/api/v1/customers", {"name": "x", "custom": {"plan": "iron"}})
    assert "custom.plan" in fields(bad)
    assert [d["key"] for d in api_client.get("/api/v1/custom-fields").json()] == ["plan"]


def test_other_people_cannot_see_or_change(admin_user: Any) -> None:
    from crm.testing.factories import make_token, make_user

    customer = services.create_customer(actor=admin_user, data={"name": "秘密"})
    stranger = Client(headers={"Authorization": f"Bearer {make_token(make_user())}"})
    assert stranger.get(f"/api/v1/customers/{customer.pk}").status_code == 404
    assert patch(stranger, f"/api/v1/customers/{customer.pk}", {"name": "x"}).status_code == 404
    assert stranger.get("/api/v1/customers").json()["items"] == []
    assert post(stranger, "/api/v1/customers", {"name": "x"}).status_code == 403


@pytest.mark.parametrize("size", [3, 60])
def test_bulk_orders_query_count_is_constant(
    api_client: Client, admin_user: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    customers = [services.create_customer(actor=admin_user, data={"name": f"c{i}"}) for i in range(5)]
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    batch = [
        {
            "customer_id": customers[i % 5].pk,
            "ordered_at": yesterday,
            "lines": [
                {"name": "茶", "quantity": 1, "unit_price": "1"},
                {"name": "杯", "quantity": 2, "unit_price": "3"},
            ],
        }
        for i in range(size)
    ]
    with django_assert_max_num_queries(24):
        response = post(api_client, "/api/v1/orders/bulk", {"orders": batch})
    assert response.status_code == 201
    assert OrderLine.objects.count() == 2 * size


def test_create_honours_idempotency_key(api_client: Client) -> None:
    # given the same create sent twice with one Idempotency-Key (a retried request)
    body = {"name": "赵六", "phone": "13700137000"}
    first = post(api_client, "/api/v1/customers", body, **{"Idempotency-Key": "create-zhao-1"})
    second = post(api_client, "/api/v1/customers", body, **{"Idempotency-Key": "create-zhao-1"})
    # then one customer exists and both answers name it
    assert first.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert Customer.objects.filter(name="赵六").count() == 1


def test_needs_and_orders_honour_the_roles_field_rules(admin_user: Any) -> None:
    from crm.identity.models import Role, RoleFieldRule, RolePermission
    from crm.testing.factories import make_token, make_user

    # given a role that may work with needs and orders but not see amounts or need descriptions,
    # nor change a need's level
    role = Role.objects.create(code="no-money", name="No amounts")
    for object_type in ("customers.customer", "customers.need", "customers.order"):
        for verb in ("view", "change", "create"):
            RolePermission.objects.create(role=role, object_type=object_type, verb=verb, scope=4)
    for object_type, field, mode in (
        ("customers.order", "total_amount", RoleFieldRule.HIDDEN),
        ("customers.need", "description", RoleFieldRule.HIDDEN),
        ("customers.need", "level", RoleFieldRule.READ_ONLY),
    ):
        RoleFieldRule.objects.create(role=role, object_type=object_type, field=field, mode=mode)
    client = Client(headers={"Authorization": f"Bearer {make_token(make_user(role=role))}"})
    customer = services.create_customer(actor=admin_user, data={"name": "孙八"})
    services.create_order(
        customer,
        actor=admin_user,
        data={"ordered_at": "2025-01-02T10:00:00+08:00", "lines": [{"name": "茶", "quantity": 1, "unit_price": "88"}]},
    )
    need_type = services.save_need_type(actor=admin_user, data={"code": "quote", "name": "报价"})
    need = services.create_need(
        customer, actor=admin_user, data={"need_type": need_type.code, "title": "报价", "description": "预算 5 万"}
    )
    order_id = Order.objects.get(customer=customer).pk
    # then the hidden fields are absent from what the role reads, one record or a page of them
    assert "total_amount" not in client.get(f"/api/v1/orders/{order_id}").json()
    assert "total_amount" not in client.get("/api/v1/orders").json()["items"][0]
    assert client.get(f"/api/v1/orders/{order_id}").json()["id"] == order_id
    assert "description" not in client.get(f"/api/v1/needs/{need.pk}").json()
    assert "description" not in client.get("/api/v1/needs").json()["items"][0]
    # and so in the customer's 360 answer
    whole = client.get(f"/api/v1/customers/{customer.pk}").json()
    assert "description" not in whole["needs"][0]
    assert "total_amount" not in whole["recent_orders"][0]
    assert whole["needs"][0]["title"] == "报价"
    # and writing a hidden or read-only need field is refused with field errors, nothing written
    refused = patch(client, f"/api/v1/needs/{need.pk}", {"level": "urgent", "title": "新标题"})
    assert refused.status_code == 403
    assert "level" in fields(refused)
    need.refresh_from_db()
    assert (need.level, need.title) == ("normal", "报价")
    created = post(
        client,
        "/api/v1/needs",
        {"customer_id": customer.pk, "need_type": need_type.code, "title": "x", "description": "y"},
    )
    assert created.status_code == 403
    # while fields the role may write still change
    assert patch(client, f"/api/v1/needs/{need.pk}", {"title": "新标题"}).status_code == 200


def test_patch_refuses_hidden_or_read_only_fields_for_the_role(admin_user: Any) -> None:
    from crm.identity.models import Role, RoleFieldRule, RolePermission
    from crm.testing.factories import make_token, make_user

    role = Role.objects.create(code="phone-blind", name="No phones")
    for verb in ("view", "change", "create"):
        RolePermission.objects.create(role=role, object_type="customers.customer", verb=verb, scope=4)
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="phone", mode=RoleFieldRule.HIDDEN)
    user = make_user(role=role)
    client = Client(headers={"Authorization": f"Bearer {make_token(user)}"})
    customer = services.create_customer(actor=admin_user, data={"name": "钱七", "phone": "13600136000"})
    # the phone is absent from what this role reads
    assert "phone" not in client.get(f"/api/v1/customers/{customer.pk}").json()
    assert "phone" not in client.get("/api/v1/customers").json()["items"][0]
    # and writing it is refused with a field error, nothing written
    refused = patch(client, f"/api/v1/customers/{customer.pk}", {"phone": "13500135000", "city": "x"})
    assert refused.status_code == 403
    assert "phone" in fields(refused)
    customer.refresh_from_db()
    assert customer.phone == "+8613600136000"
    assert customer.city == ""
