"""PostgreSQL imports render COPY text in the cleaning thread; what they store equals the plain path's.

The plain path (rows as dicts, rendered by the writing thread) is what SQLite and contact imports use;
the two must write the very same customers, orders, lines and timeline rows from the same file.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from crm.core.models import TimelineEvent
from crm.customers.models import Customer, Order, OrderLine, Product
from crm.customers.transfer import bulk, engine
from crm.customers.transfer.tests.helpers import csv_bytes, run_import

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pre-rendered path is PostgreSQL's"),
]

AWKWARD = ["back\\slash", "\\N", "\\.", "中文，名称", "a\\tb", 'quote"d', "{brace,comma}"]


def customers_file(prefix: str) -> bytes:
    rows = [["外部编号", "姓名", "手机", "邮箱", "公司", "城市", "生日", "标签", "地址", "阶段"]]
    for i, text in enumerate(AWKWARD):
        rows.append(
            [
                f"{prefix}{text}{i}",
                f"客户{i}",
                f"1380013{i:04d}" if i % 3 else "",
                f"u{i}@Example.com" if i % 2 else "",
                text,
                "上海" if i % 2 else "",
                f"199{i}-0{i + 1}-1{i}" if i % 4 else "",
                "VIP;老客户" if i % 2 else "",
                f"地址 {text}" if i % 3 == 0 else "",
                "customer" if i == 1 else "",
            ]
        )
    return csv_bytes(rows)


def orders_file(prefix: str) -> bytes:
    rows = [["订单号", "客户编号", "下单时间", "商品编码", "商品名称", "数量", "单价", "币种", "状态", "渠道"]]
    for i, text in enumerate(AWKWARD):
        ext = f"{prefix}{text}{i}"
        rows.append([f"{prefix}O{i}", ext, f"2025-0{i + 1}-0{i + 1} 1{i}:30", "SKU-K", "", "2", "10.5", "CNY", "", ""])
        rows.append([f"{prefix}O{i}", ext, f"2025-0{i + 1}-0{i + 1} 1{i}:30", "", text, "1.5", "3", "CNY", "", ""])
        refund = "已退款" if i % 2 else ""
        rows.append([f"{prefix}P{i}", ext, "2025-03-01", f"N-{i}", "", "1", "99.99", "人民币", refund, "线下"])
    return csv_bytes(rows)


def money(line: OrderLine) -> tuple[Decimal, Decimal]:
    return line.unit_price, line.amount


def stored(prefix: str) -> dict[str, Any]:
    customers = Customer.objects.filter(external_id__startswith=prefix).order_by("external_id")
    orders = Order.objects.filter(number__startswith=prefix).order_by("number")
    lines = OrderLine.objects.filter(order__number__startswith=prefix).order_by("order__number", "id")
    external = dict(customers.values_list("pk", "external_id"))
    events = sorted(
        (external[e.customer_id][len(prefix) :], e.kind, e.subject, e.payload.get("key"), e.object_type)
        for e in TimelineEvent.objects.filter(customer_id__in=external)
    )
    return {
        "customers": [
            (
                c.external_id[len(prefix) :],
                c.name,
                c.phone,
                c.phone_bidx,
                c.email,
                c.email_bidx,
                c.company_name,
                c.city,
                c.birth_date,
                c.address,
                c.lifecycle_stage,
                c.kind,
                c.custom,
                c.is_active,
                c.version,
                c.created_at == c.updated_at,
                sorted(t.name for t in c.tags.all()),
            )
            for c in customers
        ],
        "orders": [
            (
                o.number[len(prefix) :],
                o.customer.external_id[len(prefix) :],
                o.ordered_at,
                o.total_amount,
                o.refunded_amount,
                o.status,
                o.channel,
                o.currency,
                o.owner_id,
                o.external_id,
                o.version,
            )
            for o in orders
        ],
        "lines": [
            (ln.order.number[len(prefix) :], ln.product_id, ln.sku, ln.name, ln.category, ln.quantity, *money(ln))
            for ln in lines
        ],
        "timeline": events,
    }


def import_both(admin: Any, prefix: str) -> dict[str, Any]:
    customers = run_import(admin, customers_file(prefix), kind="customers", name="c.csv")
    assert customers.status == "succeeded", customers.errors
    assert not customers.error_count, customers.errors
    orders = run_import(admin, orders_file(prefix), kind="orders", name="o.csv")
    assert orders.status == "succeeded", orders.errors
    assert not orders.error_count, orders.errors
    return stored(prefix)


def test_prerendered_and_plain_imports_store_the_same_rows(admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a product that lines refer to by SKU (name and category come from it when the file has none)
    Product.objects.create(sku="SKU-K", name="茶叶\\礼盒", category="食品\t饮料", list_price=Decimal("10.50"))
    # when the same files are imported once on the pre-rendered path (PostgreSQL's default) ...
    fast = import_both(admin, "F")
    # ... and once with the writing thread rendering every row
    monkeypatch.setattr(engine, "is_postgres", lambda: False)
    plain = import_both(admin, "P")
    # then both stored the same values, awkward text, NULLs, refunds and product details included
    assert fast == plain
    assert len(fast["customers"]) == len(AWKWARD)
    assert len(fast["orders"]) == 2 * len(AWKWARD)
    assert len(fast["lines"]) == 3 * len(AWKWARD)
    assert {line[3] for line in fast["lines"]} >= {"茶叶\\礼盒", *AWKWARD}
    assert any(order[4] > 0 for order in fast["orders"])  # a refunded order: refunded amount = total


def test_text_array_literal_finds_awkward_keys(admin: Any) -> None:
    # given customers whose external ids need quoting in an array literal
    run_import(admin, customers_file("K"), kind="customers", name="c.csv")
    keys = [f"K{text}{i}" for i, text in enumerate(AWKWARD)]
    # when looked up through one array literal
    found = bulk.rows_in(Customer, "external_id", ("external_id",), bulk.TextArray([*keys, "K-missing"]))
    # then every key is found, and only those
    assert sorted(row[0] for row in found) == sorted(keys)
    assert len(bulk.TextArray(["a", "a", "b"])) == 2
    assert not bulk.TextArray([])
