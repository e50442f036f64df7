"""Fixtures of the identity tests: a department with two teams, a custom role, a TOTP helper."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from django.core.cache import cache
from django.utils import timezone

from crm.identity.models import Department, Role, RolePermission, Team, TotpDevice, User


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.fixture
def sales(db: Any) -> Department:
    return Department.objects.create(name="销售部", code="sales")


@pytest.fixture
def team_a(sales: Department) -> Team:
    return Team.objects.create(department=sales, name="一组")


@pytest.fixture
def team_b(sales: Department) -> Team:
    return Team.objects.create(department=sales, name="二组")


@pytest.fixture
def viewer_role(db: Any) -> Role:
    """A custom role that may view customers company-wide and nothing else."""
    role = Role.objects.create(name="Viewer", code="viewer")
    RolePermission.objects.create(role=role, object_type="identity.user", verb="view", scope=4)
    return role


def enrol_totp(user: User) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    return pyotp.TOTP(secret)
