"""Customer imports: encodings, Chinese headers, bad rows, modes, upsert."""

from __future__ import annotations

from typing import Any

import pytest

from crm.core.crypto import blind_index
from crm.core.models import AuditEntry, TimelineEvent
from crm.customers.models import Customer
from crm.customers.transfer.tests.helpers import csv_bytes, run_import

pytestmark = pytest.mark.django_db

HEADER_ZH = ["姓名", "手机", "邮箱", "性别", "生日", "公司", "城市", "标签", "外部编号"]


def test_utf8_chinese_headers_import_every_row(admin: Any) -> None:
    # given a UTF-8 file with Chinese headers
    data = csv_bytes(
        [
            HEADER_ZH,
            ["张三", "138 0013 8000", "zhang@example.com", "男", "1990-01-02", "阿里", "杭州", "VIP，老客户", "C1"],
            ["李四", "+86 139-0013-9000", "LI@Example.COM", "女", "1985/3/4", "", "上海", "", "C2"],
        ]
    )
    # when it is imported
    job = run_import(admin, data)
    # then both customers exist, encrypted channels are findable by blind index
    assert job.status == "succeeded", job.message
    assert (job.created_count, job.error_count) == (2, 0)
    zhang = Customer.objects.get(external_id="C1")
    assert zhang.phone == "+8613800138000"
    assert zhang.gender == "male"
    assert sorted(zhang.tags.values_list("name", flat=True)) == ["VIP", "老客户"]
    assert Customer.objects.get(email_bidx=blind_index("email", "li@example.com")).name == "李四"
    assert Customer.objects.get(phone_bidx=blind_index("phone", "+8613900139000")).external_id == "C2"
    assert TimelineEvent.objects.filter(customer_id=zhang.pk, kind="import.created").count() == 1
    assert AuditEntry.objects.filter(verb="import", object_id=str(job.pk)).count() == 1


def test_gbk_file_with_bom_less_headers_is_detected(admin: Any) -> None:
    # given a GBK-encoded file (what Excel on Chinese Windows saves as CSV)
    data = csv_bytes([["姓名", "电话", "公司"], ["王五", "13700137000", "北京某某科技有限公司"]], encoding="gbk")
    # when it is imported without naming the encoding
    job = run_import(admin, data)
    # then the encoding was recognised and the text is intact
    assert job.status == "succeeded", job.message
    assert job.encoding == "gb18030"
    assert Customer.objects.get().company_name == "北京某某科技有限公司"


def test_utf8_bom_is_stripped_from_the_first_header(admin: Any) -> None:
    data = b"\xef\xbb\xbf" + csv_bytes([["名称", "手机号"], ["赵六", "13600136000"]])
    job = run_import(admin, data)
    assert job.status == "succeeded", job.message
    assert job.encoding == "utf-8-sig"
    assert Customer.objects.get().name == "赵六"


def test_lines_in_mixed_encodings_are_each_decoded(admin: Any) -> None:
    # given a file pasted together from a UTF-8 and a GBK export
    head = csv_bytes([["姓名", "城市"], ["钱七", "深圳"]])
    tail = csv_bytes([["孙八", "广州"]], encoding="gbk")
    # when it is imported
    job = run_import(admin, head + tail)
    # then both lines read correctly
    assert job.status == "succeeded", job.message
    assert sorted(Customer.objects.values_list("name", "city")) == [("孙八", "广州"), ("钱七", "深圳")]


def test_explicit_encoding_is_honoured(admin: Any) -> None:
    data = csv_bytes([["姓名"], ["周九"]], encoding="gb18030")
    job = run_import(admin, data, encoding="gb18030")
    assert job.status == "succeeded", job.message
    assert Customer.objects.get().name == "周九"


