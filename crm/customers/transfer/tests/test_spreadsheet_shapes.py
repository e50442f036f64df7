"""Shapes that real Chinese spreadsheet exports take, found by an outside acceptance check."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from crm.customers.models import Customer, Order
from crm.customers.search import search_customers
from crm.customers.transfer.tests.helpers import csv_bytes, run_import

pytestmark = pytest.mark.django_db


def test_phone_that_a_spreadsheet_saved_as_a_number_imports_and_is_found(admin: Any) -> None:
    # given a phone column that Excel turned into a number and wrote back as "13800138000.0"
    data = csv_bytes([["姓名", "手机"], ["王五", "13800138002.0"], ["赵六", "+8613800138003.00"]])
    # when it is imported
    job = run_import(admin, data)
    # then the numbers are the phones they were, and searching the same text finds them
    assert job.status == "succeeded", job.errors
    assert Customer.objects.get(name="王五").phone == "+8613800138002"
    assert Customer.objects.get(name="赵六").phone == "+8613800138003"
    assert [c.name for c in search_customers(admin, "13800138002.0")] == ["王五"]


def test_a_decimal_that_is_not_a_whole_number_is_still_no_phone(admin: Any) -> None:
    job = run_import(admin, csv_bytes([["姓名", "手机"], ["王五", "13800138002.5"]]), dry_run=True)
    assert {(e["row"], e["field"]) for e in job.errors} == {(2, "phone")}


def test_file_with_utf8_and_gbk_lines_that_neither_codec_reads_whole(admin: Any) -> None:
    # given a UTF-8 export with GBK lines pasted in: as a whole it is neither UTF-8 nor GB18030
    head = csv_bytes([["姓名", "手机", "性别", "公司", "城市"], ["张伟", "13700137000", "男", "杭州云帆网络", "杭州"]])
    middle = csv_bytes([["刘洋", "13700137001", "女", "杭州云帆网络", "杭州"]], encoding="gbk")
    tail = csv_bytes([["陈静", "13700137002", "女", "成都天府茶业", "成都"]])
    data = head + middle + tail
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb18030")
    # when it is imported without naming an encoding
    job = run_import(admin, data)
    # then every line is read in its own encoding
    assert job.status == "succeeded", job.message
    assert sorted(Customer.objects.values_list("name", "company_name")) == [
        ("刘洋", "杭州云帆网络"),
        ("张伟", "杭州云帆网络"),
        ("陈静", "成都天府茶业"),
    ]


def test_bad_row_after_a_quoted_newline_is_named_by_its_first_line(admin: Any) -> None:
    # given a bad record whose address spans two lines, then another bad record
    data = '姓名,地址,手机\r\n张三,"浦东新区\n世纪大道1号",12345\r\n李四,,12345\r\n'.encode()
    job = run_import(admin, data, dry_run=True)
    # then each is named by the line it starts on (a text editor's line number)
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "phone"), (4, "phone")]


@pytest.fixture
def customer(admin: Any) -> None:
    run_import(admin, csv_bytes([["客户编号", "姓名"], ["C1", "甲"]]))


@pytest.mark.parametrize(
    ("written", "local"),
    [
        ("2025/10/1 10:00", dt.datetime(2025, 10, 1, 10, 0)),
        ("2025/10/4", dt.datetime(2025, 10, 4)),
        ("2025-10-4 9:05:30", dt.datetime(2025, 10, 4, 9, 5, 30)),
        ("2025年10月3日", dt.datetime(2025, 10, 3)),
        ("2025年10月3日 14:30", dt.datetime(2025, 10, 3, 14, 30)),
        ("2025.10.03 14:30", dt.datetime(2025, 10, 3, 14, 30)),
        ("20251003", dt.datetime(2025, 10, 3)),
        ("45931.5", dt.datetime(2025, 10, 1, 12, 0)),  # an Excel serial number that lost its date format
    ],
)
def test_order_times_as_chinese_spreadsheets_write_them(admin: Any, customer: None, written: str, local: Any) -> None:
    data = csv_bytes([["订单号", "客户编号", "下单时间", "金额", "币种"], ["O1", "C1", written, "100", "人民币"]])
    job = run_import(admin, data, kind="orders")
    assert job.status == "succeeded", job.errors
    assert timezone.localtime(Order.objects.get().ordered_at).replace(tzinfo=None) == local


@pytest.mark.parametrize("written", ["2025/13/1", "2025年2月30日", "2025/10/1 25:00", "12345678", "1/2/2025"])
def test_impossible_order_times_are_row_errors(admin: Any, customer: None, written: str) -> None:
    data = csv_bytes([["订单号", "客户编号", "下单时间", "金额"], ["O1", "C1", written, "100"]])
    job = run_import(admin, data, kind="orders", dry_run=True)
    assert {(e["row"], e["field"]) for e in job.errors} == {(2, "ordered_at")}


@pytest.mark.parametrize("written", ["￥", "¥", "人民币", "RMB", "rmb", "元", "CNY"])
def test_chinese_ways_of_writing_the_yuan(admin: Any, customer: None, written: str) -> None:
    data = csv_bytes(
        [["订单号", "客户编号", "下单时间", "金额", "币种"], ["O1", "C1", "2025-10-01 10:00", "9.9", written]]
    )
    job = run_import(admin, data, kind="orders")
    assert job.status == "succeeded", job.errors
    assert (Order.objects.get().currency, Order.objects.get().total_amount) == ("CNY", Decimal("9.90"))


def test_excel_serial_numbers_in_date_columns_of_an_xlsx(admin: Any) -> None:
    from openpyxl import Workbook

    # given a sheet whose birth-date column lost its date format: the cells hold serial numbers
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["姓名", "生日"])
    sheet.append(["吴敏", 32937])
    sheet.append(["冯刚", 32937.0])
    sheet.append(["卫华", dt.date(1990, 3, 5)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # when it is imported
    job = run_import(admin, buffer.getvalue(), name="customers.xlsx")
    # then the serial numbers are the dates Excel shows for them
    assert job.status == "succeeded", job.errors
    assert set(Customer.objects.values_list("birth_date", flat=True)) == {dt.date(1990, 3, 5)}


def test_an_unknown_status_names_the_choices_in_the_users_language(admin: Any, customer: None) -> None:
    # given a Chinese-speaking user and an order status the import does not know
    data = csv_bytes(
        [["订单号", "客户编号", "下单时间", "金额", "状态"], ["O1", "C1", "2025-10-01 10:00", "9", "不知道"]]
    )
    with translation.override("zh-hans"):
        job = run_import(admin, data, kind="orders", dry_run=True)
    # then the reason lists what they may write, in their words
    [error] = job.errors
    assert error["field"] == "status"
    assert "已支付" in error["message"]
    assert "已退款" in error["message"]
    assert "partially_refunded" not in error["message"]


def test_a_file_cut_off_inside_a_quoted_value_reports_its_last_row(admin: Any) -> None:
    # given a file whose last line was cut off inside a quoted address (an interrupted upload or copy)
    data = '姓名,手机,地址\r\n甲,13800138000,上海\r\n乙,13800138001,"北京市朝阳'.encode()
    # when it is checked
    with translation.override("en"):
        job = run_import(admin, data, mode="valid_rows", dry_run=True)
    # then the cut-off row is not taken as complete
    assert job.created_count == 1
    assert [e["row"] for e in job.errors] == [3]
    assert "quote" in job.errors[0]["message"]
    with translation.override("zh-hans"):
        job = run_import(admin, data, mode="valid_rows", dry_run=True)
    assert "引号" in job.errors[0]["message"]


def test_a_file_ending_without_a_line_break_is_complete(admin: Any) -> None:
    data = '姓名,手机,地址\r\n甲,13800138000,"上海"\r\n乙,13800138001,北京'.encode()
    job = run_import(admin, data)
    assert (job.created_count, job.error_count) == (2, 0)


def test_a_very_long_cell_is_an_error_of_its_row_not_of_the_file(admin: Any) -> None:
    # given a cell of 200,000 characters (a pasted document) among good rows
    data = csv_bytes([["姓名", "手机", "地址"], ["甲", "13800138000", "长" * 200_000], ["乙", "13800138001", "上海"]])
    # when it is imported keeping the valid rows
    job = run_import(admin, data, mode="valid_rows")
    # then only that row is refused, for its address
    assert job.status == "succeeded", job.message
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "address")]
    assert list(Customer.objects.values_list("name", flat=True)) == ["乙"]
