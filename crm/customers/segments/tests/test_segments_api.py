"""Segments through /api/v1/segments: dynamic filters over every kind of field, static lists, access, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from crm.core.access import Scope
from crm.core.models import AuditEntry, CustomFieldDefinition
from crm.customers.models import OrderLine, Segment, Tag
from crm.customers.scoring import compute
from crm.customers.scoring.tests.factories import make_customer, make_order, make_role_user
from crm.testing.factories import make_token

NOW = datetime.now(UTC)


@pytest.fixture
def shop(db: Any) -> dict[str, Any]:
    vip = Tag.objects.create(name="VIP")
    CustomFieldDefinition.objects.create(
        object_type="customers.customer",
        key="plan",
        label="套餐",
        field_type=CustomFieldDefinition.CHOICE,
        choices=["gold", "silver"],
    )
    people = {
        "张三": make_customer(name="张三", region="上海", custom={"plan": "gold"}),
        "李四": make_customer(name="李四", region="北京", custom={"plan": "silver"}),
        "王五": make_customer(name="王五", region="上海"),
        "赵六": make_customer(name="赵六", region="广东"),
    }
    people["张三"].tags.add(vip)
    tea = make_order(customer=people["张三"], at=NOW - timedelta(days=10), total="88.00")
    OrderLine.objects.create(
        order=tea,
        name="龙井",
        category="茶叶",
        quantity=Decimal(1),
        unit_price=Decimal("88.00"),
        amount=Decimal("88.00"),
    )
    old_tea = make_order(customer=people["李四"], at=NOW - timedelta(days=200), total="50.00")
    OrderLine.objects.create(
        order=old_tea,
        name="普洱",
        category="茶叶",
        quantity=Decimal(1),
        unit_price=Decimal("50.00"),
        amount=Decimal("50.00"),
    )
    cup = make_order(customer=people["王五"], at=NOW - timedelta(days=5), total="30.00")
    OrderLine.objects.create(
        order=cup,
        name="杯子",
        category="器具",
        quantity=Decimal(1),
        unit_price=Decimal("30.00"),
        amount=Decimal("30.00"),
    )
    compute.recompute_full()
    return people


def _create(client: Client, **body: Any) -> Any:
    return client.post("/api/v1/segments", body, content_type="application/json")


def _names(client: Client, segment_id: int) -> set[str]:
    return {c["name"] for c in client.get(f"/api/v1/segments/{segment_id}/customers").json()["items"]}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "region", "op": "eq", "value": "上海"}, {"张三", "王五"}),
        ({"field": "tags", "op": "has_any", "value": ["VIP"]}, {"张三"}),
        ({"field": "custom.plan", "op": "eq", "value": "gold"}, {"张三"}),
        ({"field": "purchase", "op": "bought", "value": {"category": "茶叶", "days": 90}}, {"张三"}),
        ({"field": "purchase", "op": "bought", "value": {"category": "茶叶"}}, {"张三", "李四"}),
        ({"field": "score.value_tier", "op": "in", "value": ["A", "B", "C"]}, {"张三", "李四", "王五"}),
    ],
)
def test_dynamic_segment_counts_and_members(
    shop: dict[str, Any], api_client: Client, condition: dict[str, Any], expected: set[str]
) -> None:
    response = _create(
        api_client, name="测试分群", kind="dynamic", definition={"match": "all", "conditions": [condition]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == len(expected)
    assert _names(api_client, body["id"]) == expected


def test_rfm_segment_filter_uses_stored_scores(shop: dict[str, Any], api_client: Client) -> None:
    segment = shop["张三"].score.rfm_segment
    body = _create(
        api_client,
        name="同一分群",
        definition={"conditions": [{"field": "score.rfm_segment", "op": "in", "value": [segment]}]},
    ).json()
    assert "张三" in _names(api_client, body["id"])


def test_bad_definition_is_a_field_level_422_and_writes_nothing(shop: dict[str, Any], api_client: Client) -> None:
    response = _create(
        api_client,
        name="",
        definition={
            "conditions": [
                {"field": "no_such_field", "op": "eq", "value": 1},
                {"field": "region", "op": "gt", "value": "x"},
            ]
        },
    )
    assert response.status_code == 422
    errors = {e["field"] for e in response.json()["errors"]}
    assert "name" in errors
    assert "definition.conditions.0.field" in errors
    assert "definition.conditions.1.op" in errors
    assert not Segment.objects.exists()


def test_preview_gives_a_live_count_without_saving(shop: dict[str, Any], api_client: Client) -> None:
    response = api_client.post(
        "/api/v1/segments/preview",
        {
            "definition": {
                "match": "any",
                "conditions": [
                    {"field": "region", "op": "eq", "value": "北京"},
                    {"field": "region", "op": "eq", "value": "广东"},
                ],
            }
        },
        content_type="application/json",
    )
    assert response.json()["count"] == 2
    assert not Segment.objects.exists()


def test_static_list_members_add_remove_and_audit(shop: dict[str, Any], api_client: Client) -> None:
    body = _create(api_client, name="展会名单", kind="static").json()
    sid = body["id"]
    added = api_client.post(
        f"/api/v1/segments/{sid}/members",
        {"customer_ids": [shop["赵六"].pk, shop["李四"].pk]},
        content_type="application/json",
    ).json()
    assert added == {"added": 2, "count": 2}
    again = api_client.post(
        f"/api/v1/segments/{sid}/members", {"customer_ids": [shop["赵六"].pk]}, content_type="application/json"
    )
    assert again.json() == {"added": 0, "count": 2}
    api_client.post(
        f"/api/v1/segments/{sid}/members/remove", {"customer_ids": [shop["李四"].pk]}, content_type="application/json"
    )
    assert _names(api_client, sid) == {"赵六"}
    verbs = list(
        AuditEntry.objects.filter(object_type="customers.segment", object_id=str(sid)).values_list("verb", flat=True)
    )
    assert verbs == ["create", "change", "change", "change"]


def test_static_list_refuses_unknown_customers(shop: dict[str, Any], api_client: Client) -> None:
    sid = _create(api_client, name="名单", kind="static").json()["id"]
    response = api_client.post(
        f"/api/v1/segments/{sid}/members", {"customer_ids": [999999]}, content_type="application/json"
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["customer_ids"]


def test_patch_needs_the_current_version(shop: dict[str, Any], api_client: Client) -> None:
    body = _create(
        api_client, name="旧名", definition={"conditions": [{"field": "region", "op": "eq", "value": "上海"}]}
    ).json()
    url = f"/api/v1/segments/{body['id']}"
    ok = api_client.patch(url, {"name": "新名", "version": 1}, content_type="application/json")
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = api_client.patch(url, {"name": "再改"}, content_type="application/json", headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert Segment.objects.get().name == "新名"
    assert api_client.delete(url, headers={"If-Match": '"2"'}).status_code == 204
    assert not Segment.objects.exists()


def test_members_are_cursor_paginated_with_a_constant_number_of_queries(
    shop: dict[str, Any], api_client: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(12):
        make_customer(name=f"上海客户{i}", region="上海")
    sid = _create(
        api_client, name="上海", definition={"conditions": [{"field": "region", "op": "eq", "value": "上海"}]}
    ).json()["id"]
    seen: list[int] = []
    cursor = ""
    while True:
        url = f"/api/v1/segments/{sid}/customers?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = api_client.get(url).json()
        assert page["count"] == 14
        seen.extend(c["id"] for c in page["items"])
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 14
    for limit in (2, 14):
        with django_assert_max_num_queries(12):
            api_client.get(f"/api/v1/segments/{sid}/customers?limit={limit}")


def test_members_and_counts_only_include_customers_the_reader_may_see(db: Any) -> None:
    grants = {"customers.customer": {"view": Scope.OWN}, "customers.segment": {"view": Scope.ALL, "create": Scope.ALL}}
    li = make_role_user(username="li", grants=grants)
    wang = make_role_user(username="wang", grants=grants)
    make_customer(name="李的客户", owner=li, region="上海")
    make_customer(name="王的客户", owner=wang, region="上海")
    li_client = Client(headers={"Authorization": f"Bearer {make_token(li)}"})
    wang_client = Client(headers={"Authorization": f"Bearer {make_token(wang)}"})
    body = _create(
        li_client, name="上海", definition={"conditions": [{"field": "region", "op": "eq", "value": "上海"}]}
    ).json()
    assert body["count"] == 1
    assert _names(li_client, body["id"]) == {"李的客户"}
    assert _names(wang_client, body["id"]) == {"王的客户"}


def test_segments_of_others_are_404_without_a_grant(shop: dict[str, Any], api_client: Client) -> None:
    sid = _create(api_client, name="管理员的", kind="static").json()["id"]
    outsider = make_role_user(username="outsider", grants={"customers.customer": {"view": Scope.ALL}})
    client = Client(headers={"Authorization": f"Bearer {make_token(outsider)}"})
    assert client.get(f"/api/v1/segments/{sid}").status_code == 404
    assert client.get("/api/v1/segments").json()["items"] == []
    assert _create(client, name="x", kind="static").status_code == 403
