"""Filter definitions: validation with field-level errors, and the rows each condition selects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from crm.core.crypto import blind_index
from crm.core.errors import ValidationFailed
from crm.core.models import CustomFieldDefinition
from crm.customers.filters import customer_filter_q, definition_from_params, validate_definition
from crm.customers.models import Customer, CustomerScore, Need, NeedType, Order, OrderLine, Tag

pytestmark = pytest.mark.django_db


def names(definition: dict[str, Any]) -> set[str]:
    return set(Customer.objects.filter(customer_filter_q(definition)).values_list("name", flat=True))


def order(customer: Customer, *, category: str, days_ago: int, number: str) -> None:
    o = Order.objects.create(
        customer=customer,
        number=number,
        ordered_at=timezone.now() - dt.timedelta(days=days_ago),
        total_amount=Decimal("10"),
    )
    OrderLine.objects.create(
        order=o, name="x", category=category, quantity=1, unit_price=Decimal("10"), amount=Decimal("10")
    )


@pytest.fixture
def people() -> dict[str, Customer]:
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="plan", label="Plan", field_type="choice", choices=["gold", "silver"]
    )
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="hobbies", label="H", field_type="multi_choice", choices=["tea", "golf"]
    )
    zhang = Customer.objects.create(
        name="张三",
        city="上海",
        lifecycle_stage="vip",
        custom={"plan": "gold", "hobbies": ["tea", "golf"]},
        email="zs@example.com",
        email_bidx=blind_index("email", "zs@example.com"),
    )
    li = Customer.objects.create(name="李四", city="北京", lifecycle_stage="customer", custom={"plan": "silver"})
    ann = Customer.objects.create(name="Ann Lee", city="上海", lifecycle_stage="prospect")
    vip = Tag.objects.create(name="VIP")
    zhang.tags.add(vip)
    CustomerScore.objects.create(customer=li, rfm_segment="champions", value_tier="A")
    order(zhang, category="Tea", days_ago=10, number="o1")
    order(li, category="Tea", days_ago=200, number="o2")
    need_type = NeedType.objects.create(code="inquiry", name="咨询")
    Need.objects.create(customer=ann, need_type=need_type, title="price", level="urgent")
    return {"zhang": zhang, "li": li, "ann": ann}


def test_model_fields_choices_and_groups(people: dict[str, Customer]) -> None:
    # given three customers; when filtering by city, stage and an any-group; then the right ones match
    assert names({"conditions": [{"field": "city", "op": "eq", "value": "上海"}]}) == {"张三", "Ann Lee"}
    assert names({"conditions": [{"field": "lifecycle_stage", "op": "in", "value": ["vip", "customer"]}]}) == {
        "张三",
        "李四",
    }
    definition = {
        "match": "all",
        "conditions": [
            {"field": "city", "op": "eq", "value": "上海"},
            {"match": "any", "conditions": [{"field": "name", "op": "contains", "value": "ann"}]},
        ],
    }
    assert names(definition) == {"Ann Lee"}


def test_custom_fields_tags_scores_purchases_needs_and_blind_index(people: dict[str, Customer]) -> None:
    assert names({"conditions": [{"field": "custom.plan", "op": "eq", "value": "gold"}]}) == {"张三"}
    assert names({"conditions": [{"field": "custom.hobbies", "op": "has_any", "value": ["golf"]}]}) == {"张三"}
    assert names({"conditions": [{"field": "tags", "op": "has_any", "value": ["VIP"]}]}) == {"张三"}
    assert names({"conditions": [{"field": "tags", "op": "has_none", "value": ["VIP"]}]}) == {"李四", "Ann Lee"}
    assert names({"conditions": [{"field": "score.rfm_segment", "op": "in", "value": ["champions"]}]}) == {"李四"}
    bought = {"field": "purchase", "op": "bought", "value": {"category": "Tea", "days": 90}}
    assert names({"conditions": [bought]}) == {"张三"}
    assert names({"conditions": [{**bought, "op": "not_bought"}]}) == {"李四", "Ann Lee"}
    assert names({"conditions": [{"field": "need", "op": "has_open", "value": {"level": "urgent"}}]}) == {"Ann Lee"}
    assert names({"conditions": [{"field": "email", "op": "eq", "value": " ZS@example.com "}]}) == {"张三"}


def test_multi_choice_with_chinese_values_matches_however_the_json_is_spelt(db: Any) -> None:
    # given Chinese choices stored by Django (escaped, "\\u8336") and by an import (as is)
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="likes", label="爱好", field_type="multi_choice", choices=["茶", "咖啡"]
    )
    Customer.objects.create(name="甲", custom={"likes": ["茶"]})
    Customer.objects.create(name="乙", custom={"likes": ["咖啡"]})
    from crm.customers.transfer.bulk import Table

    Table(Customer).insert([{"name": "丙", "custom": {"likes": ["茶", "咖啡"]}}])
    # when filtering; then both spellings match
    assert names({"conditions": [{"field": "custom.likes", "op": "has_any", "value": ["茶"]}]}) == {"甲", "丙"}
    assert names({"conditions": [{"field": "custom.likes", "op": "has_all", "value": ["茶", "咖啡"]}]}) == {"丙"}
    assert names({"conditions": [{"field": "custom.likes", "op": "has_none", "value": ["茶"]}]}) == {"乙"}


def test_created_range_and_simple_params(people: dict[str, Customer]) -> None:
    Customer.objects.filter(name="李四").update(created_at=timezone.now() - dt.timedelta(days=40))
    assert names({"conditions": [{"field": "created_at", "op": "last_days", "value": 30}]}) == {"张三", "Ann Lee"}
    assert names(definition_from_params({"city": "上海", "tag": "VIP"})) == {"张三"}


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, "conditions.0.field"),
        ({"field": "city", "op": "gt", "value": "x"}, "conditions.0.op"),
        ({"field": "lifecycle_stage", "op": "eq", "value": "king"}, "conditions.0.value"),
        ({"field": "custom.plan", "op": "eq", "value": "bronze"}, "conditions.0.value"),
        ({"field": "custom.missing", "op": "eq", "value": "x"}, "conditions.0.field"),
        ({"field": "score.monetary", "op": "gt", "value": "lots"}, "conditions.0.value"),
        ({"field": "created_at", "op": "gte", "value": "yesterday"}, "conditions.0.value"),
        ({"field": "purchase", "op": "bought", "value": {"days": -3}}, "conditions.0.value"),
        ({"field": "email", "op": "contains", "value": "x"}, "conditions.0.op"),
    ],
)
def test_bad_definitions_name_the_field(people: dict[str, Customer], condition: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_definition({"conditions": [condition]})
    assert path in caught.value.errors


def test_empty_definition_matches_everyone(people: dict[str, Customer]) -> None:
    assert len(names({})) == 3
