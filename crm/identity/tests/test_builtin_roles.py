"""The built-in roles table: synced into the database, rendered into docs/permissions.md without drift."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from crm.core.access import Scope
from crm.identity.builtin_roles import PERMISSIONS, ROLES, expected_scope, sync_builtin_roles
from crm.identity.models import Role, RolePermission


def test_docs_permissions_md_is_up_to_date() -> None:
    # when this fails, run `crm permissions docs` and commit docs/permissions.md
    call_command("permissions", "docs", "--check", stdout=StringIO())


def test_customers_are_company_wide_and_changed_by_owner() -> None:
    assert expected_scope("customers.customer", "member", "view") is Scope.ALL
    assert expected_scope("customers.customer", "member", "change") is Scope.OWN
    assert expected_scope("customers.customer", "manager", "change") is Scope.TEAM
    assert expected_scope("customers.customer", "read_only", "change") is None
    assert all(
        expected_scope("customers.customer", "administrator", verb) is Scope.ALL
        for verb in PERMISSIONS["customers.customer"]["administrator"]
    )


def test_read_only_role_never_writes() -> None:
    for object_type, by_role in PERMISSIONS.items():
        granted = set(by_role["read_only"]) - {"view"}
        # Personal things are not company data: a read-only user keeps own tokens and saved views.
        if object_type not in ("identity.apitoken", "customers.savedview"):
            assert not granted, object_type


@pytest.mark.django_db
def test_sync_restores_the_table_after_tampering() -> None:
    # given someone widened and removed built-in grants in the database
    member = Role.objects.get(code="member")
    RolePermission.objects.filter(role=member, object_type="customers.customer", verb="change").update(scope=Scope.ALL)
    RolePermission.objects.filter(role=member, object_type="customers.customer", verb="view").delete()
    RolePermission.objects.create(role=member, object_type="customers.customer", verb="delete", scope=Scope.ALL)
    # when the roles are synced (after every migrate)
    sync_builtin_roles()
    sync_builtin_roles()
    # then the database matches the table again
    stored = {(p.verb): p.scope for p in RolePermission.objects.filter(role=member, object_type="customers.customer")}
    assert stored == {verb: int(scope) for verb, scope in PERMISSIONS["customers.customer"]["member"].items()}
    assert set(Role.objects.filter(is_builtin=True).values_list("code", flat=True)) >= set(ROLES)
