"""The import pipeline: rows cleaned in a reading thread, written in batches by the calling thread.

Small batch sizes make a short file cross many batch (and thread hand-over) boundaries; the outcome
must be the one of a single batch, and the fast cleaning paths must agree with the shared validators.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, transaction

from crm.customers import validation
from crm.customers.models import Customer, Order, OrderLine
from crm.customers.transfer import cleaning, engine, readers, services
from crm.customers.transfer.tests.helpers import csv_bytes, run_import
from crm.testing.factories import make_user

pytestmark = pytest.mark.django_db

MESSY_HEADER = ["外部编号", "客户名称*", "手机号(必填)", "电子邮件", "性别", "生日", "城市", "标签", "负责人"]
MESSY_ROWS = [
    ["M1", "上海某某贸易有限公司", "021-12345678", "", "", "", "上海", "企业；重点", "owner1"],
    ["M2", "张\u3000伟", "138-0013-8001", "ZW@Example.cn", "男", "1988年7月9日", "南京", "", ""],
    ["M3", "李娜", "不详", "", "女", "", "", "", ""],
    ["M4", "王芳", "13900139001", "wangfang@", "女", "1991-13-01", "", "", ""],
    ["M5", "赵六", "+86 139 0013 9002", "zhao.liu+crm@example.com", "", "2001-02-03", "北京", "VIP", "nobody"],
    ["M6", "钱七", "(86)13900139003", "QIAN@EXAMPLE.COM", "", "1999-1-2", "", "", ""],
    ["M7", "", "13900139004", "", "", "", "", "", ""],
    ["M8", "孙八", "0086-13912345678", "sun@example.com", "", "2099-01-01", "", "", ""],
    ["M9", "周九", "10086", "zhou@localhost", "", "", "", "", ""],
    ["M10", "吴十", "13900139005", "wu@example.com", "其他", "", "", "", "owner1"],
]


@pytest.fixture
def small_batches() -> Iterator[None]:
    saved = {cls: cls.batch_size for cls in engine.IMPORTERS.values()}
    for cls in saved:
        cls.batch_size = 2
    yield
    for cls, size in saved.items():
        cls.batch_size = size


def _messy_file() -> bytes:
    return csv_bytes([MESSY_HEADER, *MESSY_ROWS], encoding="gb18030")


def _snapshot() -> list[tuple[Any, ...]]:
    return sorted(
        Customer.objects.values_list("external_id", "name", "phone", "email", "gender", "birth_date", "city", "owner")
    )


def test_many_small_batches_give_the_outcome_of_one_batch(admin: Any, small_batches: None) -> None:
    # given a messy GB18030 file imported once in batches of two rows (five thread hand-overs)
    make_user(username="owner1")
    with transaction.atomic():
        job = run_import(admin, _messy_file(), mode="valid_rows")
        small = (_snapshot(), [(e["row"], e["field"]) for e in services.read_errors(job)[0]], job.created_count)
        transaction.set_rollback(True)
    # when the same file is imported in one batch
    for cls in engine.IMPORTERS.values():
        cls.batch_size = 10_000
    job = run_import(admin, _messy_file(), mode="valid_rows")
    whole = (_snapshot(), [(e["row"], e["field"]) for e in services.read_errors(job)[0]], job.created_count)
    # then the customers, the errors (in file order) and the counts are the same
    assert small == whole
    assert small[2] == 4
    assert small[1] == [
        (4, "phone"),
        (5, "email"),
        (5, "birth_date"),
        (6, "owner"),
        (8, "name"),
        (9, "birth_date"),
        (10, "phone"),
        (10, "email"),
    ]


def test_fast_paths_agree_with_the_shared_validators_on_a_messy_file() -> None:
    # given every phone, e-mail and date cell of a messy file
    today = dt.date.today()

    def outcome(fn: Any, value: str) -> str:
        try:
            return str(fn(value))
        except ValueError as exc:
            return f"error: {exc}"

    for row in MESSY_ROWS:
        phone, email, birth = row[2], row[3], row[5]
        # then the import's fast path answers what the shared validator answers, errors included
        assert outcome(cleaning.clean_phone, phone) == outcome(validation.clean_phone, phone)
        assert outcome(cleaning.clean_email, email) == outcome(validation.clean_email, email)
        assert outcome(lambda v: cleaning.clean_past_date(v, today), birth) == outcome(
            lambda v: validation.clean_date(v, not_future=True), birth
        )


def test_owner_is_matched_by_user_name_and_an_unknown_one_is_a_row_error(admin: Any) -> None:
    owner = make_user(username="owner1")
    job = run_import(admin, csv_bytes([["name", "owner"], ["A", "owner1"], ["B", "ghost"]]), mode="valid_rows")
    assert Customer.objects.get(name="A").owner == owner
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "owner")]


def test_orders_split_over_small_batches_keep_their_lines_together(admin: Any, small_batches: None) -> None:
    # given customers and an order file whose multi-line orders straddle batch boundaries
    run_import(admin, csv_bytes([["external_id", "name"], ["C1", "甲"], ["C2", "乙"]]))
    rows = [["订单号", "客户编号", "下单时间", "商品编码", "数量", "单价"]]
    for number, customer, lines in (("O1", "C1", 3), ("O2", "C2", 1), ("O3", "C1", 2), ("O4", "C9", 1)):
        rows += [[number, customer, "2025-03-01 10:00", f"S{i}", "1", "2.50"] for i in range(lines)]
    # when it is imported two rows at a time
    job = run_import(admin, csv_bytes(rows), kind="orders", name="o.csv", mode="valid_rows")
    # then each order has all its lines, and only the unknown customer's row is refused
    assert job.status == "succeeded", job.message
    assert dict(Order.objects.values_list("number", "total_amount")) == {"O1": 7.5, "O2": 2.5, "O3": 5}
    assert OrderLine.objects.count() == 6
    assert [(e["row"], e["field"]) for e in job.errors] == [(8, "customer")]


def test_a_file_that_breaks_after_some_batches_leaves_nothing_and_no_thread(admin: Any, small_batches: None) -> None:
    # given a CSV that turns unreadable (a field past the csv module's size limit) after several batches
    data = csv_bytes([["name"]] + [[f"c{i}"] for i in range(9)]) + b"x" * (readers._CELL_LIMIT + 1) + b"\r\n"
    before = threading.active_count()
    # when it is imported
    job = run_import(admin, data, mode="valid_rows")
    # then the reading thread's error fails the whole run, nothing is kept and the thread is gone
    assert job.status == "failed"
    assert "CSV" in job.message
    assert not Customer.objects.exists()
    assert threading.active_count() == before


def test_an_error_in_the_writer_stops_the_reader(admin: Any, small_batches: None) -> None:
    # given an import whose second write fails in the database
    calls = {"n": 0}
    real_write = engine.CustomerImporter.write

    def failing_write(self: Any, batch: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection")
        real_write(self, batch)

    engine.CustomerImporter.write = failing_write  # type: ignore[method-assign]
    before = threading.active_count()
    try:
        job = run_import(admin, csv_bytes([["name"]] + [[f"c{i}"] for i in range(40)]), mode="valid_rows")
    finally:
        engine.CustomerImporter.write = real_write  # type: ignore[method-assign]
    # then the run fails cleanly, nothing is left, and the reading thread has stopped
    assert job.status == "failed"
    assert not Customer.objects.exists()
    assert threading.active_count() == before


def test_error_file_lists_rows_in_file_order_across_batches(admin: Any, small_batches: None) -> None:
    rows = [["name", "email"]] + [[f"n{i}", "bad@" if i % 3 == 0 else f"u{i}@example.com"] for i in range(12)]
    job = run_import(admin, csv_bytes(rows), mode="valid_rows", dry_run=True)
    path = engine.error_file_for(services.job_dir(job))
    numbers = [json.loads(line)["row"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert numbers == [2, 5, 8, 11]
    assert job.created_count == 8  # would be created; dry run
    assert not Customer.objects.exists()


def test_runtime_settings_are_tuned_during_imports_and_restored_after(admin: Any) -> None:
    # given the process's collection and thread-switch settings
    before = (gc.get_threshold(), sys.getswitchinterval())
    # when an import runs (and while it runs, they are tuned for many short-lived rows and two threads)
    seen: list[tuple[tuple[int, ...], float]] = []
    with engine.bulk_runtime():
        seen.append((gc.get_threshold(), sys.getswitchinterval()))
        assert gc.get_freeze_count() > 0
        # a second import in the same process finishing first leaves the first one's settings alone
        with engine.bulk_runtime():
            pass
        assert (gc.get_threshold(), sys.getswitchinterval()) == seen[0]
    job = run_import(admin, csv_bytes([["姓名"], ["甲"], ["乙"]]))
    # then the settings are as before, nothing stays frozen, and the import worked
    assert seen[0][0][0] >= 50_000
    assert seen[0][1] <= engine.SWITCH_INTERVAL
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
    assert gc.get_freeze_count() == 0
    assert job.created_count == 2
