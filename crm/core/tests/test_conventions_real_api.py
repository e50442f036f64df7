"""The same conventions on a real endpoint of /api/v1 (customers), end to end through every layer."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from crm.core.models import AuditEntry
from crm.customers.models import Customer

pytestmark = pytest.mark.django_db


def test_idempotent_customer_post_replayed_ten_times_creates_one_customer(api_client: Client) -> None:
    # given
    body = json.dumps({"kind": "person", "name": "王五", "email": "wang.wu@example.cn"})
    # when
    responses = [
        api_client.post("/api/v1/customers", body, content_type="application/json", headers={"Idempotency-Key": "c-1"})
        for _ in range(10)
    ]
    # then
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.content for r in responses}) == 1
    assert Customer.objects.filter(name="王五").count() == 1
    assert "王五".encode() in responses[0].content
    assert AuditEntry.objects.filter(verb="create", object_type="customers.customer").count() == 1


def test_same_key_other_customer_is_422(api_client: Client) -> None:
    headers = {"Idempotency-Key": "c-2"}
    api_client.post(
        "/api/v1/customers", {"kind": "person", "name": "甲"}, content_type="application/json", headers=headers
    )
    response = api_client.post(
        "/api/v1/customers", {"kind": "person", "name": "乙"}, content_type="application/json", headers=headers
    )
    assert response.status_code == 422
    assert not Customer.objects.filter(name="乙").exists()


def test_stale_customer_patch_is_refused_and_writes_nothing(api_client: Client) -> None:
    # given: a customer changed once since the client read version 1
    created = api_client.post("/api/v1/customers", {"kind": "person", "name": "丙"}, content_type="application/json")
    pk = created.json()["id"]
    first = api_client.patch(f"/api/v1/customers/{pk}", {"city": "上海", "version": 1}, content_type="application/json")
    assert first.status_code == 200
    # when: a second client still holds version 1
    stale = api_client.patch(f"/api/v1/customers/{pk}", {"city": "北京", "version": 1}, content_type="application/json")
    # then
    assert stale.status_code in (409, 412)
    assert stale["Content-Type"].startswith("application/problem+json")
    assert Customer.objects.get(pk=pk).city == "上海"
