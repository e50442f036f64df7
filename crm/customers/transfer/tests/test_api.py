"""/api/v1/imports and /api/v1/exports over HTTP: multipart upload, status, errors, cancel, problem+json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crm.customers.models import Customer, ImportJob
from crm.customers.transfer.tests.helpers import csv_bytes
from crm.testing.factories import make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_token(admin)}", "Accept-Language": "en"})


def upload(api: Client, data: bytes, name: str = "c.csv", **fields: Any) -> Any:
    payload = {"file": SimpleUploadedFile(name, data), "kind": "customers", **fields}
    return api.post("/api/v1/imports", payload)


def work(job_id: int) -> None:
    """What the worker does with the queued task (tests do not depend on the task backend)."""
    from crm.customers.transfer.services import execute_import

    execute_import(job_id)


def problem_fields(response: Any) -> set[str]:
    return {item["field"] for item in response.json().get("errors", [])}


def test_upload_runs_and_reports_status_and_errors(api: Client) -> None:
    # given a file with one bad row
    data = csv_bytes([["姓名", "邮箱"], ["甲", "a@example.com"], ["乙", "bad@"]])
    # when it is uploaded in valid-rows mode
    response = upload(api, data, mode="valid_rows")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    work(job_id)
    # then the status shows the result and the errors endpoint lists the bad row
    status = api.get(f"/api/v1/imports/{job_id}").json()
    assert (status["status"], status["created_count"], status["error_count"], status["percent"]) == (
        "succeeded",
        1,
        1,
        100,
    )
    errors = api.get(f"/api/v1/imports/{job_id}/errors").json()
    assert errors["items"] == [{"row": 3, "field": "email", "message": errors["items"][0]["message"]}]
    assert Customer.objects.get().name == "甲"


def test_preview_mapping_then_dry_run_then_run(api: Client) -> None:
    data = csv_bytes([["Full Name", "Mystery"], ["A", "x"]])
    job_id = upload(api, data, start="false").json()["id"]
    preview = api.get(f"/api/v1/imports/{job_id}/preview").json()
    assert preview["mapping"] == {"0": "name"}
    assert preview["rows"] == [["A", "x"]]
    changed = api.put(
        f"/api/v1/imports/{job_id}/mapping", {"mapping": {"0": "name", "1": "city"}}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    dry = api.post(f"/api/v1/imports/{job_id}/run", {"dry_run": True}, content_type="application/json")
    assert dry.status_code == 202
    work(job_id)
    assert api.get(f"/api/v1/imports/{job_id}").json()["status"] == "succeeded"
    assert not Customer.objects.exists()
    api.post(f"/api/v1/imports/{job_id}/run", {"dry_run": False}, content_type="application/json")
    work(job_id)
    assert Customer.objects.get().city == "x"


def test_bad_mapping_and_bad_file_are_problem_json(api: Client) -> None:
    bad_json = upload(api, csv_bytes([["name"], ["a"]]), mapping="{not json")
    assert bad_json.status_code == 422
    assert bad_json["Content-Type"].startswith("application/problem+json")
    assert "mapping" in problem_fields(bad_json)
    truncated = upload(api, b"PK\x03\x04garbage", name="x.xlsx")
    assert truncated.status_code == 422
    assert "file" in problem_fields(truncated)
    unknown_field = upload(api, csv_bytes([["name"], ["a"]]), mapping=json.dumps({"0": "password"}))
    assert unknown_field.status_code == 422
    assert not ImportJob.objects.exists()


def test_cancel_a_queued_import(api: Client) -> None:
    # given an import that is queued (the worker has not picked it up)
    response = upload(api, csv_bytes([["name"], ["a"]]))
    job_id = response.json()["id"]
    # when it is cancelled
    cancelled = api.post(f"/api/v1/imports/{job_id}/cancel")
    # then it never runs and nothing is imported
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    from crm.customers.transfer.services import execute_import

    execute_import(job_id)
    assert not Customer.objects.exists()
    assert api.post(f"/api/v1/imports/{job_id}/cancel").status_code == 409


def test_other_users_jobs_are_not_found(api: Client) -> None:
    job_id = upload(api, csv_bytes([["name"], ["a"]]), start="false").json()["id"]
    stranger = make_user(username="stranger")
    client = Client(headers={"Authorization": f"Bearer {make_token(stranger)}"})
    assert client.get(f"/api/v1/imports/{job_id}").status_code == 404
    assert client.get("/api/v1/imports").json()["items"] == []


def test_import_without_permission_is_forbidden(admin: Any) -> None:
    nobody = make_user(username="nobody")
    client = Client(headers={"Authorization": f"Bearer {make_token(nobody)}"})
    assert upload(client, csv_bytes([["name"], ["a"]])).status_code == 403


def test_job_list_query_count_does_not_grow(api: Client, django_assert_max_num_queries: Any) -> None:
    for _ in range(3):
        upload(api, csv_bytes([["name"], ["a"]]), start="false")
    with django_assert_max_num_queries(6):
        small = api.get("/api/v1/imports?limit=1")
    for _ in range(5):
        upload(api, csv_bytes([["name"], ["a"]]), start="false")
    with django_assert_max_num_queries(6):
        big = api.get("/api/v1/imports?limit=50")
    assert len(small.json()["items"]) == 1
    assert len(big.json()["items"]) == 8


def test_exports_list_and_query_count(api: Client, django_assert_max_num_queries: Any) -> None:
    for _ in range(3):
        assert (
            api.post(
                "/api/v1/exports", {"kind": "customers", "format": "xlsx"}, content_type="application/json"
            ).status_code
            == 201
        )
    with django_assert_max_num_queries(6):
        listed = api.get("/api/v1/exports?limit=2").json()
    assert len(listed["items"]) == 2
    assert listed["next_cursor"]
    bad = api.post("/api/v1/exports", {"kind": "widgets"}, content_type="application/json")
    assert bad.status_code == 422