def test_dry_run_reports_every_bad_row_and_writes_nothing(admin: Any) -> None:
    # given a file with good and bad rows
    data = csv_bytes(
        [
            ["name", "email", "phone", "birth date", "gender"],
            ["Good One", "one@example.com", "13800138000", "1990-01-01", "f"],
            ["", "two@example.com", "", "", ""],
            ["Bad Mail", "not-an-email", "", "", ""],
            ["Bad Phone", "", "12345", "", ""],
            ["Future", "", "", "2999-01-01", "x"],
        ]
    )
    # when it is checked in a dry run
    job = run_import(admin, data, dry_run=True)
    # then each bad row is reported with its row number and field, and nothing is saved
    assert job.status == "succeeded"
    assert job.error_count == 4
    reported = {(e["row"], e["field"]) for e in job.errors}
    assert reported == {(3, "name"), (4, "email"), (5, "phone"), (6, "birth_date"), (6, "gender")}
    assert job.created_count == 1
    assert not Customer.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_dry_run_messages_are_in_the_users_language(admin: Any) -> None:
    from django.utils import translation

    data = csv_bytes([["姓名", "邮箱"], ["甲", ""]])
    with translation.override("zh-hans"):
        job = run_import(admin, data, dry_run=True, upsert_by="email")
    assert job.errors[0]["field"] == "email"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in job.errors[0]["message"]), job.errors[0]["message"]


def test_all_or_nothing_with_one_bad_row_leaves_nothing(admin: Any) -> None:
    data = csv_bytes([["name", "email"], ["A", "a@example.com"], ["B", "broken@"], ["C", "c@example.com"]])
    job = run_import(admin, data, mode="all_or_nothing")
    assert job.status == "failed"
    assert job.error_count == 1
    assert job.created_count == 0
    assert not Customer.objects.exists()
    assert not TimelineEvent.objects.exists()
    # the attempt itself is audited
    assert AuditEntry.objects.filter(verb="import", object_id=str(job.pk)).get().extra["status"] == "failed"


def test_valid_rows_mode_imports_only_the_good_rows(admin: Any) -> None:
    data = csv_bytes([["name", "email"], ["A", "a@example.com"], ["B", "broken@"], ["C", "c@example.com"]])
    job = run_import(admin, data, mode="valid_rows")
    assert job.status == "succeeded"
    assert (job.created_count, job.error_count) == (2, 1)
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["A", "C"]


def test_upsert_by_email_updates_existing_and_keeps_unmapped_fields(admin: Any) -> None:
    # given a customer with a city
    first = csv_bytes([["name", "email", "city", "phone"], ["Old Name", "x@example.com", "Wuhan", "13800138000"]])
    run_import(admin, first)
    # when a file with the same e-mail (other case) and no city is imported with upsert by e-mail
    second = csv_bytes(
        [["name", "email", "industry"], ["New Name", "X@example.com", "retail"], ["Other", "o@example.com", ""]]
    )
    job = run_import(admin, second, upsert_by="email")
    # then the customer is updated in place, the other created
    assert (job.created_count, job.updated_count) == (1, 1), job.errors
    updated = Customer.objects.get(email_bidx=blind_index("email", "x@example.com"))
    assert (updated.name, updated.city, updated.industry, updated.version) == ("New Name", "Wuhan", "retail", 2)
    assert updated.phone == "+8613800138000"
    assert Customer.objects.count() == 2


def test_upsert_by_phone_matches_differently_written_numbers(admin: Any) -> None:
    run_import(admin, csv_bytes([["name", "phone"], ["A", "13800138000"]]))
    job = run_import(
        admin, csv_bytes([["name", "phone", "city"], ["A2", "+86 138-0013-8000", "Xi'an"]]), upsert_by="phone"
    )
    assert (job.created_count, job.updated_count) == (0, 1)
    assert Customer.objects.get().city == "Xi'an"


