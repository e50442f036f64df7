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
