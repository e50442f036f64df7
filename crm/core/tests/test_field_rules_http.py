"""Field rules over the real API: a role that hides a customer's phone neither sees nor writes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm.core.access import Scope
from crm.customers.models import Customer
from crm.identity.models import Role, RoleFieldRule, RolePermission
from crm.testing.factories import make_token, make_user


@pytest.fixture
def marketing_client(db: Any) -> tuple[Client, Any]:
    """A marketing member: sees and changes customers company-wide, never their phone; e-mail read-only."""
    role = Role.objects.create(code="marketing", name="Marketing")
    for verb in ("view", "change"):
        RolePermission.objects.create(role=role, object_type="customers.customer", verb=verb, scope=Scope.ALL)
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="phone", mode="hidden")
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="email", mode="read_only")
    user = make_user(role=role)
    return Client(headers={"Authorization": f"Bearer {make_token(user)}"}), user


def test_hidden_field_is_absent_from_detail_and_list(marketing_client: tuple[Client, Any]) -> None:
    client, _user = marketing_client
    customer = Customer.objects.create(name="字段规则客户", phone="+8613800138000", email="a@example.com")
    detail = client.get(f"/api/v1/customers/{customer.pk}")
    assert detail.status_code == 200
    assert "phone" not in detail.json()
    assert b"13800138000" not in detail.content
    assert detail.json()["email"] == "a@example.com"
    listed = client.get("/api/v1/customers?q=字段规则客户")
    assert listed.status_code == 200
    assert listed.json()["items"]
    assert all("phone" not in row for row in listed.json()["items"])
    assert b"13800138000" not in listed.content


@pytest.mark.parametrize("field", ["phone", "email"])
def test_hidden_or_read_only_field_cannot_be_written(marketing_client: tuple[Client, Any], field: str) -> None:
    client, _user = marketing_client
    customer = Customer.objects.create(name="写入规则", phone="+8613800138000", email="a@example.com")
    value = "+8613900139000" if field == "phone" else "b@example.com"
    response = client.patch(
        f"/api/v1/customers/{customer.pk}",
        json.dumps({field: value, "city": "杭州", "version": customer.version}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert field in {error["field"] for error in response.json()["errors"]}
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.phone, fresh.email, fresh.city) == ("+8613800138000", "a@example.com", customer.city)


def test_other_fields_stay_writable(marketing_client: tuple[Client, Any]) -> None:
    client, _user = marketing_client
    customer = Customer.objects.create(name="可写", phone="+8613800138000")
    response = client.patch(
        f"/api/v1/customers/{customer.pk}",
        json.dumps({"city": "杭州", "version": customer.version}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert "phone" not in response.json()
    assert Customer.objects.get(pk=customer.pk).city == "杭州"
