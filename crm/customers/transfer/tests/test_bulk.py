"""Bulk writes: what COPY text (PostgreSQL) or executemany (SQLite) stores is what was given."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from crm.customers.models import Customer, Product
from crm.customers.transfer import bulk

pytestmark = pytest.mark.django_db

AWKWARD = ["tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", "\\.", "", " 空格 ", "中文，名称", "a\\tb"]


def test_products_with_awkward_text_money_flags_and_moments_round_trip() -> None:
    # given product rows whose text needs COPY escaping, with money, flags, nulls and moments
    table = bulk.Table(Product)
    ids = table.allocate_ids(len(AWKWARD))
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    rows = [
        {
            "id": pk,
            "sku": f"SKU-{i}",
            "name": text,
            "category": text[::-1],
            "list_price": Decimal("1E+2") if i == 0 else Decimal(f"{i}.05"),
            "is_active": i % 2 == 0,
            "created_at": dt.datetime(2025, 3, 1, 14, 30, 5, 123456, tzinfo=shanghai),
        }
        for i, (pk, text) in enumerate(zip(ids, AWKWARD, strict=True))
    ]
    # when they are inserted in bulk
    assert table.insert(rows) == len(AWKWARD)
    # then every value reads back unchanged
    for row in rows:
        product = Product.objects.get(pk=row["id"])
        assert (product.name, product.category) == (row["name"], row["category"])
        assert product.list_price == row["list_price"]
        assert product.is_active is row["is_active"]
        assert product.created_at == row["created_at"]
        assert product.currency == "CNY"  # column default filled in


def test_customers_with_json_dates_and_nulls_round_trip() -> None:
    # given customer rows sharing one JSON value, with an empty one, a date and a null owner
    table = bulk.Table(Customer)
    ids = table.allocate_ids(3)
    shared = {"备注": "tab\tand\nnewline \\ backslash", "n": 1}
    rows = [
        {"id": ids[0], "name": "甲\t乙", "custom": shared, "birth_date": dt.date(1990, 1, 31), "owner_id": None},
        {"id": ids[1], "name": "丙", "custom": shared},
        {"id": ids[2], "name": "丁", "custom": {}},
    ]
    # when they are inserted in bulk
    table.insert(rows)
    # then names, JSON, dates and nulls read back unchanged
    first, second, third = (Customer.objects.get(pk=pk) for pk in ids)
    assert first.name == "甲\t乙"
    assert first.custom == shared
    assert second.custom == shared
    assert third.custom == {}
    assert first.birth_date == dt.date(1990, 1, 31)
    assert first.owner_id is None


def test_rows_without_ids_get_the_sequence_and_large_batches_go_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # given many customer rows without ids, one shared moment, and a tiny COPY chunk size
    monkeypatch.setattr(bulk, "_COPY_CHUNK", 200)
    moment = dt.datetime(2025, 3, 1, 6, 30, tzinfo=dt.UTC)
    rows = [
        {"name": f"名{i}\t{i}", "external_id": f"E{i}", "created_at": moment, "updated_at": moment} for i in range(300)
    ]
    # when they are inserted in bulk
    assert bulk.Table(Customer).insert(rows) == 300
    assert bulk.Table(Customer).insert([]) == 0
    # then each got its own id and every value (the repeated moment too) reads back unchanged
    stored = list(Customer.objects.order_by("id").values_list("id", "name", "external_id", "created_at"))
    assert len({pk for pk, *_rest in stored}) == 300
    assert [(name, ext, at) for _pk, name, ext, at in stored] == [(f"名{i}\t{i}", f"E{i}", moment) for i in range(300)]
    # and a later row with an allocated id does not collide with them
    table = bulk.Table(Customer)
    (pk,) = table.allocate_ids(1)
    table.insert([{"id": pk, "name": "next"}])
    assert Customer.objects.get(pk=pk).name == "next"


def test_copy_text_renders_what_postgresql_reads_back() -> None:
    assert bulk.copy_text(None) == "\\N"
    assert bulk.copy_text(True) == "t"
    assert bulk.copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert bulk.copy_text(Decimal("1E+2")) == "1E+2"
    assert bulk.copy_text(dt.datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05+00:00"
    # JSON escapes the tab as backslash-t; COPY then escapes that backslash
    assert bulk.copy_text({"k": "v\t"}) == '{"k":"v\\\\t"}'