def test_upsert_by_external_id_and_duplicate_external_id_without_upsert(admin: Any) -> None:
    run_import(admin, csv_bytes([["外部编号", "姓名"], ["E1", "甲"]]))
    job = run_import(admin, csv_bytes([["外部编号", "姓名"], ["E1", "乙"]]), upsert_by="external_id")
    assert job.updated_count == 1
    assert Customer.objects.get(external_id="E1").name == "乙"
    # without upsert the same external id is a row error, not a crash
    job = run_import(admin, csv_bytes([["外部编号", "姓名"], ["E1", "丙"]]), mode="valid_rows")
    assert job.status == "succeeded"
    assert job.errors == [{"row": 2, "field": "external_id", "message": job.errors[0]["message"]}]
    assert Customer.objects.get(external_id="E1").name == "乙"


def test_same_email_twice_in_one_file_with_upsert_makes_one_customer(admin: Any) -> None:
    data = csv_bytes([["name", "email", "city"], ["A", "dup@example.com", "X"], ["A", "dup@example.com", "Y"]])
    job = run_import(admin, data, upsert_by="email")
    assert job.status == "succeeded", job.errors
    assert Customer.objects.get().city == "Y"


def test_custom_fields_by_label_and_unknown_choice(admin: Any) -> None:
    from crm.core.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="level", label="会员等级", field_type="choice", choices=["金", "银"]
    )
    data = csv_bytes([["姓名", "会员等级"], ["甲", "金"], ["乙", "铜"]])
    job = run_import(admin, data, mode="valid_rows")
    assert job.created_count == 1
    assert job.errors[0]["field"] == "custom.level"
    assert Customer.objects.get().custom == {"level": "金"}


def test_a_record_twice_in_one_batch_keeps_the_custom_values_of_both_rows(admin: Any) -> None:
    from crm.core.models import CustomFieldDefinition

    # given two customer fields, and a file naming one customer twice, each row filling one field
    for key, label in (("level", "会员等级"), ("hobby", "爱好")):
        CustomFieldDefinition.objects.create(object_type="customers.customer", key=key, label=label, field_type="text")
    data = csv_bytes([["外部编号", "姓名", "会员等级", "爱好"], ["D1", "甲", "金", ""], ["D1", "甲", "", "茶"]])
    # when it is imported with upsert by external id (both rows in one batch)
    job = run_import(admin, data, upsert_by="external_id")
    # then the one customer has both values: the second row's merge comes after the first row's insert
    assert job.status == "succeeded", job.errors
    assert Customer.objects.get().custom == {"level": "金", "hobby": "茶"}


def test_cancel_rolls_back_everything(admin: Any) -> None:
    import io

    from crm.customers.transfer import engine, services

    # given a running import that is cancelled after its first batch was written
    rows = [["name"]] + [[f"c{i}"] for i in range(50)]
    job = services.create_import_job(
        actor=admin, upload=io.BytesIO(csv_bytes(rows)), file_name="c.csv", kind="customers", mode="valid_rows"
    )
    services.start_import(job, actor=admin, dry_run=False)
    original = engine.CustomerImporter.batch_size
    engine.CustomerImporter.batch_size = 10

    real_write = engine.CustomerImporter.write

    def write_then_cancel(self: Any, batch: Any) -> None:
        real_write(self, batch)
        services.cancel_import(job, actor=admin)

    engine.CustomerImporter.write = write_then_cancel  # type: ignore[method-assign]
    old_every = engine.PROGRESS_EVERY_SECONDS
    engine.PROGRESS_EVERY_SECONDS = 0
    try:
        services.execute_import(job.pk)
    finally:
        engine.CustomerImporter.write = real_write  # type: ignore[method-assign]
        engine.CustomerImporter.batch_size = original
        engine.PROGRESS_EVERY_SECONDS = old_every
    job.refresh_from_db()
    # then the job is cancelled and nothing it wrote is left
    assert job.status == "cancelled"
    assert job.created_count == 0
    assert not Customer.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_wrong_column_types_are_row_errors(admin: Any) -> None:
    data = csv_bytes([["name", "birthday", "email_opt_in", "kind"], ["A", "yesterday", "maybe", "alien"]])
    job = run_import(admin, data, dry_run=True)
    assert {e["field"] for e in job.errors} == {"birth_date", "email_opt_in", "kind"}
