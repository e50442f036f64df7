"""File-level problems: XLSX, truncated or damaged files, wrong types, empty files — clear errors, no 500."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import Workbook

from crm.core.errors import ValidationFailed
from crm.customers.models import Customer
from crm.customers.transfer import readers, services
from crm.customers.transfer.tests.helpers import csv_bytes, run_import

pytestmark = pytest.mark.django_db


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_numbers_and_dates_imports(admin: Any) -> None:
    # given an Excel sheet where the phone is a number and the birthday a real date cell
    data = xlsx_bytes([["姓名", "手机", "生日", "省份"], ["吴十", 13500135000, dt.datetime(1992, 5, 6), "广东"]])
    job = run_import(admin, data, name="客户.xlsx")
    assert job.status == "succeeded", job.message
    customer = Customer.objects.get()
    assert (customer.phone, customer.birth_date, customer.region) == ("+8613500135000", dt.date(1992, 5, 6), "广东")


def test_truncated_xlsx_is_refused_clearly(admin: Any) -> None:
    data = xlsx_bytes([["姓名"]] + [[f"n{i}"] for i in range(200)])
    with pytest.raises(ValidationFailed) as caught:
        services.create_import_job(
            actor=admin, upload=io.BytesIO(data[: len(data) // 2]), file_name="broken.xlsx", kind="customers"
        )
    assert "file" in caught.value.errors
    assert not Customer.objects.exists()


def test_csv_renamed_to_xlsx_is_refused(admin: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.create_import_job(
            actor=admin, upload=io.BytesIO(csv_bytes([["name"], ["x"]])), file_name="fake.xlsx", kind="customers"
        )
    assert "file" in caught.value.errors


def test_empty_file_and_unknown_extension(admin: Any) -> None:
    with pytest.raises(ValidationFailed):
        services.create_import_job(actor=admin, upload=io.BytesIO(b""), file_name="e.csv", kind="customers")
    with pytest.raises(ValidationFailed) as caught:
        services.create_import_job(actor=admin, upload=io.BytesIO(b"x"), file_name="e.pdf", kind="customers")
    assert "file" in caught.value.errors


def test_binary_garbage_as_csv_reports_undecodable_lines(admin: Any) -> None:
    data = csv_bytes([["name"], ["ok"]]) + bytes([0xFF, 0xFE, 0xFD, 0x81, 0x0A])
    job = run_import(admin, data, mode="valid_rows", encoding="utf-8")
    assert job.status == "succeeded"
    assert job.created_count == 1
    assert job.error_count == 1


def test_missing_required_column_is_a_mapping_error(admin: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.create_import_job(
            actor=admin,
            upload=io.BytesIO(csv_bytes([["email"], ["a@example.com"]])),
            file_name="x.csv",
            kind="customers",
            columns={"0": "email"},
        )
    assert "mapping.name" in caught.value.errors


def test_invalid_options_are_field_errors(admin: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.create_import_job(
            actor=admin,
            upload=io.BytesIO(b"name\nx\n"),
            file_name="x.csv",
            kind="widgets",
            mode="sometimes",
            encoding="ebcdic",
        )
    assert {"kind", "mode", "encoding"} <= set(caught.value.errors)


def test_messy_real_world_file(admin: Any) -> None:
    # given the kind of file a shop exports: GBK, marked headers, full-width spaces, blank lines, bad rows
    lines = [
        ["客户名称*", "手机号(必填)", "电子邮件", "性别", "生日", "省份", "城市", "标签", "备注"],
        ["上海某某贸易有限公司", "021-12345678", "", "", "", "上海", "上海", "企业；重点", "x"],
        ["张\u3000伟", "138-0013-8001", "ZW@Example.cn", "男", "1988年7月9日", "江苏", "南京", "", ""],
        ["", "", "", "", "", "", "", "", ""],
        ["李娜", "不详", "", "女", "", "", "", "", ""],
        ["王芳", "13900139001", "wangfang@", "女", "1991-13-01", "", "", "", ""],
    ]
    data = csv_bytes(lines, encoding="gbk")
    job = run_import(admin, data, mode="valid_rows")
    assert job.status == "succeeded", job.message
    assert job.created_count == 2
    assert {(e["row"], e["field"]) for e in job.errors} == {(5, "phone"), (6, "email"), (6, "birth_date")}
    assert Customer.objects.get(name="张 伟").birth_date == dt.date(1988, 7, 9)
    assert Customer.objects.get(name="上海某某贸易有限公司").phone == "+862112345678"


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138 0013 8000",
        "14012345678",
        "19912345678",
        "16212345678",
        "17400001234",
        "12345678901",
        "(86)13900139000",
        "0086-13912345678",
        "1741234567",
        "10086",
        "021-12345678",
    ],
)
def test_fast_phone_path_agrees_with_the_shared_validator(raw: str) -> None:
    from crm.customers import validation
    from crm.customers.transfer import cleaning

    def outcome(fn: Any) -> str:
        try:
            return str(fn(raw))
        except ValueError:
            return "invalid"

    assert outcome(cleaning.clean_phone) == outcome(validation.clean_phone)


@pytest.mark.parametrize(
    "raw", ["a@example.com", "A.B+c@Example.COM", "x@y.test", "bad@", "a@b", "ü@example.com", "a..b@example.com"]
)
def test_fast_email_path_agrees_with_the_shared_validator(raw: str) -> None:
    from crm.customers import validation
    from crm.customers.transfer import cleaning

    def outcome(fn: Any) -> str:
        try:
            return str(fn(raw))
        except ValueError:
            return "invalid"

    assert outcome(cleaning.clean_email) == outcome(validation.clean_email)


def test_fast_blind_index_equals_the_shared_one() -> None:
    from crm.core.crypto import blind_index
    from crm.customers.transfer import cleaning

    assert cleaning.email_bidx("A@Example.com") == blind_index("email", "a@example.com")
    assert cleaning.phone_bidx("+8613800138000") == blind_index("phone", "13800138000")
    assert cleaning.identifier_bidx("1101 01x") == blind_index("identifier", "110101X")


def test_fast_base32_equals_the_standard_encoding_on_many_digests() -> None:
    import base64
    import hashlib

    from crm.customers.transfer import cleaning

    # Given digests covering every 10-bit group value, all-zero and all-one bytes
    samples = [bytes(20), b"\xff" * 20] + [hashlib.sha256(str(i).encode()).digest()[:20] for i in range(3000)]
    for data in samples:
        # When encoded by the fast path, then it is the standard lower-case base32 text
        assert cleaning._b32_of_160_bits(data) == base64.b32encode(data).decode("ascii").lower()


def test_semicolon_and_tab_separated_files(admin: Any) -> None:
    job = run_import(admin, "姓名;城市\n甲;上海\n".encode(), name="a.csv")
    assert job.status == "succeeded", job.message
    job = run_import(admin, "姓名\t城市\n乙\t北京\n".encode(), name="b.txt")
    assert job.status == "succeeded", job.message
    assert sorted(Customer.objects.values_list("name", "city")) == [("乙", "北京"), ("甲", "上海")]


def per_line_reference(data: bytes) -> list[tuple[str, bool]]:
    """What reading line by line gives: each physical line decoded as UTF-8, else GB18030, else an error."""
    out = []
    for raw in io.BytesIO(data.removeprefix(b"\xef\xbb\xbf")):
        try:
            out.append((raw.decode("utf-8"), False))
        except UnicodeDecodeError:
            try:
                out.append((raw.decode("gb18030"), False))
            except UnicodeDecodeError:
                out.append((raw.decode("utf-8", errors="replace"), True))
    return out


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_block_decoding_reads_every_line_as_line_by_line_decoding_would(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # given a file mixing UTF-8 and GBK lines, CRLF and LF endings, a quoted field spanning two lines,
    # separators U+2028 and form feed inside fields, bytes that are neither encoding, and no final newline
    data = b"".join(
        [
            "\ufeff姓名,手机,备注\r\n".encode(),
            "张三,13800138000,第一行\n".encode(),
            "李四,13900139000,GBK 行\r\n".encode("gbk"),
            '王五,13700137000,"跨\n两行"\n'.encode(),
            "赵六,13600136000,a\u2028b\x0cc\n".encode(),
            b"\xff\xfe\xfa\xfb,1,2\n",
            "孙七,13500135000,末行无换行".encode("gbk"),
        ]
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    monkeypatch.setattr(readers, "_BLOCK_BYTES", block)
    # when it is read in blocks of `block` bytes
    lines = [(text, bool(error)) for text, error in readers._decoded_lines(path, "utf-8")]
    # then every physical line comes out as the line-by-line reading gives it, and the rows parse
    assert lines == per_line_reference(data)
    header, rows, _encoding = readers.open_rows(path, name="mixed.csv")
    parsed = list(rows)
    assert header == ["姓名", "手机", "备注"]
    assert [r.values[0] for r in parsed if not r.error] == ["张三", "李四", "王五", "赵六", "孙七"]
    assert parsed[2].values[2] == "跨\n两行"
    assert parsed[3].values[2] == "a\u2028b\x0cc"
    assert [r.number for r in parsed if r.error] == [7]
