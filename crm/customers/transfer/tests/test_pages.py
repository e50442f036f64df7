"""The import wizard pages work without JavaScript: upload → mapping → dry run → import → result."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crm.customers.models import Customer, ImportJob
from crm.customers.transfer.services import execute_import
from crm.customers.transfer.tests.helpers import csv_bytes

pytestmark = pytest.mark.django_db


def test_wizard_from_upload_to_result(admin_session: Client) -> None:
    # step 1: upload
    page = admin_session.get("/customers/imports/")
    assert page.status_code == 200
    data = csv_bytes([["姓名", "手机", "备注"], ["甲", "13800138000", "x"], ["乙", "123", "y"]])
    response = admin_session.post(
        "/customers/imports/", {"file": SimpleUploadedFile("c.csv", data), "kind": "customers"}
    )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    # step 2: the mapping preview shows auto-mapped columns, editable
    mapping = admin_session.get(response["Location"]).content.decode()
    assert 'name="col_0"' in mapping
    assert '<option value="name" selected>' in mapping
    assert "13800138000" in mapping
    # step 3: dry run reports the bad row, saves nothing
    admin_session.post(
        f"/customers/imports/{job.pk}/run/",
        {"col_0": "name", "col_1": "phone", "mode": "valid_rows", "action": "dry_run"},
    )
    execute_import(job.pk)
    report = admin_session.get(f"/customers/imports/{job.pk}/").content.decode()
    assert 'data-testid="import-errors"' in report
    assert not Customer.objects.exists()
    # step 4: import for real, with the note column mapped to the city
    admin_session.post(
        f"/customers/imports/{job.pk}/run/",
        {"col_0": "name", "col_1": "phone", "col_2": "city", "mode": "valid_rows", "action": "import"},
    )
    running = admin_session.get(
        f"/customers/imports/{job.pk}/", headers={"HX-Request": "true"}, query_params={"part": "progress"}
    )
    assert 'hx-trigger="every 1s"' in running.content.decode()
    execute_import(job.pk)
    result = admin_session.get(f"/customers/imports/{job.pk}/").content.decode()
    assert 'data-testid="import-message"' in result
    assert Customer.objects.get().city == "x"
    errors = admin_session.get(f"/customers/imports/{job.pk}/errors.csv")
    assert "phone" in b"".join(errors.streaming_content).decode("utf-8-sig")


def test_upload_errors_are_shown_in_the_form(admin_session: Client) -> None:
    response = admin_session.post(
        "/customers/imports/", {"file": SimpleUploadedFile("x.pdf", b"%PDF"), "kind": "customers"}
    )
    assert response.status_code == 422
    assert "field-error" in response.content.decode()


def test_bad_mapping_is_shown_not_a_500(admin_session: Client, admin: Any) -> None:
    admin_session.post(
        "/customers/imports/", {"file": SimpleUploadedFile("c.csv", csv_bytes([["a"], ["b"]])), "kind": "customers"}
    )
    job = ImportJob.objects.get()
    response = admin_session.post(f"/customers/imports/{job.pk}/run/", {"col_0": "phone", "action": "dry_run"})
    assert response.status_code == 422
    assert "field-error" in response.content.decode()


def test_chinese_page(admin_session: Client) -> None:
    response = admin_session.get("/customers/imports/", headers={"Accept-Language": "zh-hans"})
    assert "导入客户、联系人或订单" in response.content.decode()


def test_customers_landing_page_links_import_export_and_duplicates(admin_session: Client) -> None:
    page = admin_session.get("/customers-home/").content.decode()
    assert 'data-testid="panel-transfer"' in page
    assert "/customers/imports/" in page
    assert "/customers/duplicates/" in page
