"""Order and contact imports: customer references, lines, money, bad values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm.customers.models import Contact, Customer, Order, OrderLine, Product
from crm.customers.transfer.tests.helpers import csv_bytes, run_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(admin: Any) -> None:
    run_import(
        admin, csv_bytes([["外部编号", "姓名", "手机"], ["C1", "甲", "13800138000"], ["C2", "乙", "13900139000"]])
    )


def test_orders_with_lines_grouped_by_order_number(admin: Any, customers: None) -> None:
    # given a product catalogue entry and an order file with two lines for one order
    Product.objects.create(sku="SKU-1", name="茶叶", category="食品", list_price=Decimal("88.00"))
    data = csv_bytes(
        [
            ["订单号", "客户编号", "下单时间", "SKU", "商品名称", "数量", "单价", "币种"],
            ["O1", "C1", "2025-01-02 10:00", "SKU-1", "", "2", "88", "CNY"],
            ["O1", "C1", "2025-01-02 10:00", "", "礼盒", "1", "10.5", "CNY"],
            ["O2", "", "2025-02-03", "", "杯子", "3", "5", "cny"],
        ]
    )
    data = data.replace(b"O2,,", b"O2,C2,")
    # when imported
    job = run_import(admin, data, kind="orders", name="orders.csv")
    # then each order has its lines and the total is the sum of the lines
    assert job.status == "succeeded", job.errors
    assert job.created_count == 2
    first = Order.objects.get(number="O1")
    assert first.total_amount == Decimal("186.50")
    assert first.customer.external_id == "C1"
    lines = list(OrderLine.objects.filter(order=first).order_by("id"))
    assert [(line.sku, line.name, line.category, line.product_id is not None) for line in lines] == [
        ("SKU-1", "茶叶", "食品", True),
        ("", "礼盒", "", False),
    ]
    assert Order.objects.get(number="O2").total_amount == Decimal("15.00")


def test_orders_find_customers_by_phone(admin: Any, customers: None) -> None:
    data = csv_bytes([["订单号", "手机", "下单时间", "金额"], ["P1", "+86 139 0013 9000", "2025-03-01", "99.90"]])
    job = run_import(admin, data, kind="orders", name="o.csv")
    assert job.status == "succeeded", job.errors
    assert Order.objects.get().customer.external_id == "C2"


def test_bad_order_values_are_reported_per_field(admin: Any, customers: None) -> None:
    data = csv_bytes(
        [
            ["订单号", "客户编号", "下单时间", "金额", "币种", "数量", "单价", "商品名称"],
            ["B1", "C1", "2999-01-01", "10", "CNY", "", "", ""],
            ["B2", "C1", "2025-01-01", "-5", "CNY", "", "", ""],
            ["B3", "C1", "2025-01-01", "10", "QQQ", "", "", ""],
            ["B4", "C1", "2025-01-01", "", "CNY", "-1", "3", "x"],
            ["B5", "NOPE", "2025-01-01", "10", "CNY", "", "", ""],
            ["B6", "C1", "not a date", "ten", "CNY", "", "", ""],
            ["B7", "C1", "2025-01-01", "10", "CNY", "", "", ""],
        ]
    )
    job = run_import(admin, data, kind="orders", name="o.csv", mode="valid_rows")
    assert {(e["row"], e["field"]) for e in job.errors} == {
        (2, "ordered_at"),
        (3, "total_amount"),
        (4, "currency"),
        (5, "quantity"),
        (6, "customer"),
        (7, "ordered_at"),
        (7, "total_amount"),
    }
    assert list(Order.objects.values_list("number", flat=True)) == ["B7"]


def test_existing_order_number_is_an_error_unless_upserting(admin: Any, customers: None) -> None:
    header = ["订单号", "客户编号", "下单时间", "金额"]
    run_import(admin, csv_bytes([header, ["D1", "C1", "2025-01-01", "10"]]), kind="orders", name="o.csv")
    job = run_import(admin, csv_bytes([header, ["D1", "C1", "2025-01-01", "20"]]), kind="orders", name="o.csv")
    assert job.status == "failed"
    assert Order.objects.get().total_amount == Decimal("10.00")
    job = run_import(
        admin,
        csv_bytes([header, ["D1", "C1", "2025-01-01", "20"]]),
        kind="orders",
        name="o.csv",
        upsert_by="external_id",
    )
    assert job.updated_count == 1
    assert Order.objects.get().total_amount == Decimal("20.00")


def test_contacts_attach_to_their_organisation(admin: Any, customers: None) -> None:
    data = csv_bytes(
        [["客户编号", "联系人", "职位", "手机", "邮箱"], ["C1", "小王", "采购", "13700137000", "w@example.com"]]
    )
    job = run_import(admin, data, kind="contacts", name="contacts.csv")
    assert job.status == "succeeded", job.errors
    contact = Contact.objects.get()
    assert (contact.customer.external_id, contact.title, contact.phone) == ("C1", "采购", "+8613700137000")
    assert contact.email_bidx


def test_contact_with_unknown_customer_is_an_error(admin: Any, customers: None) -> None:
    job = run_import(
        admin, csv_bytes([["客户编号", "联系人"], ["ZZZ", "小李"]]), kind="contacts", name="c.csv", mode="valid_rows"
    )
    assert job.errors[0]["field"] == "customer"
    assert not Contact.objects.exists()
    assert Customer.objects.count() == 2


def test_order_times_are_in_the_local_zone_and_rows_must_be_adjacent(admin: Any, customers: None) -> None:
    from django.utils import timezone

    data = csv_bytes(
        [
            ["订单号", "客户编号", "下单时间", "金额"],
            ["T1", "C1", "2025-01-02 10:00", "1"],
            ["T2", "C1", "2025-01-02", "1"],
            ["T1", "C1", "2025-01-02 10:00", "1"],
            ["T3", "C1", "2025-02-30 10:00", "1"],
        ]
    )
    job = run_import(admin, data, kind="orders", name="o.csv", mode="valid_rows")
    assert {(e["row"], e["field"]) for e in job.errors} == {(4, "number"), (5, "ordered_at")}
    first = Order.objects.get(number="T1").ordered_at
    assert timezone.localtime(first).hour == 10
    assert timezone.localtime(Order.objects.get(number="T2").ordered_at).hour == 0


@pytest.fixture
def order_fields(admin: Any) -> None:
    from crm.customers import services

    services.save_custom_field(
        actor=admin,
        data={
            "object_type": "customers.order",
            "key": "source",
            "label": "订单来源",
            "field_type": "choice",
            "choices": ["门店", "电商"],
        },
    )
    services.save_custom_field(
        actor=admin,
        data={
            "object_type": "customers.order",
            "key": "gifts",
            "label": "赠品",
            "field_type": "multi_choice",
            "choices": ["茶杯", "礼袋"],
        },
    )


def _custom_order_file() -> bytes:
    # columns named by label (订单来源) and by key (custom:gifts style headers map by key too)
    return csv_bytes(
        [
            ["订单号", "客户编号", "下单时间", "金额", "订单来源", "gifts"],
            ["K1", "C1", "2025-01-02", "10", "门店", "茶杯;礼袋"],
            ["K2", "C1", "2025-01-03", "20", "地摊", ""],
            ["K3", "C2", "2025-01-04", "30", "", "礼袋"],
        ]
    )


def test_order_custom_columns_are_validated_per_row_in_a_dry_run(
    admin: Any, customers: None, order_fields: None
) -> None:
    job = run_import(admin, _custom_order_file(), kind="orders", name="o.csv", mode="valid_rows", dry_run=True)
    # the bad choice is a field-level error of its row; nothing is written
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "custom.source")]
    assert "地摊" in job.errors[0]["message"]
    assert job.created_count == 2
    assert not Order.objects.exists()


def test_order_custom_columns_valid_rows_skips_only_the_bad_row(
    admin: Any, customers: None, order_fields: None
) -> None:
    job = run_import(admin, _custom_order_file(), kind="orders", name="o.csv", mode="valid_rows")
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "custom.source")]
    assert job.created_count == 2
    stored = dict(Order.objects.values_list("number", "custom"))
    assert stored == {"K1": {"source": "门店", "gifts": ["茶杯", "礼袋"]}, "K3": {"gifts": ["礼袋"]}}


def test_order_custom_columns_all_or_nothing_writes_nothing(admin: Any, customers: None, order_fields: None) -> None:
    job = run_import(admin, _custom_order_file(), kind="orders", name="o.csv", mode="all_or_nothing")
    assert job.status == "failed"
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "custom.source")]
    assert not Order.objects.exists()


def test_order_upsert_merges_custom_values_and_empty_cells_keep_them(
    admin: Any, customers: None, order_fields: None
) -> None:
    header = ["订单号", "客户编号", "下单时间", "金额"]
    job = run_import(admin, csv_bytes([header, ["U1", "C1", "2025-01-01", "10"]]), kind="orders", name="o.csv")
    assert job.status == "succeeded", job.errors
    assert Order.objects.get().custom == {}
    # re-imported by order number with custom columns: the order takes the row's values
    job = run_import(
        admin,
        csv_bytes([[*header, "订单来源", "赠品"], ["U1", "C1", "2025-01-01", "20", "门店", "茶杯"]]),
        kind="orders",
        name="o.csv",
        upsert_by="external_id",
    )
    assert job.status == "succeeded", job.errors
    assert job.updated_count == 1
    order = Order.objects.get()
    assert (order.total_amount, order.custom) == (Decimal("20.00"), {"source": "门店", "gifts": ["茶杯"]})
    # an empty cell keeps what is stored; a filled one replaces it
    job = run_import(
        admin,
        csv_bytes([[*header, "订单来源", "赠品"], ["U1", "C1", "2025-01-01", "20", "电商", ""]]),
        kind="orders",
        name="o.csv",
        upsert_by="external_id",
    )
    assert job.status == "succeeded", job.errors
    assert Order.objects.get().custom == {"source": "电商", "gifts": ["茶杯"]}
    # and a later re-import without custom columns leaves them alone
    job = run_import(
        admin,
        csv_bytes([header, ["U1", "C1", "2025-01-01", "30"]]),
        kind="orders",
        name="o.csv",
        upsert_by="external_id",
    )
    assert job.status == "succeeded", job.errors
    assert Order.objects.get().custom == {"source": "电商", "gifts": ["茶杯"]}


def test_errors_are_listed_in_row_order_whichever_check_found_them(admin: Any, customers: None) -> None:
    # given an order for an unknown customer (found by the database check) before a bad date (found
    # while cleaning), and a good order after them
    data = csv_bytes(
        [
            ["订单号", "客户编号", "下单时间", "金额"],
            ["E1", "NOBODY", "2025-01-02", "10"],
            ["E2", "C1", "not a date", "10"],
            ["E3", "C1", "2025-01-03", "10"],
        ]
    )
    # when it is imported keeping the valid rows
    job = run_import(admin, data, kind="orders", name="o.csv", mode="valid_rows")
    # then the errors come in the order of the file's rows, and the good order is in
    assert [e["row"] for e in job.errors] == [2, 3]
    assert [e["field"] for e in job.errors] == ["customer", "ordered_at"]
    assert job.created_count == 1
