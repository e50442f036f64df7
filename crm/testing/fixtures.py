"""Shared pytest fixtures: users with roles, API clients with tokens."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.testing.factories import make_token, make_user


@pytest.fixture
def admin_user(db: Any) -> Any:
    return make_user(username="admin", superuser=True)


@pytest.fixture
def api_client(admin_user: Any) -> Client:
    """A client that sends an admin bearer token on every request."""
    return Client(headers={"Authorization": f"Bearer {make_token(admin_user)}"})


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


from crm.testing.audit_guard import _audit_rows_cleared_before_flush  # noqa: E402, F401  (autouse)
