"""The identity demo generator: departments, teams, users with roles; the documented logins work."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.demo.registry import DemoContext
from crm.identity.demo_data import create_users
from crm.identity.models import Department, User


@pytest.mark.django_db
def test_demo_users_log_in_and_have_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_DEMO_PASSWORD", "demo-Passw0rd-x")
    ctx = DemoContext(customers=0, seed=1, progress=False, state={}, stdout=None)
    create_users(ctx)
    create_users(ctx)  # idempotent
    assert set(Department.objects.values_list("name", flat=True)) == {"销售部", "客服部", "市场部", "管理层"}
    for username in ("admin", "sales1", "service1", "marketing1", "viewer", "salesmgr1"):
        client = Client()
        response = client.post("/login/", {"username": username, "password": "demo-Passw0rd-x"})
        assert response.status_code == 302, username
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="viewer").role.code == "read_only"
    manager = User.objects.get(username="salesmgr1")
    assert manager.manager_of == manager.team
    assert set(ctx.state) >= {"departments", "teams", "users"}
