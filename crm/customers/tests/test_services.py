"""Customer, contact, need, product and order services: validation, encryption, audit, timeline, concurrency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from crm.core.crypto import blind_index
from crm.core.errors import Conflict, PreconditionFailed, ValidationFailed
from crm.core.models import AuditEntry, CustomFieldDefinition, TimelineEvent
from crm.customers import services
from crm.customers.models import Customer, NeedType, Order, OrderLine, Product, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(admin_user: Any) -> Customer:
    return services.create_customer(
        actor=admin_user,
        data={"name": "张三", "email": "Zhang@Example.com", "phone": "13800138000", "city": "上海", "tags": ["VIP"]},
    )


def test_create_customer_encrypts_indexes_audits_and_records_timeline(admin_user: Any, customer: Customer) -> None:
    # then the e-mail is normalised, stored encrypted, findable by blind index
    assert customer.email == "Zhang@example.com"
    assert customer.phone == "+8613800138000"
    with connection.cursor() as cursor:
        cursor.execute("SELECT email, phone FROM customers_customer WHERE id = %s", [customer.pk])
        raw_email, raw_phone = cursor.fetchone()
    assert raw_email.startswith("enc:v1:")
    assert "example" not in raw_email
    assert raw_phone.startswith("enc:v1:")
    assert Customer.objects.get(email_bidx=blind_index("email", "zhang@example.com")) == customer
    assert customer.owner == admin_user
    entry = AuditEntry.objects.get(verb="create", object_type="customers.customer")
    assert entry.changes["email"]["after"] == "••••"
    assert "13800138000" not in str(entry.changes)
    assert TimelineEvent.objects.filter(customer_id=customer.pk, kind="customer.created").count() == 1
    assert list(customer.tags.values_list("name", flat=True)) == ["VIP"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "email": "not-an-email"}, "email"),
        ({"name": "x", "phone": "12345"}, "phone"),
        ({"name": "x", "birth_date": "2999-01-01"}, "birth_date"),
        ({"name": "x", "lifecycle_stage": "king"}, "lifecycle_stage"),
        ({"name": "x", "owner": 99999}, "owner"),
        ({"name": "x", "custom": {"plan": "bronze"}}, "custom.plan"),
        ({"name": "x", "custom": {"nope": 1}}, "custom.nope"),
        ({"name": "x", "email_opt_in": "maybe"}, "email_opt_in"),
        ({"name": "x", "country": "China"}, "country"),
        ({"name": "x", "shoe_size": 42}, "shoe_size"),
    ],
)
def test_bad_customer_input_is_refused_field_by_field(admin_user: Any, data: dict[str, Any], field: str) -> None:
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="plan", label="Plan", field_type="choice", choices=["gold"]
    )
    with pytest.raises(ValidationFailed) as caught:
        services.create_customer(actor=admin_user, data=data)
    assert field in caught.value.errors
    assert Customer.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_update_checks_version_and_masks_personal_data(admin_user: Any, customer: Customer) -> None:
    updated = services.update_customer(
        customer, actor=admin_user, data={"phone": "+86 139 0013 9000", "city": "杭州"}, expected_version=1
    )
    assert updated.version == 2
    assert updated.phone_bidx == blind_index("phone", "13900139000")
    entry = AuditEntry.objects.filter(verb="change").get()
    assert entry.changes["phone"] == {"before": "••••", "after": "••••"}
    assert entry.changes["city"] == {"before": "上海", "after": "杭州"}
    with pytest.raises(PreconditionFailed):
        services.update_customer(updated, actor=admin_user, data={"city": "北京"}, expected_version=1)
    assert Customer.objects.get(pk=customer.pk).city == "杭州"


def test_unchanged_update_writes_nothing(admin_user: Any, customer: Customer) -> None:
    same = services.update_customer(customer, actor=admin_user, data={"city": "上海"}, expected_version=None)
    assert same.version == 1
    assert AuditEntry.objects.filter(verb="change").count() == 0


def make_order(customer: Customer, actor: Any, **overrides: Any) -> Order:
    data = {
        "ordered_at": (timezone.now() - dt.timedelta(days=1)).isoformat(),
        "currency": "CNY",
        "lines": [{"name": "龙井", "category": "Tea", "quantity": "2", "unit_price": "88.50"}],
        **overrides,
    }
    return services.create_order(customer, actor=actor, data=data)


def test_order_totals_are_decimal_and_refunds_cannot_exceed_the_total(admin_user: Any, customer: Customer) -> None:
    order = make_order(customer, admin_user)
    assert order.total_amount == Decimal("177.00")
    services.refund_order(order, actor=admin_user, amount="77.00", reason="damaged")
    order.refresh_from_db()
    assert order.status == "partially_refunded"
    with pytest.raises(ValidationFailed) as caught:
        services.refund_order(order, actor=admin_user, amount="100.01")
    assert "amount" in caught.value.errors
    services.refund_order(order, actor=admin_user, amount="100")
    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.refunded_amount == Decimal("177.00")
    assert Refund.objects.count() == 2
    kinds = list(TimelineEvent.objects.filter(customer_id=customer.pk).values_list("kind", flat=True))
    assert kinds.count("order.refunded") == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"ordered_at": (timezone.now() + dt.timedelta(days=2)).isoformat()}, "ordered_at"),
        ({"ordered_at": "yesterday"}, "ordered_at"),
        ({"lines": [{"name": "x", "quantity": "-1", "unit_price": "1"}]}, "lines.0.quantity"),
        ({"lines": [{"name": "x", "quantity": "1", "unit_price": "-5"}]}, "lines.0.unit_price"),
        ({"lines": [{"name": "x", "quantity": "abc", "unit_price": "5"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": []}, "lines"),
        ({"status": "refunded"}, "status"),
        ({"total_amount": "1.00"}, "total_amount"),
    ],
)
def test_bad_orders_write_nothing(admin_user: Any, customer: Customer, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make_order(customer, admin_user, **overrides)
    assert field in caught.value.errors
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0


def test_order_lines_take_product_defaults(admin_user: Any, customer: Customer) -> None:
    services.save_product(
        actor=admin_user, data={"sku": "T-1", "name": "碧螺春", "category": "Tea", "list_price": "120"}
    )
    order = make_order(customer, admin_user, lines=[{"sku": "T-1", "quantity": 3}])
    line = order.lines.get()
    assert (line.name, line.category, line.amount) == ("碧螺春", "Tea", Decimal("360.00"))


def test_bulk_orders_all_or_nothing(admin_user: Any, customer: Customer) -> None:
    good = {
        "customer_id": customer.pk,
        "ordered_at": "2025-01-02T10:00:00+08:00",
        "lines": [{"name": "a", "quantity": 1, "unit_price": "10"}],
    }
    bad = {**good, "currency": "???"}
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_create_orders(actor=admin_user, customers={customer.pk: customer}, orders=[good, bad])
    assert "orders.1.currency" in caught.value.errors
    assert Order.objects.count() == 0
    before = AuditEntry.objects.count()
    created = services.bulk_create_orders(actor=admin_user, customers={customer.pk: customer}, orders=[good] * 5)
    assert len(created) == 5
    assert OrderLine.objects.count() == 5
    assert AuditEntry.objects.count() == before + 1
    unknown = {**good, "customer_id": 999999}
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_create_orders(actor=admin_user, customers={customer.pk: customer}, orders=[unknown])
    assert "orders.0.customer_id" in caught.value.errors


def test_needs_and_conversion_registry(admin_user: Any, customer: Customer) -> None:
    need_type = services.save_need_type(actor=admin_user, data={"code": "inquiry", "name": "产品咨询"})
    need = services.create_need(
        customer, actor=admin_user, data={"need_type": "inquiry", "title": "报价", "level": "urgent"}
    )
    assert need.need_type == need_type
    assert need.owner == customer.owner
    with pytest.raises(ValidationFailed):
        services.convert_need(need, actor=admin_user, target="deal")
    services.register_need_converter("test-target", lambda n, a: ("tests.thing", "42"))
    try:
        converted = services.convert_need(need, actor=admin_user, target="test-target")
    finally:
        services.NEED_CONVERTERS.pop("test-target")
    assert converted.status == "converted"
    assert converted.converted_object_id == "42"
    with pytest.raises(ValidationFailed) as caught:
        services.create_need(customer, actor=admin_user, data={"need_type": "nope", "title": "x", "level": "meh"})
    assert {"need_type", "level"} <= set(caught.value.errors)


def test_customer_with_orders_cannot_be_deleted(admin_user: Any, customer: Customer) -> None:
    make_order(customer, admin_user)
    with pytest.raises(Conflict):
        services.delete_customer(customer, actor=admin_user)


def test_contacts_and_custom_field_definitions(admin_user: Any, customer: Customer) -> None:
    contact = services.create_contact(
        customer, actor=admin_user, data={"name": "王经理", "phone": "13700137000", "is_primary": True}
    )
    assert contact.phone_bidx == blind_index("phone", "+8613700137000")
    with pytest.raises(ValidationFailed) as caught:
        services.create_contact(customer, actor=admin_user, data={"name": "x", "email": "bad"})
    assert "email" in caught.value.errors
    definition = services.save_custom_field(
        actor=admin_user, data={"key": "plan", "label": "套餐", "field_type": "choice", "choices": "gold, silver"}
    )
    assert definition.choices == ["gold", "silver"]
    with pytest.raises(ValidationFailed) as caught:
        services.save_custom_field(actor=admin_user, data={"key": "plan", "label": "x", "field_type": "choice"})
    assert {"key", "choices"} <= set(caught.value.errors)
    assert Product.objects.count() == 0
    assert NeedType.objects.count() == 0


def test_required_custom_field_is_enforced_on_create_only(admin_user: Any) -> None:
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="tier", label="等级", field_type="text", required=True
    )
    with pytest.raises(ValidationFailed) as caught:
        services.create_customer(actor=admin_user, data={"name": "无等级"})
    assert "custom.tier" in caught.value.errors
    created = services.create_customer(actor=admin_user, data={"name": "有等级", "custom": {"tier": "金"}})
    # a later partial update need not resend it
    updated = services.update_customer(created, actor=admin_user, data={"city": "杭州"}, expected_version=1)
    assert updated.custom == {"tier": "金"}


def test_first_paid_order_turns_a_prospect_into_a_customer(admin_user: Any, customer: Customer) -> None:
    assert customer.lifecycle_stage == "prospect"
    make_order(customer, admin_user)
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "customer"
    assert customer.version == 2
    vip = services.create_customer(actor=admin_user, data={"name": "贵宾", "lifecycle_stage": "vip"})
    make_order(vip, admin_user)
    vip.refresh_from_db()
    assert vip.lifecycle_stage == "vip"
